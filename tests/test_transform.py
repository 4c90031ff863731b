import statistics
from collections import Counter

import pytest
import tensorflow_transform as tft

from components.features import FeatureSpec, transformed_name
from components.model.inputs import InputLayout
from components.model.transform import MAX_VOCABULARY
from tests.conftest import analyzed, is_close


def test_numeric_features_are_z_scored_with_missing_imputed_as_mean(settings, raw_instances, transformed):
    for name in settings.features.numeric:
        present = [row[name][0] for row in raw_instances if row[name]]
        mean, std = statistics.fmean(present), statistics.pstdev(present)
        for raw, value in zip(raw_instances, transformed[transformed_name(name)], strict=True):
            value = float(value)
            expected = (raw[name][0] - mean) / std if raw[name] else 0.0
            assert is_close(value, expected), (name, raw[name], value, expected)


def test_sample_has_a_penguin_with_nothing_measured(raw_instances):
    assert any(not row["body_mass_g"] and not row["sex"] for row in raw_instances)


def test_categories_index_a_vocabulary_and_missing_goes_out_of_vocabulary(
    settings, raw_instances, transform_output_dir, transformed
):
    output = tft.TFTransformOutput(str(transform_output_dir))
    for name in settings.features.categorical:
        vocabulary = output.vocabulary_by_name(name)
        assert set(vocabulary) == {row[name][0] for row in raw_instances if row[name]}
        for raw, index in zip(raw_instances, transformed[transformed_name(name)], strict=True):
            if raw[name]:
                assert vocabulary[index] == raw[name][0]
            else:
                assert index == len(vocabulary)


def test_label_becomes_its_vocabulary_index(settings, raw_instances, transform_output_dir, transformed):
    label = settings.features.label
    vocabulary = tft.TFTransformOutput(str(transform_output_dir)).vocabulary_by_name(label)
    assert sorted(vocabulary) == [b"Adelie", b"Chinstrap", b"Gentoo"]
    for raw, index in zip(raw_instances, transformed[transformed_name(label)], strict=True):
        assert vocabulary[int(index)] == raw[label][0]


def test_sample_is_not_empty(raw_instances, transformed):
    assert len(raw_instances) == len(transformed["species_xf"]) > 40


def test_vocabularies_run_from_the_most_frequent_value_ties_reverse_lexicographic(
    settings, raw_instances, transform_output_dir
):
    """The order tft.vocabulary gives: the label's order is the served model's class order."""
    output = tft.TFTransformOutput(str(transform_output_dir))
    for name in (*settings.features.categorical, settings.features.label):
        counts = Counter(row[name][0] for row in raw_instances if row[name])
        expected = sorted(counts, key=lambda value: (counts[value], value), reverse=True)
        assert output.vocabulary_by_name(name) == expected


@pytest.mark.parametrize("distinct", [MAX_VOCABULARY, MAX_VOCABULARY + 1])
def test_a_vocabulary_over_the_limit_is_refused_not_cut_short(tmp_path, settings, distinct):
    instances = [
        {
            **{name: [1.0] for name in settings.features.numeric},
            "island": [f"island {index}".encode()],
            "sex": [b"male"],
            settings.features.label: [b"Adelie"],
        }
        for index in range(distinct)
    ]
    output = tft.TFTransformOutput(str(analyzed(settings, instances, tmp_path)))
    features = FeatureSpec.from_custom_config(settings.as_custom_config())
    if distinct <= MAX_VOCABULARY:
        assert len(output.vocabulary_by_name("island")) == distinct
        assert InputLayout.of(features, output).categorical_sizes["island"] == distinct + 1
        return
    refusal = f"feature 'island' has more than {MAX_VOCABULARY:,} distinct values"
    with pytest.raises(ValueError, match=refusal):
        InputLayout.of(features, output)
