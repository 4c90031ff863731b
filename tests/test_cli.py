"""The `penguins` command's exit codes and terminal output, through the real console script."""

from __future__ import annotations

import importlib.metadata
import json
import platform

import pytest

from pipeline.cli.main import main
from pipeline.config.settings import load_settings
from tests.helpers import bundled_rows, penguins, penguins_command_lines, write_rows


def test_a_data_path_that_does_not_exist_is_a_usage_error(tmp_path):
    missing = tmp_path / "nowhere.csv"
    for command in (["run", "--data"], ["ingest", "--source"], ["schema", "infer", "--data"]):
        result = penguins(*command, str(missing), "--workspace", str(tmp_path / "ws"))
        assert result.returncode == 2, (command, result.stdout + result.stderr)
        assert result.stderr.strip() == (
            f"No data: {missing}: no such file or folder; expected a raw CSV file or a folder of them"
        )


def test_a_folder_without_csv_files_is_a_usage_error(tmp_path):
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    (incoming / "notes.txt").write_text("not data")
    for command in (["run", "--data"], ["ingest", "--source"]):
        result = penguins(*command, str(incoming), "--workspace", str(tmp_path / "ws"))
        assert result.returncode == 2, (command, result.stdout + result.stderr)
        assert result.stderr.strip() == (
            f"No data: {incoming}: the folder holds no .csv files; expected one or more raw CSV files"
        )
    assert not (tmp_path / "ws" / "data" / "spans").exists()


def test_a_binary_file_given_as_data_is_rejected_data(tmp_path):
    image = tmp_path / "photo.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    result = penguins("run", "--data", str(image), "--workspace", str(tmp_path / "ws"))
    assert result.returncode == 3, result.stdout + result.stderr
    assert result.stderr.strip() == (
        f"Data rejected, nothing trained or pushed. {image}: not a UTF-8 text CSV file "
        "(byte 0x89 at offset 0); expected a raw CSV file saved as UTF-8"
    )
    assert list((tmp_path / "ws" / "data" / "clean").iterdir()) == []


def test_schema_infer_prints_only_its_own_lines(tmp_path):
    data = write_rows(tmp_path / "few.csv", bundled_rows()[:60])
    out, workspace = tmp_path / "inferred.pbtxt", tmp_path / "ws"
    result = penguins(
        "schema", "infer", "--data", str(data), "--workspace", str(workspace), "--out", str(out)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == [
        f"Inferred schema written to {out}",
        f"Review it against {load_settings().schema_path} before adopting changes.",
    ]
    assert result.stderr == ""
    assert 'name: "body_mass_g"' in out.read_text()
    # TensorFlow's start-up output went to the log instead.
    assert "tensorflow" in (workspace / "logs" / "schema-infer.log").read_text().lower()


def _outcome(result) -> dict:
    """The one JSON object a `--json` command prints on stdout, on one line, whatever happened."""
    assert len(result.stdout.splitlines()) == 1, result.stdout
    return json.loads(result.stdout)


def test_json_outcomes_are_one_object_on_stdout_for_failures_too(tmp_path):
    missing = tmp_path / "nowhere.csv"
    no_data = penguins("ingest", "--source", str(missing), "--workspace", str(tmp_path / "ws"), "--json")
    assert no_data.returncode == 2
    assert _outcome(no_data) == {
        "command": "ingest",
        "exit_code": 2,
        "status": "usage_error",
        "error": f"No data: {missing}: no such file or folder; expected a raw CSV file or a folder of them",
    }
    bad_config = tmp_path / "bad.yaml"
    bad_config.write_text("trainig: {}\n")
    refused = penguins("run", "--config", str(bad_config), "--workspace", str(tmp_path / "ws"), "--json")
    assert refused.returncode == 2
    outcome = _outcome(refused)
    assert (outcome["exit_code"], outcome["status"]) == (2, "usage_error")
    assert "unknown key 'trainig'" in outcome["error"] and outcome["error"] in refused.stderr


def test_ingest_json_names_the_span_and_a_duplicate_is_data_rejected(tmp_path):
    workspace = tmp_path / "ws"
    first = penguins("ingest", "--bundled", "--year", "2007", "--workspace", str(workspace), "--json")
    assert first.returncode == 0, first.stderr
    outcome = _outcome(first)
    assert (outcome["status"], outcome["span"], outcome["path"]) == (
        "completed",
        1,
        str(workspace.resolve() / "data" / "spans" / "span-1"),
    )
    assert outcome["rows"] == sum(row["year"] == "2007" for row in bundled_rows())
    assert "Ingested bundled penguins data, year 2007 as span 1" in first.stderr  # for people, on stderr
    again = penguins("ingest", "--bundled", "--year", "2007", "--workspace", str(workspace), "--json")
    assert again.returncode == 3
    assert _outcome(again)["status"] == "data_rejected"
    assert "already ingested as span 1" in _outcome(again)["error"]


@pytest.mark.parametrize("mistake", [["--no-such-option"], ["--workspace"]], ids=["unknown", "no-value"])
def test_every_command_refuses_bad_arguments_with_one_json_object_when_asked(capsys, mistake):
    """Every command and group of commands, as the parser has them, whichever parser finds the mistake."""
    lines = penguins_command_lines()
    assert ["labels", "add"] in lines and ["monitor"] in lines  # the walk reaches nested commands
    for line in lines:
        exit_code = main([*line, "--json", *mistake])
        printed = capsys.readouterr()
        outcome = json.loads(printed.out)
        assert printed.out.count("\n") == 1, printed.out  # one line, which a scheduler keeps whole
        assert (exit_code, outcome["exit_code"], outcome["status"]) == (2, 2, "usage_error"), line
        assert outcome["command"] == (line[0] if line else None)
        assert outcome["error"].startswith("penguins") and outcome["error"] in printed.err
        assert main([*line, *mistake]) == 2 and capsys.readouterr().out == ""  # JSON only when asked


def test_a_bad_value_names_the_command_and_the_option_in_json():
    result = penguins("monitor", "--json", "--since", "soon")
    assert result.returncode == 2
    assert _outcome(result) == {
        "command": "monitor",
        "exit_code": 2,
        "status": "usage_error",
        "error": "penguins monitor: error: argument --since: 'soon' is not a duration; expected a positive "
        "number and a unit, e.g. 30m, 24h, 7d",
    }


@pytest.mark.parametrize("command", ["run", "ingest"])
def test_a_one_row_dataset_is_rejected_before_tfx_saying_how_many_rows_are_needed(tmp_path, command):
    """One row cannot fill both the train and the eval split; TFX would fail later with no word why."""
    one_row = write_rows(tmp_path / "one_row.csv", bundled_rows()[:1])
    source = ["--data" if command == "run" else "--source", str(one_row)]
    result = penguins(command, *source, "--workspace", str(tmp_path / "ws"), "--json")
    assert result.returncode == 3, result.stderr
    outcome = _outcome(result)
    assert (outcome["command"], outcome["status"]) == (command, "data_rejected")
    assert f"{one_row}: the eval split would get none of the 1 row(s)" in outcome["error"]
    assert "add different rows (at least 2;" in outcome["error"]
    assert "Traceback" not in result.stderr
    spans_root = tmp_path / "ws" / "data" / "spans"
    assert not spans_root.exists() or list(spans_root.iterdir()) == []
    assert not (tmp_path / "ws" / "metadata.sqlite").exists()  # no TFX run started


def test_version_names_the_project_and_the_stack_it_runs_on():
    result = penguins("--version", timeout=60)
    assert result.returncode == 0 and result.stderr == ""
    version = importlib.metadata.version
    assert result.stdout == (
        f"penguins {version('penguins-tfx')} (TFX {version('tfx')}, TensorFlow {version('tensorflow')}, "
        f"Python {platform.python_version()})\n"
    )
