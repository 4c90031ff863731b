"""The one description of a dataset's features, and the names Transform gives them.

Cleaning, ExampleGen, Transform, Trainer, the exported signatures and `penguins predict` all need
the same lists, so they share one plain type rather than converting between copies. It imports
nothing from TFX, TensorFlow or pydantic, so the config loader and the CLI can use it without
loading either, and TFX can hand it across as JSON.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

# Tokens a raw file writes for a value that was not recorded, when the config does not say.
DEFAULT_MISSING_VALUES = ("NA",)


def transformed_name(name: str) -> str:
    return f"{name}_xf"


@dataclasses.dataclass(frozen=True)
class FeatureSpec:
    """Which columns the data holds, how each is typed, and how raw files mark a missing value."""

    # The fields, in this order, are digested into the name of each cleaned-data folder
    # (`pipeline/intake/cleaning.py: fingerprint`): reordering them would re-clean every workspace.
    label: str
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    missing_values: tuple[str, ...] = DEFAULT_MISSING_VALUES

    @property
    def inputs(self) -> tuple[str, ...]:
        """Feature columns a prediction request carries, in a stable order."""
        return self.numeric + self.categorical

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column the cleaned data holds: the label first, then the inputs."""
        return (self.label, *self.inputs)

    def as_custom_config(self) -> dict[str, Any]:
        """The JSON that TFX hands to Transform and Trainer.

        `missing_values` is left out: they read cleaned data, where a missing value is already an
        empty cell, and a key they do not use would only change their cache keys.
        """
        return {"label": self.label, "numeric": list(self.numeric), "categorical": list(self.categorical)}

    @classmethod
    def from_custom_config(cls, custom_config: Mapping[str, Any]) -> FeatureSpec:
        """The spec back from `as_custom_config()` (other keys, such as `training`, are ignored)."""
        return cls(
            label=custom_config["label"],
            numeric=tuple(custom_config["numeric"]),
            categorical=tuple(custom_config["categorical"]),
        )
