"""The pipeline config file's schema: every key, its type, its allowed range and its default.

This is the one definition of a valid config. A typo'd key, a value of the wrong kind or out of
range must stop a command before any work starts: otherwise an unknown key is ignored, and
`epochs: 0` trains a useless model that reports success. Types are strict, so `true` is not a
number and `"20"` is not a whole number. Each key's `description` says what it must be and is
quoted in the error when it is not.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from components.features import DEFAULT_MISSING_VALUES, FeatureSpec

BUNDLED_SOURCE = "bundled"

Text = Annotated[str, Field(min_length=1, description="a non-empty text")]
# Lists are read as tuples, so that settings stay immutable.
Names = Annotated[tuple[Text, ...], Field(strict=False, description="a list of non-empty texts")]
Count = Annotated[int, Field(ge=1, description="a whole number of at least 1")]
Fraction = Annotated[float, Field(ge=0, le=1, description="a number from 0 to 1")]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Data(_Section):
    source: Text = Field(
        BUNDLED_SOURCE, description=f"'{BUNDLED_SOURCE}', or a raw CSV file or a folder of them"
    )
    missing_values: Names = DEFAULT_MISSING_VALUES


class Features(_Section):
    label: Text
    numeric: Names = ()
    categorical: Names = ()

    @model_validator(mode="after")
    def _inputs_listed_once(self) -> Features:
        # The spec defines which columns are inputs and in what order; the markers do not count here.
        spec = FeatureSpec(self.label, self.numeric, self.categorical)
        if not spec.inputs:
            raise ValueError(
                "key 'features' must list at least one feature under 'numeric' or 'categorical', found none"
            )
        repeated = sorted({c for c in spec.columns if spec.columns.count(c) > 1})
        if repeated:
            raise ValueError(
                f"key 'features' names {repeated} more than once (label, numeric and categorical "
                "together); expected each column once"
            )
        return self


class Split(_Section):
    train_buckets: Count
    eval_buckets: Count


class Training(_Section):
    epochs: Count
    batch_size: Count
    hidden_units: tuple[Count, ...] = Field(
        strict=False, min_length=1, description="a non-empty list of whole numbers of at least 1"
    )
    learning_rate: float = Field(gt=0, allow_inf_nan=False, description="a finite number above 0")
    # The range NumPy's seed accepts; Keras seeds NumPy with it.
    seed: int = Field(0, ge=0, lt=2**32, description="a whole number from 0 to 4294967295")


class Evaluation(_Section):
    min_accuracy: Fraction
    max_accuracy_drop: Fraction
    slices: Names = ()
    # Above this many eval examples the Evaluator decides on a random sample of about this many when
    # the decision is clear on it (components/custom/sample_decision.py). None: always the whole split.
    sample_size: Count | None = Field(None, description="a whole number of at least 1")


class Retraining(_Section):
    window_spans: Count = 3
    # "block" stops the run on drift; "report" only records it.
    drift_action: Literal["block", "report"] = Field(
        "block", alias="drift", description="one of ['block', 'report']"
    )

    @property
    def blocks_on_drift(self) -> bool:
        return self.drift_action == "block"


class Monitoring(_Section):
    """When `penguins monitor` calls the served model's live quality a dip (pipeline/monitoring)."""

    min_live_accuracy: Fraction = 0.9
    # Against the accuracy the served version was blessed with on its eval split. 0.05 is about
    # the width of a 95% interval on a few hundred labels: a smaller margin would call noise a dip.
    max_accuracy_drop: Fraction = 0.05
    min_labeled: Count = 50
    # One `labels add` file at most: its labels are held in memory while they are checked.
    max_label_batch_rows: Count = 1_000_000


class Serving(_Section):
    model_name: Text


class ConfigFile(_Section):
    name: Text
    data: Data = Data()
    schema_file: Text = Field(alias="schema", description="the path of a schema file (schema.pbtxt)")
    features: Features
    split: Split
    training: Training
    evaluation: Evaluation
    retraining: Retraining = Retraining()
    monitoring: Monitoring = Monitoring()
    serving: Serving
    metadata: str | None = Field(
        None,
        description="mysql://USER[:PASSWORD]@HOST[:PORT]/DATABASE, or no key for the workspace's SQLite file",
    )

    @property
    def feature_spec(self) -> FeatureSpec:
        """The features as the pipeline uses them: two sections of the file make one spec."""
        features = self.features
        return FeatureSpec(features.label, features.numeric, features.categorical, self.data.missing_values)

    @model_validator(mode="after")
    def _slices_are_features(self) -> ConfigFile:
        slices = self.evaluation.slices
        inputs = self.feature_spec.inputs
        unknown = sorted(set(slices) - set(inputs))
        if unknown:
            raise ValueError(
                f"key 'evaluation.slices' names {unknown}, which are not features; "
                f"expected some of {list(inputs)}"
            )
        repeated = sorted({s for s in slices if slices.count(s) > 1})
        if repeated:
            raise ValueError(f"key 'evaluation.slices' names {repeated} more than once; expected each once")
        return self
