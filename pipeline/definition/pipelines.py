"""The TFX pipelines, built from settings alone.

`penguins run`: ExampleGen -> StatisticsGen -> ImportSchemaGen -> ExampleValidator ->
ValidationGate -> Transform -> Trainer -> (served model) -> Evaluator -> Pusher.
`penguins retrain` reads spans instead: ExampleGen takes the newest span, which is validated and
compared for drift with the previous span; Transform, Trainer and Evaluator then work on a
rolling window of the newest spans. Both share one pipeline name, so one metadata store holds
one lineage of blessed models, whichever command produced them.
`penguins export kfp` compiles the nodes of `run` (`run_components`) with its own locations and
baseline (pipeline/export/kfp_spec.py).
Components are imported from their modules rather than `tfx.v1`, which eagerly imports the
Google Cloud extensions and costs seconds on every run.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow_hotfix  # noqa: F401 - before TFX reads any Arrow data (CVE-2023-47248, see pyproject.toml)
from tfx.components import ExampleValidator, Trainer
from tfx.components.schema_gen.import_schema_gen.component import ImportSchemaGen
from tfx.dsl.components.common.resolver import Resolver
from tfx.orchestration import pipeline as tfx_pipeline
from tfx.proto import example_gen_pb2, pusher_pb2, range_config_pb2
from tfx.types import standard_artifacts
from tfx.types.channel import Channel

from components.custom.batched_statistics_gen import BatchedStatisticsGen
from components.custom.batched_transform import BatchedTransform
from components.custom.csv_example_gen import TypedCsvExampleGen, column_types
from components.custom.drift import DriftCheck
from components.custom.pusher import AtomicPusher
from components.custom.sampled_evaluator import SampledEvaluator
from components.custom.span_gate import SpanGate
from components.custom.span_rules import GateRules
from components.custom.validation_gate import ValidationGate
from components.resolvers.served_model import ServedModelStrategy
from components.resolvers.span_window import PreviousSpanStrategy, SpanWindowStrategy
from pipeline.config.settings import Settings
from pipeline.config.workspace import Workspace
from pipeline.definition import node_ids
from pipeline.definition.cache_keys import content_addressed_copy, never_cached, pin_to_content
from pipeline.definition.evaluation import METRIC_MODULES, eval_config
from pipeline.intake.spans import SPAN_PATTERN

PREPROCESSING_FN = "components.model.transform.preprocessing_fn"
RUN_FN = "components.model.trainer.run_fn"


def split_config(settings: Settings) -> example_gen_pb2.Output:
    return example_gen_pb2.Output(
        split_config=example_gen_pb2.SplitConfig(
            splits=[
                example_gen_pb2.SplitConfig.Split(name="train", hash_buckets=settings.train_buckets),
                example_gen_pb2.SplitConfig.Split(name="eval", hash_buckets=settings.eval_buckets),
            ]
        )
    )


def _served_model_baseline(model_dir: str) -> Resolver:
    """The model `model_dir` serves now, the Evaluator's baseline (components/resolvers/served_model.py)."""
    return Resolver(
        strategy_class=ServedModelStrategy,
        config={"model_dir": model_dir},
        model=Channel(type=standard_artifacts.Model),
    ).with_id(node_ids.BASELINE_RESOLVER)


def _training(
    settings: Settings, model_dir: str, examples, schema, gate, baseline_resolver, span_rules=None
) -> list:
    """Transform -> Trainer -> (baseline) -> Evaluator -> Pusher into `model_dir`, after the gate passed.

    With `span_rules` (a retrain's window of spans), the span gate sits between the Evaluator and
    the Pusher: the candidate must also be no worse on the earlier spans and fit the newest one.
    """
    transform = BatchedTransform(
        examples=examples,
        schema=schema,
        preprocessing_fn=PREPROCESSING_FN,
        # The features only: a change to the training settings is not Transform's to redo.
        custom_config=settings.features.as_custom_config(),
        # StatisticsGen and ExampleValidator already checked the raw data.
        disable_statistics=True,
        # The analyzer cache only pays when a later run reads it back as `analyzer_cache`, which no
        # pipeline here does; writing it cost Transform extra Beam stages on every run.
        disable_analyzer_cache=True,
        force_tf_compat_v1=True,
    ).with_id(node_ids.TRANSFORM)
    transform.add_upstream_node(gate)
    trainer = Trainer(
        run_fn=RUN_FN,
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=schema,
        custom_config=settings.as_custom_config(),
    ).with_id(node_ids.TRAINER)
    evaluator = SampledEvaluator(
        examples=examples,
        model=trainer.outputs["model"],
        baseline_model=baseline_resolver.outputs["model"],
        eval_config=eval_config(settings),
        eval_sample_size=settings.evaluation.sample_size,
    ).with_id(node_ids.EVALUATOR)
    blessing = evaluator.outputs["blessing"]
    span_gate = None
    if span_rules is not None:
        span_gate = SpanGate(
            examples=examples,
            model=trainer.outputs["model"],
            baseline_model=baseline_resolver.outputs["model"],
            evaluator_blessing=blessing,
            label_key=settings.features.label,
            rules=span_rules,
        ).with_id(node_ids.SPAN_GATE)
        blessing = span_gate.outputs["blessing"]
    pusher = AtomicPusher(
        model=trainer.outputs["model"],
        model_blessing=blessing,
        push_destination=pusher_pb2.PushDestination(
            filesystem=pusher_pb2.PushDestination.Filesystem(base_directory=model_dir)
        ),
    ).with_id(node_ids.PUSHER)
    pin_to_content(transform, [_module_of(PREPROCESSING_FN)])
    pin_to_content(trainer, [_module_of(RUN_FN)])
    # The eval config names its metrics' modules by path, as the Trainer's run_fn is named.
    pin_to_content(evaluator, METRIC_MODULES)
    gates = [span_gate] if span_gate is not None else []
    return [transform, trainer, baseline_resolver, evaluator, *gates, never_cached(pusher)]


def _module_of(function_path: str) -> str:
    return function_path.rsplit(".", 1)[0]


def _schema_copy(settings: Settings, workspace: Workspace) -> Path:
    """The schema's copy named by its content, imported so that an edit is never served from cache."""
    return content_addressed_copy(settings.schema_path, workspace.schemas)


def _import_schema(settings: Settings, workspace: Workspace) -> ImportSchemaGen:
    return ImportSchemaGen(schema_file=str(_schema_copy(settings, workspace))).with_id(node_ids.SCHEMA_GEN)


def _statistics_gen(example_gen) -> BatchedStatisticsGen:
    return BatchedStatisticsGen(examples=example_gen.outputs["examples"]).with_id(node_ids.STATISTICS_GEN)


def pinned_pipeline(
    settings: Settings, pipeline_root: str, components, beam_args, enable_cache=True, metadata_config=None
) -> tfx_pipeline.Pipeline:
    """The pipeline of `components`, each pinned to its code (cache_keys.py), writing to `pipeline_root`."""
    return tfx_pipeline.Pipeline(
        pipeline_name=settings.name,
        pipeline_root=pipeline_root,
        components=[pin_to_content(component) for component in components],
        enable_cache=enable_cache,
        metadata_connection_config=metadata_config,
        beam_pipeline_args=beam_args,
    )


def _pipeline(settings, workspace, components, beam_args, enable_cache) -> tfx_pipeline.Pipeline:
    metadata = settings.metadata_location(workspace).connection_config()
    return pinned_pipeline(
        settings, str(workspace.pipeline_root), components, beam_args, enable_cache, metadata
    )


def run_components(settings: Settings, data_root: str, schema_file: str, model_dir: str, baseline) -> list:
    """The nodes of `penguins run`, over the cleaned CSV in `data_root`, pushing into `model_dir`.

    Locations are strings, as TFX keeps them: a `gs://` URI must not pass through pathlib
    (`Path("gs://b")` is `gs:/b`). `baseline` is the Evaluator's baseline resolver.
    """
    example_gen = TypedCsvExampleGen(
        input_base=data_root,
        custom_config=column_types(settings.features),
        output_config=split_config(settings),
    ).with_id(node_ids.EXAMPLE_GEN)
    statistics_gen = _statistics_gen(example_gen)
    schema_gen = ImportSchemaGen(schema_file=schema_file).with_id(node_ids.SCHEMA_GEN)
    example_validator = ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"]
    ).with_id(node_ids.EXAMPLE_VALIDATOR)
    validation_gate = ValidationGate(anomalies=example_validator.outputs["anomalies"]).with_id(
        node_ids.VALIDATION_GATE
    )
    examples, schema = example_gen.outputs["examples"], schema_gen.outputs["schema"]
    training = _training(settings, model_dir, examples, schema, validation_gate, baseline)
    return [example_gen, statistics_gen, schema_gen, example_validator, validation_gate, *training]


def create_pipeline(
    settings: Settings,
    clean_data_dir: Path,
    workspace: Workspace,
    beam_args: list[str],
    enable_cache: bool = True,
) -> tfx_pipeline.Pipeline:
    """The one-shot pipeline of `penguins run`, over one folder of cleaned data."""
    model_dir = str(workspace.model_dir(settings.model_name))
    components = run_components(
        settings,
        str(clean_data_dir),
        str(_schema_copy(settings, workspace)),
        model_dir,
        _served_model_baseline(model_dir),
    )
    return _pipeline(settings, workspace, components, beam_args, enable_cache)


def _span_resolver(node_id: str, strategy, config: dict, after, **channels) -> Resolver:
    """Resolves over every run's outputs of the given nodes; runs after `after`, so this run's span counts."""
    resolver = Resolver(
        strategy_class=strategy,
        config=config,
        **{
            key: Channel(
                type=producer.outputs[output_key].type,
                producer_component_id=producer.id,
                output_key=output_key,
            )
            for key, (producer, output_key) in channels.items()
        },
    ).with_id(node_id)
    resolver.add_upstream_node(after)
    return resolver


def _span_example_gen(settings: Settings, workspace: Workspace, span: int) -> TypedCsvExampleGen:
    """Reads one span. ExampleGen reads one span per run; the window is made of earlier runs' outputs."""
    return TypedCsvExampleGen(
        input_base=str(workspace.spans),
        custom_config=column_types(settings.features),
        input_config=example_gen_pb2.Input(
            splits=[example_gen_pb2.Input.Split(name="all", pattern=SPAN_PATTERN)]
        ),
        output_config=split_config(settings),
        range_config=range_config_pb2.RangeConfig(
            static_range=range_config_pb2.StaticRange(start_span_number=span, end_span_number=span)
        ),
    ).with_id(node_ids.SPAN_EXAMPLE_GEN)


def create_span_reading_pipeline(
    settings: Settings, workspace: Workspace, span: int, beam_args: list[str]
) -> tfx_pipeline.Pipeline:
    """Reads a span that arrived between retraining runs, so that windows and drift checks can use it."""
    example_gen = _span_example_gen(settings, workspace, span)
    statistics_gen = _statistics_gen(example_gen)
    return _pipeline(settings, workspace, [example_gen, statistics_gen], beam_args, enable_cache=True)


def create_retraining_pipeline(
    settings: Settings,
    workspace: Workspace,
    beam_args: list[str],
    newest_span: int,
    window_spans: list[int],
    excluded_spans: list[int],
    *,
    drift_baseline_span: int | None = None,
    newest_is_feedback: bool = False,
    enable_cache: bool = True,
) -> tfx_pipeline.Pipeline:
    """The pipeline of `penguins retrain`: validate and drift-check the newest span, train on a window.

    The window is chosen by the retrain's plan (pipeline/retraining/planning.py). `excluded_spans`
    were rejected earlier; they are never compared with. The newest span's drift is measured
    against `drift_baseline_span` when given (for a feedback span: the newest span the served model
    was trained on), else against the span before it. A feedback span's candidate must improve on
    it (components/custom/span_rules.py).
    """
    example_gen = _span_example_gen(settings, workspace, newest_span)
    statistics_gen = _statistics_gen(example_gen)
    schema_gen = _import_schema(settings, workspace)
    example_validator = ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"]
    ).with_id(node_ids.EXAMPLE_VALIDATOR)
    previous_span = _span_resolver(
        node_ids.PREVIOUS_SPAN_RESOLVER,
        PreviousSpanStrategy,
        # TFX's resolver config holds no nulls: without a baseline, the strategy's default applies.
        {"excluded_spans": excluded_spans}
        | ({} if drift_baseline_span is None else {"compare_with": drift_baseline_span}),
        after=statistics_gen,
        examples=(example_gen, "examples"),
        statistics=(statistics_gen, "statistics"),
    )
    drift_check = DriftCheck(
        statistics=statistics_gen.outputs["statistics"],
        schema=schema_gen.outputs["schema"],
        previous_statistics=previous_span.outputs["statistics"],
    ).with_id(node_ids.DRIFT_CHECK)
    validation_gate = ValidationGate(
        anomalies=example_validator.outputs["anomalies"],
        drift=drift_check.outputs["drift"],
        block_on_drift=settings.retraining.blocks_on_drift,
    ).with_id(node_ids.VALIDATION_GATE)
    span_window = _span_resolver(
        node_ids.SPAN_WINDOW_RESOLVER,
        SpanWindowStrategy,
        {"spans": window_spans},
        after=example_gen,
        examples=(example_gen, "examples"),
    )
    span_rules = GateRules(newest_span, settings.evaluation.max_accuracy_drop, newest_is_feedback)
    model_dir = str(workspace.model_dir(settings.model_name))
    training = _training(
        settings,
        model_dir,
        span_window.outputs["examples"],
        schema_gen.outputs["schema"],
        validation_gate,
        _served_model_baseline(model_dir),
        span_rules,
    )
    components = [
        example_gen,
        statistics_gen,
        schema_gen,
        example_validator,
        previous_span,
        drift_check,
        validation_gate,
        span_window,
        *training,
    ]
    return _pipeline(settings, workspace, components, beam_args, enable_cache)
