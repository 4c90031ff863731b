"""The typed ExampleGen, run as TFX runs executors, against TFX's CsvExampleGen and against examples
built in Python from the CSV rows and split by TFX's own partition function."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import tensorflow as tf
from tfx.components.example_gen.base_example_gen_executor import _PartitionFn
from tfx.components.example_gen.csv_example_gen import executor as tfx_csv_executor
from tfx.components.util import examples_utils
from tfx.proto import example_gen_pb2
from tfx.types import standard_artifacts, standard_component_specs
from tfx.utils import proto_utils

from components.custom import csv_example_gen, csv_ranges
from pipeline.definition.pipelines import split_config
from pipeline.intake.cleaning import write_clean_csv
from pipeline.intake.sources import bundled_penguins_csv
from pipeline.run.beam_options import resolve_beam_args

HEADER_LINES = 1


def _run_executor(
    executor, input_base: Path, out: Path, settings, input_splits=None
) -> dict[str, list[bytes]]:
    """Runs an ExampleGen executor over `input_base`; returns each split's records as written, sorted.

    Without `input_splits` (name -> file pattern) the files are split by hash, as the pipeline does.
    """
    examples = standard_artifacts.Examples()
    examples.uri = str(out)
    if input_splits is None:
        input_config = example_gen_pb2.Input(splits=[example_gen_pb2.Input.Split(name="all", pattern="*")])
        output_config = split_config(settings)
    else:
        splits = [
            example_gen_pb2.Input.Split(name=name, pattern=pattern) for name, pattern in input_splits.items()
        ]
        input_config, output_config = example_gen_pb2.Input(splits=splits), example_gen_pb2.Output()
    exec_properties = {
        standard_component_specs.INPUT_BASE_KEY: str(input_base),
        standard_component_specs.INPUT_CONFIG_KEY: proto_utils.proto_to_json(input_config),
        standard_component_specs.OUTPUT_CONFIG_KEY: proto_utils.proto_to_json(output_config),
        standard_component_specs.CUSTOM_CONFIG_KEY: proto_utils.proto_to_json(
            csv_example_gen.column_types(settings.features)
        ),
        # As TFX's FileBasedExampleGen passes them by default.
        standard_component_specs.OUTPUT_DATA_FORMAT_KEY: example_gen_pb2.FORMAT_TF_EXAMPLE,
        standard_component_specs.OUTPUT_FILE_FORMAT_KEY: example_gen_pb2.FORMAT_TFRECORDS_GZIP,
    }
    executor.Do({}, {standard_component_specs.EXAMPLES_KEY: [examples]}, exec_properties)
    assert examples.split_names == '["train", "eval"]'
    assert examples_utils.get_payload_format(examples) == example_gen_pb2.FORMAT_TF_EXAMPLE
    assert examples_utils.get_file_format(examples) == "tfrecords_gzip"
    splits = {}
    for split in ("train", "eval"):
        paths = [str(path) for path in (out / f"Split-{split}").glob("*.gz")]
        splits[split] = sorted(
            record.numpy() for record in tf.data.TFRecordDataset(paths, compression_type="GZIP")
        )
    return splits


def _canonical(splits: dict[str, list[bytes]]) -> dict[str, list[bytes]]:
    """Each record parsed and serialized again deterministically (features in name order)."""
    return {
        split: sorted(tf.train.Example.FromString(r).SerializeToString(deterministic=True) for r in records)
        for split, records in splits.items()
    }


def _python_examples(files: list[Path], settings, in_file_order: bool = False) -> dict[str, list[bytes]]:
    """The reference: a tf.train.Example per CSV row, built in Python (an empty cell is an empty list),
    assigned to its split by TFX's ExampleGen partition function; deterministically serialized;
    sorted unless `in_file_order`."""
    numeric = set(settings.features.numeric)
    config = split_config(settings).split_config
    buckets = [settings.train_buckets, settings.train_buckets + settings.eval_buckets]
    splits = {"train": [], "eval": []}
    for path in files:
        with path.open(newline="") as handle:
            for row in csv.DictReader(handle):
                feature = {}
                for name, cell in row.items():
                    if name in numeric:
                        feature[name] = tf.train.Feature(
                            float_list=tf.train.FloatList(value=[float(cell)] if cell else [])
                        )
                    else:
                        feature[name] = tf.train.Feature(
                            bytes_list=tf.train.BytesList(value=[cell.encode()] if cell else [])
                        )
                example = tf.train.Example(features=tf.train.Features(feature=feature))
                split = ["train", "eval"][_PartitionFn(example, len(buckets), buckets, config)]
                splits[split].append(example.SerializeToString(deterministic=True))
    return splits if in_file_order else {split: sorted(records) for split, records in splits.items()}


@pytest.fixture(scope="module")
def clean_penguins(tmp_path_factory, settings) -> Path:
    folder = tmp_path_factory.mktemp("clean")
    write_clean_csv([bundled_penguins_csv()], folder / "data.csv", settings.features)
    return folder


def test_example_splits_counts_each_split_as_tfx_partitions_it(clean_penguins, settings):
    """What the check before a run sees (pipeline/definition/split_check.py) is the split written."""
    files = sorted(clean_penguins.glob("*.csv"))
    splits = list(
        csv_example_gen.example_splits(
            [str(f) for f in files], settings.features, split_config(settings).split_config
        )
    )
    reference = _python_examples(files, settings)
    assert (splits.count(0), splits.count(1)) == (len(reference["train"]), len(reference["eval"]))


def test_writes_the_examples_and_splits_tfx_csv_example_gen_writes(
    clean_penguins, settings, tmp_path, monkeypatch
):
    expected = _run_executor(tfx_csv_executor.Executor(), clean_penguins, tmp_path / "tfx", settings)

    lines = (clean_penguins / "data.csv").read_text().splitlines(keepends=True)
    rows = lines[HEADER_LINES:]
    _two_files_in_small_ranges(tmp_path / "two_files", lines, monkeypatch)
    typed = _run_executor(csv_example_gen.Executor(), tmp_path / "two_files", tmp_path / "typed", settings)

    assert len(expected["train"]) + len(expected["eval"]) == len(rows)
    assert _canonical(typed) == _canonical(expected)


def _two_files_in_small_ranges(folder: Path, lines: list[str], monkeypatch) -> list[Path]:
    """The rows as two files (a header each), read in ranges of 2 KB: many units of work."""
    header, rows = lines[:HEADER_LINES], lines[HEADER_LINES:]
    folder.mkdir()
    files = [folder / "a.csv", folder / "b.csv"]
    files[0].write_text("".join(header + rows[: len(rows) // 3]))
    files[1].write_text("".join(header + rows[len(rows) // 3 :]))
    monkeypatch.setattr(csv_ranges, "RANGE_BYTES", 2048)
    return files


def test_writes_the_bytes_and_splits_of_examples_built_in_python(
    clean_penguins, settings, tmp_path, monkeypatch
):
    lines = (clean_penguins / "data.csv").read_text().splitlines(keepends=True)
    files = _two_files_in_small_ranges(tmp_path / "in", lines, monkeypatch)

    typed = _run_executor(csv_example_gen.Executor(), tmp_path / "in", tmp_path / "out", settings)

    expected = _python_examples(files, settings)
    assert expected["train"] and expected["eval"]
    assert typed == expected
    # Split by hash, the examples are shuffled into shards (one per range), not written in one file.
    assert len(list((tmp_path / "out" / "Split-train").glob("*.gz"))) > 1


def test_empty_cells_quoted_text_and_long_files_keep_their_examples(settings, tmp_path, monkeypatch):
    """Every column empty in some rows, text with commas and quotes, long text (a line longer than a
    range, a feature longer than 16 KiB), CRLF endings, many ranges."""
    columns = settings.features.columns
    numeric = set(settings.features.numeric)
    rows = []
    for index in range(600):
        row = []
        for position, name in enumerate(columns):
            if (index + position) % 5 == 0:
                row.append("")
            elif name in numeric:
                row.append(repr(index * 0.37 + position / 3))
            else:
                row.append(f'{name} "{index % 7}", {position}' * (3000 if index in (7, 300) else 1))
        rows.append(row)
    source = tmp_path / "source.csv"
    with source.open("w", newline="") as handle:
        csv.writer(handle).writerows([columns, *rows])
    files = _two_files_in_small_ranges(
        tmp_path / "in", source.read_bytes().decode().splitlines(True), monkeypatch
    )

    typed = _run_executor(csv_example_gen.Executor(), tmp_path / "in", tmp_path / "out", settings)

    expected = _python_examples(files, settings)
    assert sum(len(records) for records in expected.values()) == len(rows)
    assert typed == expected


def test_files_given_as_splits_go_the_tfx_way_with_the_same_examples(clean_penguins, settings, tmp_path):
    lines = (clean_penguins / "data.csv").read_text().splitlines(keepends=True)
    header, rows = lines[:HEADER_LINES], lines[HEADER_LINES:]
    for split, part in (("train", rows[:200]), ("eval", rows[200:])):
        (tmp_path / "in" / split).mkdir(parents=True)
        (tmp_path / "in" / split / "data.csv").write_text("".join(header + part))
    splits = {"train": "train/*", "eval": "eval/*"}

    typed = _run_executor(csv_example_gen.Executor(), tmp_path / "in", tmp_path / "out", settings, splits)

    for split in splits:
        expected = _python_examples([tmp_path / "in" / split / "data.csv"], settings)
        assert _canonical(typed)[split] == sorted(expected["train"] + expected["eval"])


@pytest.mark.parametrize(
    ("bad_cell", "problem"),
    [("abc", "'abc'; expected a number or an empty cell"), ("1.5,extra", "fields; expected")],
)
def test_a_bad_row_is_named_by_file_and_line(
    clean_penguins, settings, tmp_path, monkeypatch, bad_cell, problem
):
    lines = (clean_penguins / "data.csv").read_bytes().decode().splitlines(keepends=True)
    numeric = settings.features.numeric[0]
    position = lines[0].rstrip().split(",").index(numeric)
    bad_line = 250
    cells = lines[bad_line - 1].rstrip("\r\n").split(",")
    cells[position] = bad_cell
    lines[bad_line - 1] = ",".join(cells) + "\r\n"
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "data.csv").write_text("".join(lines), newline="")
    monkeypatch.setattr(csv_ranges, "RANGE_BYTES", 2048)

    with pytest.raises(ValueError) as error:
        _run_executor(csv_example_gen.Executor(), bad, tmp_path / "out", settings)
    assert f"{bad / 'data.csv'}, line {bad_line}: " in str(error.value)
    assert problem in str(error.value)


def test_a_file_whose_header_lacks_a_column_is_named(clean_penguins, settings, tmp_path):
    lines = (clean_penguins / "data.csv").read_text().splitlines(keepends=True)
    header = lines[0].replace(",sex", ",gender")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "data.csv").write_text(header + "".join(lines[1:]))

    with pytest.raises(ValueError) as error:
        _run_executor(csv_example_gen.Executor(), bad, tmp_path / "out", settings)
    assert str(bad / "data.csv") in str(error.value)
    assert "'gender'" in str(error.value) and "expected the columns" in str(error.value)


def _records_as_written(out: Path) -> dict[str, list[bytes]]:
    """Each written file's records, in file and record order."""
    return {
        path.relative_to(out).as_posix(): [
            record.numpy() for record in tf.data.TFRecordDataset(str(path), compression_type="GZIP")
        ]
        for path in sorted(out.glob("Split-*/*.gz"))
    }


def test_the_shuffle_is_the_same_every_time_and_not_the_files_order(
    clean_penguins, settings, tmp_path, monkeypatch
):
    """The same data is written in the same shuffled order by every run, so that a re-run with
    nothing changed trains the same model; Beam's multi-processing runner finishes the work in
    another order than the in-process one, and neither may change the result."""
    lines = (clean_penguins / "data.csv").read_text().splitlines(keepends=True)
    _two_files_in_small_ranges(tmp_path / "in", lines, monkeypatch)
    written = {}
    for preset in ("in-process", "multi-processing"):
        context = csv_example_gen.Executor.Context(beam_pipeline_args=resolve_beam_args(preset, []).args)
        _run_executor(csv_example_gen.Executor(context), tmp_path / "in", tmp_path / preset, settings)
        written[preset] = _records_as_written(tmp_path / preset)

    assert written["in-process"] == written["multi-processing"]
    files = sorted((tmp_path / "in").glob("*.csv"))
    in_file_order = _python_examples(files, settings, in_file_order=True)["train"]
    as_written = [
        record for path, records in written["in-process"].items() if "train" in path for record in records
    ]
    assert sorted(as_written) == sorted(in_file_order) and as_written != in_file_order
