import re

import pytest
import yaml
from pydantic import ValidationError

from pipeline.config.settings import DEFAULT_CONFIG, ConfigError, load_settings
from tests.helpers import penguins


def _write(tmp_path, mutate):
    config = yaml.safe_load(DEFAULT_CONFIG.read_text())
    mutate(config)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _error(tmp_path, mutate) -> str:
    with pytest.raises(ConfigError) as error:
        load_settings(_write(tmp_path, mutate))
    return str(error.value)


def test_default_config_loads():
    settings = load_settings()
    assert settings.features.label == "species"
    assert settings.schema_path.is_file()
    assert set(settings.evaluation.slices) <= set(settings.features.inputs)
    assert settings.training.hidden_units == (16, 8)


def test_settings_cannot_be_changed_after_loading():
    settings = load_settings()
    with pytest.raises(ValidationError, match="frozen"):
        settings.training.epochs = 1
    assert load_settings().training.epochs == settings.training.epochs


def test_missing_key_names_file_and_key(tmp_path):
    message = _error(tmp_path, lambda c: c["evaluation"].pop("min_accuracy"))
    assert message == (
        f"{tmp_path / 'config.yaml'}: key 'evaluation.min_accuracy' is missing; expected a number from 0 to 1"
    )


def test_wrong_type_says_what_was_found(tmp_path):
    message = _error(tmp_path, lambda c: c["training"].update(epochs="many"))
    assert message.endswith(
        "config.yaml: key 'training.epochs' must be a whole number of at least 1, found 'many'"
    )


@pytest.mark.parametrize(
    ("section", "key", "expected"),
    [
        ("training", "epochs", "a whole number of at least 1"),
        ("training", "learning_rate", "a finite number above 0"),
        ("evaluation", "min_accuracy", "a number from 0 to 1"),
    ],
)
def test_a_bool_is_not_a_number(tmp_path, section, key, expected):
    message = _error(tmp_path, lambda c: c[section].update({key: True}))
    assert message.endswith(f"config.yaml: key '{section}.{key}' must be {expected}, found True")


@pytest.mark.parametrize(
    ("section", "key", "value", "expected"),
    [
        ("training", "epochs", 0, "a whole number of at least 1"),
        ("training", "epochs", -5, "a whole number of at least 1"),
        ("training", "batch_size", 0, "a whole number of at least 1"),
        ("split", "train_buckets", 0, "a whole number of at least 1"),
        ("evaluation", "min_accuracy", 1.5, "a number from 0 to 1"),
        ("evaluation", "max_accuracy_drop", -0.1, "a number from 0 to 1"),
        ("evaluation", "sample_size", 0, "a whole number of at least 1"),
        ("training", "learning_rate", 0, "a finite number above 0"),
        ("training", "learning_rate", float("inf"), "a finite number above 0"),
        ("training", "hidden_units", [16, 0], "a non-empty list of whole numbers of at least 1"),
        ("training", "hidden_units", [], "a non-empty list of whole numbers of at least 1"),
    ],
)
def test_value_out_of_range_names_key_expected_and_found(tmp_path, section, key, value, expected):
    message = _error(tmp_path, lambda c: c[section].update({key: value}))
    assert message == f"{tmp_path / 'config.yaml'}: key '{section}.{key}' must be {expected}, found {value!r}"


def test_unknown_nested_key_suggests_the_nearest(tmp_path):
    message = _error(tmp_path, lambda c: c["evaluation"].update(max_acuracy_drop=0.1))
    assert message == (
        f"{tmp_path / 'config.yaml'}: unknown key 'evaluation.max_acuracy_drop'; "
        "did you mean 'max_accuracy_drop'?"
    )


def test_unknown_top_level_key_suggests_the_nearest(tmp_path):
    message = _error(tmp_path, lambda c: c.update(trainig={"epochs": 5}))
    assert message.endswith("config.yaml: unknown key 'trainig'; did you mean 'training'?")


def test_unknown_key_without_a_near_one_lists_the_allowed_keys(tmp_path):
    message = _error(tmp_path, lambda c: c["retraining"].update(colour="blue"))
    assert message.endswith(
        "config.yaml: unknown key 'retraining.colour'; expected one of ['window_spans', 'drift']"
    )


def test_every_problem_is_reported_one_per_line(tmp_path):
    def mutate(config):
        config["training"].update(epochs=0, batch_size=-1)
        config["evaluation"].update(min_accuracy=2)

    lines = _error(tmp_path, mutate).splitlines()
    assert [re.search(r"key '([\w.]+)'", line).group(1) for line in lines] == [
        "training.epochs",
        "training.batch_size",
        "evaluation.min_accuracy",
    ]
    assert all(line.startswith(f"{tmp_path / 'config.yaml'}: key ") for line in lines)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda c: c["features"].update(categorical=["island", "sex", "island"]),
            "key 'features' names ['island'] more than once",
        ),
        (
            lambda c: c["features"].update(numeric=[], categorical=[]),
            "key 'features' must list at least one feature",
        ),
        (lambda c: c["features"].update(label=""), "key 'features.label' must be a non-empty text, found ''"),
        (lambda c: c.update(name=None), "key 'name' must be a non-empty text, found None"),
        (lambda c: c.update(training=[20, 32]), "key 'training' must be a mapping with the keys ['epochs'"),
    ],
)
def test_features_names_and_sections_are_checked(tmp_path, mutate, message):
    assert message in _error(tmp_path, mutate)


def test_slice_on_unknown_feature_is_rejected(tmp_path):
    message = _error(tmp_path, lambda c: c["evaluation"].update(slices=["beak_colour"]))
    assert "key 'evaluation.slices' names ['beak_colour'], which are not features" in message


def test_missing_schema_file_is_named(tmp_path):
    path = _write(tmp_path, lambda c: c.update(schema="nowhere/schema.pbtxt"))
    settings = load_settings(path)
    with pytest.raises(ConfigError, match=r"nowhere/schema\.pbtxt, which does not exist"):
        settings.require_schema()


def test_defaults_when_optional_sections_and_keys_are_absent(tmp_path):
    def mutate(config):
        config.pop("retraining")
        config.pop("data")
        config["training"].pop("seed")
        config["evaluation"].pop("sample_size")

    settings = load_settings(_write(tmp_path, mutate))
    assert settings.retraining.window_spans == 3 and settings.retraining.blocks_on_drift
    assert settings.data_source == "bundled" and settings.features.missing_values == ("NA",)
    assert settings.training.seed == 0
    assert settings.evaluation.sample_size is None  # the whole eval split, always


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"drift": "ignore"}, r"'retraining.drift' must be one of \['block', 'report'\], found 'ignore'"),
        ({"window_spans": 0}, r"'retraining.window_spans' must be a whole number of at least 1, found 0"),
    ],
)
def test_bad_retraining_values_name_the_key_and_what_is_allowed(tmp_path, change, message):
    path = _write(tmp_path, lambda c: c["retraining"].update(change))
    with pytest.raises(ConfigError, match=message):
        load_settings(path)


def test_run_with_a_bad_config_stops_before_tensorflow_starts(tmp_path):
    path = _write(tmp_path, lambda c: c["training"].update(epochs=-5))
    workspace = tmp_path / "workspace"
    # Python lists every module it imports on stderr, so the test sees whether TensorFlow was loaded.
    result = penguins(
        "run", "--config", str(path), "--workspace", str(workspace), env={"PYTHONPROFILEIMPORTTIME": "1"}
    )
    assert result.returncode == 2, result.stdout + result.stderr
    imports = [line for line in result.stderr.splitlines() if line.startswith("import time:")]
    messages = [line for line in result.stderr.splitlines() if not line.startswith("import time:")]
    assert messages == [
        f"Config error: {path}: key 'training.epochs' must be a whole number of at least 1, found -5"
    ]
    imported = {line.rsplit("|", 1)[1].strip() for line in imports}
    assert "yaml" in imported
    assert not {name for name in imported if name.split(".")[0] in ("tensorflow", "tfx")}
    assert not workspace.exists() and result.stdout == ""


def test_a_key_given_twice_is_refused_with_both_lines(tmp_path):
    text = DEFAULT_CONFIG.read_text() + "training:\n  epochs: 3\n"
    path = tmp_path / "twice.yaml"
    path.write_text(text)
    first = text.splitlines().index("training:") + 1
    second = len(text.splitlines()) - 1
    with pytest.raises(
        ConfigError, match=f"key 'training' appears twice in one section \\(lines {first} and {second}\\)"
    ):
        load_settings(path)
