"""Inference through ONNX Runtime only: what the assistant and the web page use.

An exported fera ``.onnx`` carries its own class names, input size, preprocessing and calibration
temperature in its metadata (key ``fera``), so nothing is guessed. Importing this module needs
numpy, Pillow and onnxruntime: no Keras, TensorFlow, PyTorch or JAX.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol, runtime_checkable

import numpy as np

from fera.errors import FeraError, first_line

META_KEY = "fera"
BATCH_SIZE = 256  # faces per network call when a call names none (`fera evaluate --batch_size`)


def calibrate(probs: np.ndarray, temperature: float) -> np.ndarray:
    """Temperature scaling of probabilities: softmax(log(p) / T), the same as softmax(logits / T)."""
    if temperature == 1.0:
        return probs
    z = np.log(np.clip(probs, 1e-12, 1.0)) / temperature
    z -= z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)


def preprocess(faces, meta: dict) -> np.ndarray:
    """Face crops (PIL images or arrays, any mode/size) -> the NHWC float32 input ``meta`` describes: its
    ``preprocessing`` record names the color ("grayscale"), the resize filter and the scale."""
    from PIL import Image

    from fera.images import resize_of, to_gray_array, to_model_input

    h, w = meta["input_size"]
    resample = resize_of(meta)  # refuses a color, resize or layout fera cannot produce
    out = np.empty((len(faces), h, w), dtype=np.uint8)
    for i, f in enumerate(faces):
        if isinstance(f, np.ndarray) and f.shape == (h, w) and f.dtype == np.uint8:
            out[i] = f
        else:
            out[i] = to_gray_array(f if isinstance(f, Image.Image) else Image.fromarray(np.asarray(f)), (h, w),
                                   resample)
    return to_model_input(out, meta)


def probabilities(raw: Callable[[np.ndarray], np.ndarray], x: np.ndarray, temperature: float, flip: bool = False,
                  calibrated: bool = True) -> np.ndarray:
    """Class probabilities of a model input batch ``x`` (NHWC) from ``raw`` (the network's own probabilities):
    ``flip`` averages with the mirrored faces (test-time augmentation), ``calibrated`` applies the temperature."""
    p = raw(x)
    if flip:
        p = (p + raw(np.ascontiguousarray(x[:, :, ::-1]))) / 2
    return calibrate(p, temperature) if calibrated else p


@runtime_checkable
class Predictor(Protocol):
    """A fera classifier, whatever runs it (ONNX Runtime: ``OnnxModel``; Keras: ``training.modelio.KerasPredictor``)."""

    meta: dict

    @property
    def class_names(self) -> list[str]: ...

    @property
    def input_size(self) -> tuple[int, int]: ...

    @property
    def temperature(self) -> float: ...

    def predict(self, faces, flip: bool = False, calibrated: bool = True) -> np.ndarray:
        """Probabilities (N, classes) for face crops of any mode and size."""

    def predict_uint8(self, x: np.ndarray, flip: bool = False, calibrated: bool = True,
                      batch_size: int | None = None) -> np.ndarray:
        """Probabilities (N, classes) for uint8 grayscale faces already at the input size, ``batch_size`` per
        network call (default: the predictor's own, ``BATCH_SIZE`` unless it was loaded with another)."""


class Predicting:
    """``Predictor`` written once over ``raw(x, batch_size)`` (the network's own probabilities of a model
    input batch) and ``meta``: the implementations differ only in how they run the network."""

    meta: dict
    batch_size = BATCH_SIZE

    @property
    def class_names(self) -> list[str]:
        return list(self.meta["class_names"])

    @property
    def input_size(self) -> tuple[int, int]:
        return tuple(self.meta["input_size"])

    @property
    def temperature(self) -> float:
        return float(self.meta.get("temperature", 1.0))

    def raw(self, x: np.ndarray, batch_size: int | None = None) -> np.ndarray:
        """The network's own probabilities for a model input batch (NHWC float32; no calibration)."""
        raise NotImplementedError

    def preprocess(self, faces) -> np.ndarray:
        """Face crops (PIL images or arrays, any mode/size; uint8 grayscale if already arrays) -> NHWC float32."""
        return preprocess(faces, self.meta)

    def predict(self, faces, flip: bool = False, calibrated: bool = True) -> np.ndarray:
        """Calibrated class probabilities (N, classes); ``flip`` averages with the mirrored faces."""
        return self.predict_array(self.preprocess(faces), flip, calibrated)

    def predict_array(self, x: np.ndarray, flip: bool = False, calibrated: bool = True,
                      batch_size: int | None = None) -> np.ndarray:
        """As ``predict``, for a model input batch (NHWC float32)."""
        return probabilities(lambda b: self.raw(b, batch_size), x, self.temperature, flip, calibrated)

    def predict_uint8(self, x: np.ndarray, flip: bool = False, calibrated: bool = True,
                      batch_size: int | None = None) -> np.ndarray:
        """Probabilities for uint8 grayscale images (N, H, W) already at the input size."""
        from fera.images import to_model_input

        return self.predict_array(to_model_input(x, self.meta), flip, calibrated, batch_size)

    def scaled(self, x: np.ndarray) -> np.ndarray:
        """uint8 faces (N, H, W) at the input size -> the model input, with the scale read once (the live path;
        ``fera.images.to_model_input`` checks the same record on every call)."""
        scale = self.__dict__.get("_scale")
        if scale is None:
            from fera.images import preprocessing

            scale = self.__dict__["_scale"] = np.float32(preprocessing(self.meta)["scale"])
        return np.multiply(x[..., None], scale, dtype=np.float32)


def session_options(threads: int | None = None):
    """fera's ONNX Runtime settings for every model it runs (classifiers and the face detector): ``threads`` for
    one operator (default: up to 4), one operator at a time, errors only in the log."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads or min(4, os.cpu_count() or 1)
    so.inter_op_num_threads = 1
    so.log_severity_level = 3  # errors only
    return so


def session(path: str | os.PathLike, threads: int | None = None, what: str = "ONNX model"):
    """An ONNX Runtime session (CPU) for ``path`` with ``session_options``; a file ONNX Runtime cannot load is a
    ``FeraError`` that names ``what`` it was meant to be."""
    import onnxruntime as ort

    try:
        return ort.InferenceSession(str(path), session_options(threads), providers=["CPUExecutionProvider"])
    except Exception as e:  # noqa: BLE001  (onnxruntime raises its own, unexported types)
        raise FeraError(f"cannot load {what} {path}: {first_line(e)}") from None


@dataclass
class OnnxModel(Predicting):
    """A fera ONNX classifier (a ``Predictor``): ``predict`` maps face crops to calibrated probabilities."""

    path: Path
    meta: dict
    session: object = field(repr=False)
    input_name: str = ""
    batch_size: int = BATCH_SIZE

    @classmethod
    def load(cls, path: str | os.PathLike, threads: int | None = None) -> "OnnxModel":
        path = Path(path)
        if not path.is_file():
            raise FeraError(f"model not found: {path}")
        sess = session(path, threads)
        raw = sess.get_modelmeta().custom_metadata_map.get(META_KEY)
        if raw is None:
            raise FeraError(f"{path} is not a fera model: its metadata has no '{META_KEY}' record "
                            "(export models with `fera export`)")
        return cls(path, json.loads(raw), sess, sess.get_inputs()[0].name)

    def raw(self, x: np.ndarray, batch_size: int | None = None) -> np.ndarray:
        """The network's own probabilities for an already preprocessed NHWC batch (no calibration)."""
        batch_size = batch_size or self.batch_size
        if len(x) == 0:
            return np.zeros((0, len(self.class_names)), dtype=np.float32)
        if len(x) <= batch_size:  # one call: no list, no copy
            return self.session.run(None, {self.input_name: x})[0]
        parts = [self.session.run(None, {self.input_name: x[i:i + batch_size]})[0]
                 for i in range(0, len(x), batch_size)]
        return np.concatenate(parts).astype(np.float32, copy=False)

    def per_face_ms(self, xb: np.ndarray, runs: int = 300, warmup: int = 20) -> np.ndarray:
        """Milliseconds per face of ``runs`` calls on the batch ``xb``, after ``warmup`` calls (benchmarks)."""
        import time

        for _ in range(warmup):
            self.raw(xb)
        t = np.empty(runs)
        for i in range(runs):
            t0 = time.perf_counter()
            self.raw(xb)
            t[i] = (time.perf_counter() - t0) * 1000 / len(xb)
        return t
