"""The exception types the CLI turns into one line and an exit code, with no import of the training stack
(so that every error path of every command is instant and works without Keras, torch or TensorFlow)."""

# Python packages of the `train` and `tf` extras, and what to install for each.
TRAINING_PACKAGES = {"keras": "fera[train]", "torch": "fera[train]", "h5py": "fera[train]",
                     "matplotlib": "fera[train]", "sklearn": "fera[train]", "onnx": "fera[train]",
                     "onnxscript": "fera[train]", "tensorflow": "fera[tf]", "jax": "jax"}


class FeraError(Exception):
    """A problem with the user's input or environment (not a bug): shown as one line, exit code 2."""


class Interrupted(FeraError):
    """Training was stopped by the user (Ctrl-C); the last finished epoch is saved (exit code 130)."""


def first_line(e: BaseException, limit: int = 120) -> str:
    """What a caught exception says, for a one-line message: its first line (else its type), at most
    ``limit`` characters."""
    return (str(e).splitlines()[0] if str(e).strip() else type(e).__name__)[:limit]


def missing_package(e: ImportError) -> str:
    """One sentence for a package that is not installed: which one, and how to get it."""
    import os

    name = (e.name or str(e)).split(".")[0]
    backend = os.environ.get("KERAS_BACKEND", "torch")
    if name in ("tensorflow", "jax", "torch") and backend == name:
        return (f"KERAS_BACKEND={backend}, but {name} is not installed: install it "
                f"(pip install '{TRAINING_PACKAGES[name]}') or choose another backend, e.g. KERAS_BACKEND=torch")
    extra = TRAINING_PACKAGES.get(name)
    how = f"pip install '{extra}'" if extra else f"pip install {name}"
    return f"this needs the Python package {name!r}, which is not installed ({how})"
