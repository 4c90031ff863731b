"""A component that measures drift between the newest span and the previous one.

TFX's ExampleValidator compares data with the schema only; it never sees the previous span.
This component runs TFDV's drift comparators (the thresholds are the schema's
`drift_comparator`s: L-infinity for categorical features, Jensen-Shannon for numeric ones) and
records every measurement, drifted or not, so that history and the report can say by how much.
Blocking is the ValidationGate's job, which reads the anomalies written here.
"""

import json
from pathlib import Path

import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import anomalies_pb2, statistics_pb2
from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact
from tfx.dsl.component.experimental.decorators import component
from tfx.types.standard_artifacts import ExampleAnomalies, ExampleStatistics, Schema
from tfx.utils import io_utils

DRIFT_SPLIT = "train"
MEASUREMENTS_KEY = "drift_measurements"
DRIFTED_KEY = "drifted_features"
_DRIFT_REASONS = {
    anomalies_pb2.AnomalyInfo.COMPARATOR_L_INFTY_HIGH,
    anomalies_pb2.AnomalyInfo.COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH,
    anomalies_pb2.AnomalyInfo.COMPARATOR_NORMALIZED_ABSOLUTE_DIFFERENCE_HIGH,
}
_MEASURE_NAMES = {
    anomalies_pb2.DriftSkewInfo.Measurement.L_INFTY: "L-infinity",
    anomalies_pb2.DriftSkewInfo.Measurement.JENSEN_SHANNON_DIVERGENCE: "Jensen-Shannon",
    anomalies_pb2.DriftSkewInfo.Measurement.NORMALIZED_ABSOLUTE_DIFFERENCE: "normalized abs. difference",
}


def read_statistics(statistics_uri: str, split: str) -> statistics_pb2.DatasetFeatureStatisticsList:
    return tfdv.load_stats_binary(str(Path(statistics_uri) / f"Split-{split}" / "FeatureStats.pb"))


def drift_only(anomalies: anomalies_pb2.Anomalies) -> anomalies_pb2.Anomalies:
    """Keeps the drift part: schema problems are ExampleValidator's to report, not ours twice."""
    kept = anomalies_pb2.Anomalies()
    kept.drift_skew_info.extend(anomalies.drift_skew_info)
    for feature, info in anomalies.anomaly_info.items():
        reasons = [reason for reason in info.reason if reason.type in _DRIFT_REASONS]
        if reasons:
            drift_info = kept.anomaly_info[feature]
            drift_info.severity = info.severity
            drift_info.reason.extend(reasons)
            drift_info.description = " ".join(reason.description for reason in reasons)
    return kept


def compared(anomalies: anomalies_pb2.Anomalies, kind: str = "drift_measurements") -> list[dict]:
    """One entry per compared feature: its measure, value, threshold, and whether it is over it.

    `kind` is `drift_measurements` (against the previous span) or `skew_measurements` (serving
    data against training data, as `penguins monitor` measures it).
    """
    result = []
    for info in anomalies.drift_skew_info:
        feature = ".".join(info.path.step)
        for measurement in getattr(info, kind):
            result.append(
                {
                    "feature": feature,
                    "measure": _MEASURE_NAMES.get(measurement.type, str(measurement.type)),
                    "value": round(measurement.value, 4),
                    "threshold": measurement.threshold,
                    "over": measurement.value > measurement.threshold,
                }
            )
    return sorted(result, key=lambda item: item["feature"])


def measurements(anomalies: anomalies_pb2.Anomalies) -> list[dict]:
    """The drift of each compared feature, as history and the run report read it."""
    return [
        {**{key: value for key, value in item.items() if key != "over"}, "drifted": item["over"]}
        for item in compared(anomalies)
    ]


@component
def DriftCheck(  # noqa: N802 - TFX component name
    statistics: InputArtifact[ExampleStatistics],
    schema: InputArtifact[Schema],
    drift: OutputArtifact[ExampleAnomalies],
    previous_statistics: InputArtifact[ExampleStatistics] = None,
) -> None:
    """Writes drift anomalies (in ExampleValidator's layout) and the measurements as properties."""
    drift.split_names = json.dumps([DRIFT_SPLIT])
    anomalies = anomalies_pb2.Anomalies()
    if previous_statistics is not None:
        found = tfdv.validate_statistics(
            read_statistics(statistics.uri, DRIFT_SPLIT),
            tfdv.load_schema_text(io_utils.get_only_uri_in_dir(schema.uri)),
            previous_statistics=read_statistics(previous_statistics.uri, DRIFT_SPLIT),
        )
        anomalies = drift_only(found)
    found_measurements = measurements(anomalies)
    drift.set_string_custom_property(MEASUREMENTS_KEY, json.dumps(found_measurements))
    drift.set_int_custom_property(DRIFTED_KEY, sum(m["drifted"] for m in found_measurements))
    split_dir = Path(drift.uri) / f"Split-{DRIFT_SPLIT}"
    split_dir.mkdir(parents=True, exist_ok=True)
    (split_dir / "SchemaDiff.pb").write_bytes(anomalies.SerializeToString())
