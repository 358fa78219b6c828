"""A real-time network for 48x48 grayscale faces, built for accuracy per operation on a CPU.

features: two 3x3 convolutions at full resolution (few channels, where a depthwise block would lose detail),
          then depthwise-separable blocks (3x3 depthwise + 1x1 pointwise, each with BatchNorm and ReLU),
          residual where the shape stays, halving the resolution at each stage: 48 -> 24 -> 12 -> 6
head:     global average pooling, dropout, softmax

About 17M multiply-adds and 0.2M parameters at 48x48 (``fast`` is 118M and 2.6M). Layers are named
``features_*`` and ``head_*`` like the VGGs'; the last stage has no residual, so Grad-CAM's layer (the last
pointwise convolution, after its BatchNorm and ReLU) is followed by a plain chain.
"""
from __future__ import annotations

import keras
from keras import layers, regularizers

from fera.training.models._registry import register_model

# (output channels, stride, residual) per depthwise-separable block, after the stem
STAGES = ((64, 1, False), (64, 1, True),
          (128, 2, False), (128, 1, True), (128, 1, True),
          (256, 2, False), (256, 1, False))


def _bn_relu(x, name: str):
    x = layers.BatchNormalization(momentum=0.9, name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def separable_block(x, channels: int, stride: int, residual: bool, reg, name: str):
    """3x3 depthwise (stride ``stride``) + BN + ReLU, 1x1 pointwise + BN + ReLU, plus the input if ``residual``."""
    y = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False, depthwise_regularizer=reg,
                               name=f"{name}_dw")(x)
    y = _bn_relu(y, f"{name}_dw")
    y = layers.Conv2D(channels, 1, use_bias=False, kernel_regularizer=reg, name=f"{name}_pw")(y)
    y = _bn_relu(y, f"{name}_pw")
    return layers.Add(name=f"{name}_add")([x, y]) if residual else y


def mobile_features(x, stem: tuple[int, int], stages, l2: float):
    reg = regularizers.L2(l2) if l2 else None
    for i, (width, stride) in enumerate(((stem[0], 1), (stem[1], 2)), start=1):
        x = layers.Conv2D(width, 3, strides=stride, padding="same", use_bias=False, kernel_regularizer=reg,
                          name=f"features_stem_conv{i}")(x)
        x = _bn_relu(x, f"features_stem_conv{i}")
    for b, (channels, stride, residual) in enumerate(stages, start=1):
        x = separable_block(x, channels, stride, residual, reg, f"features_block{b}")
    return x


@register_model
def mobile(input_shape=(48, 48, 1), num_classes=7, l2=1e-4, dropout=0.2, block_dropout=0.0, head_bn=True):
    """The real-time model: depthwise-separable blocks (16-32 stem, 64-128-256; 0.2M parameters, 17M MACs)."""
    del block_dropout, head_bn  # the VGG's options; accepted so every model takes the same settings
    inputs = keras.Input(shape=input_shape, name="image")  # grayscale in [0, 1], (H, W, 1)
    x = mobile_features(inputs, (16, 32), STAGES, l2)
    x = layers.GlobalAveragePooling2D(name="head_pool")(x)
    if dropout:
        x = layers.Dropout(dropout, name="head_dropout")(x)
    reg = regularizers.L2(l2) if l2 else None
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32", kernel_regularizer=reg,
                           kernel_initializer=keras.initializers.RandomNormal(stddev=0.01),
                           name="head_predictions")(x)
    return keras.Model(inputs, outputs, name="mobile")
