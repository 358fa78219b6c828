"""The training side: everything that needs Keras (and a backend: torch, TensorFlow or JAX).

data -> augment -> models -> train -> evaluate -> calibrate -> export, with gradcam/explain and the
report for the researcher. The assistant (``fera.runtime``), ``fera.inference``, ``fera.images``,
``fera.shipped`` and the web page (``fera.web``) never import this package at module level, so they run
on a machine with only the core install (tests/test_no_training_stack.py and tests/test_layers.py).
"""
