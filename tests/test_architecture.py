"""The packages import one another in one direction only, from the CLI down (docs/architecture.md).

Imports are read from the source, function-level ones included, so a cycle hidden inside a
function to dodge Python's import-time error is still found.
"""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TOP_LEVEL = ("pipeline", "components", "serving")

# Top to bottom. A package may import its own modules and any package below it, never one above.
LAYERS = (
    ("pipeline.cli",),
    ("pipeline.cluster",),
    ("pipeline.export",),
    ("pipeline.retraining",),
    ("pipeline.monitoring",),
    ("pipeline.run",),
    ("pipeline.reporting",),
    ("pipeline.definition",),
    ("pipeline.intake",),
    ("pipeline.metadata",),
    ("pipeline.config",),
    ("pipeline.stack",),
    ("components.custom", "components.resolvers"),
    ("components.model",),
    ("components.features",),
    ("serving.server",),
    ("serving.monitoring",),
    ("serving.client",),
    ("serving.addresses", "serving.request_ids"),
    ("serving.store",),
    ("serving.compat",),
)


def package_of(module: str) -> str:
    """A module's concern package: `pipeline.run.runner` is in `pipeline.run`."""
    return ".".join(module.split(".")[:2])


def project_modules() -> dict[str, Path]:
    modules = {}
    for top in TOP_LEVEL:
        for path in (REPO / top).rglob("*.py"):
            parts = path.relative_to(REPO).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def imported_modules(path: Path, module: str) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.update([node.module, *(f"{node.module}.{alias.name}" for alias in node.names)])
    return {name for name in found if name.split(".")[0] in TOP_LEVEL and name != module}


def import_edges(level) -> dict[str, set[str]]:
    """Which package imports which, at the given grain (concern package or top-level folder)."""
    modules = project_modules()
    edges: dict[str, set[str]] = {}
    for module, path in modules.items():
        for imported in imported_modules(path, module):
            if imported not in modules:  # `from serving.store import versions` names a module
                imported = imported.rpartition(".")[0]
            source, target = level(module), level(imported)
            if source != target:
                edges.setdefault(source, set()).add(target)
    return edges


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    def visit(node, path):
        if node in path:
            return [*path[path.index(node) :], node]
        for target in sorted(edges.get(node, ())):
            cycle = visit(target, [*path, node])
            if cycle:
                return cycle
        return None

    for start in sorted(edges):
        cycle = visit(start, [])
        if cycle:
            return cycle
    return None


@pytest.mark.parametrize(
    "grain", [package_of, lambda module: module.split(".")[0]], ids=["concern packages", "top-level folders"]
)
def test_no_import_cycle_between_packages(grain):
    cycle = find_cycle(import_edges(grain))
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_every_package_has_a_layer():
    layered = set(itertools.chain.from_iterable(LAYERS))
    unlayered = sorted({package_of(module) for module in project_modules()} - layered - set(TOP_LEVEL))
    assert not unlayered, f"add {unlayered} to LAYERS in {Path(__file__).name} and to docs/architecture.md"


def test_imports_go_down_the_layers():
    rank = {package: index for index, layer in enumerate(LAYERS) for package in layer}
    upward = sorted(
        f"{source} imports {target}"
        for source, targets in import_edges(package_of).items()
        for target in targets
        if source in rank and target in rank and rank[target] <= rank[source]
    )
    assert not upward, "imports against the layers (docs/architecture.md): " + "; ".join(upward)


def test_the_checker_sees_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}}) is None
