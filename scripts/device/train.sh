#!/usr/bin/env bash
# One GPU training run in one `device` call: unpack, train (or resume), hand back what shipping needs.
#
#   device run, carry [".device"], command:
#     bash scripts/device/train.sh fast 300 --optimizer sgd --lr 0.01 ...   (any `fera train` options)
#
# On the GPU machine: installs the carried wheels (.device/whl) into /tmp/site, unpacks .device/data.tgz
# to /tmp/data, trains into /tmp/run with `fera train` (if /tmp/run holds an unfinished run of a
# still-warm machine, it resumes it with --resume instead), then packs the run into $OUT with
# scripts/device/pack_run.py: the best weights in fp16 split into parts under 16 MiB, and the run's small
# files (metrics, config, history, curves, label map) in one tar; at most 8 files come back.
# Back here: python scripts/device/unpack_run.py FETCHED_FOLDER runs/NAME rebuilds the run folder,
# and scripts/ship_model.py takes it as usual. KERAS_BACKEND (default jax: XLA compiles the whole step)
# and FERA_DEVICE_EPOCH_SECONDS are read from the environment.
set -euo pipefail
cd "$(dirname "$0")/../.."
model=${1:?model name}; epochs=${2:?epochs}; shift 2
export KERAS_BACKEND=${KERAS_BACKEND:-jax} PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=2
if [ -d .device/whl ] && ! python3 -c "import keras" 2>/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .device/whl/*.whl
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
if [ ! -d /tmp/data/train ]; then
  mkdir -p /tmp/data.part && tar xzf .device/data.tgz -C /tmp/data.part && mv /tmp/data.part /tmp/data
fi
out=${OUT:-/tmp/out}; mkdir -p "$out"
if [ -f /tmp/run/checkpoints/state.json ] && grep -q '"finished": false' /tmp/run/checkpoints/state.json; then
  python3 -m fera train --out_dir /tmp/run --resume --epochs "$epochs" --verbose 2 2>&1 | tee "$out/train.log"
else
  python3 -m fera train --data_root /tmp/data --out_dir /tmp/run --overwrite --model "$model" --epochs "$epochs" \
    --verbose 2 "$@" 2>&1 | tee "$out/train.log"
fi
python3 scripts/device/pack_run.py /tmp/run "$out"
