"""ONNX export that checks itself: the file is kept only when ONNX Runtime agrees with Keras.

fp32: Keras -> ONNX by ``onnx_graph`` (fera's own writer: BatchNorm folded, static padding, no per-op
transposes or casts; any backend), output ``probabilities``, the model's fera metadata (class names, input
size, preprocessing, calibration temperature) stored in the file.
int8: static QDQ quantization calibrated on real training faces (dynamic quantization leaves the
convolutions in float and is slower), kept only if it loses at most 0.5 points of accuracy against fp32
on the check images' labels (val).
Weights larger than ``MAX_BYTES`` in fp32 are stored as fp16 and cast back to fp32 when the file
loads (ONNX Runtime folds the casts), so arithmetic stays fp32 and the file stays small.
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np

from fera.errors import FeraError
from fera.fileio import atomic_path
from fera.images import to_model_input
from fera.inference import META_KEY, OnnxModel

FP32_TOLERANCE = 1e-4  # max |p_onnx - p_keras| for the fp32 file
FP32_MIN_AGREEMENT = 0.995  # argmax agreement of the fp32 file with Keras on the check images
INT8_MAX_ACCURACY_LOSS = 0.005  # int8 is kept when its accuracy on the check images is at most this below fp32's
MAX_BYTES = 25 * 1024 * 1024  # larger fp32 weights are stored as fp16 (a shipped file stays under 25 MB)


class Int8Refused(FeraError):
    """The int8 model disagreed with fp32 too often; ``checks`` holds each calibration method's numbers."""

    def __init__(self, message: str, checks: list[dict]):
        super().__init__(message)
        self.checks = checks


def _keras_to_onnx(model, path: Path) -> None:
    """fera's lean ONNX graph of ``model`` (see ``onnx_graph``), the same on every backend."""
    import onnx

    from fera.training.onnx_graph import to_onnx

    onnx.save(to_onnx(model), str(path))


def _finish(src: Path, dst: Path, meta: dict) -> None:
    """Rename the output, store the metadata, shrink large weights to fp16 storage; write atomically."""
    import onnx
    from onnx import helper, numpy_helper

    m = onnx.load(str(src))
    old = m.graph.output[0].name
    for node in m.graph.node:
        node.output[:] = ["probabilities" if o == old else o for o in node.output]
    m.graph.output[0].name = "probabilities"
    if sum(t.ByteSize() for t in m.graph.initializer) > MAX_BYTES:
        big = [t for t in m.graph.initializer if t.data_type == onnx.TensorProto.FLOAT and np.prod(t.dims) > 4096]
        for t in big:  # the fp16 tensor takes a new name; a Cast gives the graph back its fp32 original
            name = t.name
            t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t).astype(np.float16), name + "_fp16"))
            m.graph.node.insert(0, helper.make_node("Cast", [t.name], [name], to=onnx.TensorProto.FLOAT,
                                                    name=f"cast_{name}"))
        meta = {**meta, "weights_storage": "float16 (computed in float32)"}
    del m.metadata_props[:]
    onnx.helper.set_model_props(m, {META_KEY: json.dumps(meta), "producer": "fera"})
    m.doc_string = f"fera {meta['model']}: {', '.join(meta['class_names'])}"
    onnx.checker.check_model(m)
    with atomic_path(dst) as tmp:
        onnx.save(m, str(tmp))


def export_fp32(model, meta: dict, out: Path, check_x: np.ndarray, log=print) -> dict:
    """Export ``model`` to ``out`` and compare with Keras on ``check_x`` (NHWC float32) before keeping it."""
    with tempfile.TemporaryDirectory() as d:
        raw, staged = Path(d) / "raw.onnx", Path(d) / "staged.onnx"
        _keras_to_onnx(model, raw)
        _finish(raw, staged, meta)
        keras_p = np.asarray(model.predict(check_x, batch_size=256, verbose=0))
        staged_model = OnnxModel.load(staged)
        onnx_p = staged_model.raw(check_x)
        diff = float(np.abs(keras_p - onnx_p).max())
        agree = float((keras_p.argmax(1) == onnx_p.argmax(1)).mean())
        tol = FP32_TOLERANCE * (20 if "weights_storage" in staged_model.meta else 1)  # fp16-stored weights
        check = {"images": int(len(check_x)), "max_abs_diff": diff, "argmax_agreement": agree, "tolerance": tol}
        log(f"fp32 check on {len(check_x)} images: max |ONNX - Keras| = {diff:.2e} (tolerance {tol:.0e}), "
            f"argmax agreement {agree:.2%}")
        if diff > tol or agree < FP32_MIN_AGREEMENT:
            raise FeraError(f"ONNX output differs from Keras (max diff {diff:.2e}, agreement {agree:.2%}); "
                            f"{out} not written")
        _keep(staged, out)
    return check


def export_int8(fp32_path: Path, out: Path, calib_x: np.ndarray, check_x: np.ndarray, check_y: np.ndarray,
                log=print) -> dict:
    """Static QDQ int8 from the fp32 file, calibrated on ``calib_x``; kept only if its accuracy on ``check_x``
    (labels ``check_y``) is at most ``INT8_MAX_ACCURACY_LOSS`` below the fp32 file's.

    Activation ranges are tried from MinMax, then from percentiles (which ignore rare outliers); the first
    method that keeps the accuracy is kept.
    """
    import onnx
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self, x, name, b=32):  # equal batches: the histogram calibrators need them
            b = min(b, len(x))
            self.batches = iter([{name: x[i:i + b]} for i in range(0, len(x) - b + 1, b)])

        def get_next(self):
            return next(self.batches, None)

    fp32 = OnnxModel.load(fp32_path)
    p32 = fp32.raw(check_x)
    acc32 = float((p32.argmax(1) == check_y).mean())
    checks = []
    with tempfile.TemporaryDirectory() as d:
        pre = Path(d) / "pre.onnx"
        quant_pre_process(str(fp32_path), str(pre), skip_symbolic_shape=True)
        for method in (CalibrationMethod.MinMax, CalibrationMethod.Percentile):
            q = Path(d) / f"int8_{method.name}.onnx"
            quantize_static(str(pre), str(q), Reader(calib_x, fp32.input_name), quant_format=QuantFormat.QDQ,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True,
                            calibrate_method=method,
                            extra_options={"ActivationSymmetric": False, "WeightSymmetric": True,
                                           "CalibPercentile": 99.999})
            m = drop_int32_zero_points(onnx.load(str(q)))
            meta = {**fp32.meta, "quantization": f"int8 static QDQ, per-channel weights, {method.name} ranges"}
            meta.pop("weights_storage", None)
            del m.metadata_props[:]
            onnx.helper.set_model_props(m, {META_KEY: json.dumps(meta), "producer": "fera"})
            onnx.save(m, str(q))
            p8 = OnnxModel.load(q).raw(check_x)
            agree = float((p32.argmax(1) == p8.argmax(1)).mean())
            diff = float(np.abs(p32 - p8).max())
            acc8 = float((p8.argmax(1) == check_y).mean())
            check = {"images": int(len(check_x)), "calibration_images": int(len(calib_x)),
                     "calibration_method": method.name, "argmax_agreement": agree, "max_abs_diff": diff,
                     "accuracy_fp32": acc32, "accuracy_int8": acc8, "max_accuracy_loss": INT8_MAX_ACCURACY_LOSS}
            checks.append(check)
            log(f"int8 ({method.name} ranges) check on {len(check_x)} images: accuracy {acc8:.2%} against fp32's "
                f"{acc32:.2%} (at most {INT8_MAX_ACCURACY_LOSS:.1%} lower), argmax agreement {agree:.2%}, "
                f"max |int8 - fp32| = {diff:.3f}")
            if acc8 >= acc32 - INT8_MAX_ACCURACY_LOSS - 1e-12:
                _keep(q, out)
                return check
    best = max(c["accuracy_int8"] for c in checks)
    raise Int8Refused(f"int8 model reaches at most {best:.2%} accuracy on {len(check_x)} images against fp32's "
                      f"{acc32:.2%} (more than {INT8_MAX_ACCURACY_LOSS:.1%} lost); {out.name} not written", checks)


def drop_int32_zero_points(m):
    """The bias DequantizeLinear nodes (int32, zero point 0) without their zero-point input: the same numbers, and
    what onnxruntime-web's WebGPU kernel requires ("in the case of dequantizing int32 there is no zero point")."""
    from onnx import TensorProto, numpy_helper

    inits = {i.name: i for i in m.graph.initializer}
    dropped = set()
    for n in m.graph.node:
        if n.op_type != "DequantizeLinear" or len(n.input) < 3:
            continue
        x, zp = inits.get(n.input[0]), inits.get(n.input[2])
        if x is not None and zp is not None and x.data_type == TensorProto.INT32 and not numpy_helper.to_array(zp).any():
            dropped.add(n.input[2])
            del n.input[2]
    used = {i for n in m.graph.node for i in n.input}
    keep = [i for i in m.graph.initializer if i.name not in dropped or i.name in used]
    del m.graph.initializer[:]
    m.graph.initializer.extend(keep)
    return m


def _keep(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(dst) as tmp:
        tmp.write_bytes(src.read_bytes())


def export_model(model_ref: str, out: str, int8: bool = False, data_root: str | None = None,
                 calibration_images: int = 1000, log=print) -> dict:
    """`fera export`: Keras model file or run folder -> checked ONNX file (fp32, or int8 with ``int8``)."""
    from fera.training.evaluate import held_out, run_data_root
    from fera.training.modelio import load_model, resolve_model_path

    path = resolve_model_path(model_ref)
    model, meta = load_model(path)
    data_root = data_root or run_data_root(path)
    x, y, ds, split = held_out(meta, data_root, prefer=("val", "test"), log=log)
    check_x = to_model_input(x, meta)
    log(f"checking against {len(x)} {split} images of {ds.source}")
    out = Path(out)
    report = {"model": str(path), "out": str(out), "check_data": f"{ds.source} ({split})"}
    if not int8:
        report["fp32"] = export_fp32(model, meta, out, check_x, log)
        return report
    calib = ds.splits["train"].x if "train" in ds.splits else x  # activation ranges from training faces
    pick = np.random.default_rng(0).permutation(len(calib))[:calibration_images]
    calib_x = to_model_input(calib[np.sort(pick)], meta)
    with tempfile.TemporaryDirectory() as d:
        fp32_path = Path(d) / "fp32.onnx"
        report["fp32"] = export_fp32(model, meta, fp32_path, check_x, log)
        report["int8"] = export_int8(fp32_path, out, calib_x, check_x, y, log)
    return report
