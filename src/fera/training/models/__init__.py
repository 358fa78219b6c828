"""Model architectures, found by name: ``create_model("vgg13", num_classes=7)``."""
from fera.training.models._registry import create_model, list_models, register_model
from fera.training.models import vgg as _vgg  # noqa: F401  (registers the VGG family)
from fera.training.models import mobile as _mobile  # noqa: F401  (registers the real-time network)

__all__ = ["create_model", "list_models", "register_model"]
