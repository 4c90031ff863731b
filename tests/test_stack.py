"""pipeline/stack.py, the script `make install` asks which stack to build, run as make runs it.

The script is run with the interpreters this machine really has, and the assertions follow the
machine's real glibc: here (Debian 12, glibc 2.36) it must pick TFX 1.16 on Python 3.10, in the
Debian 13 root of .ci/debian13-suite (glibc 2.41) TFX 1.21 on Python 3.13. The choice between
the stacks is also checked for glibc versions this machine does not have, on the function itself.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.stack import CURRENT, LEGACY, UV_VERSION, Interpreter, StackError, choose, glibc_version

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "pipeline" / "stack.py"
GLIBC = glibc_version()
GLIBC_TEXT = ".".join(map(str, GLIBC)) if GLIBC else None
RUNS_CURRENT = GLIBC is not None and CURRENT.min_glibc <= GLIBC
# The interpreter this test suite's .venv was built from (the venv's python links to it).
BASE_PYTHON = Path(os.path.realpath(sys.executable))
NEWEST = "it is the newest this machine can run"
OLD_GLIBC = "TFX 1.21 needs glibc 2.39 or newer"


def _stack_py(*args: str, python: str = sys.executable, env: dict[str, str] | None = None):
    return subprocess.run(
        [python, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        check=False,
        timeout=300,
    )


def _version_of(python: str) -> str:
    return subprocess.run(
        [python, "-c", "import platform; print(platform.python_version())"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip


def test_picks_the_newest_stack_this_machines_glibc_allows():
    result = _stack_py("--json")
    assert result.returncode == 0, result.stderr
    choice = json.loads(result.stdout)
    assert choice["glibc"] == GLIBC_TEXT
    expected = CURRENT if RUNS_CURRENT else LEGACY
    assert (choice["stack"], choice["tfx"]) == (expected.name, expected.tfx)
    assert tuple(int(p) for p in choice["python_version"].split(".")[:2]) in expected.pythons
    assert _version_of(choice["python"]) == choice["python_version"]
    if not RUNS_CURRENT:
        assert choice["reason"] == OLD_GLIBC

    sentence = _stack_py().stdout.strip()
    assert sentence == (
        f"Stack: TFX {choice['tfx']} on Python {choice['python_version']} (glibc {choice['glibc']}), "
        f"because {choice['reason']}"
    )


def test_the_venv_the_tests_run_in_was_built_from_the_stack_the_makefile_recorded():
    stamp = REPO / ".venv" / ".installed-from-lock"
    if Path(sys.prefix).resolve() != (REPO / ".venv").resolve() or not stamp.is_file():
        pytest.skip("the tests do not run in a .venv that `make install` built")
    name, python = stamp.read_text().strip().split(" ", 1)
    assert os.path.realpath(python) == str(BASE_PYTHON)
    running = sys.version_info[:2]
    assert name == (CURRENT if running in CURRENT.pythons else LEGACY).name
    again = _stack_py("--record", f"--stack={name}")
    assert again.stdout.strip() == f"{name} {python}"
    assert again.stderr.startswith(f"Stack: TFX {name.removeprefix('tfx-')} on Python ")


@pytest.mark.skipif(RUNS_CURRENT, reason="this machine's glibc runs TFX 1.21")
def test_forcing_tfx_1_21_below_glibc_2_39_fails_in_one_sentence():
    result = _stack_py("--stack=tfx-1.21", "--json")
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == (
        "TFX 1.21 needs glibc 2.39 or newer (ml-metadata 1.21's wheels are manylinux_2_39); this machine has "
        f"glibc {GLIBC_TEXT}. Use STACK=tfx-1.16, or run on Debian 13 / Ubuntu 24.04 or newer.\n"
    )


def test_a_shim_that_fails_and_a_virtual_environment_are_passed_over(tmp_path):
    """pyenv's shims exist for versions that are not selected, and .venv's python is rebuilt away."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("python3.13", "python3.12", "python3.11", "python3.10"):
        shim = bin_dir / name
        shim.write_text(f"#!/bin/sh\necho 'pyenv: {name}: command not found' >&2\nexit 127\n")
        shim.chmod(0o755)
    (bin_dir / "python3").symlink_to(BASE_PYTHON)
    env = {
        **os.environ,
        # After the shims: this test's own .venv, whose python3.X would otherwise be found.
        "PATH": f"{bin_dir}{os.pathsep}{Path(sys.executable).parent}",
        "PYENV_ROOT": str(tmp_path / "no-pyenv"),
        "UV_PYTHON_INSTALL_DIR": str(tmp_path / "no-uv-pythons"),
    }
    result = _stack_py("--json", env=env)
    assert result.returncode == 0, result.stderr
    choice = json.loads(result.stdout)
    assert choice["python"] == str(bin_dir / "python3")
    assert choice["python_version"] == _version_of(str(BASE_PYTHON))


def test_without_any_python_for_the_stack_uv_downloads_one_or_says_why_not(tmp_path):
    """Where github.com is unreachable (as where this project is built) the download fails clearly."""
    uv_pythons = tmp_path / "uv-pythons"
    env = {
        **os.environ,
        "PATH": str(tmp_path),
        "PYENV_ROOT": str(tmp_path),
        "UV_PYTHON_INSTALL_DIR": str(uv_pythons),
    }
    result = _stack_py("--json", "--stack=tfx-1.16", env=env)
    assert result.stderr.startswith(
        f"No Python 3.10 was found on PATH or through pyenv; downloading Python 3.10 with uv {UV_VERSION}.\n"
    )
    if result.returncode == 0:
        choice = json.loads(result.stdout)
        assert choice["python"].startswith(str(uv_pythons)) and choice["python_version"].startswith("3.10.")
    else:
        assert result.returncode == 1
        (_, failure) = result.stderr.splitlines()
        assert re.fullmatch(
            r"No Python 3\.10 was found on PATH or through pyenv, and .+: .+\. Install Python 3\.10 "
            r"\(e\.g\. `pyenv install 3\.10`\) and run make again\.",
            failure,
        ), failure


def test_uv_is_pinned_as_in_the_makefile():
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^UV_VERSION := (\S+)", makefile, re.M).group(1) == UV_VERSION


def test_runs_on_the_oldest_python_it_is_written_for():
    """Before any environment exists, make runs it with whatever python3 the machine has (3.8 and up)."""
    pyenv_root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    oldest = sorted(Path(pyenv_root).glob("versions/3.8.*/bin/python3.8"))
    if not oldest:
        pytest.skip("no Python 3.8 installed through pyenv here")
    result = _stack_py("--json", python=str(oldest[-1]))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == json.loads(_stack_py("--json").stdout)


def _python(version: str, path: str | None = None) -> Interpreter:
    parts = tuple(int(p) for p in version.split("."))
    return Interpreter(path or f"/opt/python{version}", parts)


@pytest.mark.parametrize(
    ("glibc", "found", "stack", "python", "reason"),
    [
        ((2, 41), ["3.10.13", "3.12.1", "3.13.5", "3.11.7"], CURRENT, "3.13.5", NEWEST),
        ((2, 39), ["3.10.13", "3.11.7"], CURRENT, "3.11.7", NEWEST),
        ((2, 36), ["3.10.13", "3.13.5"], LEGACY, "3.10.13", OLD_GLIBC),
        (None, ["3.10.13", "3.13.5"], LEGACY, "3.10.13", OLD_GLIBC),
        ((2, 41), ["3.10.13"], LEGACY, "3.10.13", "no Python 3.11, 3.12 or 3.13 was found for TFX 1.21"),
        ((2, 41), [], CURRENT, None, NEWEST),  # None: download one
        ((2, 36), ["3.13.5"], LEGACY, None, OLD_GLIBC),
    ],
)
def test_auto_choice(glibc, found, stack, python, reason):
    chosen, interpreter, why = choose("auto", [_python(v) for v in found], glibc)
    assert (chosen, interpreter and ".".join(map(str, interpreter.version)), why) == (stack, python, reason)


def test_of_two_equal_versions_the_one_found_first_is_taken():
    found = [
        _python("3.13.5", "/usr/bin/python3.13"),
        _python("3.13.5", "/opt/python3.13"),
        _python("3.13.1"),
    ]
    assert choose("auto", found, (2, 41))[1].path == "/usr/bin/python3.13"


def test_forced_stacks():
    found = [_python("3.10.13"), _python("3.13.5")]
    stack, interpreter, why = choose("tfx-1.16", found, (2, 41))
    assert (stack, interpreter.version, why) == (LEGACY, (3, 10, 13), "STACK=tfx-1.16 asks for it")
    assert choose("tfx-1.21", found, (2, 39))[:2] == (CURRENT, found[1])
    with pytest.raises(
        StackError, match=r"needs glibc 2\.39 or newer .*; this machine has glibc 2\.38\. Use"
    ):
        choose("tfx-1.21", found, (2, 38))
    with pytest.raises(StackError, match=r"; this machine has no glibc\. Use STACK=tfx-1\.16, or run on"):
        choose("tfx-1.21", found, None)
