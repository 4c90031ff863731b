import numpy as np

from components.model.classifier import build_model
from components.model.inputs import InputLayout


def test_model_outputs_a_distribution_over_classes_and_learns():
    layout = InputLayout(numeric=("a", "b"), categorical_sizes={"colour": 4})
    rng = np.random.default_rng(0)
    a = rng.normal(size=(300, 1)).astype("float32")
    colour = rng.integers(0, 4, size=(300, 1))
    labels = (a[:, 0] > 0).astype(int) + (colour[:, 0] == 3).astype(int)
    b = rng.normal(size=(300, 1)).astype("float32")
    inputs = layout.matrix({"a_xf": a, "b_xf": b, "colour_xf": colour})
    model = build_model(layout.width, num_classes=3, hidden_units=[8], learning_rate=0.05)
    history = model.fit(inputs.numpy(), labels, epochs=40, verbose=0)
    probabilities = model.predict(inputs, verbose=0)
    assert probabilities.shape == (300, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert history.history["sparse_categorical_accuracy"][-1] > 0.9


def test_input_matrix_is_numerics_then_each_categorical_one_hot_with_its_oov_bucket():
    layout = InputLayout(numeric=("a", "b"), categorical_sizes={"colour": 3, "shape": 2})
    transformed = {
        "a_xf": np.array([[0.5], [-1.0]], "float32"),
        "b_xf": np.array([2.0, 0.0], "float32"),
        "colour_xf": np.array([[2], [0]]),  # 2 is the out-of-vocabulary bucket
        "shape_xf": np.array([1, 0]),
    }
    assert layout.width == 7
    np.testing.assert_array_equal(
        layout.matrix(transformed).numpy(),
        [[0.5, 2.0, 0, 0, 1, 0, 1], [-1.0, 0.0, 1, 0, 0, 1, 0]],
    )
