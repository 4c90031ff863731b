"""`penguins schema review`: a span's anomalies, and a schema edit that accepts it, comments kept.

Real TFDV statistics of real span files; the accepted schema is checked by validating the span again.
"""

from __future__ import annotations

import csv
import json

import pytest

from tests.helpers import config_with_own_schema, penguins


def _span(workspace, number: int, shift: float, island: str | None = None) -> None:
    """The bundled penguins, cleaned, as span `number`, with bill depths shifted (and one island renamed)."""
    folder = workspace / "data" / "spans" / f"span-{number}"
    result = penguins("ingest", "--bundled", "--workspace", str(workspace / "scratch"), "--json")
    assert result.returncode == 0, result.stderr
    source = workspace / "scratch" / "data" / "spans" / "span-1"
    rows = list(csv.DictReader((source / "data.csv").open()))
    for row in rows:
        if row["bill_depth_mm"]:
            row["bill_depth_mm"] = str(round(float(row["bill_depth_mm"]) + shift, 1))
        if island and row["island"] == "Dream":
            row["island"] = island
    folder.mkdir(parents=True)
    with (folder / "data.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    record = json.loads((source / "ingested.json").read_text())
    (folder / "ingested.json").write_text(json.dumps({**record, "content_digest": None, "source": "test"}))


@pytest.fixture()
def config(tmp_path):
    return config_with_own_schema(tmp_path)


def _review(workspace, config_path, *args: str) -> tuple[int, dict]:
    result = penguins(
        "schema", "review", "--workspace", str(workspace), "--config", str(config_path), "--json", *args
    )
    return result.returncode, json.loads(result.stdout)


def test_shallower_bills_and_a_new_island_are_shown_and_accepted_with_the_comments_kept(tmp_path, config):
    config_path, schema = config
    workspace = tmp_path / "workspace"
    _span(workspace, 1, shift=-3.5, island="Deception")
    before = schema.read_text()

    code, shown = _review(workspace, config_path, "--span", "1")
    assert code == 0
    assert shown["span"] == 1 and shown["accepted"] is False
    anomalies = " ".join(shown["anomalies"])
    assert "feature 'bill_depth_mm'" in anomalies and "feature 'island'" in anomalies, anomalies
    assert "-  float_domain { min: 10.0 max: 25.0 }" in shown["diff"]
    assert "+  float_domain { min: 9.6 max: 25 }" in shown["diff"], shown["diff"]
    assert 'value: "Deception"' in shown["diff"]
    assert schema.read_text() == before, "reviewing alone changes nothing"

    code, accepted = _review(workspace, config_path, "--span", "1", "--accept")
    assert code == 0 and accepted["accepted"] is True
    after = schema.read_text()
    comments = [line for line in before.splitlines() if line.startswith("#")]
    assert comments and all(line in after.splitlines() for line in comments)
    changed = [line for line in after.splitlines() if line not in before.splitlines()]
    assert len(changed) == 2, changed  # the bill depth range, and the island domain
    code, again = _review(workspace, config_path, "--span", "1")
    assert code == 0 and again["anomalies"] == [] and again["diff"] == ""


def test_a_span_that_does_not_exist_is_refused_in_one_line(tmp_path, config):
    config_path, _ = config
    result = penguins(
        "schema", "review", "--span", "7", "--workspace", str(tmp_path / "none"), "--config", str(config_path)
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "no span 7 to review" in result.stderr
    assert not (tmp_path / "none").exists()
