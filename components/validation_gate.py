"""A component that stops the pipeline when ExampleValidator found anomalies.

TFX's ExampleValidator only records anomalies; Transform and Trainer would go on with bad data.
This gate sits between them and fails the run instead, with one line per problem that names the
split, the feature, and what the schema expected against what the data held.
"""

from pathlib import Path

from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx.dsl.component.experimental.annotations import InputArtifact
from tfx.dsl.component.experimental.decorators import component
from tfx.types import artifact_utils
from tfx.types.standard_artifacts import ExampleAnomalies


class DataValidationError(RuntimeError):
    """The data does not match the schema; the message lists every anomaly found."""


def _read_split(split_uri: Path) -> anomalies_pb2.Anomalies:
    anomalies = anomalies_pb2.Anomalies()
    for path in sorted(split_uri.glob("*.pb")):
        anomalies.MergeFromString(path.read_bytes())
    return anomalies


def describe_anomalies(anomalies_uri: str, split_names: list[str]) -> list[str]:
    """Readable lines, one per anomalous feature per split; empty when the data is clean."""
    problems = []
    for split in split_names:
        anomalies = _read_split(Path(anomalies_uri) / f"Split-{split}")
        for feature, info in sorted(anomalies.anomaly_info.items()):
            problems.append(f"feature '{feature}' ({split} split): {info.description}")
        if anomalies.HasField("dataset_anomaly_info"):
            problems.append(f"dataset ({split} split): {anomalies.dataset_anomaly_info.description}")
    return problems


@component
def ValidationGate(anomalies: InputArtifact[ExampleAnomalies]) -> None:  # noqa: N802 - TFX component name
    """Fails when the anomalies artifact holds any anomaly, so nothing downstream runs."""
    problems = describe_anomalies(anomalies.uri, artifact_utils.decode_split_names(anomalies.split_names))
    if problems:
        raise DataValidationError(
            "The data does not match the schema:\n" + "\n".join(f"  - {p}" for p in problems)
        )
