"""Loads a pipeline config file into typed settings.

Everything dataset-specific (columns, label, schema, slices, thresholds) comes from here, so
that pipeline code never names a penguin. The file is checked whole against its schema
(`pipeline/config/file_schema.py`) before any command does work, and every error names the file and
the key, what was expected and what was found.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import reprlib
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from components.features import FeatureSpec
from pipeline.config.file_schema import (
    BUNDLED_SOURCE,
    ConfigFile,
    Evaluation,
    Monitoring,
    Retraining,
    Training,
)
from pipeline.config.metadata_location import MetadataLocation, resolve_location
from pipeline.config.workspace import Workspace

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = REPO_ROOT / "pipeline" / "configs" / "penguins.yaml"


class ConfigError(ValueError):
    """The config file is missing a key, has an unknown one, or holds a value of the wrong kind."""


@dataclasses.dataclass(frozen=True)
class Settings:
    """The config as the pipeline uses it: one-value sections flattened, paths resolved, and the
    features joined with the data's missing-value markers into the one spec the code passes around."""

    name: str
    config_path: Path
    data_source: str
    schema_path: Path
    features: FeatureSpec
    train_buckets: int
    eval_buckets: int
    training: Training
    evaluation: Evaluation
    retraining: Retraining
    model_name: str
    monitoring: Monitoring
    metadata_url: str | None = dataclasses.field(default=None, repr=False)

    def require_schema(self) -> Path:
        """The schema file, which must exist before a run (but not before `schema infer`)."""
        if not self.schema_path.is_file():
            raise ConfigError(
                f"{self.config_path}: key 'schema' points to {self.schema_path}, which does not exist"
            )
        return self.schema_path

    def metadata_location(self, workspace: Workspace) -> MetadataLocation:
        """The ML Metadata store every command uses with this workspace (config/metadata_location.py)."""
        return resolve_location(self.metadata_url, self.config_path, workspace.metadata_path)

    def as_custom_config(self) -> dict[str, Any]:
        """The JSON-serialisable part that Transform and Trainer receive through TFX."""
        return {**self.features.as_custom_config(), "training": self.training.model_dump(mode="json")}


# Values quoted in errors are shortened: a wrong section can hold a whole list of rows.
_quote = reprlib.Repr()
_quote.maxstring, _quote.maxother = 80, 80


def _keys(model: type[BaseModel]) -> list[str]:
    """The keys a section of the file may hold, as they are written in the file."""
    return [field.alias or name for name, field in model.model_fields.items()]


def _field(model: type[BaseModel], key: str) -> FieldInfo:
    return next(field for name, field in model.model_fields.items() if (field.alias or name) == key)


def _section(field: FieldInfo) -> type[BaseModel] | None:
    """The model of a section of the file, or None for a key that holds a value."""
    kind = field.annotation
    return kind if inspect.isclass(kind) and issubclass(kind, BaseModel) else None


def _expected(field: FieldInfo) -> str:
    section = _section(field)
    return f"a mapping with the keys {_keys(section)}" if section else field.description or "a value"


def _explain(error: dict, raw: Any) -> str:
    """One pydantic error as a sentence about the file's key: what was expected, what was found."""
    if error["type"] == "value_error":  # the schema's own cross-key checks name their keys
        return str(error["ctx"]["error"])
    if error["type"] in ("extra_forbidden", "invalid_key"):  # a key that is not text is unknown too
        *parents, key = error["loc"]
        model = ConfigFile
        for parent in parents:
            model = _section(_field(model, parent))
        dotted = ".".join(map(str, error["loc"]))
        close = difflib.get_close_matches(str(key), _keys(model), n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"expected one of {_keys(model)}"
        return f"unknown key '{dotted}'; {hint}"
    # The key the error is about (a list, not its item), and the value the file holds there.
    model, field, keys, found = ConfigFile, None, [], raw
    for part in error["loc"]:
        if isinstance(part, int) or model is None:
            break
        field = _field(model, part)
        keys.append(part)
        found = found.get(part) if isinstance(found, dict) else None
        model = _section(field)
    if field is None:
        return f"the file must hold a mapping with the keys {_keys(ConfigFile)}, found {_quote.repr(raw)}"
    dotted = ".".join(keys)
    if error["type"] == "missing":
        return f"key '{dotted}' is missing; expected {_expected(field)}"
    return f"key '{dotted}' must be {_expected(field)}, found {_quote.repr(found)}"


def _resolve(path_text: str, config_path: Path) -> Path:
    """Relative paths resolve against the repo first (committed configs), then the config's folder."""
    path = Path(path_text)
    if path.is_absolute():
        return path
    for base in (REPO_ROOT, config_path.parent):
        if (base / path).exists():
            return (base / path).resolve()
    return (config_path.parent / path).resolve()


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping: PyYAML keeps the last silently."""

    def construct_mapping(self, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.YAMLError(
                    f"key '{key}' appears twice in one section (lines {seen[key]} and "
                    f"{key_node.start_mark.line + 1}); expected each key once"
                )
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def load_settings(config_path: Path | str | None = None) -> Settings:
    """Reads and checks a config file; the default is the embedded penguins config."""
    path = Path(config_path) if config_path else DEFAULT_CONFIG
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    try:
        config = ConfigFile.model_validate(raw)
    except ValidationError as invalid:
        # One line per problem; several list items wrong in one key make one line.
        lines = dict.fromkeys(f"{path}: {_explain(error, raw)}" for error in invalid.errors())
        raise ConfigError("\n".join(lines)) from None

    source = config.data.source
    return Settings(
        name=config.name,
        config_path=path.resolve(),
        data_source=source if source == BUNDLED_SOURCE else str(_resolve(source, path)),
        schema_path=_resolve(config.schema_file, path),
        features=config.feature_spec,
        train_buckets=config.split.train_buckets,
        eval_buckets=config.split.eval_buckets,
        training=config.training,
        evaluation=config.evaluation,
        retraining=config.retraining,
        model_name=config.serving.model_name,
        monitoring=config.monitoring,
        metadata_url=config.metadata,
    )
