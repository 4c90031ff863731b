"""Loads a pipeline config file into typed settings.

Everything dataset-specific (columns, label, schema, slices, thresholds) comes from here, so
that pipeline code never names a penguin. Errors name the file and the key that is wrong.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = Path(__file__).resolve().parent / "configs" / "penguins.yaml"
BUNDLED_SOURCE = "bundled"


class ConfigError(ValueError):
    """The config file is missing a key or holds a value of the wrong kind."""


@dataclasses.dataclass(frozen=True)
class Features:
    label: str
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]

    @property
    def inputs(self) -> tuple[str, ...]:
        """Feature columns a prediction request carries, in a stable order."""
        return self.numeric + self.categorical

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column the cleaned data holds: the label first, then the inputs."""
        return (self.label, *self.inputs)


@dataclasses.dataclass(frozen=True)
class Training:
    epochs: int
    batch_size: int
    hidden_units: tuple[int, ...]
    learning_rate: float
    seed: int


@dataclasses.dataclass(frozen=True)
class Evaluation:
    min_accuracy: float
    max_accuracy_drop: float
    slices: tuple[str, ...]


DRIFT_ACTIONS = ("block", "report")


@dataclasses.dataclass(frozen=True)
class Retraining:
    window_spans: int
    drift_action: str  # "block" stops the run on drift; "report" only records it

    @property
    def blocks_on_drift(self) -> bool:
        return self.drift_action == "block"


@dataclasses.dataclass(frozen=True)
class Settings:
    name: str
    config_path: Path
    data_source: str
    missing_values: tuple[str, ...]
    schema_path: Path
    features: Features
    train_buckets: int
    eval_buckets: int
    training: Training
    evaluation: Evaluation
    retraining: Retraining
    model_name: str

    def require_schema(self) -> Path:
        """The schema file, which must exist before a run (but not before `schema infer`)."""
        if not self.schema_path.is_file():
            raise ConfigError(
                f"{self.config_path}: key 'schema' points to {self.schema_path}, which does not exist"
            )
        return self.schema_path

    def as_custom_config(self) -> dict[str, Any]:
        """The JSON-serialisable part that Transform and Trainer receive through TFX."""
        return {
            "label": self.features.label,
            "numeric": list(self.features.numeric),
            "categorical": list(self.features.categorical),
            "training": dataclasses.asdict(self.training),
        }


class _Reader:
    """Reads typed values from a nested mapping, naming file and key path in every error."""

    def __init__(self, data: Any, path: Path, prefix: str = ""):
        if not isinstance(data, dict):
            where = prefix.rstrip(".") or "the top level"
            raise ConfigError(f"{path}: {where} must be a mapping of keys to values")
        self._data, self._path, self._prefix = data, path, prefix

    def _fail(self, key: str, expected: str, found: Any = None) -> ConfigError:
        found_text = "" if found is None else f", found {found!r}"
        return ConfigError(f"{self._path}: key '{self._prefix}{key}' must be {expected}{found_text}")

    def section(self, key: str) -> _Reader:
        if key not in self._data:
            raise self._fail(key, "present (a mapping)")
        return _Reader(self._data[key], self._path, f"{self._prefix}{key}.")

    def optional_section(self, key: str) -> _Reader:
        return self.section(key) if key in self._data else _Reader({}, self._path, f"{self._prefix}{key}.")

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        value = self.get(key, str, default)
        if value not in choices:
            raise self._fail(key, f"one of {list(choices)}", value)
        return value

    def positive(self, key: str, default: int) -> int:
        value = self.get(key, int, default)
        if value < 1:
            raise self._fail(key, "a whole number of at least 1", value)
        return value

    def get(self, key: str, kind: type, default: Any = ...) -> Any:
        if key not in self._data:
            if default is ...:
                raise self._fail(key, f"present ({kind.__name__})")
            return default
        value = self._data[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise self._fail(key, f"a {kind.__name__}", value)
        return value

    def names(self, key: str, default: Any = ...) -> tuple[str, ...]:
        values = self.get(key, list, default)
        if not all(isinstance(v, str) and v for v in values):
            raise self._fail(key, "a list of non-empty strings", values)
        return tuple(values)

    def numbers(self, key: str, kind: type) -> tuple:
        values = self.get(key, list)
        if not values or not all(isinstance(v, kind) and not isinstance(v, bool) for v in values):
            raise self._fail(key, f"a non-empty list of {kind.__name__}s", values)
        return tuple(values)


def _resolve(path_text: str, config_path: Path) -> Path:
    """Relative paths resolve against the repo first (committed configs), then the config's folder."""
    path = Path(path_text)
    if path.is_absolute():
        return path
    for base in (REPO_ROOT, config_path.parent):
        if (base / path).exists():
            return (base / path).resolve()
    return (config_path.parent / path).resolve()


def load_settings(config_path: Path | str | None = None) -> Settings:
    """Reads and checks a config file; the default is the embedded penguins config."""
    path = Path(config_path) if config_path else DEFAULT_CONFIG
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from error
    top = _Reader(raw, path)
    data, features = top.section("data"), top.section("features")
    split, training = top.section("split"), top.section("training")
    evaluation, serving = top.section("evaluation"), top.section("serving")
    retraining = top.optional_section("retraining")

    parsed_features = Features(
        label=features.get("label", str),
        numeric=features.names("numeric", ()),
        categorical=features.names("categorical", ()),
    )
    if not parsed_features.inputs:
        raise ConfigError(f"{path}: 'features' must list at least one numeric or categorical feature")
    duplicated = {c for c in parsed_features.columns if parsed_features.columns.count(c) > 1}
    if duplicated:
        raise ConfigError(f"{path}: columns listed twice under 'features': {sorted(duplicated)}")
    unknown_slices = set(evaluation.names("slices", ())) - set(parsed_features.inputs)
    if unknown_slices:
        raise ConfigError(
            f"{path}: key 'evaluation.slices' names {sorted(unknown_slices)}, "
            f"which are not features; expected some of {list(parsed_features.inputs)}"
        )
    schema_path = _resolve(top.get("schema", str), path)
    source = data.get("source", str, BUNDLED_SOURCE)
    if source != BUNDLED_SOURCE:
        source = str(_resolve(source, path))

    return Settings(
        name=top.get("name", str),
        config_path=path.resolve(),
        data_source=source,
        missing_values=data.names("missing_values", ("NA",)),
        schema_path=schema_path,
        features=parsed_features,
        train_buckets=split.get("train_buckets", int),
        eval_buckets=split.get("eval_buckets", int),
        training=Training(
            epochs=training.get("epochs", int),
            batch_size=training.get("batch_size", int),
            hidden_units=training.numbers("hidden_units", int),
            learning_rate=training.get("learning_rate", float),
            seed=training.get("seed", int, 0),
        ),
        evaluation=Evaluation(
            min_accuracy=evaluation.get("min_accuracy", float),
            max_accuracy_drop=evaluation.get("max_accuracy_drop", float),
            slices=evaluation.names("slices", ()),
        ),
        retraining=Retraining(
            window_spans=retraining.positive("window_spans", 3),
            drift_action=retraining.choice("drift", DRIFT_ACTIONS, "block"),
        ),
        model_name=serving.get("model_name", str),
    )
