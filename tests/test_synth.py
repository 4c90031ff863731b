"""`penguins synth`: synthetic raw data that looks like the real data, through the console script."""

from __future__ import annotations

import csv
import json
import statistics

import numpy as np
import pytest

from pipeline.config.settings import DEFAULT_CONFIG, load_settings
from pipeline.intake.cleaning import write_clean_csv
from pipeline.intake.sources import bundled_penguins_csv
from tests.helpers import bundled_rows, penguins

ROWS = 20_000
NUMERIC = ("bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g")
SCHEMA_RANGES = {"bill_length_mm": (25, 70), "bill_depth_mm": (10, 25),
                 "flipper_length_mm": (160, 240), "body_mass_g": (2000, 7000)}  # fmt: skip


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    result = penguins("synth", "--rows", str(ROWS), "--out", str(out), "--seed", "3")
    assert result.returncode == 0, result.stdout + result.stderr
    path = out / "synthetic.csv"
    with path.open(newline="") as handle:
        return path, list(csv.DictReader(handle))


def _by_species(rows):
    groups = {}
    for row in rows:
        groups.setdefault(row["species"], []).append(row)
    return groups


def test_writes_the_rows_asked_for_in_the_raw_format(synthetic):
    _, rows = synthetic
    assert len(rows) == ROWS
    assert list(rows[0]) == list(bundled_rows()[0])  # same columns, same order
    assert "NA" in {row["sex"] for row in rows}  # missing values written as the raw data writes them
    assert {row["year"] for row in rows} == {row["year"] for row in bundled_rows()}


def test_per_species_shares_and_measurements_follow_the_real_data(synthetic):
    _, rows = synthetic
    real, fake = _by_species(bundled_rows()), _by_species(rows)
    assert set(fake) == set(real)
    for species, real_rows in real.items():
        assert len(fake[species]) / ROWS == pytest.approx(len(real_rows) / len(bundled_rows()), abs=0.02)
        for column in NUMERIC:
            real_values = [float(r[column]) for r in real_rows if r[column] != "NA"]
            fake_values = [float(r[column]) for r in fake[species] if r[column] != "NA"]
            spread = statistics.stdev(real_values)
            real_mean = statistics.mean(real_values)
            assert statistics.mean(fake_values) == pytest.approx(real_mean, abs=0.1 * spread)
            assert statistics.stdev(fake_values) == pytest.approx(spread, rel=0.2)
        # Islands come from where each species really lives: no Gentoo on Dream or Torgersen.
        assert {r["island"] for r in fake[species]} == {r["island"] for r in real_rows}


def test_measurements_stay_correlated_within_a_species(synthetic):
    _, rows = synthetic
    pairs = [(r["flipper_length_mm"], r["body_mass_g"]) for r in _by_species(rows)["Gentoo"]]
    gentoo = [pair for pair in pairs if "NA" not in pair]
    assert np.corrcoef(np.array(gentoo, dtype=float).T)[0, 1] > 0.5


def test_values_are_within_the_schema_and_clean(synthetic, settings, tmp_path):
    path, rows = synthetic
    for column, (low, high) in SCHEMA_RANGES.items():
        values = [float(r[column]) for r in rows if r[column] != "NA"]
        assert low <= min(values) and max(values) <= high
    assert write_clean_csv([path], tmp_path / "clean.csv", settings.features) == ROWS


def test_the_same_seed_writes_the_same_bytes_and_another_seed_does_not(synthetic, tmp_path):
    path, _ = synthetic
    again = penguins("synth", "--rows", str(ROWS), "--out", str(tmp_path / "a"), "--seed", "3")
    other = penguins("synth", "--rows", str(ROWS), "--out", str(tmp_path / "b"), "--seed", "4")
    assert again.returncode == other.returncode == 0
    assert (tmp_path / "a" / "synthetic.csv").read_bytes() == path.read_bytes()
    assert (tmp_path / "b" / "synthetic.csv").read_bytes() != path.read_bytes()


def test_rows_must_be_positive(tmp_path):
    result = penguins("synth", "--rows", "0", "--out", str(tmp_path))
    assert result.returncode == 2
    assert "--rows must be at least 1" in result.stderr
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("under", [False, True], ids=["out-is-a-file", "out-under-a-file"])
def test_an_out_that_is_a_file_is_refused_in_one_line_naming_it(tmp_path, under):
    in_the_way = tmp_path / "mine.csv"
    in_the_way.write_text("my data\n")
    out = in_the_way / "synth" if under else in_the_way
    result = penguins("synth", "--rows", "5", "--out", str(out), "--json")
    assert result.returncode == 2
    outcome = json.loads(result.stdout)
    assert (outcome["command"], outcome["status"]) == ("synth", "usage_error")
    assert f"--out {out} " in outcome["error"] and f"move {in_the_way} away" in outcome["error"]
    assert "expected a folder to write synthetic.csv into" in outcome["error"]
    assert result.stderr.strip() == outcome["error"]  # one line for people, no traceback
    assert in_the_way.read_text() == "my data\n"


def test_json_names_what_was_written(tmp_path):
    result = penguins("synth", "--rows", "5", "--out", str(tmp_path), "--json")
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert (outcome["status"], outcome["rows"], outcome["path"]) == (
        "completed",
        5,
        str(tmp_path / "synthetic.csv"),
    )
    assert outcome["fitted_to"] == str(bundled_penguins_csv())
    assert sum(outcome["shares"].values()) == pytest.approx(1)


def test_missing_measurements_are_written_with_the_configured_marker(tmp_path):
    """Data that marks a missing value with "?" gets synthetic rows that its config can clean."""
    config = tmp_path / "config.yaml"
    config.write_text(DEFAULT_CONFIG.read_text().replace('missing_values: ["NA"]', 'missing_values: ["?"]'))
    raw = tmp_path / "raw.csv"
    raw.write_text(bundled_penguins_csv().read_text().replace("NA", "?"))
    result = penguins(
        "synth", "--rows", "5000", "--out", str(tmp_path), "--config", str(config), "--data", str(raw)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    path = tmp_path / "synthetic.csv"
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert all("?" in {row[column] for row in rows} for column in NUMERIC)
    assert not any("NA" in row.values() for row in rows)
    assert write_clean_csv([path], tmp_path / "clean.csv", load_settings(config).features) == 5000
