"""Serving an earlier version again, and never a model that was rejected or does not load.

Model servers serve the newest versions, so going back means going forward with old weights: a
copy of the earlier version becomes the newest. The model it replaces is recorded as rolled
back, so it never gets a label, is never chosen by a later rollback, and is never pushed again
by the pipeline. Each rollback therefore goes further back than the one before.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from serving.store.model_config import choose_labels, render_live_config, served_version
from serving.store.versions import (
    list_versions,
    load_error,
    mark_rolled_back,
    publish,
    same_saved_model,
    was_rolled_back,
)


class VersionError(ValueError):
    """A rollback that cannot be done; the message says why and what versions there are."""


@dataclasses.dataclass(frozen=True)
class Rollback:
    version: int  # the new version, a copy of `restored`
    restored: int
    replaced: int
    passed_over: dict[int, str]  # earlier versions not chosen, and why
    labels: dict[str, int]


def _why_not(version: int, current: int, model_dir: Path, check: Callable[[Path], str | None]) -> str | None:
    version_dir = model_dir / str(version)
    if same_saved_model(version_dir, model_dir / str(current)):
        return f"it holds the model already served as version {current}"
    if was_rolled_back(version_dir, model_dir):
        return "its model was rolled back out of service earlier"
    return check(version_dir)


def rollback(
    serving_root: Path, model_name: str, to_version: int | None = None, check: Callable = load_error
) -> Rollback:
    """Serves `to_version`, or the newest earlier version that may be served, as a new newest version."""
    model_dir = serving_root / model_name
    existing = list_versions(model_dir)
    current = served_version(serving_root, model_name)
    if current is None or current not in existing:
        raise VersionError(f"{model_dir}: no version is served, so there is nothing to roll back")
    passed_over = {}
    if to_version is not None:
        if to_version not in existing:
            raise VersionError(f"{model_dir}: there is no version {to_version}; versions: {existing}")
        refusal = _why_not(to_version, current, model_dir, check)
        if refusal:
            raise VersionError(f"version {to_version} cannot be served: {refusal}")
    else:
        for version in reversed([v for v in existing if v < current]):
            refusal = _why_not(version, current, model_dir, check)
            if refusal is None:
                to_version = version
                break
            passed_over[version] = refusal
        if to_version is None:
            reasons = "; ".join(f"version {v}: {why}" for v, why in passed_over.items()) or "there is none"
            raise VersionError(f"{model_dir}: no earlier version can be served ({reasons})")
    version = publish(model_dir / str(to_version), model_dir)
    mark_rolled_back(model_dir, current)
    labels = choose_labels(model_dir, check)
    render_live_config(serving_root, model_name, labels)
    return Rollback(version, to_version, current, passed_over, labels)
