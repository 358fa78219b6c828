import keras
import pytest

from fera.errors import FeraError
from fera.training.models import create_model, list_models


def test_registry_lists_and_rejects_unknown_names():
    assert {"vgg13", "fast"} <= set(list_models())
    with pytest.raises(FeraError, match="unknown model 'vgg99'"):
        create_model("vgg99")


def test_vgg13_is_the_designed_architecture():
    m = create_model("vgg13", input_shape=(48, 48, 1), num_classes=7, l2=1e-4, dropout=0.5)
    convs = [l for l in m.layers if isinstance(l, keras.layers.Conv2D)]
    assert [c.filters for c in convs] == [64, 64, 128, 128, 256, 256, 512, 512]
    assert all(c.kernel_size == (3, 3) and c.kernel_regularizer is not None for c in convs)
    names = [l.name for l in m.layers]
    for conv in convs:  # conv -> BatchNorm -> ReLU
        i = names.index(conv.name)
        assert isinstance(m.layers[i + 1], keras.layers.BatchNormalization)
        assert isinstance(m.layers[i + 2], keras.layers.ReLU)
    assert sum(isinstance(l, keras.layers.MaxPooling2D) for l in m.layers) == 4
    dense = [l for l in m.layers if isinstance(l, keras.layers.Dense)]
    assert [d.units for d in dense] == [1024, 1024, 7]
    assert dense[-1].activation.__name__ == "softmax"
    for d in dense[:2]:  # hidden Dense -> BatchNorm -> ReLU, so no unit can die for every face
        i = names.index(d.name)
        assert not d.use_bias and isinstance(m.layers[i + 1], keras.layers.BatchNormalization)
        assert isinstance(m.layers[i + 2], keras.layers.ReLU)
    # the output layer starts small: near-uniform probabilities at the first step
    assert float(keras.ops.std(dense[-1].kernel)) < 0.02
    head_drop = [l.rate for l in m.layers if isinstance(l, keras.layers.Dropout) and l.name.startswith("head")]
    assert head_drop == [0.5, 0.5]
    assert m.output_shape == (None, 7)
    # the feature extractor ends at the last conv block; Grad-CAM's layer is found, not named
    assert [l for l in m.layers if l.name.startswith("features_")][-1].name == "features_block4_pool"
    with_block_dropout = create_model("vgg13", block_dropout=0.25)
    assert [l.rate for l in with_block_dropout.layers if l.name.endswith("_dropout")] == [0.25] * 4


def test_the_head_without_batchnorm_still_builds_for_older_weights():
    old = create_model("fast", head_bn=False)
    assert not any(l.name.startswith("head_bn") for l in old.layers)
    assert all(l.use_bias for l in old.layers if isinstance(l, keras.layers.Dense))


def test_options_reach_the_layers():
    m = create_model("fast", input_shape=(32, 32, 1), num_classes=3, l2=0.0, dropout=0.2)
    assert all(l.kernel_regularizer is None for l in m.layers if isinstance(l, keras.layers.Conv2D))
    assert [l.rate for l in m.layers if l.name.startswith("head_dropout")] == [0.2, 0.2]
    assert m.output_shape == (None, 3)
