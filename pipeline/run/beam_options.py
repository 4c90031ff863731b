"""The Beam options of a run: a named preset from `pipeline/configs/beam.yaml`, then `--beam-arg`s.

Shared by every command that runs a pipeline, so that presets, the automatic choice by data
size and pass-through options behave the same everywhere. The presets live in a config file,
apart from code, because which options a Flink cluster or a Dataflow project needs is
deployment knowledge, not pipeline logic.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from pathlib import Path

import yaml

from pipeline.config.settings import ConfigError
from pipeline.config.variables import expand_variables

BEAM_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "beam.yaml"
AUTO = "auto"


@dataclasses.dataclass(frozen=True)
class Preset:
    name: str
    description: str
    args: tuple[str, ...]
    required: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class BeamPresets:
    presets: dict[str, Preset]
    small: str
    large: str
    multi_processing_from_rows: int


@dataclasses.dataclass(frozen=True)
class BeamChoice:
    """The preset a run uses, why, and the final Beam options (preset first, then --beam-arg)."""

    preset: str
    reason: str
    args: list[str]


def load_presets(path: Path = BEAM_CONFIG) -> BeamPresets:
    try:
        raw = yaml.safe_load(path.read_text())
        presets = {
            name: Preset(
                name,
                str(entry["description"]),
                tuple(str(a) for a in entry["args"]),
                tuple(str(r) for r in entry.get("required", ())),
            )
            for name, entry in raw["presets"].items()
        }
        auto = raw["auto"]
        choice = BeamPresets(presets, auto["small"], auto["large"], int(auto["multi_processing_from_rows"]))
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError, ValueError) as error:
        raise ConfigError(f"{path}: not a valid Beam preset file: {error!r}") from error
    unknown = {choice.small, choice.large} - set(presets)
    if AUTO in presets or unknown:
        raise ConfigError(f"{path}: 'auto' must name existing presets and not be one; unknown: {unknown}")
    return choice


def csv_rows(files: Iterable[Path]) -> int:
    """Data rows in CSV files with one header line each, counted without parsing."""
    rows = 0
    for path in files:
        with path.open("rb") as handle:
            rows += sum(block.count(b"\n") for block in iter(lambda h=handle: h.read(1 << 20), b"")) - 1
    return rows


def _option_key(arg: str) -> tuple[str, str]:
    """What an option sets: its name, and for --experiments the experiment's own name too."""
    name, _, value = arg.partition("=")
    return (name, value.partition("=")[0]) if name == "--experiments" else (name, "")


def option_value(args: list[str], option: str) -> str | None:
    """The value the last occurrence of `--option=value` sets, as Beam's parser would read it."""
    value = None
    for arg in args:
        name, _, text = arg.partition("=")
        if name == option:
            value = text
    return value


def resolve_beam_args(preset_name: str, passed: Sequence[str], data_rows: int | None = None) -> BeamChoice:
    """The final beam_pipeline_args for a preset (or `auto`), the --beam-args passed, and the data's size.

    `data_rows` (e.g. from `csv_rows`) decides the `auto` preset; without it `auto` stays in-process.
    """
    presets = load_presets()
    name = preset_name
    if name == AUTO:
        large = data_rows is not None and data_rows >= presets.multi_processing_from_rows
        name = presets.large if large else presets.small
        size = "size unknown" if data_rows is None else f"{data_rows:,} rows"
        relation = ">=" if large else "<"
        reason = f"auto: {size} {relation} {presets.multi_processing_from_rows:,}"
    else:
        reason = "chosen"
    preset = presets.presets[name]
    # Beam takes the last of two equal options but the first of two equal experiments, so a
    # --beam-arg replaces what the preset sets, rather than relying on Beam's order.
    given = {_option_key(arg) for arg in passed}
    kept = [expand_variables(arg) for arg in preset.args if _option_key(arg) not in given]
    final = kept + list(passed)
    missing = [option for option in preset.required if not option_value(final, option)]
    if missing:
        raise ConfigError(
            f"Beam preset '{name}' needs {', '.join(missing)}: set the environment variables its options "
            f"name in {BEAM_CONFIG.name}, or pass e.g. --beam-arg={missing[0]}=VALUE"
        )
    return BeamChoice(name, reason, final)
