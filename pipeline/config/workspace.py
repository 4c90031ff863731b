"""Where a run keeps everything it writes: one folder, `./workspace` by default.

Keeping all outputs under one root makes a run reproducible, easy to delete, and mountable as
one volume in a container.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path


class MissingWorkspaceError(Exception):
    """A command that only reads a workspace was pointed at a folder that does not exist."""


@dataclasses.dataclass(frozen=True)
class Workspace:
    root: Path

    @property
    def clean_data(self) -> Path:
        return self.root / "data" / "clean"

    @property
    def spans(self) -> Path:
        return self.root / "data" / "spans"

    @property
    def schemas(self) -> Path:
        """Content-addressed copies of the schema, which TFX imports (pipeline/definition/cache_keys.py)."""
        return self.root / "data" / "schemas"

    @property
    def pipeline_root(self) -> Path:
        return self.root / "tfx"

    @property
    def metadata_path(self) -> Path:
        return self.root / "metadata.sqlite"

    @property
    def serving_root(self) -> Path:
        return self.root / "serving"

    def model_dir(self, model_name: str) -> Path:
        return self.serving_root / model_name

    @property
    def request_log_dir(self) -> Path:
        """What `penguins serve` logs of the requests it answers (serving/monitoring/request_log.py)."""
        return self.root / "monitoring" / "requests"

    @property
    def monitoring_results(self) -> Path:
        """The latest `penguins monitor` outcome, as its --json prints it; the server's metrics read it."""
        return self.root / "monitoring" / "latest.json"

    @property
    def labels_dir(self) -> Path:
        """Late labels of logged requests, a file per `labels add` (pipeline/monitoring/labels.py)."""
        return self.root / "monitoring" / "labels"

    @property
    def monitoring_history(self) -> Path:
        """One line per `penguins monitor` run, which `penguins history` shows beside the pipeline runs."""
        return self.root / "monitoring" / "history.jsonl"

    @property
    def ingested_labels(self) -> Path:
        """The labeled requests already made into a span by a quality-dip retrain, each in one span."""
        return self.root / "monitoring" / "ingested_labels.json"

    @property
    def retrain_triggers(self) -> Path:
        """What started each retrain run (a command, a schedule, new data, a quality dip), by run id."""
        return self.root / "retrain_triggers.json"

    @property
    def log_dir(self) -> Path:
        return self.root / "logs"

    def create(self) -> Workspace:
        for folder in (self.root, self.log_dir, self.serving_root):
            folder.mkdir(parents=True, exist_ok=True)
        return self


def existing_workspace(root: Path) -> Workspace:
    """The workspace at `root` for a command that only reads it (monitor, history, versions, labels list).

    A mistyped --workspace must be named, not created and then reported on as if it were empty.
    """
    if not root.is_dir():
        raise MissingWorkspaceError(
            f"{root}: no such workspace folder; expected one that `penguins run` or `penguins serve` wrote "
            "(check --workspace)"
        )
    return Workspace(root)
