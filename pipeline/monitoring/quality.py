"""Live accuracy from late labels, and the decision `penguins monitor` takes from it.

Kept free of TensorFlow, TFDV and file access, so every rule (the join, the interval, which
decision wins) is tested in milliseconds.
"""

from __future__ import annotations

import math

import pandas as pd

from pipeline.config.file_schema import Monitoring
from pipeline.monitoring.logged import INSTANCE, PREDICTED, REQUEST_ID, VERSION

LABEL = "label"
OK, QUALITY_DIP, SKEW, NOT_ENOUGH_LABELS = "ok", "quality_dip", "skew", "not_enough_labels"
_Z95 = 1.959963984540054


def join_labels(requests: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """The logged instances with their true class in `label` (missing where no label came yet).

    `labels` holds at most one label per (request id, instance), which `labels add` enforces, so
    no logged instance is repeated.
    """
    keys = [REQUEST_ID, INSTANCE]
    return requests.merge(labels[[*keys, LABEL]], on=keys, how="left", validate="many_to_one")


def counted(rows: pd.DataFrame) -> dict[str, int]:
    """Requests and instances, told apart: a request of several birds is one request of several instances."""
    return {"requests": int(rows[REQUEST_ID].nunique()), "instances": len(rows)}


def wilson_interval(correct: int, n: int) -> tuple[float, float] | None:
    """The Wilson score 95% interval of a proportion: unlike the normal one, sound at 0, 1 and small n."""
    if n == 0:
        return None
    share = correct / n
    centre = (share + _Z95**2 / (2 * n)) / (1 + _Z95**2 / n)
    half = _Z95 * math.sqrt(share * (1 - share) / n + _Z95**2 / (4 * n * n)) / (1 + _Z95**2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def _accuracy(labeled: pd.DataFrame) -> dict:
    n = len(labeled)
    correct = int((labeled[PREDICTED] == labeled[LABEL]).sum())
    interval = wilson_interval(correct, n)
    return {
        "live_accuracy": correct / n if n else None,
        "ci95": [round(bound, 4) for bound in interval] if interval else None,
        "n": n,
    }


def _slice_values(column: pd.Series) -> pd.Series:
    """A slice feature's values, a missing one as `(missing)`: unrecorded sex is a slice of its own."""
    return column.astype(object).where(column.notna() & (column != ""), "(missing)")


def version_quality(
    joined: pd.DataFrame, slices: tuple[str, ...], blessed: dict[int, float | None]
) -> list[dict]:
    """Per served version, newest first: requests and their instances, live accuracy with its interval
    (over labeled instances), per slice too."""
    result = []
    for version, rows in sorted(joined.groupby(VERSION), key=lambda item: -item[0]):
        labeled = rows[rows[LABEL].notna()]
        by_slice = [
            {"slice": f"{feature}={value}", **_accuracy(group)}
            for feature in slices
            for value, group in sorted(
                labeled.groupby(_slice_values(labeled[feature])), key=lambda item: str(item[0])
            )
        ]
        result.append(
            {
                "version": int(version),
                **counted(rows),
                **_accuracy(labeled),
                "blessed_accuracy": blessed.get(int(version)),
                "slices": by_slice,
            }
        )
    return result


def decide(current: dict, skewed: list[str], thresholds: Monitoring) -> tuple[str, str]:
    """`ok`, `quality_dip`, `skew` or `not_enough_labels` for the served version, and why in words.

    A dip needs enough labels to be believed; skew needs none, so it is reported even then.
    """
    n = current["n"]
    skew_words = f"served inputs are skewed against training on {', '.join(skewed)}"
    if n < thresholds.min_labeled:
        which = "the served version" if current.get("version") is None else f"version {current['version']}"
        few = (
            f"only {n} labeled request(s) for {which}, fewer than monitoring.min_labeled "
            f"{thresholds.min_labeled}"
        )
        return (SKEW, f"{skew_words}; {few} to judge accuracy") if skewed else (NOT_ENOUGH_LABELS, few)
    live, blessed = current["live_accuracy"], current["blessed_accuracy"]
    dips = []
    if live < thresholds.min_live_accuracy:
        dips.append(f"below monitoring.min_live_accuracy {thresholds.min_live_accuracy}")
    if blessed is not None and blessed - live > thresholds.max_accuracy_drop:
        dips.append(
            f"{blessed - live:.3f} below its blessed accuracy {blessed:.3f} "
            f"(monitoring.max_accuracy_drop {thresholds.max_accuracy_drop})"
        )
    if dips:
        reason = (
            f"version {current['version']}: live accuracy {live:.3f} on {n} labels is {' and '.join(dips)}"
        )
        return QUALITY_DIP, reason + (f"; {skew_words}" if skewed else "")
    if skewed:
        return SKEW, f"{skew_words}; live accuracy {live:.3f} on {n} labels is still within bounds"
    return OK, f"version {current['version']}: live accuracy {live:.3f} on {n} labels, no skew"
