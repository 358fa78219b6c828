"""Model registry: models are added by name, and training code only ever calls ``create_model``."""
from __future__ import annotations

from typing import Callable

_MODELS: dict[str, Callable] = {}


def register_model(fn: Callable) -> Callable:
    """Decorator: make ``fn`` available to ``create_model`` under its function name."""
    _MODELS[fn.__name__] = fn
    return fn


def list_models() -> list[str]:
    return sorted(_MODELS)


def create_model(name: str, *, input_shape=(48, 48, 1), num_classes: int = 7, precision: str = "float32",
                 **kwargs):
    """Build a fresh (untrained) Keras model by registry name; ``precision`` is its layers' dtype policy."""
    import keras

    from fera.errors import FeraError

    if name not in _MODELS:
        raise FeraError(f"unknown model {name!r}; choose one of: {', '.join(list_models())}")
    keras.mixed_precision.set_global_policy(precision)
    try:
        return _MODELS[name](input_shape=tuple(input_shape), num_classes=num_classes, **kwargs)
    finally:
        keras.mixed_precision.set_global_policy("float32")  # the layers keep theirs; nothing else changes
