"""The drift thresholds in the committed schema, measured with TFDV on the bundled data."""

from __future__ import annotations

import pandas as pd
import pytest
import tensorflow_data_validation as tfdv

from components.custom.drift import drift_only, measurements
from pipeline.config.settings import load_settings
from tests.helpers import bundled_rows


@pytest.fixture(scope="module")
def schema():
    return tfdv.load_schema_text(str(load_settings().schema_path))


def _statistics(rows: list[dict[str, str]]):
    columns = load_settings().features.columns
    frame = pd.DataFrame(rows)[list(columns)].replace("NA", None)
    for column in load_settings().features.numeric:
        frame[column] = pd.to_numeric(frame[column])
    return tfdv.generate_statistics_from_dataframe(frame)


def _year(year: int) -> list[dict[str, str]]:
    return [row for row in bundled_rows() if row["year"] == str(year)]


def _drift(schema, current, previous) -> list[dict]:
    found = tfdv.validate_statistics(_statistics(current), schema, previous_statistics=_statistics(previous))
    return measurements(drift_only(found))


@pytest.mark.parametrize(("current", "previous"), [(2008, 2007), (2009, 2008)])
def test_the_bundled_years_do_not_drift_beyond_the_thresholds(schema, current, previous):
    measured = _drift(schema, _year(current), _year(previous))
    assert {m["feature"] for m in measured} == set(load_settings().features.columns)
    assert not [m for m in measured if m["drifted"]], measured


def test_heavier_birds_drift_on_body_mass_only(schema):
    heavier = [
        dict(row, body_mass_g=str(float(row["body_mass_g"]) + 1500) if row["body_mass_g"] != "NA" else "NA")
        for row in _year(2009)
    ]
    drifted = [m for m in _drift(schema, heavier, _year(2008)) if m["drifted"]]
    assert [(m["feature"], m["measure"]) for m in drifted] == [("body_mass_g", "Jensen-Shannon")]
    assert drifted[0]["value"] > drifted[0]["threshold"] == 0.25


def test_a_shifted_island_mix_drifts_by_l_infinity(schema):
    rows = _year(2008)
    only_biscoe = [dict(row, island="Biscoe") for row in rows]
    drifted = {m["feature"]: m for m in _drift(schema, only_biscoe, rows) if m["drifted"]}
    assert drifted["island"]["measure"] == "L-infinity"
