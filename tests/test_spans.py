"""`penguins ingest`: spans appear whole, once per source, and replay the bundled years."""

from __future__ import annotations

import csv

from pipeline.spans import list_spans
from tests.helpers import bundled_rows, penguins, write_rows


def _rows(span) -> list[dict]:
    with (span.path / "data.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_bundled_years_arrive_as_consecutive_spans(tmp_path):
    for year in (2007, 2008, 2009):
        result = penguins("ingest", "--bundled", "--year", str(year), "--workspace", str(tmp_path))
        assert result.returncode == 0, result.stderr
        assert f"year {year}" in result.stdout
    spans = list_spans(tmp_path / "data" / "spans")
    assert [s.number for s in spans] == [1, 2, 3]
    expected = [sum(1 for r in bundled_rows() if r["year"] == str(y)) for y in (2007, 2008, 2009)]
    assert [len(_rows(s)) for s in spans] == [s.rows for s in spans] == expected
    assert "year" not in _rows(spans[0])[0]


def test_the_same_data_is_refused_the_second_time(tmp_path):
    source = write_rows(tmp_path / "field.csv", bundled_rows()[:40])
    assert penguins("ingest", "--source", str(source), "--workspace", str(tmp_path / "ws")).returncode == 0
    again = penguins("ingest", "--source", str(source), "--workspace", str(tmp_path / "ws"))
    assert again.returncode == 3
    assert "already ingested as span 1" in again.stderr
    assert len(list_spans(tmp_path / "ws" / "data" / "spans")) == 1


def test_a_bad_file_leaves_no_span_behind(tmp_path):
    rows = bundled_rows()[:40]
    rows[30]["body_mass_g"] = "heavy"
    source = write_rows(tmp_path / "bad.csv", rows)
    result = penguins("ingest", "--source", str(source), "--workspace", str(tmp_path / "ws"))
    assert result.returncode == 3
    assert "row 32, column 'body_mass_g': 'heavy' is not a number" in result.stderr
    spans_root = tmp_path / "ws" / "data" / "spans"
    assert not spans_root.exists() or list(spans_root.iterdir()) == []
