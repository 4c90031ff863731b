import numpy as np

from components.model.classifier import build_model


def test_model_outputs_a_distribution_over_classes_and_learns():
    model = build_model(["a", "b"], {"colour": 4}, num_classes=3, hidden_units=[8], learning_rate=0.05)
    rng = np.random.default_rng(0)
    a = rng.normal(size=(300, 1)).astype("float32")
    colour = rng.integers(0, 4, size=(300, 1))
    labels = (a[:, 0] > 0).astype(int) + (colour[:, 0] == 3).astype(int)
    inputs = {"a_xf": a, "b_xf": rng.normal(size=(300, 1)).astype("float32"), "colour_xf": colour}
    history = model.fit(inputs, labels, epochs=40, verbose=0)
    probabilities = model.predict(inputs, verbose=0)
    assert probabilities.shape == (300, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert history.history["sparse_categorical_accuracy"][-1] > 0.9
    assert sorted(model.input) if isinstance(model.input, dict) else True
    assert {tensor.name for tensor in model.inputs} == {"a_xf", "b_xf", "colour_xf"}
