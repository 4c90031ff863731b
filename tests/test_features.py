"""FeatureSpec: the one description of the features, and the JSON TFX hands to Transform and Trainer."""

from __future__ import annotations

import dataclasses
import json

import pytest

from components.features import FeatureSpec, transformed_name

SPEC = FeatureSpec(
    label="species",
    numeric=("bill_length_mm", "body_mass_g"),
    categorical=("island", "sex"),
)


def test_inputs_are_numeric_then_categorical_and_columns_start_with_the_label():
    assert SPEC.inputs == ("bill_length_mm", "body_mass_g", "island", "sex")
    assert SPEC.columns == ("species", "bill_length_mm", "body_mass_g", "island", "sex")


def test_missing_values_default_to_na():
    assert SPEC.missing_values == ("NA",)


def test_round_trips_through_the_custom_config_as_tfx_stores_it():
    # TFX serialises custom_config as JSON; tuples come back as lists.
    stored = json.loads(json.dumps({**SPEC.as_custom_config(), "training": {"epochs": 1}}))
    assert FeatureSpec.from_custom_config(stored) == SPEC


def test_the_custom_config_keeps_the_keys_transform_and_trainer_read():
    assert SPEC.as_custom_config() == {
        "label": "species",
        "numeric": ["bill_length_mm", "body_mass_g"],
        "categorical": ["island", "sex"],
    }


def test_missing_values_stay_out_of_the_custom_config():
    """Transform and Trainer read cleaned data, where a missing value is already an empty cell."""
    spec = dataclasses.replace(SPEC, missing_values=("?", "n/a"))
    assert spec.as_custom_config() == SPEC.as_custom_config()


def test_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        SPEC.label = "island"  # type: ignore[misc]


def test_transformed_name():
    assert transformed_name("body_mass_g") == "body_mass_g_xf"
