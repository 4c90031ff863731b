"""Data that would leave the train or the eval split without examples is refused before TFX runs."""

from __future__ import annotations

import pytest

from pipeline.definition.split_check import require_every_split, rows_for_every_split
from pipeline.intake.cleaning import write_clean_csv
from pipeline.intake.raw_csv import DataError
from tests.helpers import bundled_rows, write_rows


def _cleaned(tmp_path, rows, settings):
    clean = tmp_path / "clean.csv"
    write_clean_csv([write_rows(tmp_path / "raw.csv", rows)], clean, settings.features)
    return clean


@pytest.mark.parametrize("copies", [1, 30], ids=["one-row", "one-row-30-times"])
def test_rows_that_all_hash_to_train_are_refused_naming_the_empty_split(tmp_path, settings, copies):
    """Identical rows hash alike: thirty copies of a train row leave eval as empty as one does."""
    clean = _cleaned(tmp_path, bundled_rows()[:1] * copies, settings)
    with pytest.raises(DataError) as refusal:
        require_every_split(settings, [clean], "field.csv")
    message = str(refusal.value)
    assert message.startswith(f"field.csv: the eval split would get none of the {copies} row(s)")
    assert "(train 3, eval 1 of 4 buckets)" in message
    assert (
        "add different rows (at least 2; with 17 or more, a split stays empty with a chance under 1%)"
        in message
    )


def test_data_with_an_example_in_every_split_passes(tmp_path, settings):
    require_every_split(settings, [_cleaned(tmp_path, bundled_rows(), settings)], "bundled")


def test_the_advised_row_count_is_the_first_that_makes_an_empty_split_unlikely():
    shares = [0.75, 0.25]
    rows = rows_for_every_split(shares, chance=0.01)
    assert rows == 17
    assert sum((1 - s) ** rows for s in shares) < 0.01 <= sum((1 - s) ** (rows - 1) for s in shares)
    assert rows_for_every_split([0.5, 0.5], chance=0.01) == 8  # 2 * 0.5^8 < 1% <= 2 * 0.5^7
