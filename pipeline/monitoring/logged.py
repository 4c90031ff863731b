"""The request log as a table: one row per predicted instance, with its inputs and its prediction.

Monitoring joins labels to it, slices it, and hands its inputs to TFDV, all of which want columns;
the log is parsed in batches by TensorFlow straight into one pandas frame (a million logged
requests take seconds, where reading Example by Example takes minutes).
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


def _read(folder: Path, features: dict) -> dict[str, np.ndarray]:
    """`features` of every logged instance, concatenated over the log's files."""
    from serving.monitoring.log_reader import read_columns  # TensorFlow: only once the log is read

    batches = list(read_columns(folder, features)) if folder.is_dir() else []
    return {
        name: np.concatenate([batch[name] for batch in batches]) if batches else np.array([])
        for name in features
    }


def _text(values: np.ndarray) -> list[str]:
    return [value.decode("utf-8", "replace") for value in values]


def logged_requests(folder: Path, spec: FeatureSpec, since_us: int | None = None) -> pd.DataFrame:
    """Every logged instance at or after `since_us` (unix µs): ids, time, version, inputs, prediction.

    The model answers the predicted class under the label's name (components/model/signatures.py).
    A missing input is NaN for a number and None for text, as TFDV's statistics expect.
    """
    import tensorflow as tf

    features = {
        REQUEST_ID: tf.io.FixedLenFeature([], tf.string),
        INSTANCE: tf.io.FixedLenFeature([], tf.int64),
        TIME_US: tf.io.FixedLenFeature([], tf.int64),
        VERSION: tf.io.FixedLenFeature([], tf.int64),
        spec.label: tf.io.FixedLenFeature([], tf.string, default_value=""),
        **{name: tf.io.FixedLenFeature([], tf.float32, default_value=np.nan) for name in spec.numeric},
        **{name: tf.io.FixedLenFeature([], tf.string, default_value="") for name in spec.categorical},
    }
    columns = _read(folder, features)
    keep = columns[TIME_US] >= since_us if since_us is not None else slice(None)
    return pd.DataFrame(
        {
            REQUEST_ID: _text(columns[REQUEST_ID][keep]),
            INSTANCE: columns[INSTANCE][keep].astype(np.int64),
            TIME_US: columns[TIME_US][keep].astype(np.int64),
            VERSION: columns[VERSION][keep].astype(np.int64),
            **{name: columns[name][keep].astype(np.float64) for name in spec.numeric},
            **{name: [text or None for text in _text(columns[name][keep])] for name in spec.categorical},
            PREDICTED: _text(columns[spec.label][keep]),
        }
    )


def logged_keys(folder: Path, request_ids: pd.Series) -> pd.DataFrame:
    """The (request id, instance) of each logged instance of `request_ids`: what their labels may name.

    Only those requests are kept, so memory follows the labels being added, not the log.
    """
    import tensorflow as tf

    columns = _read(
        folder,
        {REQUEST_ID: tf.io.FixedLenFeature([], tf.string), INSTANCE: tf.io.FixedLenFeature([], tf.int64)},
    )
    logged = pd.DataFrame(
        {REQUEST_ID: _text(columns[REQUEST_ID]), INSTANCE: columns[INSTANCE].astype(np.int64)}
    )
    return logged[pd.Index(pd.unique(request_ids)).get_indexer(logged[REQUEST_ID]) >= 0]
