"""Turns the user's raw data source into a cleaned, content-addressed folder for ExampleGen.

The cleaned folder is named by a digest of the raw bytes and the cleaning spec. Unchanged data
maps to the same folder with the same file, untouched, so TFX's cache recognises it; changed
data gets a new folder and a fresh run.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from components.features import FeatureSpec
from pipeline.config.file_schema import BUNDLED_SOURCE
from pipeline.intake.cleaning import fingerprint, write_clean_csv
from pipeline.intake.raw_csv import find_csv_files

CLEAN_FILE = "data.csv"


def bundled_penguins_csv() -> Path:
    """The raw penguins.csv that the palmerpenguins package ships, found without importing it."""
    spec = importlib.util.find_spec("palmerpenguins")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the palmerpenguins package is not installed; run `make install`")
    return Path(spec.submodule_search_locations[0]) / "data" / "penguins.csv"


def raw_files(source: str | Path) -> list[Path]:
    if str(source) == BUNDLED_SOURCE:
        return [bundled_penguins_csv()]
    return find_csv_files(Path(source))


def prepare_clean_data(files: list[Path], clean_root: Path, spec: FeatureSpec) -> Path:
    """Returns the folder holding the cleaned data, cleaning only when it is not there yet."""
    folder = clean_root / fingerprint(files, spec)[:16]
    if not (folder / CLEAN_FILE).is_file():
        try:
            write_clean_csv(files, folder / CLEAN_FILE, spec)
        except Exception:
            folder.rmdir()
            raise
    return folder
