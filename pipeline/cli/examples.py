"""The examples `penguins predict` sends: one from flags, or many from a CSV or JSON file.

A file must name every feature of the config, as a CSV column or as a key of every JSON object:
a feature it lacks is refused, where it would otherwise be sent as not measured, which is what a
misspelled header would silently do. Other columns, such as the raw data's label and `year`, are
ignored. A value that was not recorded is empty, null (JSON) or one of the config's
`data.missing_values` tokens.
"""

from __future__ import annotations

import functools
import json
import math
import reprlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from components.features import FeatureSpec
from pipeline.intake.raw_csv import DataError, data_records, raw_records, read_header


class ExampleError(ValueError):
    """The examples cannot be read or do not fit the config's features: a usage error."""


def flag(feature: str) -> str:
    return "--" + feature.replace("_", "-")


def read_examples(path: Path | None, flags: dict[str, Any], features: FeatureSpec) -> list[dict[str, Any]]:
    """The examples of a file when `path` is given, else the one example of the feature flags."""
    given = any(value is not None for value in flags.values())
    if path is not None and given:
        raise ExampleError("give the example either as flags or with --file, not both")
    if path is not None:
        return _from_file(path, features)
    if not given:
        raise ExampleError("give the example as flags (see --help) or a file of examples with --file")
    return [_instance(flags, features, flag)]


def _missing(value: Any, features: FeatureSpec) -> bool:
    return value is None or value == "" or value in features.missing_values


def _number(value: Any, where: str) -> float:
    """A finite number, or NaN for one that was not measured; the server refuses infinity."""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        try:
            number = float(value)
        except (ValueError, OverflowError):
            number = None
        if number is not None and not math.isinf(number):
            return number
    raise ExampleError(f"{where}: expected a finite number, got {reprlib.repr(value)}")


def _instance(values: dict[str, Any], features: FeatureSpec, where: Callable[[str], str]) -> dict[str, Any]:
    """One request instance: every feature present, missing ones as NaN or "".

    `where` names a feature's place in what the user gave, for error messages.
    """
    instance = {}
    for name in features.numeric:
        value = values[name]
        instance[name] = math.nan if _missing(value, features) else _number(value, where(name))
    for name in features.categorical:
        value = values[name]
        if not _missing(value, features) and not isinstance(value, str):
            raise ExampleError(f"{where(name)}: expected text, got {reprlib.repr(value)}")
        instance[name] = "" if _missing(value, features) else value
    return instance


def _check_features(found: list[str], features: FeatureSpec, where: str) -> None:
    missing = [name for name in features.inputs if name not in found]
    if missing:
        raise ExampleError(
            f"{where} lacks the feature(s) {missing}; it has {found}, and the config's features are "
            f"{list(features.inputs)} (other keys are ignored)"
        )


def _column(place: str, name: str) -> str:
    return f"{place}, column '{name}'"


def _csv_examples(path: Path, features: FeatureSpec) -> list[dict[str, Any]]:
    """Read as training data is read (pipeline/intake/raw_csv.py): UTF-8, a BOM or not, each column once."""
    try:
        records = raw_records(path)
        header = read_header(path, records, features.inputs)
        examples = []
        for line, row in data_records(path, records, header):
            place = f"{path}, row {line}"
            if len(row) != len(header):
                raise ExampleError(f"{place}: {len(row)} fields where the header has {len(header)}")
            values = dict(zip(header, row, strict=True))
            examples.append(_instance(values, features, functools.partial(_column, place)))
    except DataError as error:
        raise ExampleError(str(error)) from None
    return examples


def _json_examples(path: Path, features: FeatureSpec) -> list[dict[str, Any]]:
    try:
        items = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as error:
        raise ExampleError(f"{path} is not valid JSON: {error}") from None
    items = items if isinstance(items, list) else [items]
    examples = []
    for index, item in enumerate(items):
        place = f"{path}, item {index}"
        if not isinstance(item, dict):
            raise ExampleError(f"{place}: expected an object of feature values, got {reprlib.repr(item)}")
        _check_features(sorted(item), features, place)
        examples.append(_instance(item, features, lambda name, place=place: f"{place}, key '{name}'"))
    return examples


def _from_file(path: Path, features: FeatureSpec) -> list[dict[str, Any]]:
    try:
        examples = (_json_examples if path.suffix.lower() == ".json" else _csv_examples)(path, features)
    except UnicodeDecodeError as error:
        raise ExampleError(f"{path} is not UTF-8 text ({error.reason} at byte {error.start})") from None
    except OSError as error:
        raise ExampleError(f"cannot read {path}: {error.strerror or error}") from None
    if not examples:
        raise ExampleError(f"{path} holds no examples: a header with no rows, or an empty list")
    return examples
