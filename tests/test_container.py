"""The pipeline image and the scheduling files, checked without a Docker engine or a cluster.

The image is built and run in tests/test_container_run.py (`make test-containers`); here its
files are checked where no engine runs. What is checked for real: the entrypoint is the console script
the tests run; the image is Python 3.13 on Debian 13, so it gets the lock's TFX 1.21 stack; the
Dockerfile's install command, run by the same uv against the same lock (dry run, for Python 3.13
on the image's platform), installs exactly the lock's non-dev set for that platform but the
packages it leaves out (libclang, Jupyter's notebook and lab), at the
versions tested here when the tests run on Python 3.13 (the Debian 13 half of CI); the
Dockerfile names the packages it builds from source (no wheel for the image) and installs g++
for them before the first sync, in the build stage only; the layers and stages are in the
required order; every file it copies exists and passes .dockerignore; and each command the
crontab, the CronJob and the image run parses with the real `penguins` parser.
"""

from __future__ import annotations

import fnmatch
import importlib.metadata
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from apscheduler.triggers.cron import CronTrigger
from packaging.markers import Marker
from packaging.specifiers import SpecifierSet
from packaging.tags import compatible_tags, cpython_tags
from packaging.utils import canonicalize_name, parse_wheel_filename

from pipeline.export.scheduled_commands import command_line, scheduled_commands
from pipeline.stack import CURRENT, find_interpreters, newest
from tests.helpers import PENGUINS, REPO, parse_penguins_args

try:
    import tomllib
except ImportError:  # Python 3.10, where pytest brings tomli
    import tomli as tomllib

DOCKERFILE = REPO / "docker" / "Dockerfile"
UV = Path(sys.executable).parent / "uv"
PROJECT = importlib.metadata.distribution("penguins-tfx")

# The image's platform: CPython 3.13 on Debian 13 (glibc 2.41), x86_64. uv names platforms up to
# manylinux_2_40, the nearest below 2.41; the lock has nothing between the two.
IMAGE_PYTHON = (3, 13)
IMAGE_UV_PLATFORM = "x86_64-manylinux_2_40"
IMAGE_MARKERS = {
    "python_version": "3.13",
    "python_full_version": "3.13.0",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "os_name": "posix",
}
IMAGE_WHEEL_PLATFORMS = [f"manylinux_2_{minor}_x86_64" for minor in range(41, 4, -1)] + [
    "manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64", "linux_x86_64"
]  # fmt: skip


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [tuple(line.split(None, 1)) for line in lines if line and not line.startswith("#")]


def _stages() -> list[list[tuple[str, str]]]:
    """The instructions of each stage: the build stages (dependencies, then the project), the final last."""
    stages: list[list[tuple[str, str]]] = []
    for instruction in _instructions():
        if instruction[0] == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(instruction)
    return stages


def _arg_defaults() -> dict[str, str]:
    pairs = [args.split("=", 1) for kind, args in _instructions() if kind == "ARG" and "=" in args]
    return {name: shlex.split(value)[0] for name, value in pairs}


def _build_instructions() -> list[tuple[str, str]]:
    return [instruction for stage in _stages()[:-1] for instruction in stage]


def _uv_syncs() -> list[list[str]]:
    """Each `uv sync` the build stages run, up to the end of its command; the packages the image
    leaves out, `$(cat /opt/not-installed)`, are given to it as NOT_INSTALLED says (checked below)."""
    commands = [
        args[args.index("uv sync") :].split("&&")[0]
        for kind, args in _build_instructions()
        if kind == "RUN" and "uv sync" in args
    ]
    return [shlex.split(command.replace("$(cat /opt/not-installed)", "")) for command in commands]


def _not_installed() -> set[str]:
    """The packages the image leaves out: NOT_INSTALLED and what only they need, found as the build does."""
    result = subprocess.run(
        [sys.executable, str(REPO / "docker" / "build-tools" / "unused-packages"), str(REPO / "uv.lock"),
         *_arg_defaults()["NOT_INSTALLED"].split(), "--keep", *_arg_defaults()["STILL_IMPORTED"].split()],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return {canonicalize_name(name) for name in result.stdout.split() if name != "--no-install-package"}


def test_entrypoint_is_the_console_script_the_tests_run():
    final = _stages()[-1]
    (entrypoint,) = [yaml.safe_load(args) for kind, args in final if kind == "ENTRYPOINT"]
    assert entrypoint == ["penguins"]
    (script,) = [e for e in PROJECT.entry_points if e.group == "console_scripts" and e.name == "penguins"]
    assert script.value == "pipeline.cli.main:main"
    assert PENGUINS.name == "penguins" and PENGUINS.is_file()  # what tests.helpers.penguins runs
    (command,) = [yaml.safe_load(args) for kind, args in final if kind == "CMD"]
    assert parse_penguins_args(command).command == "run"


def test_base_image_is_slim_python_3_13_on_debian_13_the_newest_stack():
    base = _arg_defaults()["PYTHON_IMAGE"]
    assert base == "python:3.13-slim-trixie"  # trixie: glibc 2.41, as TFX 1.21's 2.39 needs
    assert CURRENT.pythons[0] == IMAGE_PYTHON
    assert "3.13.0" in SpecifierSet(PROJECT.metadata["Requires-Python"])
    # Every stage starts from the base or from an earlier stage (the project's from the dependencies').
    starts = [args.split() for kind, args in _instructions() if kind == "FROM"]
    assert [start[0] for start in starts] == ["${PYTHON_IMAGE}", "deps", "${PYTHON_IMAGE}"]
    assert [start[1:] for start in starts] == [["AS", "deps"], ["AS", "build"], []]
    # Both bases have it on PATH: the official image in /usr/local/bin, docker/base-image's in /usr/bin.
    for sync in _uv_syncs():
        assert sync[sync.index("--python") + 1] == "python3.13"


def test_uv_is_pinned_like_the_makefile_and_syncs_frozen_without_dev_tools():
    makefile = (REPO / "Makefile").read_text()
    assert _arg_defaults()["UV_VERSION"] == re.search(r"^UV_VERSION := (\S+)", makefile, re.M).group(1)
    syncs = _uv_syncs()
    assert len(syncs) == 2
    for sync in syncs:
        assert {"--frozen", "--no-dev"} <= set(sync)


def _dry_run(command: list[str], environment: Path) -> dict[str, str]:
    """What the Dockerfile's uv command would install, for Python 3.13 on the image's platform.

    uv needs a real Python 3.13 for that; the image's is replaced by one of this machine's.
    """
    python = newest(CURRENT, [i for i in find_interpreters() if i.version[:2] == IMAGE_PYTHON])
    if python is None:
        pytest.skip("no Python 3.13 here to run the image's uv command with")
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(environment)}
    args = command[1:]
    del args[args.index("--python") : args.index("--python") + 2]
    args += [f"--no-install-package={name}" for name in _not_installed()]
    image = ["--python", python.path, "--python-platform", IMAGE_UV_PLATFORM]
    result = subprocess.run(
        [str(UV), *args, "--dry-run", "--offline", *image],
        capture_output=True, text=True, cwd=REPO, env=env, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return dict(re.findall(r"^ \+ (\S+)==(\S+)$", result.stderr + result.stdout, re.M))


def _normalise(names: dict[str, str]) -> dict[str, str]:
    return {canonicalize_name(name): version for name, version in names.items()}


def _locked_non_dev() -> dict[str, str]:
    """The lock's non-dev packages for the image's platform (Linux x86_64, Python 3.13)."""
    result = subprocess.run(
        [str(UV), "export", "--frozen", "--no-dev", "--no-hashes", "--no-emit-project", "--no-header",
         "--no-annotate"],
        capture_output=True, text=True, cwd=REPO, check=True,
    )  # fmt: skip
    packages = {}
    for name, version, marker in re.findall(r"^([\w.\-]+)==([^\s;]+)(?: ; (.+))?$", result.stdout, re.M):
        if not marker or Marker(marker).evaluate(IMAGE_MARKERS):
            packages[name] = version
    return _normalise(packages)


def test_dependency_layer_installs_exactly_the_locked_non_dev_set_for_python_3_13(tmp_path):
    dependencies = _normalise(_dry_run(_uv_syncs()[0], tmp_path / "image-venv"))
    left_out = _not_installed()
    assert {"libclang", "notebook", "jupyterlab", "babel"} <= left_out
    assert not {"ipywidgets", "ipykernel", "ipython", "tensorflow"} & left_out  # imported at run time
    assert dependencies == {name: v for name, v in _locked_non_dev().items() if name not in left_out}
    assert dependencies["tfx"].startswith(CURRENT.tfx + ".")
    if sys.version_info[:2] == IMAGE_PYTHON:  # the image's versions are the ones these tests run with
        for name in ("tfx", "tensorflow", "apache-beam", "tensorflow-transform"):
            assert dependencies[name] == importlib.metadata.version(name)
    assert not {"pytest", "ruff", "uv"} & set(dependencies)


def _built_from_source_in_the_image() -> set[str]:
    """The image's locked packages with no wheel for CPython 3.13 on manylinux x86_64 (an sdist only)."""
    image_tags = {*cpython_tags(IMAGE_PYTHON, platforms=IMAGE_WHEEL_PLATFORMS),
                  *compatible_tags(IMAGE_PYTHON, "cp313", IMAGE_WHEEL_PLATFORMS)}  # fmt: skip
    lock = tomllib.loads((REPO / "uv.lock").read_text())
    image = _locked_non_dev()
    built = set()
    for package in lock["package"]:
        name = canonicalize_name(package["name"])
        if image.get(name) != package["version"]:
            continue
        wheels = [
            parse_wheel_filename(wheel["url"].rsplit("/", 1)[1])[3] for wheel in package.get("wheels", [])
        ]
        if not any(tags & image_tags for tags in wheels):
            built.add(name)
    return built


def test_the_build_stage_has_a_compiler_for_what_has_no_wheel_and_the_final_stage_none():
    built = _built_from_source_in_the_image()
    assert built, "every package has a wheel for the image: the build stage needs no compiler"
    dockerfile = DOCKERFILE.read_text()
    assert all(name in dockerfile for name in built), f"the Dockerfile should name what it builds: {built}"
    final = _stages()[-1]
    order = [args for kind, args in _build_instructions() if kind == "RUN"]
    compiler = next(i for i, args in enumerate(order) if re.search(r"apt-get install .*\bg\+\+", args))
    assert compiler < next(i for i, args in enumerate(order) if "uv sync" in args)
    assert not any(re.search(r"\b(apt-get|gcc|g\+\+|clang)\b", args) for kind, args in final if kind == "RUN")


def test_dependencies_are_installed_before_the_code_is_copied():
    order = [(kind, args) for kind, args in _build_instructions() if kind in ("COPY", "RUN")]
    first_sync = next(i for i, (kind, args) in enumerate(order) if "uv sync" in args)
    copied_before = [args.split()[:-1] for kind, args in order[:first_sync] if kind == "COPY"]
    # The build's own helpers (docker/build-tools), then the lock and the project metadata only.
    assert copied_before[-1] == ["pyproject.toml", "uv.lock"]
    assert all(source.startswith("docker/build-tools/") for copy in copied_before[:-1] for source in copy)
    assert "--no-install-project" in order[first_sync][1]
    code_copies = [i for i, (kind, args) in enumerate(order) if kind == "COPY" and "pipeline/" in args]
    assert code_copies and code_copies[0] > first_sync


def test_final_stage_runs_as_non_root_without_build_tools():
    final = _stages()[-1]
    users = [args for kind, args in final if kind == "USER"]
    assert users and users[-1] not in ("root", "0")
    runs = " ".join(args for kind, args in final if kind == "RUN")
    assert not re.search(r"\b(pip|uv|apt-get|gcc|make)\b", runs)
    copied_from = {args.split()[0] for kind, args in final if kind == "COPY" and args.startswith("--from=")}
    assert copied_from == {"--from=deps", "--from=build"}


def _dockerignore_patterns() -> list[str]:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    return [line.strip().rstrip("/") for line in lines if line.strip() and not line.startswith("#")]


def _ignored(path: str) -> bool:
    """Docker's rule: a pattern excludes a path when it matches the path or one of its parents."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in _dockerignore_patterns():
        anywhere = pattern.removeprefix("**/")
        for prefix in prefixes:
            if fnmatch.fnmatch(prefix, pattern) or (
                pattern.startswith("**/") and fnmatch.fnmatch(prefix.split("/")[-1], anywhere)
            ):
                return True
    return False


def test_dockerignore_keeps_environments_outputs_and_caches_out():
    for path in (".venv/bin/python", "workspace/metadata.sqlite", ".git/HEAD", "pipeline/__pycache__/cli.pyc",
                 "penguins_tfx.egg-info/PKG-INFO", ".pytest_cache/README.md"):  # fmt: skip
        assert _ignored(path), path


def test_every_file_the_image_copies_exists_and_passes_dockerignore():
    sources = [
        source
        for kind, args in _instructions()
        if kind == "COPY" and "--from=" not in args
        for source in args.split()[:-1]
        if not source.startswith("--")
    ]
    assert "uv.lock" in sources and "pipeline/" in sources
    for source in sources:
        assert (REPO / source).exists(), source
        assert not _ignored(source.rstrip("/")), source
    assert not _ignored("pipeline/configs/beam.yaml") and not _ignored("schema/penguins/schema.pbtxt")


def test_crontab_line_is_valid_and_runs_a_real_penguins_command():
    lines = [line for line in (REPO / "docker" / "crontab").read_text().splitlines()
             if line.strip() and not line.startswith("#")]  # fmt: skip
    (line,) = lines
    fields = line.split(None, 5)
    CronTrigger.from_crontab(" ".join(fields[:5]))
    command = shlex.split(fields[5].split("&&", 1)[1].split(">>")[0])
    assert command[0].endswith("penguins")
    args = parse_penguins_args(command[1:])
    assert (args.command, args.when_new_data) == ("retrain", True)


def test_kubernetes_cronjobs_run_the_dags_retrains_one_at_a_time_on_a_persistent_workspace():
    """The CronJobs run the Airflow DAG's retrains (`retrain --when-quality-dips` runs monitor first)."""
    documents = list(
        yaml.safe_load_all((REPO / "docker" / "kubernetes" / "retrain-cronjob.yaml").read_text())
    )
    (claim,) = [d for d in documents if d["kind"] == "PersistentVolumeClaim"]
    cronjobs = [d for d in documents if d["kind"] == "CronJob"]
    retrains = [c for c in scheduled_commands("cronjob") if c.arguments[0] == "retrain"]
    for cronjob, retrain in zip(cronjobs, retrains, strict=True):
        assert cronjob["apiVersion"] == "batch/v1"
        spec = cronjob["spec"]
        assert spec["concurrencyPolicy"] == "Forbid"
        CronTrigger.from_crontab(spec["schedule"])
        pod = spec["jobTemplate"]["spec"]["template"]["spec"]
        assert pod["restartPolicy"] == "Never" and pod["securityContext"]["runAsNonRoot"] is True
        (container,) = pod["containers"]
        assert "command" not in container  # the image's entrypoint, `penguins`, runs the args
        assert container["args"] == command_line(retrain, "/workspace")
        args = parse_penguins_args(container["args"])
        (mount,) = container["volumeMounts"]
        assert Path(mount["mountPath"]) == args.workspace
        (volume,) = pod["volumes"]
        assert volume["name"] == mount["name"]
        assert volume["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    assert [c["spec"]["schedule"] for c in cronjobs] == ["0 3 * * *", "0 4 * * *"]  # an hour apart
