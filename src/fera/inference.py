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

import numpy as np

from fera.errors import FeraError

META_KEY = "fera"


def calibrate(probs: np.ndarray, temperature: float) -> np.ndarray:
    """Temperature scaling of probabilities: softmax(log(p) / T), the same as softmax(logits / T)."""
    if temperature == 1.0:
        return probs
    z = np.log(np.clip(probs, 1e-12, 1.0)) / temperature
    z -= z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)


def preprocess(faces, meta: dict) -> np.ndarray:
    """Face crops (PIL images or arrays, any mode/size) -> the NHWC float32 input ``meta`` describes."""
    from PIL import Image

    from fera.images import to_gray_array

    h, w = meta["input_size"]
    out = np.empty((len(faces), h, w, 1), dtype=np.float32)
    for i, f in enumerate(faces):
        if isinstance(f, np.ndarray) and f.shape == (h, w) and f.dtype == np.uint8:
            g = f
        else:
            g = to_gray_array(f if isinstance(f, Image.Image) else Image.fromarray(np.asarray(f)), (h, w))
        out[i, :, :, 0] = g
    return out * np.float32(meta["preprocessing"]["scale"])


def session_options(threads: int | None = None):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads or min(4, os.cpu_count() or 1)
    so.inter_op_num_threads = 1
    so.log_severity_level = 3  # errors only
    return so


@dataclass
class OnnxModel:
    """A fera ONNX classifier: ``predict`` maps grayscale face crops to calibrated probabilities."""

    path: Path
    meta: dict
    session: object = field(repr=False)
    input_name: str = ""

    @classmethod
    def load(cls, path: str | os.PathLike, threads: int | None = None) -> "OnnxModel":
        import onnxruntime as ort

        path = Path(path)
        if not path.is_file():
            raise FeraError(f"model not found: {path}")
        try:
            sess = ort.InferenceSession(str(path), session_options(threads), providers=["CPUExecutionProvider"])
        except Exception as e:  # noqa: BLE001  (onnxruntime raises its own, unexported types)
            raise FeraError(f"cannot load ONNX model {path}: {str(e).splitlines()[0]}") from None
        raw = sess.get_modelmeta().custom_metadata_map.get(META_KEY)
        if raw is None:
            raise FeraError(f"{path} is not a fera model: its metadata has no '{META_KEY}' record "
                            "(export models with `fera export`)")
        return cls(path, json.loads(raw), sess, sess.get_inputs()[0].name)

    @property
    def class_names(self) -> list[str]:
        return list(self.meta["class_names"])

    @property
    def input_size(self) -> tuple[int, int]:
        return tuple(self.meta["input_size"])

    @property
    def temperature(self) -> float:
        return float(self.meta.get("temperature", 1.0))

    def preprocess(self, faces) -> np.ndarray:
        """Face crops (PIL images or arrays, any mode/size; uint8 grayscale if already arrays) -> NHWC float32."""
        return preprocess(faces, self.meta)

    def raw(self, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """The network's own probabilities for an already preprocessed NHWC batch (no calibration)."""
        if len(x) == 0:
            return np.zeros((0, len(self.class_names)), dtype=np.float32)
        parts = [self.session.run(None, {self.input_name: x[i:i + batch_size]})[0]
                 for i in range(0, len(x), batch_size)]
        return np.concatenate(parts).astype(np.float32)

    def predict(self, faces, flip: bool = False, calibrated: bool = True) -> np.ndarray:
        """Calibrated class probabilities (N, classes); ``flip`` averages with the mirrored faces."""
        x = self.preprocess(faces)
        return self.predict_array(x, flip, calibrated)

    def predict_array(self, x: np.ndarray, flip: bool = False, calibrated: bool = True,
                      batch_size: int = 256) -> np.ndarray:
        p = self.raw(x, batch_size)
        if flip:
            p = (p + self.raw(np.ascontiguousarray(x[:, :, ::-1]), batch_size)) / 2
        return calibrate(p, self.temperature) if calibrated else p

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

    def predict_uint8(self, x: np.ndarray, **kw) -> np.ndarray:
        """Probabilities for uint8 grayscale images (N, H, W) already at the input size."""
        scaled = x.astype(np.float32)[..., None] * np.float32(self.meta["preprocessing"]["scale"])
        return self.predict_array(scaled, **kw)
