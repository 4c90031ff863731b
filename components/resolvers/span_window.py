"""Resolver strategies that pick ExampleGen outputs by span, across every run of the pipeline.

TFX's SpanRangeStrategy returns every artifact in the range, so a span that ExampleGen processed
twice would be trained on twice, and it cannot leave out spans a person rejected. These
strategies keep the newest artifact of each span and take only the spans the retrain's plan chose.
"""

from __future__ import annotations

from ml_metadata.proto import metadata_store_pb2
from tfx import types
from tfx.components.example_gen.utils import SPAN_PROPERTY_NAME
from tfx.dsl.components.common import resolver


def _span(artifact: types.Artifact) -> int:
    return artifact.get_int_custom_property(SPAN_PROPERTY_NAME)


def _newest_per_span(examples: list[types.Artifact]) -> dict[int, types.Artifact]:
    newest: dict[int, types.Artifact] = {}
    for artifact in examples:
        span = _span(artifact)
        if span not in newest or artifact.id > newest[span].id:
            newest[span] = artifact
    return newest


class SpanWindowStrategy(resolver.ResolverStrategy):
    """The `examples` of the window's `spans`, as the retrain's plan chose them.

    The plan (pipeline/retraining/planning.py) knows which spans are feedback and which were rejected.
    """

    def __init__(self, spans: list[int]):
        self._spans = spans

    def resolve_artifacts(self, store, input_dict: dict[str, list[types.Artifact]]):
        by_span = _newest_per_span(input_dict["examples"])
        return {"examples": [by_span[span] for span in sorted(self._spans, reverse=True) if span in by_span]}


class PreviousSpanStrategy(resolver.ResolverStrategy):
    """The span the newest is compared with: its `examples`, and the `statistics` computed from them.

    That is `compare_with` when given and read (a feedback span is compared with the data the served
    model was trained on), else the span before the newest that is not excluded.
    StatisticsGen does not copy ExampleGen's span onto its output, so statistics are matched to
    examples through lineage: the StatisticsGen execution that read those examples.
    Resolves to nothing when there is no earlier span.
    """

    def __init__(self, excluded_spans: list[int], compare_with: int | None = None):
        self._excluded = set(excluded_spans)
        self._compare_with = compare_with

    def resolve_artifacts(self, store, input_dict: dict[str, list[types.Artifact]]):
        by_span = _newest_per_span(input_dict["examples"])
        earlier = [span for span in sorted(by_span, reverse=True)[1:] if span not in self._excluded]
        if self._compare_with in earlier:
            earlier.remove(self._compare_with)
            earlier.insert(0, self._compare_with)
        for span in earlier:
            statistics = _statistics_of(store, by_span[span], input_dict["statistics"])
            if statistics is not None:
                return {"examples": [by_span[span]], "statistics": [statistics]}
        return {"examples": [], "statistics": []}


def _statistics_of(store, examples: types.Artifact, statistics: list[types.Artifact]):
    readers = {
        event.execution_id
        for event in store.get_events_by_artifact_ids([examples.id])
        if event.type == metadata_store_pb2.Event.INPUT
    }
    candidates = {artifact.id: artifact for artifact in statistics}
    produced = [
        candidates[event.artifact_id]
        for event in store.get_events_by_execution_ids(list(readers))
        if event.type == metadata_store_pb2.Event.OUTPUT and event.artifact_id in candidates
    ]
    return max(produced, key=lambda artifact: artifact.id, default=None)
