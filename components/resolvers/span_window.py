"""Resolver strategies that pick ExampleGen outputs by span, across every run of the pipeline.

TFX's SpanRangeStrategy returns every artifact in the range, so a span that ExampleGen processed
twice would be trained on twice, and it cannot leave out spans a person rejected. These
strategies keep the newest artifact of each span and skip rejected spans.
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
    """The `examples` of the newest `num_spans` spans, leaving out `excluded_spans`."""

    def __init__(self, num_spans: int, excluded_spans: list[int]):
        self._num_spans = num_spans
        self._excluded = set(excluded_spans)

    def resolve_artifacts(self, store, input_dict: dict[str, list[types.Artifact]]):
        by_span = _newest_per_span(input_dict["examples"])
        kept = [span for span in sorted(by_span, reverse=True) if span not in self._excluded]
        return {"examples": [by_span[span] for span in kept[: self._num_spans]]}


class PreviousSpanStrategy(resolver.ResolverStrategy):
    """The span before the newest (not excluded): its `examples`, and the `statistics` computed from them.

    StatisticsGen does not copy ExampleGen's span onto its output, so statistics are matched to
    examples through lineage: the StatisticsGen execution that read those examples.
    Resolves to nothing when there is no earlier span.
    """

    def __init__(self, excluded_spans: list[int]):
        self._excluded = set(excluded_spans)

    def resolve_artifacts(self, store, input_dict: dict[str, list[types.Artifact]]):
        by_span = _newest_per_span(input_dict["examples"])
        earlier = [span for span in sorted(by_span, reverse=True)[1:] if span not in self._excluded]
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
