import pytest
import yaml

from pipeline.settings import DEFAULT_CONFIG, ConfigError, load_settings


def _write(tmp_path, mutate):
    config = yaml.safe_load(DEFAULT_CONFIG.read_text())
    mutate(config)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_default_config_loads():
    settings = load_settings()
    assert settings.features.label == "species"
    assert settings.schema_path.is_file()
    assert set(settings.evaluation.slices) <= set(settings.features.inputs)


def test_missing_key_names_file_and_key(tmp_path):
    path = _write(tmp_path, lambda c: c["evaluation"].pop("min_accuracy"))
    with pytest.raises(ConfigError, match=r"config.yaml: key 'evaluation.min_accuracy' must be present"):
        load_settings(path)


def test_wrong_type_says_what_was_found(tmp_path):
    path = _write(tmp_path, lambda c: c["training"].update(epochs="many"))
    with pytest.raises(ConfigError, match=r"'training.epochs' must be a int, found 'many'"):
        load_settings(path)


def test_slice_on_unknown_feature_is_rejected(tmp_path):
    path = _write(tmp_path, lambda c: c["evaluation"].update(slices=["beak_colour"]))
    with pytest.raises(ConfigError, match="beak_colour"):
        load_settings(path)


def test_missing_schema_file_is_named(tmp_path):
    path = _write(tmp_path, lambda c: c.update(schema="nowhere/schema.pbtxt"))
    settings = load_settings(path)
    with pytest.raises(ConfigError, match=r"nowhere/schema\.pbtxt, which does not exist"):
        settings.require_schema()


def test_retraining_defaults_when_the_section_is_absent(tmp_path):
    settings = load_settings(_write(tmp_path, lambda c: c.pop("retraining")))
    assert settings.retraining.window_spans == 3 and settings.retraining.blocks_on_drift


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
