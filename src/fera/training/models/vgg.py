"""VGG-13-style CNN for small grayscale faces (the design's architecture).

features: 4 blocks of 2 x (3x3 conv + BatchNorm + ReLU), 2x2 max-pool, optional dropout
head:     flatten, 2 x (Dense + BatchNorm + ReLU + dropout), softmax

Layers are named ``features_*`` and ``head_*`` so the feature extractor (and so Grad-CAM's
last convolution) is obvious from the model itself.

Two details keep the design's regularisation (L2, dropout 0.5, balanced class weights) from
collapsing to a constant output (measured in README, "Why the design's settings collapsed"):
BatchNorm after each Dense layer, so no hidden unit can be pushed below zero for every face and
die, and a small initialisation of the output layer, so the first steps start near uniform
probabilities instead of confidently wrong ones.
"""
from __future__ import annotations

import keras
from keras import layers, regularizers

from fera.training.models._registry import register_model


def vgg_features(x, widths, l2: float, block_dropout: float, convs=None):
    """The convolutional feature extractor: one block per width, ``convs[b]`` convolutions in block b (2 each)."""
    reg = regularizers.L2(l2) if l2 else None
    for b, width in enumerate(widths, start=1):
        for c in range(1, (convs[b - 1] if convs else 2) + 1):
            x = layers.Conv2D(width, 3, padding="same", use_bias=False, kernel_regularizer=reg,
                              name=f"features_block{b}_conv{c}")(x)
            x = layers.BatchNormalization(momentum=0.9, name=f"features_block{b}_bn{c}")(x)
            x = layers.ReLU(name=f"features_block{b}_relu{c}")(x)
        x = layers.MaxPooling2D(2, name=f"features_block{b}_pool")(x)
        if block_dropout:
            x = layers.Dropout(block_dropout, name=f"features_block{b}_dropout")(x)
    return x


def classifier_head(x, units: int, num_classes: int, l2: float, dropout: float, head_bn: bool = True):
    """Flatten, two Dense + BatchNorm + ReLU + dropout layers, softmax over the classes.

    ``head_bn=False`` builds the head without BatchNorm, as models saved before it was added had it.
    """
    reg = regularizers.L2(l2) if l2 else None
    x = layers.Flatten(name="head_flatten")(x)
    for d in (1, 2):
        x = layers.Dense(units, use_bias=not head_bn, kernel_regularizer=reg, name=f"head_dense{d}")(x)
        if head_bn:
            x = layers.BatchNormalization(momentum=0.9, name=f"head_bn{d}")(x)
        x = layers.ReLU(name=f"head_relu{d}")(x)
        if dropout:
            x = layers.Dropout(dropout, name=f"head_dropout{d}")(x)
    # float32 even under mixed precision, so probabilities and the loss keep full precision
    return layers.Dense(num_classes, activation="softmax", dtype="float32", kernel_regularizer=reg,
                        kernel_initializer=keras.initializers.RandomNormal(stddev=0.01),
                        name="head_predictions")(x)


def _vgg(name, widths, units, input_shape, num_classes, l2, dropout, block_dropout, head_bn, convs=None):
    inputs = keras.Input(shape=input_shape, name="image")  # grayscale in [0, 1], (H, W, 1)
    x = vgg_features(inputs, widths, l2, block_dropout, convs)
    outputs = classifier_head(x, units, num_classes, l2, dropout, head_bn)
    return keras.Model(inputs, outputs, name=name)


@register_model
def vgg13(input_shape=(48, 48, 1), num_classes=7, l2=1e-4, dropout=0.5, block_dropout=0.0, head_bn=True):
    """The design's VGG-13: 64-128-256-512 conv blocks, two Dense(1024) (10.5M parameters at 48x48)."""
    return _vgg("vgg13", (64, 128, 256, 512), 1024, input_shape, num_classes, l2, dropout, block_dropout,
                head_bn)


@register_model
def fast(input_shape=(48, 48, 1), num_classes=7, l2=1e-4, dropout=0.5, block_dropout=0.0, head_bn=True):
    """VGG-13 at half width (32-64-128-256, two Dense(512); 2.6M parameters): the earlier real-time network."""
    # Chosen by measurement on 2 CPU cores (ONNX Runtime, batch 1): 1.2 ms/face against 3.5 ms for
    # vgg13, and it trains ~2.5x faster; same blocks, so Grad-CAM and export treat both alike.
    return _vgg("fast", (32, 64, 128, 256), 512, input_shape, num_classes, l2, dropout, block_dropout,
                head_bn)


@register_model
def vgg13_ferplus(input_shape=(64, 64, 1), num_classes=8, l2=0.0, dropout=0.5, block_dropout=0.25, head_bn=True):
    """The FER+ paper's VGG-13: 64-128-256-256 blocks of 2-2-3-3 convolutions, two Dense(1024), BatchNorm added."""
    # Barsoum et al. (ICMI 2016) and microsoft/FERPlus: 10 convolutions and 3 dense layers, dropout 0.25 after
    # each block and 0.5 after each dense layer, 64x64 input. The BatchNorm (the design's) is fera's addition.
    return _vgg("vgg13_ferplus", (64, 128, 256, 256), 1024, input_shape, num_classes, l2, dropout, block_dropout,
                head_bn, convs=(2, 2, 3, 3))
