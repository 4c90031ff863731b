#!/usr/bin/env python3
"""Which of the lock's two TFX stacks this machine can run, and the Python to build .venv with.

uv.lock resolves TFX 1.21 for Python 3.11 to 3.13 and TFX 1.16 for Python 3.10
(docs/platforms.md). The newer stack cannot simply be preferred: ml-metadata 1.21 ships only
manylinux_2_39 wheels, so it installs only where glibc is 2.39 or newer, and which interpreters a
machine has decides the rest. `make install` asks this script before any environment exists, so
it runs on any Python 3.8 or newer with the standard library alone and imports nothing from the
project; the Makefile records the answer in .venv's install stamp and rebuilds .venv when it
changes.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass

UV_VERSION = "0.13.9"  # the Makefile's UV_VERSION (tests/test_stack.py checks that they agree)


@dataclass(frozen=True)
class Stack:
    name: str  # what STACK= (make) and --stack take
    tfx: str
    pythons: tuple[tuple[int, int], ...]  # newest first
    min_glibc: tuple[int, int] | None


CURRENT = Stack("tfx-1.21", "1.21", ((3, 13), (3, 12), (3, 11)), (2, 39))
LEGACY = Stack("tfx-1.16", "1.16", ((3, 10),), None)
STACKS = {stack.name: stack for stack in (CURRENT, LEGACY)}


@dataclass(frozen=True)
class Interpreter:
    path: str
    version: tuple[int, int, int]


class StackError(Exception):
    """What the machine lacks for the stack asked for, said in one sentence to the person at make."""


# Written for any Python: a Python 2 `python` on PATH fails here (no sys.base_prefix) and is skipped.
PROBE = (
    "import sys; sys.stdout.write('%d %d %d %d %s' % "
    "(tuple(sys.version_info[:3]) + (sys.prefix != sys.base_prefix, sys.executable)))"
)


def probe(path: str) -> Interpreter | None:
    """The interpreter a candidate really runs, or None when it is unusable.

    A pyenv shim named python3.13 exists whenever pyenv knows 3.13, even when it is not selected and
    the shim fails, so the version is asked of the running interpreter, never read from a name. A
    virtual environment's interpreter is passed over: it may be .venv's own, which a rebuild deletes.
    """
    try:
        result = subprocess.run([path, "-c", PROBE], capture_output=True, text=True, timeout=60, check=True)
        major, minor, micro, in_venv, executable = result.stdout.split(" ", 4)
        version = (int(major), int(minor), int(micro))
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    if in_venv != "0" or not executable:
        return None
    return Interpreter(executable, version)


def _pyenv_root() -> str | None:
    if os.environ.get("PYENV_ROOT"):
        return os.environ["PYENV_ROOT"]
    pyenv = shutil.which("pyenv")
    if not pyenv:
        return None
    result = subprocess.run([pyenv, "root"], capture_output=True, text=True, check=False)
    return result.stdout.strip() or None


def uv_python_dir() -> str:
    """Where `uv python install` puts interpreters, so that one downloaded earlier is found again offline."""
    if os.environ.get("UV_PYTHON_INSTALL_DIR"):
        return os.environ["UV_PYTHON_INSTALL_DIR"]
    data = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(data, "uv", "python")


def _installed(pattern: str, versions: tuple[tuple[int, int], ...]) -> list[str]:
    """Interpreters in a version manager's folder; `pattern` names the version as {v}, e.g. 3.13."""
    return [
        path for major, minor in versions for path in sorted(glob.glob(pattern.format(v=f"{major}.{minor}")))
    ]


def find_interpreters() -> list[Interpreter]:
    """Every distinct Python 3.10 to 3.13 this machine has: on PATH, through pyenv, or from uv."""
    versions = CURRENT.pythons + LEGACY.pythons
    names = [f"python{major}.{minor}" for major, minor in versions] + ["python3", "python"]
    candidates = [path for path in (shutil.which(name) for name in names) if path]
    pyenv = _pyenv_root()
    if pyenv:
        candidates += _installed(os.path.join(pyenv, "versions", "{v}.*", "bin", "python{v}"), versions)
    candidates += _installed(os.path.join(uv_python_dir(), "cpython-{v}.*", "bin", "python{v}"), versions)
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        probed = list(pool.map(probe, candidates))
    interpreters, seen = [], set()
    for interpreter in probed:
        if interpreter and os.path.realpath(interpreter.path) not in seen:
            seen.add(os.path.realpath(interpreter.path))
            interpreters.append(interpreter)
    return interpreters


def glibc_version() -> tuple[int, int] | None:
    """This machine's glibc, or None where there is none (musl, macOS)."""
    try:
        _, version = os.confstr("CS_GNU_LIBC_VERSION").split()
        major, minor = version.split(".")[:2]
        return (int(major), int(minor))
    except (AttributeError, ValueError, OSError):
        return None


def _dotted(version: tuple[int, ...] | None) -> str | None:
    return ".".join(str(part) for part in version) if version else None


def _listing(stack: Stack) -> str:
    names = [_dotted(version) for version in reversed(stack.pythons)]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def newest(stack: Stack, interpreters: list[Interpreter]) -> Interpreter | None:
    """The newest interpreter for the stack; of equal versions, the one found first (PATH first)."""
    fitting = [i for i in interpreters if i.version[:2] in stack.pythons]
    return max(fitting, key=lambda i: i.version) if fitting else None


def _runs(stack: Stack, glibc: tuple[int, int] | None) -> bool:
    return stack.min_glibc is None or (glibc is not None and glibc >= stack.min_glibc)


def choose(
    asked: str, interpreters: list[Interpreter], glibc: tuple[int, int] | None
) -> tuple[Stack, Interpreter | None, str]:
    """The stack, its newest interpreter here (None when there is none to build with), and why."""
    if asked != "auto":
        stack = STACKS[asked]
        if not _runs(stack, glibc):
            has = f"glibc {_dotted(glibc)}" if glibc else "no glibc"
            raise StackError(
                f"TFX {stack.tfx} needs glibc {_dotted(stack.min_glibc)} or newer (ml-metadata {stack.tfx}'s "
                f"wheels are manylinux_{'_'.join(map(str, stack.min_glibc))}); this machine has {has}. "
                f"Use STACK={LEGACY.name}, or run on Debian 13 / Ubuntu 24.04 or newer."
            )
        return stack, newest(stack, interpreters), f"STACK={asked} asks for it"
    if not _runs(CURRENT, glibc):
        reason = f"TFX {CURRENT.tfx} needs glibc {_dotted(CURRENT.min_glibc)} or newer"
        return LEGACY, newest(LEGACY, interpreters), reason
    current = newest(CURRENT, interpreters)
    legacy = newest(LEGACY, interpreters)
    if current or not legacy:
        return CURRENT, current, "it is the newest this machine can run"
    return LEGACY, legacy, f"no Python {_listing(CURRENT)} was found for TFX {CURRENT.tfx}"


def _last_line(result: subprocess.CompletedProcess) -> str:
    lines = [line.strip() for line in (result.stderr + result.stdout).splitlines() if line.strip()]
    if not lines:
        return f"exit code {result.returncode}"
    for prefix in ("cause:", "Caused by:", "error:", "ERROR:"):
        if lines[-1].startswith(prefix):
            return lines[-1][len(prefix) :].strip()
    return lines[-1]


def download(stack: Stack) -> Interpreter:
    """A Python for the stack from python-build-standalone, through uv: the one way that needs no root.

    uv comes from pip into a throwaway virtual environment of this script's own interpreter; the
    Python it downloads stays in uv's folder, where find_interpreters finds it next time.
    """
    wanted = _dotted(stack.pythons[0])
    missing = f"No Python {_listing(stack)} was found on PATH or through pyenv"
    print(f"{missing}; downloading Python {wanted} with uv {UV_VERSION}.", file=sys.stderr)
    env = {**os.environ, "UV_PYTHON_INSTALL_DIR": uv_python_dir()}
    with tempfile.TemporaryDirectory(prefix="penguins-uv-") as tool:
        tool_python, uv = os.path.join(tool, "bin", "python"), os.path.join(tool, "bin", "uv")
        pip_install = [tool_python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        steps = [
            ([sys.executable, "-m", "venv", tool], f"{sys.executable} could not make a virtual environment"),
            ([*pip_install, f"uv=={UV_VERSION}"], f"pip could not install uv {UV_VERSION}"),
            (
                [uv, "python", "install", wanted],
                f"uv could not download Python {wanted} (it needs internet access to github.com)",
            ),
        ]
        for command, failure in steps:
            result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
            if result.returncode:
                raise StackError(
                    f"{missing}, and {failure}: {_last_line(result)}. Install Python {wanted} "
                    f"(e.g. `pyenv install {wanted}`) and run make again."
                )
    pattern = os.path.join(uv_python_dir(), "cpython-{v}.*", "bin", "python{v}")
    downloaded = newest(stack, [i for i in map(probe, _installed(pattern, stack.pythons[:1])) if i])
    if downloaded is None:
        raise StackError(f"uv installed Python {wanted}, but no python{wanted} runs in {uv_python_dir()}.")
    return downloaded


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--stack", choices=["auto", *STACKS], default="auto",
        help="auto (default): the newest stack this machine can run; or force one (make's STACK=)",
    )  # fmt: skip
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print the choice as one JSON object")
    output.add_argument(
        "--record", action="store_true",
        help="print the sentence on stderr and 'STACK PYTHON' on stdout: the Makefile's install stamp",
    )  # fmt: skip
    args = parser.parse_args(argv)

    glibc = glibc_version()
    try:
        stack, interpreter, reason = choose(args.stack, find_interpreters(), glibc)
        if interpreter is None:
            interpreter = download(stack)
            reason += "; Python downloaded with uv, as none was found"
    except StackError as error:
        print(error, file=sys.stderr)
        return 1

    python_version, glibc_text = _dotted(interpreter.version), _dotted(glibc)
    sentence = (
        f"Stack: TFX {stack.tfx} on Python {python_version} (glibc {glibc_text or 'none'}), because {reason}"
    )
    if args.json:
        choice = {"stack": stack.name, "tfx": stack.tfx, "python": interpreter.path}
        print(json.dumps({**choice, "python_version": python_version, "glibc": glibc_text, "reason": reason}))
    elif args.record:
        print(sentence, file=sys.stderr)
        print(f"{stack.name} {interpreter.path}")
    else:
        print(sentence)
    return 0


if __name__ == "__main__":
    sys.exit(main())
