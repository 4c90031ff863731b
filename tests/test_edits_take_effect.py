"""What you change is what runs: edits to module code and to the schema defeat TFX's cache.

TFX keys its cache on parameters as text, and a module path or a schema path does not change
when the file behind it does. These runs edit the real files and check that the components
that depend on them run again.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO, component_lines, config_with_own_schema, penguins

pytestmark = pytest.mark.e2e

CODE_PACKAGES = ("components", "pipeline", "serving")
_TRANSFORM_LINE = "outputs[transformed_name(name)] = _dense_column(scaled, 0.0)"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    workspace = tmp_path_factory.mktemp("edits-workspace")
    result = penguins("run", "--workspace", str(workspace))
    assert result.returncode == 0, result.stdout + result.stderr
    return workspace


def _copy_of_the_code(destination: Path) -> Path:
    for package in CODE_PACKAGES:
        shutil.copytree(REPO / package, destination / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "schema", destination / "schema")
    return destination


def _run_from(code: Path, *args: str) -> subprocess.CompletedProcess:
    """`penguins` run from a copy of the code: TFX imports the module paths from there."""
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args],
        cwd=code,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


@pytest.mark.one_stack
def test_an_edit_to_the_preprocessing_code_runs_transform_and_trainer_again(workspace, tmp_path):
    code = _copy_of_the_code(tmp_path / "code")
    unchanged = _run_from(code, "run", "--workspace", str(workspace), "--rerun")
    assert unchanged.returncode == 0, unchanged.stdout + unchanged.stderr
    statuses = component_lines(unchanged.stdout)
    assert statuses["Transform"] == statuses["Trainer"] == "cached", unchanged.stdout

    transform = code / "components" / "model" / "transform.py"
    source = transform.read_text()
    assert _TRANSFORM_LINE in source
    transform.write_text(
        source.replace(_TRANSFORM_LINE, _TRANSFORM_LINE.replace("scaled,", "scaled * 100.0,"))
    )
    edited = _run_from(code, "run", "--workspace", str(workspace))

    assert edited.returncode == 0, edited.stdout + edited.stderr
    assert "Up to date" not in edited.stdout
    statuses = component_lines(edited.stdout)
    assert statuses["CsvExampleGen"] == statuses["StatisticsGen"] == "cached", edited.stdout
    assert statuses["Transform"] == statuses["Trainer"] == "ran", edited.stdout


def test_a_tightened_schema_range_rejects_data_that_passed_before(workspace, tmp_path):
    config_path, schema = config_with_own_schema(tmp_path)
    passed = penguins("run", "--workspace", str(workspace), "--config", str(config_path))
    assert passed.returncode == 0, passed.stdout + passed.stderr

    original = "float_domain { min: 2000.0 max: 7000.0 }"
    assert original in schema.read_text()
    schema.write_text(schema.read_text().replace(original, "float_domain { min: 2000.0 max: 5000.0 }"))
    rejected = penguins("run", "--workspace", str(workspace), "--config", str(config_path))

    output = rejected.stdout + rejected.stderr
    assert rejected.returncode == 3, output
    assert "feature 'body_mass_g'" in output
    assert component_lines(rejected.stdout)["ExampleValidator"] == "ran", rejected.stdout
