"""`penguins ingest`: spans appear whole, once per source, and replay the bundled years."""

from __future__ import annotations

import csv
import json

import pytest

from pipeline.intake.spans import list_spans
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


@pytest.mark.parametrize(
    "field, value, refusal",
    [
        ("island", "Dream,Biscoe", "row 32: 9 fields where the header has 8; expected at most one field per"),
        ("bill_length_mm", "39\n", "row 32, column 'bill_length_mm': '39\\n' spans several lines"),
    ],
)
def test_a_row_that_does_not_fit_the_header_is_refused_naming_file_and_row(tmp_path, field, value, refusal):
    """An unquoted comma shifts the row; a quoted line break hides a quote left open. Neither is guessed."""
    rows = bundled_rows()[:40]
    rows[30][field] = value
    source = write_rows(tmp_path / "bad.csv", rows)
    if "," in value:  # unquoted, as a hand-edited file has it
        source.write_text(source.read_text().replace(f'"{value}"', value))
    result = penguins("ingest", "--source", str(source), "--workspace", str(tmp_path / "ws"), "--json")
    assert result.returncode == 3
    outcome = json.loads(result.stdout)
    assert outcome["status"] == "data_rejected" and f"{source}, {refusal}" in outcome["error"]
    spans_root = tmp_path / "ws" / "data" / "spans"
    assert not spans_root.exists() or list(spans_root.iterdir()) == []


def _ingest(source, workspace):
    return penguins("ingest", "--source", str(source), "--workspace", str(workspace))


def test_the_same_data_in_another_file_is_refused_naming_the_span(tmp_path):
    # csv writes CRLF line endings; the original has LF ones, as most tools write.
    original = tmp_path / "field.csv"
    original.write_bytes(
        write_rows(tmp_path / "crlf.csv", bundled_rows()[:40]).read_bytes().replace(b"\r\n", b"\n")
    )
    workspace = tmp_path / "ws"
    assert _ingest(original, workspace).returncode == 0
    lines = original.read_text().splitlines(keepends=True)
    copies = {
        "renamed.csv": original.read_bytes(),
        "crlf.csv": (tmp_path / "crlf.csv").read_bytes(),
        "excel.csv": b"\xef\xbb\xbf" + original.read_bytes(),
        "sorted.csv": "".join([lines[0], *sorted(lines[1:])]).encode(),
    }
    for name, content in copies.items():
        copy = tmp_path / "copies" / name
        copy.parent.mkdir(exist_ok=True)
        copy.write_bytes(content)
        assert content != original.read_bytes() or name == "renamed.csv"
        result = _ingest(copy, workspace)
        assert result.returncode == 3, (name, result.stdout + result.stderr)
        assert result.stderr.strip() == (
            f"Data rejected: {copy}: this data was already ingested as span 1 (from {original}); "
            "nothing was added"
        )
    spans_root = workspace / "data" / "spans"
    assert [path.name for path in spans_root.iterdir()] == ["span-1"]

    different = write_rows(tmp_path / "more.csv", bundled_rows()[40:80])
    assert _ingest(different, workspace).returncode == 0
    assert [s.number for s in list_spans(spans_root)] == [1, 2]


def test_a_span_ingested_before_content_digests_is_still_recognised(tmp_path):
    source = write_rows(tmp_path / "field.csv", bundled_rows()[:40])
    workspace = tmp_path / "ws"
    assert _ingest(source, workspace).returncode == 0
    record_path = workspace / "data" / "spans" / "span-1" / "ingested.json"
    record = json.loads(record_path.read_text())
    record["digest"] = record.pop("content_digest")[::-1]  # what earlier versions wrote: a raw-bytes digest
    record_path.write_text(json.dumps(record))
    copy = tmp_path / "copy.csv"
    copy.write_bytes(source.read_bytes())
    again = _ingest(copy, workspace)
    assert again.returncode == 3 and "already ingested as span 1" in again.stderr


def test_year_replay_reads_an_excel_file_and_refuses_a_binary_one(tmp_path):
    rows = bundled_rows()
    excel = tmp_path / "excel.csv"
    excel.write_bytes(b"\xef\xbb\xbf" + write_rows(tmp_path / "plain.csv", rows).read_bytes())
    workspace = tmp_path / "ws"
    result = penguins("ingest", "--source", str(excel), "--year", "2008", "--workspace", str(workspace))
    assert result.returncode == 0, result.stderr
    (span,) = list_spans(workspace / "data" / "spans")
    assert span.rows == sum(1 for r in rows if r["year"] == "2008")

    image = tmp_path / "photo.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    result = penguins("ingest", "--source", str(image), "--year", "2008", "--workspace", str(workspace))
    assert result.returncode == 3
    assert result.stderr.strip() == (
        f"Data rejected: {image}: not a UTF-8 text CSV file (byte 0x89 at offset 0); "
        "expected a raw CSV file saved as UTF-8"
    )
    assert len(list_spans(workspace / "data" / "spans")) == 1
