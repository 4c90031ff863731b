"""Serving skew: the served inputs against the data the served model was trained on, with TFDV.

TFDV's `validate_statistics(..., serving_statistics=...)` applies the schema's `skew_comparator`s
(Jensen-Shannon divergence for numeric features, L-infinity distance for categorical ones), the
same measures the drift check uses between spans, so one threshold file holds both.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import statistics_pb2

from components.custom.drift import compared
from components.features import FeatureSpec

TRAIN_SPLIT = "train"


def training_statistics(statistics_uri: str) -> statistics_pb2.DatasetFeatureStatisticsList | None:
    """The train split's statistics of a StatisticsGen output, or None when its files were deleted."""
    path = Path(statistics_uri) / f"Split-{TRAIN_SPLIT}" / "FeatureStats.pb"
    return tfdv.load_stats_binary(str(path)) if path.is_file() else None


def serving_statistics(inputs: pd.DataFrame) -> statistics_pb2.DatasetFeatureStatisticsList:
    return tfdv.generate_statistics_from_dataframe(inputs)


def skew(
    training: statistics_pb2.DatasetFeatureStatisticsList,
    serving: statistics_pb2.DatasetFeatureStatisticsList,
    schema_path: Path,
) -> list[dict]:
    """Each feature with a skew comparator: measure, value, threshold, and whether it is over."""
    anomalies = tfdv.validate_statistics(
        training, tfdv.load_schema_text(str(schema_path)), serving_statistics=serving
    )
    return compared(anomalies, "skew_measurements")


def _rank_histogram(
    statistics: statistics_pb2.DatasetFeatureStatisticsList, feature: str
) -> dict[str, float]:
    for dataset in statistics.datasets:
        for item in dataset.features:
            if ".".join(item.path.step) == feature or item.name == feature:
                buckets = item.string_stats.rank_histogram.buckets
                total = sum(bucket.sample_count for bucket in buckets)
                return {bucket.label: bucket.sample_count / total for bucket in buckets} if total else {}
    return {}


def class_mix(
    training: statistics_pb2.DatasetFeatureStatisticsList | None, predicted: pd.Series, spec: FeatureSpec
) -> list[dict]:
    """Each class's share of the predictions against its share of the training labels."""
    served = predicted.value_counts(normalize=True).to_dict()
    trained = _rank_histogram(training, spec.label) if training is not None else {}
    return [
        {
            "class": name,
            "served": round(served.get(name, 0.0), 4),
            "training": round(trained.get(name, 0.0), 4),
        }
        for name in sorted(set(served) | set(trained))
    ]


def distributions(
    training: statistics_pb2.DatasetFeatureStatisticsList | None, spec: FeatureSpec
) -> dict[str, dict]:
    """The training data's histogram of each numeric feature and value shares of each categorical
    one, as TFDV recorded them, for the report's serving-against-training plots."""
    result: dict[str, dict] = {}
    if training is None:
        return result
    for dataset in training.datasets:
        for item in dataset.features:
            name = ".".join(item.path.step) or item.name
            if name in spec.numeric:
                histogram = next((h for h in item.num_stats.histograms if h.type == h.STANDARD), None)
                if histogram is not None:
                    result[name] = {
                        "edges": [b.low_value for b in histogram.buckets]
                        + [histogram.buckets[-1].high_value],
                        "counts": [b.sample_count for b in histogram.buckets],
                    }
            elif name in spec.categorical:
                result[name] = {"shares": _rank_histogram(training, name)}
    return result
