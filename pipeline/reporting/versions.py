"""`penguins versions`: every pushed version, where it came from, and whether it can be served.

Before `penguins rollback --to`, a person needs to know which versions are worth going back to:
which run produced each one and how accurate it was (from MLMD), which labels it carries, and
whether it is served, was rolled back, or is broken (checked by loading it).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from pipeline.definition import node_ids
from pipeline.reporting.metadata import RunRecord
from pipeline.reporting.summary import summarize
from serving.store.model_config import read_labels, served_version
from serving.store.versions import fingerprint, list_versions, load_error, rolled_back_models

SERVED, LOADED, ROLLED_BACK, BROKEN, KEPT = "served", "loaded", "rolled back", "broken", "kept"


@dataclasses.dataclass
class VersionEntry:
    version: int
    state: str  # served (answers requests naming no version), loaded (labelled), rolled back, broken, kept
    labels: list[str]
    run_id: str | None  # the run that trained and pushed the model
    copy_of: int | None  # for a rollback's copy, the version it copies
    accuracy: float | None  # overall eval accuracy in that run
    examples: int | None
    problem: str | None  # why a broken version cannot be served


@dataclasses.dataclass(frozen=True)
class Pushed:
    run_id: str
    accuracy: float | None  # overall eval accuracy: what the version was blessed with
    examples: int | None
    record: RunRecord


def pushed_runs(records: list[RunRecord]) -> dict[int, Pushed]:
    """Version -> the run whose Pusher published it."""
    pushes = {}
    for record in records:
        if record.states.get(node_ids.PUSHER) != "COMPLETE":
            continue  # nothing was pushed in that run; no need to read its evaluation
        summary = summarize(record)
        if summary.pushed_version and not summary.already_served:
            overall = summary.overall
            pushes[int(summary.pushed_version)] = Pushed(
                record.run_id,
                overall.candidate if overall else None,
                overall.examples if overall else None,
                record,
            )
    return pushes


def _copied(version: int, pushes: dict[int, Pushed], fingerprints: dict[int, str | None]) -> int | None:
    """The pushed version that `version` is a rollback's copy of: the same model, by fingerprint."""
    mark = fingerprints.get(version)
    return next((v for v in sorted(pushes) if mark and fingerprints.get(v) == mark), None)


def push_of(model_dir: Path, version: int, pushes: dict[int, Pushed]) -> Pushed | None:
    """The push that put `version` on disk: its own, or for a rollback's copy, the original's."""
    if version in pushes:
        return pushes[version]
    fingerprints = {v: fingerprint(model_dir / str(v)) for v in (version, *pushes)}
    copied = _copied(version, pushes, fingerprints)
    return pushes[copied] if copied is not None else None


def version_entries(serving_root: Path, model_name: str, records: list[RunRecord]) -> list[VersionEntry]:
    """Every version on disk, newest first."""
    model_dir = serving_root / model_name
    pushes = pushed_runs(records)
    labels = read_labels(serving_root, model_name)
    served = served_version(serving_root, model_name)
    rolled_back = rolled_back_models(model_dir)
    versions = list_versions(model_dir)
    fingerprints = {version: fingerprint(model_dir / str(version)) for version in versions}
    entries = []
    for version in reversed(versions):
        copy_of = None if version in pushes else _copied(version, pushes, fingerprints)
        origin = pushes.get(version) or pushes.get(copy_of)
        problem = load_error(model_dir / str(version))
        labelled = sorted(name for name, labelled_version in labels.items() if labelled_version == version)
        if problem:
            state = BROKEN
        elif fingerprints[version] in rolled_back:
            state = ROLLED_BACK
        elif version == served:
            state = SERVED
        else:
            state = LOADED if labelled else KEPT
        entries.append(
            VersionEntry(
                version=version,
                state=state,
                labels=labelled,
                run_id=origin.run_id if origin else None,
                copy_of=copy_of,
                accuracy=origin.accuracy if origin else None,
                examples=origin.examples if origin else None,
                problem=problem,
            )
        )
    return entries


def format_versions(entries: list[VersionEntry]) -> list[str]:
    lines = [f"{'version':<12} {'state':<12} {'labels':<15} {'accuracy':<13} run"]
    for entry in entries:
        accuracy = f"{entry.accuracy:.3f} n={entry.examples}" if entry.accuracy is not None else "n/a"
        origin = entry.run_id or "unknown (not pushed by this workspace's pipeline)"
        if entry.copy_of is not None:
            origin += f" (a rollback's copy of version {entry.copy_of})"
        labels = ", ".join(entry.labels) or "-"
        lines.append(f"{entry.version:<12} {entry.state:<12} {labels:<15} {accuracy:<13} {origin}")
        if entry.problem:
            lines.append(f"{'':<12} {entry.problem}")
    return lines
