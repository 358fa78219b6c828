"""The exception types the CLI turns into one line and an exit code, with no import of the training stack
(so that every error path of every command is instant and works without Keras, torch or TensorFlow)."""

# Python packages of the `train` and `tf` extras, and what to install for each.
TRAINING_PACKAGES = {"keras": "fera[train]", "torch": "fera[train]", "h5py": "fera[train]",
                     "matplotlib": "fera[train]", "sklearn": "fera[train]", "onnx": "fera[train]",
                     "onnxscript": "fera[train]", "tensorflow": "fera[tf]", "jax": "fera[distribute]"}


class FeraError(Exception):
    """A problem with the user's input or environment (not a bug): shown as one line, exit code 2."""


class Interrupted(FeraError):
    """Training was stopped by the user (Ctrl-C); the last finished epoch is saved (exit code 130)."""


class CtrlC:
    """Remembers a Ctrl-C for as long as a command runs, so that none is lost.

    Python turns SIGINT into a KeyboardInterrupt wherever the main thread happens to be, and library code
    sometimes swallows it: Keras runs parts of its work under a bare ``except:`` that retries another way
    (tracing a model on torch's "meta" device when ``fit`` starts, setting up the weights store while it writes
    or reads a .keras file), and the run would go on to a normal end. While ``install()``ed, SIGINT still raises
    KeyboardInterrupt and also sets ``pressed``; ``check()`` raises it again, at points where it is handled.
    Installed only in the main thread and only over Python's default handler (SIGINT ignored, as in a
    background job, or another handler set by the caller, stays as it is)."""

    pressed = False
    _installed = False

    @classmethod
    def install(cls) -> "CtrlC":
        import signal
        import threading

        guard = cls()
        if threading.current_thread() is threading.main_thread() \
                and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            CtrlC.pressed, guard._installed = False, True
            signal.signal(signal.SIGINT, _on_sigint)
        return guard

    @staticmethod
    def check() -> None:
        """Raise KeyboardInterrupt if Ctrl-C was pressed since ``install()`` (even if it was swallowed)."""
        if CtrlC.pressed:
            raise KeyboardInterrupt

    def restore(self) -> None:
        import signal

        if self._installed:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            CtrlC.pressed = self._installed = False


def _on_sigint(signum, frame):
    CtrlC.pressed = True
    raise KeyboardInterrupt


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
