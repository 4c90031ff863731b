"""Names shared by Transform, Trainer and the exported signatures.

Transform writes features under these names and the model reads them, so both sides use one
function instead of repeating a naming convention.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any


def transformed_name(name: str) -> str:
    return f"{name}_xf"


@dataclasses.dataclass(frozen=True)
class FeatureConfig:
    """The feature lists that TFX hands to Transform and Trainer in `custom_config`."""

    label: str
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]

    @classmethod
    def from_custom_config(cls, custom_config: Mapping[str, Any]) -> FeatureConfig:
        return cls(
            label=custom_config["label"],
            numeric=tuple(custom_config["numeric"]),
            categorical=tuple(custom_config["categorical"]),
        )

    @property
    def inputs(self) -> tuple[str, ...]:
        return self.numeric + self.categorical
