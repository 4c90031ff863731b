"""TFX's Evaluator, deciding on a random sample of a large eval split when the sample's decision is clear.

TFMA evaluates one example at a time in Python: at 250k eval examples that is minutes, most of a
1M-row run. Above `eval_sample_size` examples this Evaluator first evaluates a sample of about that
many (components/custom/eval_sample.py). When every threshold is cleared or missed by a wide
margin (components/custom/sample_decision.py), the sample's evaluation and blessing are the
outputs; otherwise the sample's outputs are discarded and the whole split is evaluated, exactly as
TFX's Evaluator does. The evaluation artifact records how many examples it was computed on and
out of how many, so that the report says so. Either way TFMA reads the examples a batch at a time
(components/custom/batched_examples.py).
"""

from __future__ import annotations

import json
from typing import ClassVar

from absl import logging
from tensorflow_model_analysis.proto import config_pb2
from tfx import types
from tfx.components.evaluator import constants
from tfx.components.evaluator import executor as evaluator_executor
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.dsl.io import fileio
from tfx.types import artifact_utils, standard_artifacts, standard_component_specs
from tfx.types.component_spec import ExecutionParameter
from tfx.utils import json_utils, proto_utils

from components.custom import eval_sample, sample_decision
from components.custom.batched_examples import batched_reading
from components.custom.evaluation_keys import EVALUATED_EXAMPLES_KEY, SPLIT_EXAMPLES_KEY
from components.model import accuracy

EVAL_SAMPLE_SIZE_KEY = "eval_sample_size"

_EVALUATION = standard_component_specs.EVALUATION_KEY
_BLESSING = standard_component_specs.BLESSING_KEY
_EXAMPLES = standard_component_specs.EXAMPLES_KEY


class SampledEvaluatorSpec(standard_component_specs.EvaluatorSpec):
    PARAMETERS: ClassVar = {
        **standard_component_specs.EvaluatorSpec.PARAMETERS,
        EVAL_SAMPLE_SIZE_KEY: ExecutionParameter(type=int, optional=True),
    }


class SampledEvaluatorExecutor(evaluator_executor.Executor):
    def Do(self, input_dict, output_dict, exec_properties) -> None:  # noqa: N802 - TFX API
        with batched_reading():
            self._evaluate(input_dict, output_dict, exec_properties)

    def _evaluate(self, input_dict, output_dict, exec_properties) -> None:
        evaluation = artifact_utils.get_single_instance(output_dict[_EVALUATION])
        sources = input_dict[_EXAMPLES]  # one Examples artifact per span in a retrain's window
        splits = json_utils.loads(exec_properties.get(standard_component_specs.EXAMPLE_SPLITS_KEY) or "null")
        splits = splits or ["eval"]
        size = exec_properties.get(EVAL_SAMPLE_SIZE_KEY)
        bars = _bars(exec_properties)
        if not size or bars is None or not eval_sample.can_sample(sources):
            super().Do(input_dict, output_dict, exec_properties)
            return
        population = eval_sample.population_size(sources, splits)
        evaluation.set_int_custom_property(SPLIT_EXAMPLES_KEY, population)
        if population > size:
            scratch = self._get_tmp_dir()
            try:
                sample = eval_sample.draw(sources, splits, size, population, scratch)
                if sample.size and self._decided_on(sample, bars, input_dict, output_dict, exec_properties):
                    evaluation.set_int_custom_property(EVALUATED_EXAMPLES_KEY, sample.size)
                    return
            finally:
                fileio.rmtree(scratch)
        super().Do(input_dict, output_dict, exec_properties)
        evaluation.set_int_custom_property(EVALUATED_EXAMPLES_KEY, population)

    def _decided_on(self, sample, bars, input_dict, output_dict, exec_properties) -> bool:
        """Evaluates `sample`; keeps its outputs when its decision is clear, else leaves them empty."""
        super().Do({**input_dict, _EXAMPLES: [sample.examples]}, output_dict, exec_properties)
        evaluation = artifact_utils.get_single_instance(output_dict[_EVALUATION])
        blessing = artifact_utils.get_single_instance(output_dict[_BLESSING])
        candidate, baseline = sample_decision.overall_accuracies(evaluation.uri, accuracy.NAME)
        checks = sample_decision.checks(bars, candidate, baseline, sample.size, sample.population)
        for check in checks:
            logging.info(
                "On %d of %d eval examples: %s %+.4f from its bar, standard error %.4f.",
                sample.size, sample.population, check.name, check.margin, check.standard_error,
            )  # fmt: skip
        blessed = blessing.get_int_custom_property(constants.ARTIFACT_PROPERTY_BLESSED_KEY) == 1
        if all(check.clear for check in checks) and blessed == all(check.passes for check in checks):
            return True
        logging.info("Not clear on the sample; evaluating all %d eval examples.", sample.population)
        for artifact in (evaluation, blessing):
            _empty(artifact.uri)
        return False


def _bars(exec_properties) -> sample_decision.AccuracyBars | None:
    config_json = exec_properties.get(standard_component_specs.EVAL_CONFIG_KEY)
    if not config_json:
        return None
    eval_config = proto_utils.json_to_proto(config_json, config_pb2.EvalConfig())
    return sample_decision.accuracy_bars(eval_config, accuracy.SparseCategoricalAccuracy.__name__)


def _empty(folder: str) -> None:
    for name in fileio.listdir(folder):
        path = f"{folder.rstrip('/')}/{name.rstrip('/')}"
        if fileio.isdir(path):
            fileio.rmtree(path)
        else:
            fileio.remove(path)


class SampledEvaluator(base_beam_component.BaseBeamComponent):
    """TFX's Evaluator with one more parameter, `eval_sample_size` (None: always the whole split)."""

    SPEC_CLASS = SampledEvaluatorSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(SampledEvaluatorExecutor)

    def __init__(
        self,
        examples: types.BaseChannel,
        model: types.BaseChannel,
        baseline_model: types.BaseChannel,
        eval_config: config_pb2.EvalConfig,
        eval_sample_size: int | None,
    ):
        super().__init__(
            spec=SampledEvaluatorSpec(
                examples=examples,
                model=model,
                baseline_model=baseline_model,
                eval_config=eval_config,
                example_splits=json.dumps(None),
                eval_sample_size=eval_sample_size,
                evaluation=types.Channel(type=standard_artifacts.ModelEvaluation),
                blessing=types.Channel(type=standard_artifacts.ModelBlessing),
            )
        )
