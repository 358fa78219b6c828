"""Grad-CAM (Selvaraju et al., 2017): where in a face the model looked for a class.

``gradcam`` computes the heatmaps; drawing them is ``fera.training.explain``'s job. The target layer is the
model's last convolution, found by walking its layers (for fera's models, the last ``features_``
convolution), taken after its BatchNorm and ReLU; nothing depends on a layer's name. Gradients come from whichever Keras backend runs
(TensorFlow, PyTorch or JAX).
"""
from __future__ import annotations

import numpy as np


def last_conv_layer(model):
    """The last 2-D convolution of ``model`` (the end of its feature extractor)."""
    import keras

    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    if not convs:
        from fera.errors import FeraError

        raise FeraError(f"model {model.name} has no 2-D convolution for Grad-CAM")
    return convs[-1]


def target_layer(model):
    """Where Grad-CAM looks: the last convolution's output after the BatchNorm and ReLU that follow it
    (the rectified feature map, as in the paper), or the convolution itself when nothing follows."""
    import keras

    layers = model.layers
    i = layers.index(last_conv_layer(model))
    while i + 1 < len(layers) and isinstance(layers[i + 1], (keras.layers.BatchNormalization, keras.layers.ReLU,
                                                              keras.layers.Activation)):
        i += 1
    return layers[i]


def _split(model, layer):
    """Two callables: image -> the layer's feature map, and feature map -> class logits.

    fera's models are a chain of layers, so the second half is the layers after ``layer`` in order;
    the final softmax is left out so the class score is a logit (softmax saturates its gradients).
    """
    import keras

    layers = model.layers
    i = layers.index(layer)
    features = keras.Model(model.inputs[0], layer.output)
    rest = layers[i + 1:]

    def head(a):
        for lyr in rest[:-1]:
            a = lyr(a, training=False)
        last = rest[-1]
        if isinstance(last, keras.layers.Dense):  # its kernel and bias, without the softmax
            return keras.ops.matmul(keras.ops.cast(a, last.kernel.dtype), last.kernel) + last.bias
        return last(a, training=False)

    return features, head


def _gradient(head, a, onehot: np.ndarray):
    """d (logits . onehot) / d feature map, with the running backend's automatic differentiation."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        a = tf.convert_to_tensor(a)
        with tf.GradientTape() as tape:
            tape.watch(a)
            score = tf.reduce_sum(head(a) * onehot)
        return tape.gradient(score, a).numpy()
    if backend == "torch":
        import torch

        onehot = keras.ops.convert_to_tensor(onehot)  # on the device Keras computes on
        a = torch.tensor(a, device=onehot.device, requires_grad=True)
        score = (head(a) * onehot).sum()
        (grad,) = torch.autograd.grad(score, a)
        return grad.detach().cpu().numpy()
    if backend == "jax":
        import jax

        return np.asarray(jax.grad(lambda t: (head(t) * onehot).sum())(a))
    from fera.errors import FeraError

    raise FeraError(f"Grad-CAM does not support the {backend} backend")


def gradcam(model, images: np.ndarray, class_index=None, layer=None) -> tuple[np.ndarray, np.ndarray]:
    """Heatmaps for a batch of preprocessed images (N, H, W, C) as the model takes them.

    Returns (heatmaps (N, h, w) in [0, 1] at the feature map's resolution, class indices used):
    the predicted class of each image unless ``class_index`` (one int, or one per image) is given.
    """
    features, head = _split(model, layer or target_layer(model))
    # 1. The feature map A of the last convolution, and the class to explain.
    a = keras_numpy(features(images, training=False))
    if class_index is None:
        class_index = np.argmax(keras_numpy(head(a)), axis=-1)
    class_index = np.broadcast_to(np.asarray(class_index, dtype=int), (len(images),))
    # 2. Gradients of that class's logit with respect to A.
    grads = _gradient(head, a, np.eye(int(model.output_shape[-1]), dtype="float32")[class_index])
    # 3. One weight per channel: the gradients averaged over the map's positions.
    weights = grads.mean(axis=(1, 2))
    # 4. The weighted sum of the channels; ReLU keeps what speaks for the class.
    cam = np.maximum(np.einsum("nhwc,nc->nhw", a.astype(np.float32), weights.astype(np.float32)), 0.0)
    # 5. Normalise each map to [0, 1] (an all-zero map stays zero: nothing spoke for the class).
    peak = cam.max(axis=(1, 2), keepdims=True)
    return np.where(peak > 0, cam / np.maximum(peak, 1e-12), 0.0).astype(np.float32), class_index


def keras_numpy(x) -> np.ndarray:
    import keras

    return np.asarray(keras.ops.convert_to_numpy(x), dtype=np.float32)
