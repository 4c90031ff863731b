"""What a person must do about a span the data checks refused, and whether they have done it.

A refused span waits for a person: schema anomalies need the schema reviewed (`penguins schema
review`), drift needs it accepted (`--accept-drift`). A rejection records what refused the span
and the schema it was checked against, so that a later attempt can tell whether anything changed
since, rather than refusing the same data again and again on every scheduled fire.
"""

from __future__ import annotations

import hashlib

from pipeline.config.settings import Settings


def schema_digest(settings: Settings) -> str:
    return hashlib.sha256(settings.require_schema().read_bytes()).hexdigest()[:16]


def rejection_checks(settings: Settings, anomalies: list[str], drifted: list[str]) -> dict:
    """What a rejection records beside its reason: the schema problems, the drifted features, the schema."""
    return {"anomalies": anomalies, "drifted": drifted, "schema_digest": schema_digest(settings)}


def review_changed(rejection: dict, settings: Settings) -> bool:
    """Whether another attempt at a refused span can end otherwise: the schema was edited since, or
    drift (the only refusal) is now accepted for this run."""
    if rejection.get("schema_digest") != schema_digest(settings):
        return True
    return (
        not rejection.get("anomalies")
        and bool(rejection.get("drifted"))
        and not settings.retraining.blocks_on_drift
    )


def advice(span: int, rejection: dict) -> str:
    """The steps that let the loop go on, as commands a person can type."""
    steps = []
    if rejection.get("anomalies") or not rejection.get("drifted"):
        steps.append(
            f"review the schema anomalies with `penguins schema review --span {span}` and, if the new "
            f"values are right, accept them into the schema with `penguins schema review --span {span} "
            "--accept`; then run `penguins retrain --when-quality-dips` again"
        )
    if rejection.get("drifted"):
        steps.append(
            f"if the drift ({', '.join(rejection['drifted'])}) is real, "
            "`penguins retrain --when-quality-dips --accept-drift` trains on it anyway"
        )
    return "; ".join(steps)
