"""The `penguins` command's exit codes and terminal output, through the real console script."""

from __future__ import annotations

from pipeline.settings import load_settings
from tests.helpers import bundled_rows, penguins, write_rows


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
