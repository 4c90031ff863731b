"""The TFX pipeline, built from settings alone.

ExampleGen -> StatisticsGen -> ImportSchemaGen -> ExampleValidator -> ValidationGate ->
Transform -> Trainer -> (latest blessed model) -> Evaluator -> Pusher.
Components are imported from their modules rather than `tfx.v1`, which eagerly imports the
Google Cloud extensions and costs seconds on every run.
"""

from __future__ import annotations

from pathlib import Path

from tfx.components import (
    CsvExampleGen,
    Evaluator,
    ExampleValidator,
    StatisticsGen,
    Trainer,
    Transform,
)
from tfx.components.schema_gen.import_schema_gen.component import ImportSchemaGen
from tfx.dsl.components.common.resolver import Resolver
from tfx.dsl.input_resolution.strategies.latest_blessed_model_strategy import (
    LatestBlessedModelStrategy,
)
from tfx.orchestration import metadata
from tfx.orchestration import pipeline as tfx_pipeline
from tfx.proto import example_gen_pb2, pusher_pb2
from tfx.types import standard_artifacts
from tfx.types.channel import Channel

from components.pusher import AtomicPusher
from components.validation_gate import ValidationGate
from pipeline.evaluation import eval_config
from pipeline.settings import Settings
from pipeline.workspace import Workspace

PREPROCESSING_FN = "components.transform.preprocessing_fn"
RUN_FN = "components.trainer.run_fn"
BASELINE_RESOLVER_ID = "latest_blessed_model_resolver"


def create_pipeline(
    settings: Settings,
    clean_data_dir: Path,
    workspace: Workspace,
    beam_args: list[str],
    enable_cache: bool = True,
) -> tfx_pipeline.Pipeline:
    example_gen = CsvExampleGen(
        input_base=str(clean_data_dir),
        output_config=example_gen_pb2.Output(
            split_config=example_gen_pb2.SplitConfig(
                splits=[
                    example_gen_pb2.SplitConfig.Split(name="train", hash_buckets=settings.train_buckets),
                    example_gen_pb2.SplitConfig.Split(name="eval", hash_buckets=settings.eval_buckets),
                ]
            )
        ),
    )
    statistics_gen = StatisticsGen(examples=example_gen.outputs["examples"])
    schema_gen = ImportSchemaGen(schema_file=str(settings.schema_path))
    example_validator = ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"]
    )
    validation_gate = ValidationGate(anomalies=example_validator.outputs["anomalies"])

    custom_config = settings.as_custom_config()
    transform = Transform(
        examples=example_gen.outputs["examples"],
        schema=schema_gen.outputs["schema"],
        preprocessing_fn=PREPROCESSING_FN,
        custom_config=custom_config,
        # StatisticsGen and ExampleValidator already checked the raw data.
        disable_statistics=True,
        force_tf_compat_v1=True,
    )
    transform.add_upstream_node(validation_gate)
    trainer = Trainer(
        run_fn=RUN_FN,
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=schema_gen.outputs["schema"],
        custom_config=custom_config,
    )
    baseline_resolver = Resolver(
        strategy_class=LatestBlessedModelStrategy,
        model=Channel(type=standard_artifacts.Model),
        model_blessing=Channel(type=standard_artifacts.ModelBlessing),
    ).with_id(BASELINE_RESOLVER_ID)
    evaluator = Evaluator(
        examples=example_gen.outputs["examples"],
        model=trainer.outputs["model"],
        baseline_model=baseline_resolver.outputs["model"],
        eval_config=eval_config(settings),
    )
    pusher = AtomicPusher(
        model=trainer.outputs["model"],
        model_blessing=evaluator.outputs["blessing"],
        push_destination=pusher_pb2.PushDestination(
            filesystem=pusher_pb2.PushDestination.Filesystem(
                base_directory=str(workspace.model_dir(settings.model_name))
            )
        ),
    )
    return tfx_pipeline.Pipeline(
        pipeline_name=settings.name,
        pipeline_root=str(workspace.pipeline_root),
        components=[
            example_gen,
            statistics_gen,
            schema_gen,
            example_validator,
            validation_gate,
            transform,
            trainer,
            baseline_resolver,
            evaluator,
            pusher,
        ],
        enable_cache=enable_cache,
        metadata_connection_config=metadata.sqlite_metadata_connection_config(str(workspace.metadata_path)),
        beam_pipeline_args=beam_args,
    )
