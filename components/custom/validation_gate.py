"""A component that stops the pipeline when ExampleValidator found anomalies, or the data drifted.

TFX's ExampleValidator only records anomalies; Transform and Trainer would go on with bad data.
This gate sits between them and fails the run instead, with one line per problem that names the
split, the feature, and what the schema expected against what the data held. In a retraining
run it also reads DriftCheck's anomalies, which block only when the config says so.
"""

from pathlib import Path

from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx.dsl.component.experimental.annotations import InputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types import artifact_utils
from tfx.types.standard_artifacts import ExampleAnomalies


class DataValidationError(RuntimeError):
    """The data does not match the schema, or drifted; the message lists every problem found."""


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


def _problems(anomalies: ExampleAnomalies) -> list[str]:
    return describe_anomalies(anomalies.uri, artifact_utils.decode_split_names(anomalies.split_names))


@component
def ValidationGate(  # noqa: N802 - TFX component name
    anomalies: InputArtifact[ExampleAnomalies],
    drift: InputArtifact[ExampleAnomalies] = None,
    block_on_drift: Parameter[bool] = True,
) -> None:
    """Fails when the data has any anomaly, or drifted and drift blocks, so nothing downstream runs."""
    sections = []
    problems = _problems(anomalies)
    if problems:
        sections.append("The data does not match the schema:\n" + "\n".join(f"  - {p}" for p in problems))
    drifted = _problems(drift) if drift is not None else []
    if drifted and block_on_drift:
        sections.append(
            "The newest span drifted from the previous one beyond the schema's thresholds:\n"
            + "\n".join(f"  - {p}" for p in drifted)
        )
    if sections:
        raise DataValidationError("\n".join(sections))
