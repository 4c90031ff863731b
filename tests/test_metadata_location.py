"""Where the metadata store is: the variable, the config file's key, or the workspace's SQLite file."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pipeline.config.metadata_location import MetadataLocationError, MysqlLocation, SqliteLocation
from pipeline.config.settings import DEFAULT_CONFIG, REPO_ROOT, load_settings
from pipeline.config.workspace import Workspace


def _config_with(folder: Path, metadata: str) -> Path:
    config = yaml.safe_load(DEFAULT_CONFIG.read_text())
    config["schema"] = str(REPO_ROOT / "schema" / "penguins" / "schema.pbtxt")
    config["metadata"] = metadata
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_the_default_is_the_workspaces_sqlite_file(tmp_path, monkeypatch):
    monkeypatch.delenv("PENGUINS_METADATA", raising=False)
    location = load_settings().metadata_location(Workspace(tmp_path))
    assert location == SqliteLocation(tmp_path / "metadata.sqlite")


def test_the_variable_wins_over_the_config_files_key(tmp_path, monkeypatch):
    settings = load_settings(_config_with(tmp_path, "mysql://from_file@db-a:3307/store_a"))
    assert settings.metadata_location(Workspace(tmp_path)).host == "db-a"
    monkeypatch.setenv("PENGUINS_METADATA", "mysql://me:p%40ss@db-b/store_b")

    location = settings.metadata_location(Workspace(tmp_path))

    assert location == MysqlLocation("db-b", 3306, "store_b", "me", "p@ss")
    assert location.describe() == "mysql://me@db-b:3306/store_b"
    assert "p@ss" not in repr(location)


def test_the_password_file_is_read_and_both_places_at_once_are_refused(tmp_path, monkeypatch):
    (tmp_path / "password").write_text("from-file\n")
    monkeypatch.setenv("PENGUINS_METADATA_PASSWORD_FILE", str(tmp_path / "password"))
    monkeypatch.setenv("PENGUINS_METADATA", "mysql://me@db/store")
    assert load_settings().metadata_location(Workspace(tmp_path)).password == "from-file"

    monkeypatch.setenv("PENGUINS_METADATA", "mysql://me:inline@db/store")
    with pytest.raises(MetadataLocationError, match="give the password in one place"):
        load_settings().metadata_location(Workspace(tmp_path))
    monkeypatch.setenv("PENGUINS_METADATA_PASSWORD_FILE", str(tmp_path / "missing"))
    monkeypatch.setenv("PENGUINS_METADATA", "mysql://me@db/store")
    with pytest.raises(MetadataLocationError, match=r"cannot read .*missing \(No such file"):
        load_settings().metadata_location(Workspace(tmp_path))


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("postgres://me@db/store", "the scheme is 'postgres', not 'mysql'"),
        ("mysql://db/store", "no user"),
        ("mysql://me@db", "no database name after the host"),
        ("mysql://me@db:99999/store", "the port is not a number from 1 to 65535"),
        (
            "mysql://me@db/my-store",
            "database name 'my-store' has characters other than letters, digits and _",
        ),
        ("mysql://me:hunter2@db/store?ssl=1", "options after the database name are not supported"),
    ],
)
def test_a_bad_url_names_where_it_was_set_and_the_expected_form_without_the_password(
    tmp_path, monkeypatch, url, problem
):
    monkeypatch.delenv("PENGUINS_METADATA", raising=False)
    settings = load_settings(_config_with(tmp_path, url))

    with pytest.raises(MetadataLocationError) as refused:
        settings.metadata_location(Workspace(tmp_path))

    message = str(refused.value)
    assert message.startswith(f"{tmp_path / 'config.yaml'}: key 'metadata': {problem}; expected mysql://")
    assert "hunter2" not in message
