"""fera's real-time classifier against the `fer` package's, side by side in one process: time per face and accuracy.

    python benchmarks/realtime_latency.py [--models fast,vgg13] [--rounds 5] [--venv benchmarks/.venv-fer]

`fer` (PyPI, 25.10.3) is installed only in this benchmark's own virtual environment (``--venv``, made on the first
run from the package registry: fer without its dependencies, ai-edge-litert for its TFLite file, and fera itself
without dependencies); the script then re-runs itself there. `fer`'s default classifier is its quantized TFLite
model (``use_tflite=True``): 64x64 grey faces scaled to [-1, 1], one face per ``invoke``, as fer.py does it.

Printed, per round (the two alternate, same faces, batch 1, 2 threads each):
- each fera model's ONNX session per face (p50) and `fer`'s TFLite invoke per face, and their ratio;
- fera's whole classify stage (``Classifier`` on a 640x480 frame with one face box: crop, grey, resize, scale,
  network, calibration) against its own network: the stage's overhead;
then the accuracy of each on the same val faces: FER+ FER2013Valid majority labels (7 classes) and FER-2013 val,
when ``../shared`` has them (`fer` gets each 48x48 face resized to 64x64 as its own code does).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "datasets"
FER_VERSION = "25.10.3"
# fer's class order (fer/fer.py, _get_labels)
FER_LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


def ensure_venv(venv: Path) -> Path:
    """The benchmark's own environment, created once: fer (no dependencies), its TFLite runtime, fera."""
    py = venv / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(py), "-m", "pip", "install", "-q"]
        subprocess.run(pip + ["numpy<3", "pillow", "onnxruntime", "opencv-python-headless", "ai-edge-litert"],
                       check=True)
        subprocess.run(pip + ["--no-deps", f"fer=={FER_VERSION}"], check=True)
        subprocess.run(pip + ["--no-deps", "-e", str(REPO)], check=True)
    return py


class FerTflite:
    """fer's default emotion classifier, run as fer.py runs it (one face per invoke)."""

    def __init__(self, threads: int = 2):
        import importlib.util

        from ai_edge_litert.interpreter import Interpreter

        # the package's own file, found without importing fer (its code imports TensorFlow)
        path = Path(importlib.util.find_spec("fer").submodule_search_locations[0]) / "data" / \
            "emotion_model_quantized.tflite"
        self.it = Interpreter(model_path=str(path), num_threads=threads)
        self.it.allocate_tensors()
        self.inp = self.it.get_input_details()[0]["index"]
        self.out = self.it.get_output_details()[0]["index"]

    @staticmethod
    def preprocess(gray48):
        """uint8 grey faces (N, 48, 48) -> (N, 64, 64, 1) in [-1, 1], cv2's default resize as fer uses."""
        import cv2
        import numpy as np

        faces = np.stack([cv2.resize(f, (64, 64)) for f in gray48]).astype(np.float32)
        return ((faces / 255.0 - 0.5) * 2.0)[..., None]

    def one(self, x1):
        self.it.set_tensor(self.inp, x1)
        self.it.invoke()
        return self.it.get_tensor(self.out)

    def predict(self, x):
        import numpy as np

        return np.concatenate([self.one(x[i:i + 1]) for i in range(len(x))])


def per_call_ms(fn, n: int) -> float:
    import numpy as np

    for _ in range(max(20, n // 20)):
        fn()
    t = np.empty(n)
    for i in range(n):
        t0 = time.perf_counter()
        fn()
        t[i] = time.perf_counter() - t0
    return float(np.median(t) * 1000)


def val_faces():
    """{name: (uint8 (N, 48, 48), labels as class names)} of the val sets ../shared has."""
    import numpy as np

    from fera.training.config import DataConfig
    from fera.training.data import load_eval_data

    sets = {}
    if (SHARED / "ferplus" / "FER2013Valid").is_dir():
        ds, split = load_eval_data(DataConfig(data_root=str(SHARED / "ferplus" / "FER2013Valid")))
        s = ds.splits[split]
        sets["FER+ val (majority, 7 classes)"] = (s.x, np.array(ds.class_names)[s.y])
    if (SHARED / "fer2013" / "val").is_dir():
        ds, split = load_eval_data(DataConfig(data_root=str(SHARED / "fer2013" / "val")))
        s = ds.splits[split]
        sets["FER-2013 val"] = (s.x, np.array(ds.class_names)[s.y])
    return sets


def measure(a) -> int:
    import numpy as np

    from fera import shipped
    from fera.runtime.classify import ClassifyConfig, Classifier
    from fera.runtime.types import Box

    fer = FerTflite(threads=2)
    models = {n: shipped.load_onnx(n, threads=2) for n in a.models.split(",")}
    rng = np.random.default_rng(0)
    face48 = rng.integers(0, 256, (1, 48, 48), dtype=np.uint8)
    frame = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    box = [Box(260.0, 150.0, 120.0, 150.0)]  # a 120 x 150 face: the crop is 188 px, resized to the input
    fer_x = FerTflite.preprocess(face48)
    print(f"per face, batch 1, 2 threads, {a.calls} calls per figure, p50 ms; `fer` {FER_VERSION} TFLite "
          f"(quantized), fera ONNX Runtime")
    ratios = {n: [] for n in models}
    for r in range(1, a.rounds + 1):
        line = [f"round {r}:"]
        fer_ms = per_call_ms(lambda: fer.one(fer_x), a.calls)
        line.append(f"fer {fer_ms:.3f}")
        for name, m in models.items():
            x = m.preprocess([face48[0]]) if tuple(m.input_size) != (48, 48) else face48[..., None] / np.float32(255)
            x = x.astype(np.float32)
            net = per_call_ms(lambda: m.raw(x), a.calls)
            clf = Classifier(ClassifyConfig(model=name), model=m)
            stage = per_call_ms(lambda: clf(frame, box), a.calls)
            ratios[name].append((net / fer_ms, stage / net))
            line.append(f"{name} network {net:.3f} ({net / fer_ms:.2f}x fer), classify stage {stage:.3f} "
                        f"({stage / net:.2f}x its network)")
        print("  ".join(line), flush=True)
    for name, rs in ratios.items():
        v = np.array(rs)
        print(f"{name}: network / fer {np.median(v[:, 0]):.2f}x (rounds {v[:, 0].min():.2f}-{v[:, 0].max():.2f}); "
              f"classify stage / network {np.median(v[:, 1]):.2f}x (rounds {v[:, 1].min():.2f}-{v[:, 1].max():.2f})")
    if a.no_accuracy:
        return 0
    sets = val_faces()
    if not sets:
        print("accuracy: skipped (no ../shared/datasets: FER+ FER2013Valid or FER-2013 val)")
    for set_name, (x, y) in sets.items():
        p = fer.predict(FerTflite.preprocess(x))
        fer_acc = float((np.array(FER_LABELS)[p.argmax(1)] == y).mean())
        parts = [f"fer {fer_acc:.2%}"]
        for name, m in models.items():
            pm = m.predict_uint8(x)
            acc = float((np.array(m.class_names)[pm.argmax(1)] == y).mean())
            parts.append(f"{name} {acc:.2%} ({100 * (acc - fer_acc):+.1f} points)")
        print(f"accuracy on {set_name}, {len(y)} faces: " + ", ".join(parts))
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="fast", help="shipped fera models, comma-separated (default fast)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--calls", type=int, default=2000, help="timed calls per figure")
    ap.add_argument("--no_accuracy", action="store_true", help="time only")
    ap.add_argument("--venv", default=str(REPO / "benchmarks" / ".venv-fer"),
                    help="the environment that has fer (made when absent)")
    a = ap.parse_args()
    import importlib.util

    if not (importlib.util.find_spec("ai_edge_litert") and importlib.util.find_spec("fer")):
        py = ensure_venv(Path(a.venv))
        env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
        return subprocess.run([str(py), __file__, *sys.argv[1:]], env=env).returncode
    return measure(a)


if __name__ == "__main__":
    sys.exit(main())
