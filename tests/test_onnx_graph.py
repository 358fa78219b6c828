"""fera's own Keras -> ONNX writer: every registered architecture, BatchNorm folded, lean, equal to Keras."""
import collections

import numpy as np
import pytest

from fera.errors import FeraError

pytestmark = pytest.mark.train


def _with_trained_statistics(model, seed=0):
    """Give every BatchNorm non-trivial statistics, so folding them is really tested."""
    import keras

    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.moving_mean.shape
            layer.moving_mean.assign(rng.normal(0, 0.1, n).astype("float32"))
            layer.moving_variance.assign(rng.uniform(0.5, 1.5, n).astype("float32"))
            layer.gamma.assign(rng.uniform(0.5, 1.5, n).astype("float32"))
            layer.beta.assign(rng.normal(0, 0.1, n).astype("float32"))
    return model


@pytest.mark.parametrize("name,size", [("fast", 48), ("vgg13", 48), ("mobile", 48), ("vgg13_ferplus", 64),
                                       ("mobile", 40)])
def test_every_architecture_exports_to_a_lean_graph_equal_to_keras(name, size):
    import onnx
    import onnxruntime as ort

    from fera.training.models import create_model
    from fera.training.onnx_graph import to_onnx

    model = _with_trained_statistics(create_model(name, input_shape=(size, size, 1), num_classes=7))
    proto = to_onnx(model)
    onnx.checker.check_model(proto)
    ops = collections.Counter(n.op_type for n in proto.graph.node)
    assert not {"BatchNormalization", "Cast", "Transpose", "Shape", "Pad", "Sub", "Div"} & set(ops), ops
    convs = sum(1 for layer in model.layers if "conv" in type(layer).__name__.lower())
    assert ops["Conv"] == convs  # one ONNX Conv per Keras convolution, BatchNorm inside it
    x = np.random.default_rng(1).random((5, size, size, 1), dtype=np.float32)
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    got = session.run(None, {"image": x})[0]
    np.testing.assert_allclose(got, np.asarray(model.predict(x, verbose=0)), atol=2e-5)
    assert [o.name for o in proto.graph.output] == ["probabilities"]


def test_an_unsupported_layer_is_a_clear_error():
    import keras

    from fera.training.onnx_graph import to_onnx

    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(2, 3)(inputs)
    x = keras.layers.LayerNormalization(name="odd_norm")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))
    with pytest.raises(FeraError, match=r"layer odd_norm \(LayerNormalization\) is not supported"):
        to_onnx(model)


def test_same_padding_matches_tensorflow_for_odd_and_even_sizes():
    from fera.training.onnx_graph import _same_pads

    assert _same_pads(48, 3, 2) == (0, 1)  # TensorFlow pads the bottom/right more
    assert _same_pads(7, 3, 2) == (1, 1)
    assert _same_pads(48, 3, 1) == (1, 1)
    assert _same_pads(6, 2, 2) == (0, 0)
