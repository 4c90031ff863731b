"""What TFX's cache must see so that an edit always takes effect.

TFX keys a cached execution on its parameters as text. A module path such as
`components.model.transform.preprocessing_fn`, or a schema file's path, stays the same when the file
behind it is edited, so TFX would serve the old result. Here every component whose executor runs
project code carries a digest of that code (the module, and every project module it imports) and
of the library versions in its executor spec, which TFX hashes into the cache key. The schema is
imported from a copy whose path is its content's digest.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.metadata
import sys
import uuid
from collections.abc import Iterable
from pathlib import Path

from pipeline.config.settings import REPO_ROOT
from serving.store.atomic import write_bytes_atomically

PROJECT_PACKAGES = ("components", "pipeline", "serving")
# The libraries whose version changes what a run computes.
LIBRARIES = (
    "tfx",
    "tensorflow",
    "keras",
    "tensorflow-transform",
    "tensorflow-model-analysis",
    "tensorflow-data-validation",
    "tfx-bsl",
    "apache-beam",
    "ml-metadata",
)
_DIGEST_FLAG = "--penguins_content_digest"
_RUN_FLAG = "--penguins_run_nonce"


def library_versions() -> dict[str, str]:
    """The Python and library versions a run depends on."""
    versions = {"python": sys.version.split()[0]}
    versions.update({library: importlib.metadata.version(library) for library in LIBRARIES})
    return versions


def _source_file(module: str) -> Path | None:
    if module.split(".")[0] not in PROJECT_PACKAGES:
        return None
    base = REPO_ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imported_modules(source: Path) -> set[str]:
    """Modules a file imports, including `from package import submodule` forms."""
    names = set()
    for node in ast.walk(ast.parse(source.read_text(), str(source))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def project_sources(modules: Iterable[str]) -> list[Path]:
    """The source files of `modules` and of every project module they import, transitively."""
    found: dict[str, Path] = {}
    pending = list(modules)
    while pending:
        module = pending.pop()
        source = _source_file(module)
        if source is None or module in found:
            continue
        found[module] = source
        pending.extend(_imported_modules(source))
    return sorted(set(found.values()))


@functools.cache
def content_digest(modules: tuple[str, ...]) -> str:
    """A digest of the code of `modules` (project code only) and of the library versions."""
    digest = hashlib.sha256(repr(sorted(library_versions().items())).encode())
    for source in project_sources(modules):
        digest.update(str(source.relative_to(REPO_ROOT)).encode())
        digest.update(source.read_bytes())
    return digest.hexdigest()[:16]


def pin_to_content(node, code_modules: Iterable[str] = ()):
    """Makes `node`'s cache key carry its code: its executor's module and `code_modules` (by path).

    A node pinned already keeps its digest, so a component can be pinned with its user code where
    it is built and every node once more where the pipeline is assembled.
    """
    spec = getattr(node, "executor_spec", None)
    if spec is not None and not any(flag.startswith(_DIGEST_FLAG) for flag in spec.extra_flags):
        modules = (spec.executor_class.__module__, *code_modules)
        spec.add_extra_flags([f"{_DIGEST_FLAG}={content_digest(tuple(sorted(modules)))}"])
    return node


def never_cached(node):
    """Gives `node` a cache key of its own in every run, for executors that act on the world.

    The Pusher decides from the serving folder as it is now (what is served, what was rolled
    back); an earlier execution's outcome says nothing about today's folder.
    """
    node.executor_spec.add_extra_flags([f"{_RUN_FLAG}={uuid.uuid4().hex}"])
    return node


def content_addressed_copy(path: Path, folder: Path) -> Path:
    """`path` copied to `folder/<digest of its bytes>/<its name>`: a new path whenever it changes."""
    content = path.read_bytes()
    copy = folder / hashlib.sha256(content).hexdigest()[:16] / path.name
    if not copy.is_file():
        write_bytes_atomically(copy, content)
    return copy
