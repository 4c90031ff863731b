"""Late labels: the true class of a logged request, known only after it was answered.

Each `penguins labels add` keeps its file's labels as one new CSV in `WORKSPACE/monitoring/labels/`,
written atomically. Batches are never rewritten, so adding labels costs the size of the batch and
not of every label so far, and a failed add leaves the earlier ones untouched. A label names a
request by its id and, for a request of several instances, the instance (0 when left out): that
pair is what the request log holds for each predicted instance.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime
import os
from contextlib import closing
from pathlib import Path

from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2

from pipeline.intake.raw_csv import DataError, data_records, raw_records, read_header
from serving.store.atomic import atomic_file

REQUEST_ID, INSTANCE = "request_id", "instance"
_SHOWN = 5  # unknown ids named in the output; the rest are counted


@dataclasses.dataclass(frozen=True)
class Label:
    request_id: str
    instance: int
    value: str
    where: str  # file and row, for errors that name a label given twice

    @property
    def key(self) -> tuple[str, int]:
        return self.request_id, self.instance


def schema_classes(schema_path: Path, label: str) -> list[str]:
    """The label's values as the schema's string domain lists them: the classes a label may name."""
    schema = text_format.Parse(schema_path.read_text(), schema_pb2.Schema())
    feature = next((f for f in schema.feature if f.name == label), None)
    domain_name = feature.domain if feature is not None and feature.HasField("domain") else label
    domain = next((d for d in schema.string_domain if d.name == domain_name), None)
    if domain is None:
        raise DataError(
            f"{schema_path}: no string_domain for the label '{label}'; expected its classes there"
        )
    return list(domain.value)


def _rows(path: Path, label_column: str, classes: list[str]) -> list[Label]:
    with closing(raw_records(path)) as records:
        header = read_header(path, records, [REQUEST_ID, label_column])
        at = {name: header.index(name) for name in (REQUEST_ID, label_column, INSTANCE) if name in header}
        labels = []
        for line, record in data_records(path, records, header):
            if not any(cell.strip() for cell in record):
                continue
            cells = {name: (record[i].strip() if i < len(record) else "") for name, i in at.items()}
            if not cells[REQUEST_ID] or not cells[label_column]:
                raise DataError(
                    f"{path}, row {line}: empty '{REQUEST_ID}' or '{label_column}'; expected both in each row"
                )
            instance = cells.get(INSTANCE) or "0"
            if not instance.isdigit():
                raise DataError(
                    f"{path}, row {line}: '{INSTANCE}' is {instance!r}; expected a whole number of at least 0"
                )
            if cells[label_column] not in classes:
                raise DataError(
                    f"{path}, row {line}: {label_column} {cells[label_column]!r} is not a class of the "
                    f"schema; expected one of {classes}"
                )
            labels.append(
                Label(cells[REQUEST_ID], int(instance), cells[label_column], f"{path.name} row {line}")
            )
    return labels


def read_labels(path: Path, label_column: str, classes: list[str]) -> list[Label]:
    """The labels of a file, refused whole if any is of an unknown class or given twice in it."""
    labels = _rows(path, label_column, classes)
    if not labels:
        raise DataError(f"{path}: no labels below the header; expected one row per labelled request")
    _refuse_repeats(labels, {})
    return labels


def _refuse_repeats(labels: list[Label], stored: dict[tuple[str, int], Label]) -> None:
    seen = dict(stored)
    for label in labels:
        earlier = seen.get(label.key)
        if earlier is not None:
            raise DataError(
                f"request {label.request_id} instance {label.instance} is labelled twice: {earlier.where} "
                f"and {label.where}; expected one label per request, nothing was added"
            )
        seen[label.key] = label


def stored_labels(folder: Path) -> dict[tuple[str, int], Label]:
    """Every label added so far, by (request id, instance)."""
    labels = {}
    for path in sorted(folder.glob("labels-*.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                label = Label(
                    row[REQUEST_ID], int(row[INSTANCE]), row["label"], f"{path.name} (added earlier)"
                )
                labels[label.key] = label
    return labels


def add_labels(
    source: Path, folder: Path, label_column: str, classes: list[str], logged: set[tuple[str, int]]
) -> dict:
    """Stores the labels of `source` as one new batch; what was added, and which ids the log lacks."""
    labels = read_labels(source, label_column, classes)
    _refuse_repeats(labels, stored_labels(folder))
    unknown = [label for label in labels if label.key not in logged]
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    path = folder / f"labels-{stamp}-{os.getpid()}.csv"
    with atomic_file(path, newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([REQUEST_ID, INSTANCE, "label"])
        writer.writerows([label.request_id, label.instance, label.value] for label in labels)
    return {
        "added": len(labels),
        "file": str(path),
        "unknown": len(unknown),
        "unknown_ids": [label.request_id for label in unknown[:_SHOWN]],
    }
