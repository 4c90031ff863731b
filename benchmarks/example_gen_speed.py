"""The typed ExampleGen alone on synthetic cleaned data: wall time and peak RSS of the process tree.

The pipeline's ExampleGen step without the rest of the run, so that a change to it can be
measured in a minute rather than a whole `penguins run`. It writes synthetic raw data with
`penguins synth`, cleans it as `penguins run` does, then runs the ExampleGen executor in a child
process with a Beam preset, sampling the RSS summed over that process and its Beam workers.

Usage: python benchmarks/example_gen_speed.py [--rows 1000000] [--preset in-process] [--scratch DIR]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from scale import PENGUINS, gib, measured

REPO = Path(__file__).resolve().parent.parent


def clean_data(rows: int, scratch: Path) -> Path:
    """A folder holding `rows` rows of cleaned synthetic data, made once per `scratch`."""
    folder = scratch / f"clean-{rows}"
    if not (folder / "data.csv").exists():
        from pipeline.config.settings import load_settings
        from pipeline.intake.cleaning import write_clean_csv

        raw = scratch / f"raw-{rows}"
        subprocess.run([str(PENGUINS), "synth", "--rows", str(rows), "--out", str(raw)], check=True)
        write_clean_csv(sorted(raw.glob("*.csv")), folder / "data.csv", load_settings().features)
    return folder


def run_executor(input_base: Path, out: Path, preset: str) -> None:
    """Runs the ExampleGen executor as the pipeline configures it (its splits, column types, preset)."""
    from tfx.proto import example_gen_pb2
    from tfx.types import standard_artifacts, standard_component_specs
    from tfx.utils import proto_utils

    from components.custom import csv_example_gen
    from pipeline.config.settings import load_settings
    from pipeline.definition.pipelines import split_config
    from pipeline.run.beam_options import resolve_beam_args

    settings = load_settings()
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
        # As TFX's FileBasedExampleGen passes them by default.
        standard_component_specs.OUTPUT_DATA_FORMAT_KEY: example_gen_pb2.FORMAT_TF_EXAMPLE,
        standard_component_specs.OUTPUT_FILE_FORMAT_KEY: example_gen_pb2.FORMAT_TFRECORDS_GZIP,
    }
    context = csv_example_gen.Executor.Context(beam_pipeline_args=resolve_beam_args(preset, []).args)
    executor = csv_example_gen.Executor(context)
    executor.Do({}, {standard_component_specs.EXAMPLES_KEY: [examples]}, exec_properties)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--preset", default="in-process", choices=["in-process", "multi-processing"])
    parser.add_argument("--scratch", type=Path, help="keeps the data between runs (default: temporary)")
    parser.add_argument("--run", nargs=2, metavar=("INPUT_BASE", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    if args.run:
        run_executor(Path(args.run[0]), Path(args.run[1]), args.preset)
        return
    with tempfile.TemporaryDirectory(dir=args.scratch) as work:
        data = clean_data(args.rows, args.scratch or Path(work))
        command = [sys.executable, __file__, "--preset", args.preset, "--run", str(data), f"{work}/out"]
        run = measured(command)
    print(f"ExampleGen, {args.rows:,} rows, {args.preset}: {run['wall_s']:.1f}s, peak {gib(run['peak_rss'])}")


if __name__ == "__main__":
    main()
