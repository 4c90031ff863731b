"""The `penguins` command's exit codes and terminal output, through the real console script."""

from __future__ import annotations

from tests.helpers import penguins


def test_a_data_path_that_does_not_exist_is_a_usage_error(tmp_path):
    missing = tmp_path / "nowhere.csv"
    for command in (["run", "--data"], ["ingest", "--source"]):
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
