"""Late labels and live quality without TFX: a real request log written by the server's writer,
labels added through the real command, and the accuracy, interval and decision rules."""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.cli.options import duration
from pipeline.config.file_schema import Monitoring
from pipeline.config.settings import DEFAULT_CONFIG, load_settings
from pipeline.monitoring.labels import stored_labels
from pipeline.monitoring.logged import logged_keys, logged_requests
from pipeline.monitoring.quality import (
    NOT_ENOUGH_LABELS,
    OK,
    QUALITY_DIP,
    SKEW,
    decide,
    join_labels,
    version_quality,
    wilson_interval,
)
from pipeline.reporting.metadata import RunRecord
from pipeline.reporting.versions import Pushed, push_of
from pipeline.run.exit_codes import EXIT_DATA_REJECTED, EXIT_OK, EXIT_USAGE
from serving.monitoring.log_reader import log_files
from serving.monitoring.request_log import RequestLog
from serving.store.versions import FINGERPRINT_FILE
from tests.helpers import penguins, tree_snapshot, write_rows

SPEC = load_settings().features


def _log(folder, requests: list[tuple[str, int, list[dict], list[str]]]) -> None:
    """Writes requests (id, version, instances, predicted classes) with the server's writer."""
    log = RequestLog(folder).start()
    for request_id, version, instances, predicted in requests:
        inputs = {
            name: np.array(
                [row[name] for row in instances], dtype=np.float32 if name in SPEC.numeric else str
            )
            for name in SPEC.inputs
        }
        outputs = {SPEC.label: np.array(predicted)}
        log.record(request_id, version, inputs, outputs)
    log.close()


BIRD = {
    "bill_length_mm": 39.1,
    "bill_depth_mm": 18.7,
    "flipper_length_mm": 181.0,
    "body_mass_g": 3750.0,
    "island": "Torgersen",
    "sex": "male",
}


@pytest.fixture
def workspace(tmp_path):
    folder = tmp_path / "workspace"
    _log(
        folder / "monitoring" / "requests",
        [
            ("one", 1, [BIRD], ["Adelie"]),
            (
                "two",
                1,
                [BIRD, {**BIRD, "island": "Biscoe", "bill_depth_mm": float("nan")}],
                ["Adelie", "Gentoo"],
            ),
            ("three", 2, [BIRD], ["Chinstrap"]),
        ],
    )
    return folder


def test_the_log_reads_back_as_one_row_per_instance_with_missing_values_as_missing(workspace):
    frame = logged_requests(workspace / "monitoring" / "requests", SPEC)
    assert list(frame["request_id"]) == ["one", "two", "two", "three"]
    assert list(frame["instance"]) == [0, 0, 1, 0]
    assert list(frame["model_version"]) == [1, 1, 1, 2]
    assert list(frame["predicted"]) == ["Adelie", "Adelie", "Gentoo", "Chinstrap"]
    assert np.isnan(frame["bill_depth_mm"][2]) and frame["island"][2] == "Biscoe"
    keys = logged_keys(workspace / "monitoring" / "requests", pd.Series(["two", "three", "nobody"]))
    assert list(zip(keys["request_id"], keys["instance"], strict=True)) == [
        ("two", 0),
        ("two", 1),
        ("three", 0),
    ]


def test_a_truncated_last_record_costs_only_that_record(workspace):
    (path,) = log_files(workspace / "monitoring" / "requests")
    path.write_bytes(path.read_bytes()[:-5])  # a crash mid-write
    frame = logged_requests(workspace / "monitoring" / "requests", SPEC)
    assert list(frame["request_id"]) == ["one", "two", "two"]


def _labels_add(workspace, path, *extra):
    return penguins("labels", "add", "--source", str(path), "--workspace", str(workspace), *extra)


def test_labels_are_added_and_unknown_ids_and_instances_counted_and_named(workspace, tmp_path):
    source = write_rows(
        tmp_path / "labels.csv",
        [
            {"request_id": "one", "species": "Adelie"},
            {"request_id": "two", "instance": "1", "species": "Gentoo"},
            {"request_id": "nobody", "species": "Adelie"},
            {"request_id": "two", "instance": "5", "species": "Gentoo"},
        ],
        ["request_id", "instance", "species"],
    )
    result = _labels_add(workspace, source, "--json")
    assert result.returncode == EXIT_OK, result.stderr
    outcome = json.loads(result.stdout)
    assert (outcome["added"], outcome["unknown"], outcome["unknown_ids"]) == (4, 1, ["nobody"])
    assert (outcome["unlogged_instances"], outcome["unlogged_instance_examples"]) == (
        1,
        [{"request_id": "two", "instance": 5, "logged_instances": 2}],
    )
    # The sentences for people go to stderr with --json: request two is logged, its instance 5 is not.
    assert "1 of them name requests not in the request log (nobody)" in result.stderr
    assert "(two instance 5, logged with 2 instance(s))" in result.stderr


def test_a_label_given_twice_or_of_an_unknown_class_is_refused_and_nothing_is_kept(workspace, tmp_path):
    first = write_rows(tmp_path / "first.csv", [{"request_id": "one", "species": "Adelie"}])
    assert _labels_add(workspace, first).returncode == EXIT_OK
    labels_dir = workspace / "monitoring" / "labels"
    before = tree_snapshot(labels_dir)

    again = write_rows(
        tmp_path / "again.csv",
        [{"request_id": "three", "species": "Gentoo"}, {"request_id": "one", "species": "Gentoo"}],
    )
    result = _labels_add(workspace, again)
    assert result.returncode == EXIT_DATA_REJECTED
    assert "request one instance 0 is labelled twice" in result.stderr and "again.csv row 3" in result.stderr

    twice = write_rows(tmp_path / "twice.csv", [{"request_id": "three", "species": "Gentoo"}] * 2)
    result = _labels_add(workspace, twice)
    assert result.returncode == EXIT_DATA_REJECTED
    assert "twice.csv row 2" in result.stderr and "twice.csv row 3" in result.stderr

    unknown = write_rows(tmp_path / "unknown.csv", [{"request_id": "three", "species": "Emperor"}])
    result = _labels_add(workspace, unknown)
    assert result.returncode == EXIT_DATA_REJECTED
    assert "row 2" in result.stderr and "'Emperor'" in result.stderr and "Chinstrap" in result.stderr

    no_label = write_rows(tmp_path / "no_label.csv", [{"request_id": "three", "kind": "Gentoo"}])
    result = _labels_add(workspace, no_label)
    assert result.returncode == EXIT_DATA_REJECTED and "missing column(s) ['species']" in result.stderr

    assert tree_snapshot(labels_dir) == before


@pytest.mark.parametrize(
    "row, refusal",
    [
        (
            "three,Gentoo,Adelie\n",
            "row 3: 3 fields where the header has 2; expected at most one field per column",
        ),
        ('three,"Gentoo\n"\n', "row 3, column 'species': 'Gentoo\\n' spans several lines"),
    ],
)
def test_a_label_row_that_does_not_fit_the_header_is_refused_and_nothing_is_kept(
    workspace, tmp_path, row, refusal
):
    source = tmp_path / "labels.csv"
    source.write_text("request_id,species\none,Adelie\n" + row, newline="")
    result = _labels_add(workspace, source, "--json")
    assert result.returncode == EXIT_DATA_REJECTED
    assert f"{source}, {refusal}" in json.loads(result.stdout)["error"]
    assert tree_snapshot(workspace / "monitoring" / "labels") == {}


def test_monitor_counts_requests_and_their_instances_apart(workspace):
    result = penguins("monitor", "--workspace", str(workspace), "--json")
    assert result.returncode == EXIT_OK, result.stderr
    outcome = json.loads(result.stdout)
    assert (outcome["requests"], outcome["instances"], outcome["labeled"]) == (3, 4, 0)
    assert [(v["version"], v["requests"], v["instances"]) for v in outcome["versions"]] == [
        (2, 1, 1),
        (1, 2, 3),
    ]
    assert "3 requests of 4 instances, 0 instances labeled" in result.stderr
    history = penguins("history", "--workspace", str(workspace))
    assert "(3 requests of 4 instances, 0 labeled)" in history.stdout, history.stdout + history.stderr


def test_a_file_of_more_labels_than_the_batch_limit_is_refused_and_nothing_is_kept(workspace, tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(
        DEFAULT_CONFIG.read_text().replace("max_label_batch_rows: 1000000", "max_label_batch_rows: 2")
    )
    rows = [{"request_id": name, "species": "Adelie"} for name in ("one", "two", "three")]
    source = write_rows(tmp_path / "big.csv", rows)
    result = _labels_add(workspace, source, "--config", str(config))
    assert result.returncode == EXIT_DATA_REJECTED
    assert result.stderr.strip() == (
        f"Data rejected: {source}, row 4: more than 2 labels in one file (monitoring.max_label_batch_rows); "
        "expected at most that many: split the file, nothing was added"
    )
    assert not (workspace / "monitoring" / "labels").exists()
    assert (
        _labels_add(workspace, write_rows(tmp_path / "two.csv", rows[:2]), "--config", str(config)).returncode
        == 0
    )


def _labels(workspace, *args):
    result = penguins("labels", *args, "--workspace", str(workspace), "--json")
    return result.returncode, json.loads(result.stdout)


def test_label_batches_are_listed_and_one_is_removed_whole(workspace, tmp_path):
    first = write_rows(tmp_path / "first.csv", [{"request_id": "one", "species": "Adelie"}])
    second = write_rows(
        tmp_path / "second.csv",
        [
            {"request_id": "two", "instance": "1", "species": "Gentoo"},
            {"request_id": "three", "species": "Adelie"},
        ],
        ["request_id", "instance", "species"],
    )
    added = [json.loads(_labels_add(workspace, path, "--json").stdout) for path in (first, second)]
    code, listed = _labels(workspace, "list")
    assert code == EXIT_OK
    assert [(b["batch"], b["rows"], b["source"], b["file"]) for b in listed["batches"]] == [
        (a["batch"], a["added"], str(path), a["file"]) for a, path in zip(added, (first, second), strict=True)
    ]
    assert all(b["added"][:4].isdigit() for b in listed["batches"])

    code, removed = _labels(workspace, "remove", added[0]["batch"])
    assert (code, removed["removed"]["batch"]) == (EXIT_OK, added[0]["batch"])
    code, listed = _labels(workspace, "list")
    assert [b["batch"] for b in listed["batches"]] == [added[1]["batch"]]
    monitored = json.loads(penguins("monitor", "--workspace", str(workspace), "--json").stdout)
    assert monitored["labeled"] == 2  # "one" is no longer labelled
    assert _labels_add(workspace, first).returncode == EXIT_OK  # and may be labelled again

    result = penguins("labels", "remove", "nothing-such", "--workspace", str(workspace))
    assert result.returncode == EXIT_USAGE
    assert result.stderr.strip() == (
        f"Refused: no label batch 'nothing-such' in {workspace / 'monitoring' / 'labels'}; "
        "expected one that `penguins labels list` shows"
    )


def test_stored_labels_keep_only_the_requests_asked_about_and_read_ids_as_text(workspace, tmp_path):
    rows = [{"request_id": f"other-{n}", "species": "Adelie"} for n in range(1000)]
    rows += [{"request_id": "NA", "species": "Gentoo"}, {"request_id": "007", "species": "Chinstrap"}]
    assert _labels_add(workspace, write_rows(tmp_path / "many.csv", rows)).returncode == EXIT_OK
    kept = stored_labels(workspace / "monitoring" / "labels", pd.Series(["NA", "007", "nobody"]))
    assert sorted(zip(kept["request_id"], kept["label"], strict=True)) == [
        ("007", "Chinstrap"),
        ("NA", "Gentoo"),
    ]


def test_the_reports_time_axes_over_a_short_window_read_as_times_of_day(workspace, tmp_path):
    labels = write_rows(tmp_path / "labels.csv", [{"request_id": "one", "species": "Adelie"}])
    assert _labels_add(workspace, labels).returncode == EXIT_OK
    result = penguins("monitor", "--workspace", str(workspace), "--json")
    assert result.returncode == EXIT_OK, result.stderr
    # The SVG keeps each drawn text as a comment: the requests were logged within milliseconds.
    texts = re.findall(r"<!-- (.*?) -->", (workspace / json.loads(result.stdout)["report"]).read_text())
    assert not [text for text in texts if re.search(r"\d[:.]\d+\.\d{3,}", text)], texts
    day_and_minute = [text for text in texts if re.fullmatch(r"\d{4}-[A-Z][a-z]{2}-\d{2} \d{2}:\d{2}", text)]
    assert len(day_and_minute) == 2  # once beside each time axis: accuracy, and the class mix


@pytest.fixture
def without_tensorflow(tmp_path):
    """An environment in which importing TensorFlow fails: a monitor run that computes cannot start."""
    package = tmp_path / "tripwire" / "tensorflow"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("raise ImportError('TensorFlow was imported')\n")
    return {"PYTHONPATH": str(package.parent)}


def _monitor(workspace, *extra, env=None):
    result = penguins("monitor", "--workspace", str(workspace), "--json", *extra, env=env)
    return result.returncode, (json.loads(result.stdout) if result.returncode == EXIT_OK else result.stderr)


@pytest.mark.one_stack
def test_a_monitor_run_with_nothing_new_answers_from_the_last_one_and_any_change_computes(
    workspace, tmp_path, without_tensorflow
):
    code, first = _monitor(workspace)
    assert (code, first["reused_from"]) == (EXIT_OK, None)
    code, again = _monitor(workspace, env=without_tensorflow)
    assert code == EXIT_OK, again
    assert again["reused_from"] == first["started"] and again["report"] == first["report"]
    assert {k: v for k, v in again.items() if k not in ("started", "reused_from")} == {
        k: v for k, v in first.items() if k not in ("started", "reused_from")
    }
    history = penguins("history", "--workspace", str(workspace), "--json").stdout
    assert [(run["started"], run["reused_from"]) for run in json.loads(history)][:2] == [
        (again["started"], first["started"]),
        (first["started"], None),
    ]
    history = penguins("history", "--workspace", str(workspace)).stdout
    assert f"0 labeled; nothing new since {first['started']})" in history

    def computes(*extra) -> bool:
        code, answer = _monitor(workspace, *extra, env=without_tensorflow)
        assert code == EXIT_OK or "TensorFlow was imported" in answer, answer
        return code != EXIT_OK

    added = json.loads(
        _labels_add(
            workspace, write_rows(tmp_path / "l.csv", [{"request_id": "one", "species": "Adelie"}]), "--json"
        ).stdout
    )
    assert computes()
    assert penguins("labels", "remove", added["batch"], "--workspace", str(workspace)).returncode == EXIT_OK
    assert not computes()  # the labels are as they were
    config = tmp_path / "config.yaml"
    config.write_text(DEFAULT_CONFIG.read_text().replace("min_labeled: 50", "min_labeled: 5"))
    assert computes("--config", str(config))
    assert computes("--since", "7d")
    Path(first["report"]).unlink()
    assert computes()
    _log(workspace / "monitoring" / "requests", [("four", 2, [BIRD], ["Adelie"])])
    assert computes()


@pytest.mark.one_stack
def test_a_reused_outcome_ends_when_its_oldest_request_leaves_the_window(workspace, without_tensorflow):
    oldest = logged_requests(workspace / "monitoring" / "requests", SPEC)["time_us"].min() / 1e6
    window = time.time() - oldest + 45  # the run reads the log after TensorFlow started, in under 45 s
    code, first = _monitor(workspace, "--since", f"{window:.3f}s")
    assert (code, first["instances"]) == (EXIT_OK, 4)
    time.sleep(max(0.0, oldest + window - time.time() + 1))  # now the request "one" has left it
    code, answer = _monitor(workspace, "--since", f"{window:.3f}s", env=without_tensorflow)
    assert code != EXIT_OK and "TensorFlow was imported" in answer


def test_live_accuracy_per_version_and_slice_with_interval(workspace):
    frame = logged_requests(workspace / "monitoring" / "requests", SPEC)
    labels = pd.DataFrame(
        {
            "request_id": ["one", "two", "three"],
            "instance": [0, 1, 0],
            "label": ["Adelie", "Adelie", "Chinstrap"],
        }
    )
    joined = join_labels(frame, labels)
    versions = version_quality(joined, ("island",), {1: 0.97})
    assert [v["version"] for v in versions] == [2, 1]
    two, one = versions
    assert (one["requests"], one["instances"], one["n"]) == (2, 3, 2)
    assert (one["live_accuracy"], one["blessed_accuracy"]) == (0.5, 0.97)
    assert (two["n"], two["live_accuracy"], two["blessed_accuracy"]) == (1, 1.0, None)
    assert {s["slice"]: (s["n"], s["live_accuracy"]) for s in one["slices"]} == {
        "island=Biscoe": (1, 0.0),
        "island=Torgersen": (1, 1.0),
    }
    low, high = one["ci95"]
    assert 0 < low < 0.5 < high < 1


def test_wilson_interval_matches_the_textbook_value_and_stays_in_range():
    low, high = wilson_interval(45, 50)  # 0.9 on 50: the Wilson interval is 0.786 to 0.957
    assert (round(low, 3), round(high, 3)) == (0.786, 0.957)
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == pytest.approx(1.0)
    assert wilson_interval(0, 0) is None


THRESHOLDS = Monitoring(min_live_accuracy=0.9, max_accuracy_drop=0.05, min_labeled=50)


def _current(live, n=100, blessed=0.97):
    return {"version": 3, "live_accuracy": live, "n": n, "blessed_accuracy": blessed}


@pytest.mark.parametrize(
    ("current", "skewed", "decision", "words"),
    [
        (_current(0.96), [], OK, "live accuracy 0.960 on 100 labels"),
        (_current(0.85), [], QUALITY_DIP, "below monitoring.min_live_accuracy 0.9"),
        (_current(0.91), [], QUALITY_DIP, "0.060 below its blessed accuracy 0.970"),
        (_current(0.85), ["bill_depth_mm"], QUALITY_DIP, "skewed against training on bill_depth_mm"),
        (_current(0.95), ["island"], SKEW, "still within bounds"),
        (_current(0.5, n=49), [], NOT_ENOUGH_LABELS, "only 49 labeled request(s) for version 3"),
        (_current(0.5, n=49), ["sex"], SKEW, "fewer than monitoring.min_labeled 50"),
    ],
)
def test_decision(current, skewed, decision, words):
    got, reason = decide(current, skewed, THRESHOLDS)
    assert got == decision and words in reason


def test_no_requests_at_all_is_not_enough_labels():
    frame = pd.DataFrame(columns=["request_id", "instance", "model_version", "predicted"])
    assert (
        version_quality(join_labels(frame, pd.DataFrame(columns=["request_id", "instance", "label"])), (), {})
        == []
    )
    assert decide({"version": 1, "n": 0}, [], THRESHOLDS)[0] == NOT_ENOUGH_LABELS


def test_since_keeps_only_the_window(workspace):
    folder = workspace / "monitoring" / "requests"
    logged_at = logged_requests(folder, SPEC)["time_us"]
    assert len(logged_requests(folder, SPEC, since_us=int(logged_at.min()))) == 4
    assert logged_requests(folder, SPEC, since_us=int(logged_at.max()) + 1).empty


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("30m", 1800), ("1.5h", 5400), ("7d", 604800)])
def test_durations(text, seconds):
    assert duration(text) == seconds


@pytest.mark.parametrize("text", ["7", "0d", "-1h", "a week"])
def test_a_bad_duration_is_refused_with_the_expected_form(text):
    with pytest.raises(argparse.ArgumentTypeError, match="expected a positive number and a unit"):
        duration(text)


def test_a_rollbacks_copy_has_the_blessed_accuracy_of_the_version_it_copies(tmp_path):
    for version, content in ((1, b"model one"), (2, b"model two"), (3, b"model one")):
        (tmp_path / str(version)).mkdir()
        (tmp_path / str(version) / FINGERPRINT_FILE).write_bytes(content)
    pushes = {
        v: Pushed(f"run-{v}", accuracy, 80, RunRecord(f"run-{v}", 0, {}, {}, {}))
        for v, accuracy in ((1, 0.97), (2, 0.95))
    }
    assert push_of(tmp_path, 3, pushes).accuracy == 0.97  # version 3 is a copy of version 1
    assert push_of(tmp_path, 2, pushes).accuracy == 0.95
    (tmp_path / "4").mkdir()
    assert push_of(tmp_path, 4, pushes) is None
