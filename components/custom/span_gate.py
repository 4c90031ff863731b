"""The last gate before a retrained model is pushed: no worse on the old data, better on the new.

It runs after the Evaluator and blesses the candidate only when the Evaluator did and the span
rules (components/custom/span_rules.py) hold. Its blessing records each span's eval accuracy of
candidate and served model, and why it refused, for the run summary, history and report. The
Pusher reads this blessing instead of the Evaluator's.
"""

from __future__ import annotations

import json
from typing import ClassVar

from absl import logging
from tfx import types
from tfx.components.evaluator import constants
from tfx.components.util import model_utils
from tfx.dsl.components.base import base_component, base_executor, executor_spec
from tfx.dsl.io import fileio
from tfx.types import artifact_utils, standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter
from tfx.utils import path_utils

from components.custom.evaluation_keys import GATE_REASONS_KEY, SPAN_EVALUATION_KEY
from components.custom.span_accuracy import span_counts
from components.custom.span_rules import Counts, GateRules, pooled, refusals


class SpanGateSpec(types.ComponentSpec):
    PARAMETERS: ClassVar = {
        "label_key": ExecutionParameter(type=str),
        "newest_span": ExecutionParameter(type=int),
        "max_accuracy_drop": ExecutionParameter(type=float),
        "newest_must_improve": ExecutionParameter(type=int),
    }
    INPUTS: ClassVar = {
        "examples": ChannelParameter(type=standard_artifacts.Examples),
        "model": ChannelParameter(type=standard_artifacts.Model),
        "baseline_model": ChannelParameter(type=standard_artifacts.Model, optional=True),
        "evaluator_blessing": ChannelParameter(type=standard_artifacts.ModelBlessing),
    }
    OUTPUTS: ClassVar = {"blessing": ChannelParameter(type=standard_artifacts.ModelBlessing)}


def span_evaluation(by_span: dict[int, Counts], rules: GateRules) -> dict:
    """What the blessing records: each span's accuracies, and the earlier spans' taken together."""

    def entry(counts: Counts) -> dict:
        return {
            "examples": counts.examples,
            "candidate": counts.candidate,
            "served": counts.served,
        }

    earlier = pooled([counts for span, counts in by_span.items() if span != rules.newest_span])
    return {
        "spans": [
            {"span": span, "role": "new" if span == rules.newest_span else "earlier", **entry(by_span[span])}
            for span in sorted(by_span)
        ],
        "earlier": entry(earlier) if earlier.examples else None,
        "newest_must_improve": rules.newest_must_improve,
        "max_accuracy_drop": rules.max_accuracy_drop,
    }


class SpanGateExecutor(base_executor.BaseExecutor):
    def Do(self, input_dict, output_dict, exec_properties) -> None:  # noqa: N802 - TFX API
        blessing = artifact_utils.get_single_instance(output_dict["blessing"])
        rules = GateRules(
            newest_span=exec_properties["newest_span"],
            max_accuracy_drop=exec_properties["max_accuracy_drop"],
            newest_must_improve=bool(exec_properties["newest_must_improve"]),
        )
        candidate = artifact_utils.get_single_instance(input_dict["model"])
        baselines = input_dict.get("baseline_model") or []
        by_span = span_counts(
            input_dict["examples"],
            path_utils.serving_model_path(candidate.uri),
            path_utils.serving_model_path(baselines[0].uri) if baselines else None,
            exec_properties["label_key"],
        )
        reasons = refusals(by_span, rules)  # the Evaluator's reasons are in its own evaluation
        for reason in reasons:
            logging.info("Span gate: %s", reason)
        evaluator_blessing = artifact_utils.get_single_instance(input_dict["evaluator_blessing"])
        blessed = model_utils.is_model_blessed(evaluator_blessing) and not reasons
        name = constants.BLESSED_FILE_NAME if blessed else constants.NOT_BLESSED_FILE_NAME
        with fileio.open(f"{blessing.uri}/{name}", "w") as marker:
            marker.write("")
        blessing.set_int_custom_property(constants.ARTIFACT_PROPERTY_BLESSED_KEY, int(blessed))
        blessing.set_string_custom_property(SPAN_EVALUATION_KEY, json.dumps(span_evaluation(by_span, rules)))
        blessing.set_string_custom_property(GATE_REASONS_KEY, json.dumps(reasons))


class SpanGate(base_component.BaseComponent):
    """Blesses a retrained candidate only when the Evaluator did and it is no worse span by span."""

    SPEC_CLASS = SpanGateSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(SpanGateExecutor)

    def __init__(
        self,
        examples: types.BaseChannel,
        model: types.BaseChannel,
        baseline_model: types.BaseChannel,
        evaluator_blessing: types.BaseChannel,
        label_key: str,
        rules: GateRules,
    ):
        super().__init__(
            spec=SpanGateSpec(
                examples=examples,
                model=model,
                baseline_model=baseline_model,
                evaluator_blessing=evaluator_blessing,
                label_key=label_key,
                newest_span=rules.newest_span,
                max_accuracy_drop=rules.max_accuracy_drop,
                newest_must_improve=int(rules.newest_must_improve),
                blessing=types.Channel(type=standard_artifacts.ModelBlessing),
            )
        )
