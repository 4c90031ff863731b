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
