"""Late labels: the true class of a logged request, known only after it was answered.

Each `penguins labels add` keeps its file's labels as one new batch in `WORKSPACE/monitoring/labels/`:
`labels-<added>-<pid>.csv`, written atomically, and beside it a small `.json` saying where it came
from. Batches are never rewritten, so adding labels costs the size of the batch and not of every
label so far, a failed add leaves the earlier ones untouched, and a batch is removed whole. A label
names a request by its id and, for a request of several instances, the instance (0 when left out):
that pair is what the request log holds for each predicted instance.

Memory follows the batch being added, or the requests being monitored, never every label so far:
a batch is refused past `monitoring.max_label_batch_rows`, and stored batches are read in chunks
of three columns, keeping only the rows of the requests asked about.
"""

from __future__ import annotations

import array
import datetime
import json
import os
from contextlib import closing
from pathlib import Path

import numpy as np
import pandas as pd
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2

from pipeline.intake.raw_csv import DataError, data_records, raw_records, read_header
from pipeline.monitoring.logged import INSTANCE, REQUEST_ID
from pipeline.monitoring.quality import LABEL
from serving.store.atomic import atomic_file, write_json_atomically

ROW, BATCH = "row", "batch"  # where a label came from: its row in the added file, or its stored batch
_PREFIX = "labels-"
_STAMP = "%Y%m%dT%H%M%S%f"
_CHUNK_ROWS = 200_000  # stored labels read at a time
_SHOWN = 5  # unknown ids named in the output; the rest are counted


class BatchError(ValueError):
    """`labels remove` named a batch the workspace does not hold."""


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


def read_labels(path: Path, label_column: str, classes: list[str], max_rows: int) -> pd.DataFrame:
    """The labels of a file (request id, instance, label, row), each row checked as it streams in.

    The file is refused whole at its first bad row, or at the first row past `max_rows`, before
    the rest is read: the batch limit is what bounds the memory of `labels add`. Instances, rows
    and classes are held as machine integers, not Python objects.
    """
    request_ids: list[str] = []
    instances, rows, codes = array.array("q"), array.array("q"), array.array("h")
    code_of = {name: code for code, name in enumerate(classes)}
    with closing(raw_records(path)) as records:
        header = read_header(path, records, [REQUEST_ID, label_column])
        at = {name: header.index(name) for name in (REQUEST_ID, label_column, INSTANCE) if name in header}
        for line, record in data_records(path, records, header):
            if not any(cell.strip() for cell in record):
                continue
            if len(request_ids) == max_rows:
                raise DataError(
                    f"{path}, row {line}: more than {max_rows:,} labels in one file "
                    f"(monitoring.max_label_batch_rows); expected at most that many: split the file, "
                    "nothing was added"
                )
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
            code = code_of.get(cells[label_column])
            if code is None:
                raise DataError(
                    f"{path}, row {line}: {label_column} {cells[label_column]!r} is not a class of the "
                    f"schema; expected one of {classes}"
                )
            request_ids.append(cells[REQUEST_ID])
            instances.append(int(instance))
            rows.append(line)
            codes.append(code)
    if not request_ids:
        raise DataError(f"{path}: no labels below the header; expected one row per labelled request")
    return pd.DataFrame(
        {
            REQUEST_ID: request_ids,
            INSTANCE: np.frombuffer(instances, dtype=np.int64),
            LABEL: pd.Categorical.from_codes(np.frombuffer(codes, dtype=np.int16), classes),
            ROW: np.frombuffer(rows, dtype=np.int64),
        }
    )


def _batch_files(folder: Path) -> list[Path]:
    return sorted(folder.glob(f"{_PREFIX}*.csv"))


def stored_labels(folder: Path, request_ids: pd.Series | list[str]) -> pd.DataFrame:
    """The labels added so far for `request_ids` (request id, instance, label, batch file name).

    Read in chunks of the three stored columns, keeping only the rows of those requests: what the
    join needs, however many labels were added for other requests. Every value is read as text
    (`NA` or `007` is a request id, not a missing value or a number).
    """
    wanted = pd.Index(pd.unique(pd.Series(request_ids, dtype=object)))
    parts = [pd.DataFrame({REQUEST_ID: [], INSTANCE: np.array([], dtype=np.int64), LABEL: [], BATCH: []})]
    for path in _batch_files(folder):
        chunks = pd.read_csv(
            path,
            usecols=[REQUEST_ID, INSTANCE, LABEL],
            dtype={REQUEST_ID: str, INSTANCE: np.int64, LABEL: str},
            keep_default_na=False,
            chunksize=_CHUNK_ROWS,
        )
        for chunk in chunks:
            kept = chunk[wanted.get_indexer(chunk[REQUEST_ID]) >= 0]
            if len(kept):
                parts.append(kept.assign(**{BATCH: path.name}))
    return pd.concat(parts, ignore_index=True)


def _refuse_repeats(labels: pd.DataFrame, source: Path, stored: pd.DataFrame) -> None:
    """Refuses the batch if a request's instance is labelled twice in it, or was labelled before."""
    keys = [REQUEST_ID, INSTANCE]
    repeated = labels[labels.duplicated(keys, keep=False)]
    if len(repeated):
        first, second = repeated[repeated[keys].eq(repeated[keys].iloc[0]).all(axis=1)].iloc[:2].itertuples()
        _twice(first, f"{source.name} row {first.row}", f"{source.name} row {second.row}")
    earlier = labels.merge(stored, on=keys, suffixes=("", "_stored")).sort_values(ROW)
    if len(earlier):
        first = next(earlier.itertuples())
        _twice(first, f"{first.batch} (added earlier)", f"{source.name} row {first.row}")


def _twice(label, earlier: str, later: str) -> None:
    raise DataError(
        f"request {label.request_id} instance {label.instance} is labelled twice: {earlier} "
        f"and {later}; expected one label per request, nothing was added"
    )


def add_labels(labels: pd.DataFrame, source: Path, folder: Path, logged: pd.DataFrame) -> dict:
    """Stores `labels` (read from `source`) as one new batch; what was added, and what the log lacks.

    `logged` holds the (request id, instance) pairs the request log has for these requests. A label
    the log lacks is kept (the log may be sampled, or on another machine), and counted: as an
    unknown request, or, when its request is logged, as an instance that request does not have.
    """
    _refuse_repeats(labels, source, stored_labels(folder, labels[REQUEST_ID]))
    keys = [REQUEST_ID, INSTANCE]
    found = labels[keys].merge(logged[keys].drop_duplicates(), how="left", indicator=True)["_merge"]
    not_found = labels[(found == "left_only").to_numpy()]
    instances_logged = logged.groupby(REQUEST_ID).size()
    request_logged = not_found[REQUEST_ID].isin(instances_logged.index)
    unknown, missing_instance = not_found[~request_logged], not_found[request_logged]
    added = datetime.datetime.now(datetime.timezone.utc)
    batch = f"{added.strftime(_STAMP)}-{os.getpid()}"
    path = folder / f"{_PREFIX}{batch}.csv"
    # Where the batch came from first: a batch file is only ever listed with its description.
    write_json_atomically(path.with_suffix(".json"), {"source": str(source), "rows": len(labels)})
    with atomic_file(path, newline="", encoding="utf-8") as handle:
        labels[[REQUEST_ID, INSTANCE, LABEL]].to_csv(handle, index=False)
    return {
        "added": len(labels),
        "batch": batch,
        "file": str(path),
        "unknown": len(unknown),
        "unknown_ids": unknown[REQUEST_ID].head(_SHOWN).tolist(),
        "unlogged_instances": len(missing_instance),
        "unlogged_instance_examples": [
            {"request_id": rid, "instance": int(instance), "logged_instances": int(instances_logged[rid])}
            for rid, instance in missing_instance[keys].head(_SHOWN).itertuples(index=False)
        ],
    }


def _added_at(batch: str) -> str:
    """When a batch was added, in local time as `penguins history` shows runs, from its name."""
    stamp = datetime.datetime.strptime(batch.split("-")[0], _STAMP).replace(tzinfo=datetime.timezone.utc)
    return stamp.astimezone().replace(tzinfo=None).isoformat(timespec="seconds")


def _count_rows(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b"")) - 1


def label_batches(folder: Path) -> list[dict]:
    """Every batch, oldest first: its name, rows, when it was added, its file and where it came from."""
    batches = []
    for path in _batch_files(folder):
        described = path.with_suffix(".json")
        about = json.loads(described.read_text()) if described.is_file() else {}
        batch = path.stem[len(_PREFIX) :]
        batches.append(
            {
                "batch": batch,
                "rows": about.get("rows", _count_rows(path)),
                "added": _added_at(batch),
                "file": str(path),
                "source": about.get("source"),
            }
        )
    return batches


def remove_batch(folder: Path, batch: str) -> dict:
    """Deletes one batch whole, as `label_batches` names it; refuses a name it does not hold."""
    entry = next((entry for entry in label_batches(folder) if entry["batch"] == batch), None)
    if entry is None:
        raise BatchError(
            f"no label batch {batch!r} in {folder}; expected one that `penguins labels list` shows"
        )
    path = Path(entry["file"])
    path.unlink()  # the labels first: a description left alone is never listed
    path.with_suffix(".json").unlink(missing_ok=True)
    return entry
