"""Refuses data that would leave the train or the eval split without examples, before TFX runs.

The split is by hash buckets (the config's `split`): each example goes where a hash of its values
falls, so no number of rows guarantees both splits an example, and identical rows always go
together. A split left empty makes TFX fail later, deep in a component, with no word about the
data. So the examples are split here exactly as ExampleGen will split them (the same reading,
serialization and hash), which is cheap: reading stops as soon as every split has an example,
after a few rows for any usable data; only data that does leave a split empty is read whole.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from pipeline.config.settings import Settings
from pipeline.intake.raw_csv import DataError

# The chance of an empty split that the advice in the refusal aims below.
_ADVISED_CHANCE = 0.01


def rows_for_every_split(shares: list[float], chance: float = _ADVISED_CHANCE) -> int:
    """How many different rows make an empty split less likely than `chance`.

    With n different rows, the split of share s stays empty with chance (1 - s)^n; their sum over
    the splits bounds the chance that any does.
    """
    rows = len(shares)
    while sum((1 - share) ** rows for share in shares) >= chance:
        rows += 1
    return rows


def require_every_split(settings: Settings, clean_files: list[Path], source: str) -> None:
    """Raises DataError, naming `source`, when the cleaned files leave a split without examples.

    TFX is imported here, not with the module: `penguins ingest` refuses bad or duplicate data
    without paying for it, and only data that reaches this check does.
    """
    from components.custom.csv_example_gen import example_splits
    from pipeline.definition.pipelines import split_config

    config = split_config(settings).split_config
    names = [split.name for split in config.splits]
    counts = Counter()
    for split in example_splits([str(path) for path in clean_files], settings.features, config):
        counts[split] += 1
        if len(counts) == len(names):
            return
    empty = [name for index, name in enumerate(names) if not counts[index]]
    buckets = {split.name: split.hash_buckets for split in config.splits}
    shares = [split.hash_buckets / sum(buckets.values()) for split in config.splits]
    raise DataError(
        f"{source}: the {' and '.join(empty)} split would get none of the {counts.total()} row(s): a row's "
        f"split is fixed by a hash of its values ({', '.join(f'{n} {b}' for n, b in buckets.items())} of "
        f"{sum(buckets.values())} buckets), so identical rows go together; expected at least one row in "
        f"each split: add different rows (at least {len(names)}; with {rows_for_every_split(shares)} or "
        f"more, a split stays empty with a chance under {_ADVISED_CHANCE:.0%})"
    )
