"""Beam presets and pass-through options, read back with Beam's own option parser."""

from __future__ import annotations

import argparse

import pytest
from apache_beam.options.pipeline_options import (
    DebugOptions,
    DirectOptions,
    GoogleCloudOptions,
    PipelineOptions,
    PortableOptions,
    StandardOptions,
)
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from apache_beam.runners.runner import create_runner

from pipeline.cli.options import add_beam_options
from pipeline.config.settings import ConfigError
from pipeline.run.beam_options import AUTO, csv_rows, load_presets, resolve_beam_args
from tests.helpers import free_port

PRESETS = load_presets()


def _parsed(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_beam_options(parser)
    return parser.parse_args(list(argv))


def _resolve(args: argparse.Namespace, data_rows: int | None = None):
    return resolve_beam_args(args.beam_preset, args.beam_arg, data_rows)


def _beam(args: list[str]) -> PipelineOptions:
    return PipelineOptions(args)


def test_the_four_kinds_of_runner_are_presets():
    assert {"in-process", "multi-processing", "portable", "dataflow"} <= set(PRESETS.presets)
    assert _parsed().beam_preset == AUTO


def test_in_process_preset_runs_one_worker_in_this_process():
    options = _beam(_resolve(_parsed("--beam-preset", "in-process")).args)
    # The local engine itself, on both stacks: never Beam 2.77's Prism download.
    assert isinstance(create_runner(options.view_as(StandardOptions).runner), FnApiRunner)
    assert options.view_as(DirectOptions).direct_running_mode == "in_memory"
    assert options.view_as(DirectOptions).direct_num_workers == 1


def test_multi_processing_preset_uses_every_core():
    options = _beam(_resolve(_parsed("--beam-preset", "multi-processing")).args)
    assert isinstance(create_runner(options.view_as(StandardOptions).runner), FnApiRunner)
    assert options.view_as(DirectOptions).direct_running_mode == "multi_processing"
    assert options.view_as(DirectOptions).direct_num_workers == 0  # Beam: one per CPU core


def test_auto_chooses_by_data_size_at_the_configured_crossover():
    threshold = PRESETS.multi_processing_from_rows
    below = _resolve(_parsed(), data_rows=threshold - 1)
    above = _resolve(_parsed(), data_rows=threshold)
    assert (
        (below.preset, above.preset) == (PRESETS.small, PRESETS.large) == ("in-process", "multi-processing")
    )
    assert below.args == _resolve(_parsed("--beam-preset", "in-process")).args
    assert f"{threshold - 1:,} rows <" in below.reason
    assert _resolve(_parsed()).preset == "in-process"  # size unknown


def test_a_beam_arg_overrides_the_preset_and_unknown_options_pass_through():
    preset = ("--beam-preset", "multi-processing")
    passed = ("--beam-arg=--direct_num_workers=2", "--beam-arg=--experiments=use_runner_v2")
    choice = _resolve(_parsed(*preset, *passed))
    options = _beam(choice.args)
    assert options.view_as(DirectOptions).direct_num_workers == 2
    assert options.view_as(DirectOptions).direct_running_mode == "multi_processing"
    assert "use_runner_v2" in options.view_as(DebugOptions).experiments


def test_a_beam_arg_replaces_the_presets_experiment_of_the_same_name():
    passed = "--beam-arg=--experiments=pre_optimize=none"
    choice = _resolve(_parsed("--beam-preset", "portable", "--beam-arg=--job_endpoint=x:1", passed))
    debug = _beam(choice.args).view_as(DebugOptions)
    assert debug.lookup_experiment("pre_optimize") == "none"  # Beam reads the first of two
    assert debug.experiments.count("pre_optimize=none") == 1 and "pre_optimize=all" not in debug.experiments


def test_portable_preset_sets_what_tfx_needs_and_reads_the_endpoint_from_the_environment(monkeypatch):
    monkeypatch.setenv("BEAM_JOB_ENDPOINT", "flink-jobserver:8099")
    options = _beam(_resolve(_parsed("--beam-preset", "portable")).args)
    assert options.view_as(StandardOptions).runner == "PortableRunner"
    portable = options.view_as(PortableOptions)
    assert portable.job_endpoint == "flink-jobserver:8099"
    assert portable.environment_type == "LOOPBACK"
    assert options.view_as(DebugOptions).lookup_experiment("pre_optimize") == "all"


@pytest.mark.parametrize("engine", ["flink", "spark"])
def test_cluster_presets_default_to_the_local_cluster_and_read_its_endpoints_from_the_environment(
    monkeypatch, engine
):
    for name in ("BEAM_JOB_ENDPOINT", "BEAM_WORKER_POOL"):
        monkeypatch.delenv(name, raising=False)
    options = _beam(_resolve(_parsed("--beam-preset", engine)).args)
    portable = options.view_as(PortableOptions)
    assert options.view_as(StandardOptions).runner == "PortableRunner"
    assert (portable.job_endpoint, portable.environment_type) == ("localhost:8099", "EXTERNAL")
    assert portable.environment_config == "localhost:50000"
    assert options.view_as(DebugOptions).lookup_experiment("pre_optimize") == "all"

    monkeypatch.setenv("BEAM_JOB_ENDPOINT", "jobs.example:18099")
    monkeypatch.setenv("BEAM_WORKER_POOL", "")  # set but empty: the default, as in a shell's ${NAME:-default}
    loopback = _resolve(_parsed("--beam-preset", engine, "--beam-arg=--environment_type=LOOPBACK")).args
    portable = _beam(loopback).view_as(PortableOptions)
    assert (portable.job_endpoint, portable.environment_type) == ("jobs.example:18099", "LOOPBACK")
    assert portable.environment_config == "localhost:50000"


def test_the_endpoint_check_names_the_worker_pool_when_only_the_job_server_answers():
    from concurrent import futures

    import grpc

    from pipeline.run.endpoints import EndpointUnreachableError, require_reachable

    job_server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    port = job_server.add_insecure_port("127.0.0.1:0")
    job_server.start()
    try:
        pool = f"localhost:{free_port()}"
        args = ["--runner=PortableRunner", f"--job_endpoint=localhost:{port}", "--environment_type=EXTERNAL",
                f"--environment_config={pool}"]  # fmt: skip
        with pytest.raises(EndpointUnreachableError, match=f"the Beam worker pool at {pool} does not answer"):
            require_reachable(args, timeout=2)
        require_reachable([*args[:2], "--environment_type=LOOPBACK"], timeout=2)  # no pool needed
        require_reachable(["--runner=apache_beam.runners.portability.fn_api_runner.FnApiRunner"])
    finally:
        job_server.stop(None)


def test_a_preset_missing_a_required_option_is_a_config_error(monkeypatch):
    monkeypatch.delenv("BEAM_JOB_ENDPOINT", raising=False)
    with pytest.raises(ConfigError, match="needs --job_endpoint"):
        _resolve(_parsed("--beam-preset", "portable"))
    given = _resolve(_parsed("--beam-preset", "portable", "--beam-arg=--job_endpoint=localhost:1"))
    assert _beam(given.args).view_as(PortableOptions).job_endpoint == "localhost:1"


def test_dataflow_preset_needs_project_region_and_temp_location(monkeypatch):
    for name in ("GOOGLE_CLOUD_PROJECT", "DATAFLOW_REGION", "DATAFLOW_TEMP_LOCATION"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match="--project, --region, --temp_location"):
        _resolve(_parsed("--beam-preset", "dataflow"))
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "my-project")
    monkeypatch.setenv("DATAFLOW_REGION", "europe-west1")
    monkeypatch.setenv("DATAFLOW_TEMP_LOCATION", "gs://my-bucket/tmp")
    options = _beam(_resolve(_parsed("--beam-preset", "dataflow")).args)
    assert options.view_as(StandardOptions).runner == "DataflowRunner"
    cloud = options.view_as(GoogleCloudOptions)
    assert (cloud.project, cloud.region, cloud.temp_location) == (
        "my-project", "europe-west1", "gs://my-bucket/tmp")  # fmt: skip


def test_csv_rows_counts_data_lines_without_headers(tmp_path):
    (tmp_path / "a.csv").write_text("x,y\n1,2\n3,4\n")
    (tmp_path / "b.csv").write_text("x,y\n5,6\n")
    assert csv_rows(sorted(tmp_path.glob("*.csv"))) == 3


def test_a_broken_preset_file_is_a_config_error(tmp_path):
    path = tmp_path / "beam.yaml"
    path.write_text("auto: {small: in-process, large: nowhere, multi_processing_from_rows: 5}\npresets: {}\n")
    with pytest.raises(ConfigError, match=r"beam\.yaml"):
        load_presets(path)
