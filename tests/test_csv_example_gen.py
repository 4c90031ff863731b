"""The typed ExampleGen against TFX's own CsvExampleGen, both run as TFX runs their executors."""

from __future__ import annotations

from pathlib import Path

import pytest
import tensorflow as tf
from tfx.components.example_gen.csv_example_gen import executor as tfx_csv_executor
from tfx.proto import example_gen_pb2
from tfx.types import standard_artifacts, standard_component_specs
from tfx.utils import proto_utils

from components.custom import csv_example_gen
from pipeline.definition.pipelines import split_config
from pipeline.intake.cleaning import write_clean_csv
from pipeline.intake.sources import bundled_penguins_csv

HEADER_LINES = 1


def _run_executor(executor, input_base: Path, out: Path, settings) -> dict[str, list]:
    """Runs an ExampleGen executor over `input_base`; returns each split's examples, in a fixed order."""
    examples = standard_artifacts.Examples()
    examples.uri = str(out)
    exec_properties = {
        standard_component_specs.INPUT_BASE_KEY: str(input_base),
        standard_component_specs.INPUT_CONFIG_KEY: proto_utils.proto_to_json(
            example_gen_pb2.Input(splits=[example_gen_pb2.Input.Split(name="all", pattern="*")])
        ),
        standard_component_specs.OUTPUT_CONFIG_KEY: proto_utils.proto_to_json(split_config(settings)),
        standard_component_specs.CUSTOM_CONFIG_KEY: proto_utils.proto_to_json(
            csv_example_gen.column_types(settings.features)
        ),
    }
    executor.Do({}, {standard_component_specs.EXAMPLES_KEY: [examples]}, exec_properties)
    splits = {}
    for split in ("train", "eval"):
        records = []
        for path in sorted((out / f"Split-{split}").glob("*.gz")):
            dataset = tf.data.TFRecordDataset(str(path), compression_type="GZIP")
            records += [tf.train.Example.FromString(record.numpy()) for record in dataset]
        splits[split] = sorted(record.SerializeToString(deterministic=True) for record in records)
    return splits


@pytest.fixture(scope="module")
def clean_penguins(tmp_path_factory, settings) -> Path:
    folder = tmp_path_factory.mktemp("clean")
    write_clean_csv([bundled_penguins_csv()], folder / "data.csv", settings.features)
    return folder


def test_writes_the_examples_and_splits_tfx_csv_example_gen_writes(
    clean_penguins, settings, tmp_path, monkeypatch
):
    expected = _run_executor(tfx_csv_executor.Executor(), clean_penguins, tmp_path / "tfx", settings)

    # The same rows as two files, read in ranges of 2 KB: many units of work, one result.
    lines = (clean_penguins / "data.csv").read_text().splitlines(keepends=True)
    header, rows = lines[:HEADER_LINES], lines[HEADER_LINES:]
    two_files = tmp_path / "two_files"
    two_files.mkdir()
    (two_files / "a.csv").write_text("".join(header + rows[:100]))
    (two_files / "b.csv").write_text("".join(header + rows[100:]))
    monkeypatch.setattr(csv_example_gen, "_RANGE_BYTES", 2048)
    typed = _run_executor(csv_example_gen.Executor(), two_files, tmp_path / "typed", settings)

    assert len(expected["train"]) + len(expected["eval"]) == len(rows)
    assert typed == expected


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
