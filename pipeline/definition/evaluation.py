"""The TFMA evaluation config: what "proven good" means before a model is pushed.

A candidate is blessed only if its overall accuracy clears an absolute bar and it is no worse
than the model already served (the baseline) by more than the configured margin. Slices are
computed so that a model that is good on average but bad on one island is visible.
"""

from __future__ import annotations

import tensorflow_model_analysis as tfma
from tensorflow_model_analysis.proto import config_pb2

from components.features import transformed_name
from components.model import accuracy, confusion_matrix
from components.model.signatures import EXAMPLES_SIGNATURE, TRANSFORM_SIGNATURE
from pipeline.config.file_schema import Evaluation
from pipeline.config.settings import Settings

ACCURACY_METRIC = accuracy.NAME
# The project modules TFMA loads by name from the config below.
METRIC_MODULES = [accuracy.__name__, confusion_matrix.__name__]
# Without a margin, floating-point noise in an identical model's accuracy could fail "no worse".
_CHANGE_TOLERANCE = 1e-10


def eval_config(settings: Settings) -> config_pb2.EvalConfig:
    evaluation = settings.evaluation
    return config_pb2.EvalConfig(
        model_specs=[
            config_pb2.ModelSpec(
                signature_name=EXAMPLES_SIGNATURE,
                preprocessing_function_names=[TRANSFORM_SIGNATURE],
                label_key=transformed_name(settings.features.label),
                prediction_key="probabilities",
                model_type=tfma.TF_GENERIC,
            )
        ],
        slicing_specs=[config_pb2.SlicingSpec()]
        + [config_pb2.SlicingSpec(feature_keys=[feature]) for feature in evaluation.slices],
        metrics_specs=[
            config_pb2.MetricsSpec(
                metrics=[
                    config_pb2.MetricConfig(class_name="ExampleCount"),
                    # For the run report; TFMA computes it per slice too, which is cheap here.
                    config_pb2.MetricConfig(
                        class_name=confusion_matrix.ConfusionMatrixPlot.__name__,
                        module=confusion_matrix.__name__,
                    ),
                    config_pb2.MetricConfig(
                        # Keras' metric, derived from the plot's confusion matrix (see the module).
                        class_name=accuracy.SparseCategoricalAccuracy.__name__,
                        module=accuracy.__name__,
                        # On the overall slice only: a slice of ten birds is too small to decide on.
                        per_slice_thresholds=[_overall_threshold(evaluation)],
                    ),
                ]
            )
        ],
    )


def _overall_threshold(evaluation: Evaluation) -> config_pb2.PerSliceMetricThreshold:
    return config_pb2.PerSliceMetricThreshold(
        slicing_specs=[config_pb2.SlicingSpec()],
        threshold=config_pb2.MetricThreshold(
            value_threshold=config_pb2.GenericValueThreshold(lower_bound={"value": evaluation.min_accuracy}),
            change_threshold=config_pb2.GenericChangeThreshold(
                direction=config_pb2.MetricDirection.HIGHER_IS_BETTER,
                absolute={"value": -evaluation.max_accuracy_drop - _CHANGE_TOLERANCE},
            ),
        ),
    )
