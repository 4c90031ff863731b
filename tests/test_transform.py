import statistics

import tensorflow_transform as tft

from components.features import transformed_name
from tests.conftest import is_close


def test_numeric_features_are_z_scored_with_missing_imputed_as_mean(
    settings, raw_instances, transform_output_dir
):
    _, transformed = transform_output_dir
    for name in settings.features.numeric:
        present = [row[name][0] for row in raw_instances if row[name]]
        mean, std = statistics.fmean(present), statistics.pstdev(present)
        for raw, row in zip(raw_instances, transformed, strict=True):
            value = float(row[transformed_name(name)][0])
            expected = (raw[name][0] - mean) / std if raw[name] else 0.0
            assert is_close(value, expected), (name, raw[name], value, expected)


def test_sample_has_a_penguin_with_nothing_measured(raw_instances):
    assert any(not row["body_mass_g"] and not row["sex"] for row in raw_instances)


def test_categories_index_a_vocabulary_and_missing_goes_out_of_vocabulary(
    settings, raw_instances, transform_output_dir
):
    graph_dir, transformed = transform_output_dir
    output = tft.TFTransformOutput(str(graph_dir))
    for name in settings.features.categorical:
        vocabulary = output.vocabulary_by_name(name)
        assert set(vocabulary) == {row[name][0] for row in raw_instances if row[name]}
        for raw, row in zip(raw_instances, transformed, strict=True):
            index = int(row[transformed_name(name)][0])
            if raw[name]:
                assert vocabulary[index] == raw[name][0]
            else:
                assert index == len(vocabulary)


def test_label_becomes_its_vocabulary_index(settings, raw_instances, transform_output_dir):
    graph_dir, transformed = transform_output_dir
    label = settings.features.label
    vocabulary = tft.TFTransformOutput(str(graph_dir)).vocabulary_by_name(label)
    assert sorted(vocabulary) == [b"Adelie", b"Chinstrap", b"Gentoo"]
    for raw, row in zip(raw_instances, transformed, strict=True):
        assert vocabulary[int(row[transformed_name(label)][0])] == raw[label][0]
