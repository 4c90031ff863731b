"""`penguins schema review`: a refused span's schema anomalies, and the schema edit that accepts it.

When new data is refused by the schema (bill depths below the range after a new calliper), the
loop waits for a person. The person needs to see what was refused and what accepting it would
change, and then to change it without hand-editing protobuf text. TFDV's `update_schema` widens the
schema just enough for the span's statistics; the edit is written into the curated file feature by
feature, so the comments of every untouched part stay, and shown as a diff before it is accepted.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from pathlib import Path

import tensorflow_data_validation as tfdv
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2

from pipeline.intake.sources import CLEAN_FILE
from pipeline.intake.spans import Span
from serving.store.atomic import write_text_atomically

TRAINING = "TRAINING"
# Blocks of the schema file that the edit may replace, each identified by its `name`.
_BLOCKS = {"feature": schema_pb2.Feature, "string_domain": schema_pb2.StringDomain}
_DECIMALS = 4


@dataclasses.dataclass(frozen=True)
class SchemaReview:
    span: int
    anomalies: list[str]  # one line per refused feature, as TFDV describes it
    current: str  # the schema file's text
    proposed: str  # the same file, widened to accept the span

    @property
    def diff(self) -> str:
        return "".join(
            difflib.unified_diff(
                self.current.splitlines(keepends=True),
                self.proposed.splitlines(keepends=True),
                "schema",
                "proposed",
            )
        )


def _round_outward(schema: schema_pb2.Schema, before: schema_pb2.Schema) -> None:
    """Widened float bounds rounded outward (9.6000003814 -> 9.6), so the file stays readable."""
    old = {feature.name: feature for feature in before.feature}
    for feature in schema.feature:
        if not feature.HasField("float_domain") or feature.name not in old:
            continue
        domain, previous = feature.float_domain, old[feature.name].float_domain
        scale = 10**_DECIMALS
        if domain.HasField("min") and domain.min != previous.min:
            domain.min = math.floor(domain.min * scale) / scale
        if domain.HasField("max") and domain.max != previous.max:
            domain.max = math.ceil(domain.max * scale) / scale


def _blocks(text: str) -> list[tuple[int, int, str, str]]:
    """(first line, last line, kind, name) of each top-level feature or string_domain block."""
    lines = text.splitlines()
    found, index = [], 0
    while index < len(lines):
        kind = lines[index].split(" ", 1)[0]
        if kind in _BLOCKS and lines[index].rstrip().endswith(("{", "}")):
            start, depth = index, 0
            while True:
                depth += lines[index].count("{") - lines[index].count("}")
                if depth <= 0:
                    break
                index += 1
            body = "\n".join(lines[start : index + 1]).split("{", 1)[1].rsplit("}", 1)[0]
            found.append((start, index, kind, text_format.Parse(body, _BLOCKS[kind]()).name))
        index += 1
    return found


def _one_line(message) -> str:
    return text_format.MessageToString(message, as_one_line=True, float_format=".6g")


def _field_lines(message) -> dict[str, list[str]]:
    """Each set field of `message` as lines of one-line text (a line per value of a repeated field),
    by field name: the curated file's style."""
    rendered: dict[str, list[str]] = {}
    for field, value in message.ListFields():
        lines = rendered.setdefault(field.name, [])
        for item in value if field.label == field.LABEL_REPEATED else [value]:
            only = type(message)()
            target = getattr(only, field.name)
            if field.label == field.LABEL_REPEATED and field.message_type:
                target.add().CopyFrom(item)
            elif field.label == field.LABEL_REPEATED:
                target.append(item)
            elif field.message_type:
                target.CopyFrom(item)
            else:
                setattr(only, field.name, item)
            lines.append(f"  {_one_line(only)}")
    return rendered


def _block_lines(kind: str, old_lines: list[str], before, after) -> list[str]:
    """A block's lines with each changed field rewritten in place; comments and the rest kept."""
    old, new = _field_lines(before), _field_lines(after)
    lines, written = [f"{kind} {{"], set()
    for line in old_lines[1:-1]:
        field = line.strip().split(" ", 1)[0].split(":", 1)[0].split("{", 1)[0]
        if field not in old or old[field] == new.get(field):
            lines.append(line)
        elif field not in written:
            lines += new.get(field, [])
            written.add(field)
    lines += [line for field, text in new.items() if field not in old for line in text]
    return [*lines, "}"]


def _edited_text(current: str, before: schema_pb2.Schema, after: schema_pb2.Schema) -> str:
    """`current` with each changed feature or string domain rewritten; everything else as it was."""
    wanted = {("feature", item.name): item for item in after.feature} | {
        ("string_domain", item.name): item for item in after.string_domain
    }
    had = {("feature", item.name): item for item in before.feature} | {
        ("string_domain", item.name): item for item in before.string_domain
    }
    lines = current.splitlines()
    for start, end, kind, name in reversed(_blocks(current)):
        item = wanted.get((kind, name))
        if item == had.get((kind, name)):
            continue
        if end == start:  # a block on one line stays on one line
            lines[start] = f"{kind} {{ {_one_line(item)} }}"
        else:
            lines[start : end + 1] = _block_lines(kind, lines[start : end + 1], had[(kind, name)], item)
    for key, item in wanted.items():
        if key not in had:
            lines.append(f"{key[0]} {{ {_one_line(item)} }}")
    text = "\n".join(lines) + "\n"
    if text_format.Parse(text, schema_pb2.Schema()) != after:  # anything else changed: write it all
        return text_format.MessageToString(after, float_format=".6g")
    return text


def _describe(anomalies) -> list[str]:
    return [f"feature '{name}': {info.description}" for name, info in sorted(anomalies.anomaly_info.items())]


def review_span(span: Span, schema_path: Path) -> SchemaReview:
    """What the schema refuses in `span`, and the schema file that would accept it."""
    statistics = tfdv.generate_statistics_from_csv(str(span.path / CLEAN_FILE))
    current = schema_path.read_text()
    schema = tfdv.load_schema_text(str(schema_path))
    anomalies = tfdv.validate_statistics(statistics, schema, environment=TRAINING)
    widened = tfdv.update_schema(schema, statistics)
    _round_outward(widened, schema)
    proposed = _edited_text(current, schema, widened) if anomalies.anomaly_info else current
    return SchemaReview(span.number, _describe(anomalies), current, proposed)


def accept(review: SchemaReview, schema_path: Path) -> None:
    write_text_atomically(schema_path, review.proposed)
