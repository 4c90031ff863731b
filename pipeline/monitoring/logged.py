"""The request log as a table: one row per predicted instance, with its inputs and its prediction.

Monitoring joins labels to it, slices it, and hands its inputs to TFDV, all of which want columns;
the log's tf.Examples are read once into one pandas frame.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from components.features import FeatureSpec

REQUEST_ID, INSTANCE, TIME_US, VERSION, PREDICTED = (
    "request_id",
    "instance",
    "time_us",
    "model_version",
    "predicted",
)


def _first(feature) -> object:
    kind = feature.WhichOneof("kind")
    values = getattr(feature, kind).value if kind else ()
    if not values:
        return None
    value = values[0]
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def logged_requests(folder: Path, spec: FeatureSpec, since_us: int | None = None) -> pd.DataFrame:
    """Every logged instance at or after `since_us` (unix µs): ids, time, version, inputs, prediction.

    The model answers the predicted class under the label's name (components/model/signatures.py).
    A missing input is NaN for a number and None for text, as TFDV's statistics expect.
    """
    from serving.monitoring.log_reader import read_examples  # TensorFlow: only once the log is read

    inputs = spec.inputs
    wanted = (REQUEST_ID, INSTANCE, TIME_US, VERSION, *inputs)
    columns: dict[str, list] = {name: [] for name in (*wanted, PREDICTED)}
    for example in read_examples(folder) if folder.is_dir() else ():
        feature = example.features.feature
        if since_us is not None and feature[TIME_US].int64_list.value[0] < since_us:
            continue
        for name in wanted:
            columns[name].append(_first(feature[name]) if name in feature else None)
        columns[PREDICTED].append(_first(feature[spec.label]))
    frame = pd.DataFrame(columns)
    for name in spec.numeric:
        frame[name] = frame[name].astype(np.float64)
    for name in spec.categorical:
        frame[name] = frame[name].map(lambda value: value or None)
    return frame


def logged_keys(folder: Path) -> set[tuple[str, int]]:
    """The (request id, instance) of every logged instance: what a late label may name."""
    from serving.monitoring.log_reader import read_examples

    if not folder.is_dir():
        return set()
    keys = set()
    for example in read_examples(folder):
        feature = example.features.feature
        keys.add((feature[REQUEST_ID].bytes_list.value[0].decode(), feature[INSTANCE].int64_list.value[0]))
    return keys
