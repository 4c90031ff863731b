"""Which labeled requests a retrain has trained on: each trains in one feedback span only.

A feedback span (the labeled requests of a quality dip) lists the requests it holds. They count as
trained on once a retrain accepts the span, whichever command ran it (`retrain --when-quality-dips`,
or a plain `retrain` after a person's review): labels whose span was refused, or whose retrain
failed, stay for the next attempt.
"""

from __future__ import annotations

import json

from pipeline.config.workspace import Workspace
from pipeline.intake.spans import Span
from serving.store.atomic import write_json_atomically

REQUESTS_FILE = "labeled_requests.json"

Key = tuple[str, int]  # request id, instance


def trained_on(workspace: Workspace) -> set[Key]:
    path = workspace.ingested_labels
    return (
        {(request_id, instance) for request_id, instance in json.loads(path.read_text())}
        if path.is_file()
        else set()
    )


def record_requests(span: Span, keys: list[Key]) -> None:
    """Lists the requests a new feedback span holds, so that accepting it marks them trained on."""
    write_json_atomically(span.path / REQUESTS_FILE, [list(key) for key in sorted(keys)])


def mark_trained_on(workspace: Workspace, span: Span) -> None:
    """The requests of feedback span `span`, which a retrain accepted, are trained on."""
    path = span.path / REQUESTS_FILE
    if span.feedback and path.is_file():
        keys = trained_on(workspace) | {
            (request_id, instance) for request_id, instance in json.loads(path.read_text())
        }
        write_json_atomically(workspace.ingested_labels, [list(key) for key in sorted(keys)])
