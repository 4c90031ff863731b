"""The data the served model was trained on, as spans that a retrain trains on and compares with.

A retrain's window is made of spans. A model trained by `penguins run` was trained on data that
no span holds, so a retrain after it would train on the new spans alone, and a feedback span
would have nothing to be compared with: a quality-dip retrain once replaced a good model with
one trained on 200 labeled requests. So when a retrain starts and the served model came from
`penguins run`, that run's cleaned data becomes a span first: span 0 when it is free (that data
came before anything ingested), otherwise the next span, as data that arrived now. Nothing is
added when a span already holds the same examples.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

from pipeline.config.settings import Settings
from pipeline.config.workspace import Workspace
from pipeline.definition import node_ids
from pipeline.definition.split_check import require_every_split
from pipeline.intake.cleaning import content_digest
from pipeline.intake.sources import CLEAN_FILE
from pipeline.intake.spans import Span, ingest, list_spans, span_holding
from pipeline.reporting.metadata import recorded_runs
from pipeline.reporting.summary import spans_of
from pipeline.reporting.versions import Pushed, push_of, pushed_runs
from serving.store.model_config import served_version

RUN_DATA_SPAN = 0
_INPUT_BASE = "input_base"  # ExampleGen's execution property: the folder it read


@dataclasses.dataclass(frozen=True)
class ServedData:
    adopted: Span | None  # the span this call made of a `penguins run`'s data, if it made one
    training_spans: list[int]  # the spans the served model was trained on (none when nothing is served)


def served_data_as_spans(settings: Settings, workspace: Workspace) -> ServedData:
    """Makes the data of a served `penguins run` model a span unless one holds it; which spans the
    served model was trained on."""
    found = _served_push(settings, workspace)
    adopted = _adopt_run_data(settings, workspace, found)
    return ServedData(adopted, _training_spans(workspace, found))


def _served_push(settings: Settings, workspace: Workspace) -> tuple[int, Pushed] | None:
    """The served version and the run that pushed it (for a rollback's copy, the original's run)."""
    served = served_version(workspace.serving_root, settings.model_name)
    if served is None:
        return None
    pushes = pushed_runs(recorded_runs(settings, workspace))
    push = push_of(workspace.model_dir(settings.model_name), served, pushes)
    return (served, push) if push is not None else None


def _run_data(push: Pushed) -> Path | None:
    """The cleaned file a `penguins run` trained on; None for a retrain's model or a deleted file."""
    input_base = push.record.properties.get(node_ids.EXAMPLE_GEN, {}).get(_INPUT_BASE)
    path = Path(input_base) / CLEAN_FILE if input_base else None
    return path if path is not None and path.is_file() else None


def _adopt_run_data(
    settings: Settings, workspace: Workspace, found: tuple[int, Pushed] | None
) -> Span | None:
    """Makes the data of the served model's `penguins run` (`found` by `_served_push`) a span, unless
    a span holds it already. Returns the new span."""
    data = _run_data(found[1]) if found else None
    if data is None:
        return None
    version, push = found
    spans = list_spans(workspace.spans)
    if span_holding(spans, content_digest(data)) is not None:
        return None
    free = all(span.number != RUN_DATA_SPAN for span in spans)
    return ingest(
        [data],
        f"penguins run {push.run_id}, the data served version {version} was trained on",
        workspace.spans,
        settings.features,
        check_splits=functools.partial(require_every_split, settings),
        number=RUN_DATA_SPAN if free else None,
    )


def _training_spans(workspace: Workspace, found: tuple[int, Pushed] | None) -> list[int]:
    """The spans the served model was trained on: its retrain's window, or its run's data as a span."""
    if found is None:
        return []
    record = found[1].record
    window = spans_of(record.all_outputs(node_ids.SPAN_WINDOW_RESOLVER, "examples"))
    if window:
        return window
    data = _run_data(found[1])
    holder = span_holding(list_spans(workspace.spans), content_digest(data)) if data else None
    return [holder.number] if holder else []
