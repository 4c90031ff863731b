import math

import numpy as np
import tensorflow as tf

from components.model.signatures import EXAMPLES_SIGNATURE, RAW_SIGNATURE, TRANSFORM_SIGNATURE

PENGUINS = [
    {"island": "Torgersen", "bill_length_mm": 39.1, "bill_depth_mm": 18.7, "flipper_length_mm": 181.0,
     "body_mass_g": 3750.0, "sex": "male"},
    {"island": "Biscoe", "bill_length_mm": 46.1, "bill_depth_mm": 13.2, "flipper_length_mm": 211.0,
     "body_mass_g": 4500.0, "sex": "female"},
    {"island": "Dream", "bill_length_mm": 49.0, "bill_depth_mm": 19.5, "flipper_length_mm": 210.0,
     "body_mass_g": 3950.0, "sex": ""},
    {"island": "Dream", "bill_length_mm": math.nan, "bill_depth_mm": math.nan, "flipper_length_mm": math.nan,
     "body_mass_g": math.nan, "sex": ""},
]  # fmt: skip


def _raw_request(penguins):
    return {
        name: tf.constant([p[name] for p in penguins], dtype=tf.string if isinstance(penguins[0][name], str)
                          else tf.float32)
        for name in penguins[0]
    }  # fmt: skip


def _example(penguin):
    feature = {}
    for name, value in penguin.items():
        if isinstance(value, str):
            values = [value.encode()] if value else []
            feature[name] = tf.train.Feature(bytes_list=tf.train.BytesList(value=values))
        else:
            values = [] if math.isnan(value) else [value]
            feature[name] = tf.train.Feature(float_list=tf.train.FloatList(value=values))
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def test_raw_feature_signature_takes_one_value_per_feature_by_name(exported_model_dir):
    loaded = tf.saved_model.load(str(exported_model_dir))
    serve = loaded.signatures[RAW_SIGNATURE]
    assert set(serve.structured_input_signature[1]) == set(PENGUINS[0])
    outputs = serve(**_raw_request(PENGUINS))
    assert set(outputs) == {"species", "probabilities", "classes"}
    probabilities = outputs["probabilities"].numpy()
    assert probabilities.shape == (4, 3)
    assert np.all(np.isfinite(probabilities))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    classes = outputs["classes"].numpy()
    species = outputs["species"].numpy()
    for row in range(4):
        assert species[row] == classes[row][probabilities[row].argmax()]
    assert sorted(classes[0]) == [b"Adelie", b"Chinstrap", b"Gentoo"]


def test_example_signature_agrees_with_raw_signature(exported_model_dir):
    loaded = tf.saved_model.load(str(exported_model_dir))
    raw = loaded.signatures[RAW_SIGNATURE](**_raw_request(PENGUINS))
    from_examples = loaded.signatures[EXAMPLES_SIGNATURE](
        examples=tf.constant([_example(p) for p in PENGUINS])
    )
    np.testing.assert_allclose(
        raw["probabilities"].numpy(), from_examples["probabilities"].numpy(), rtol=1e-6
    )
    assert list(raw["species"].numpy()) == list(from_examples["species"].numpy())


def test_transform_signature_gives_tfma_the_label_index(exported_model_dir):
    loaded = tf.saved_model.load(str(exported_model_dir))
    labelled = dict(PENGUINS[0], species="Gentoo")
    example = tf.train.Example.FromString(_example(labelled))
    transformed = loaded.signatures[TRANSFORM_SIGNATURE](examples=tf.constant([example.SerializeToString()]))
    classes = loaded.signatures[RAW_SIGNATURE](**_raw_request(PENGUINS[:1]))["classes"].numpy()[0]
    assert classes[int(transformed["species_xf"].numpy().reshape(-1)[0])] == b"Gentoo"
