"""Keras -> ONNX for fera's own layer set, written directly: a lean inference graph on any backend.

The backends' exporters write what their training graph does: BatchNorm as Sub/Div/Mul/Add, "same" padding
as Shape/Gather/Pad chains, a Cast around every op and a Transpose around every convolution (about 600 nodes
for ``fast``). This writer emits the graph inference needs: the NHWC input reshaped (one channel) or transposed
once to NCHW, every BatchNorm folded into the convolution or Dense before it, "same" padding as static pads,
Flatten's NHWC order folded into the next Dense's rows, dropout gone. ONNX Runtime then fuses Conv + ReLU.
``export_fp32`` still checks the file against Keras before it is kept.

Supported layers: InputLayer, Conv2D, DepthwiseConv2D (depth multiplier 1), SeparableConv2D, BatchNormalization
(after a convolution or Dense), ReLU (and ReLU6), Activation (relu, relu6, softmax, sigmoid, hard_swish,
linear), MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D, Flatten, Dense, Dropout, Add, Multiply,
Concatenate (channels). Anything else is a clear FeraError.
"""
from __future__ import annotations

import numpy as np

from fera.errors import FeraError

OPSET = 17


class _Writer:
    def __init__(self):
        self.nodes, self.inits, self.n = [], [], 0

    def name(self, hint: str) -> str:
        self.n += 1
        return f"{hint}_{self.n}"

    def const(self, array: np.ndarray, hint: str) -> str:
        from onnx import numpy_helper

        name = self.name(hint)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(self, op: str, inputs: list[str], hint: str, **attrs) -> str:
        from onnx import helper

        out = self.name(hint)
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out


def _same_pads(size: int, k: int, s: int, d: int = 1) -> tuple[int, int]:
    """TensorFlow's "same" padding for one axis: (before, after)."""
    eff = (k - 1) * d + 1
    out = -(-size // s)
    total = max((out - 1) * s + eff - size, 0)
    return total // 2, total - total // 2


def _pads(layer, in_shape) -> list[int]:
    if layer.padding == "valid":
        return [0, 0, 0, 0]
    (kh, kw), (sh, sw) = layer.kernel_size if hasattr(layer, "kernel_size") else layer.pool_size, layer.strides
    dh, dw = getattr(layer, "dilation_rate", (1, 1))
    top, bottom = _same_pads(in_shape[0], kh, sh, dh)
    left, right = _same_pads(in_shape[1], kw, sw, dw)
    return [top, left, bottom, right]


def _np(v) -> np.ndarray:
    import keras

    return np.asarray(keras.ops.convert_to_numpy(v), np.float64)


def _bn_scale_shift(bn) -> tuple[np.ndarray, np.ndarray]:
    """y = x * scale + shift for an inference-mode BatchNormalization."""
    axis = bn.axis if isinstance(bn.axis, int) else list(bn.axis)[0]
    if axis not in (-1, len(bn.input.shape) - 1):
        raise FeraError(f"ONNX export: {bn.name} normalises an axis other than channels")
    gamma = _np(bn.gamma) if bn.scale else 1.0
    beta = _np(bn.beta) if bn.center else 0.0
    scale = gamma / np.sqrt(_np(bn.moving_variance) + bn.epsilon)
    return scale, beta - _np(bn.moving_mean) * scale


def _consumers(model) -> dict[int, list]:
    """id(layer) -> the layers that take its output."""
    out: dict[int, list] = {}
    for layer in model.layers:
        for node in layer._inbound_nodes:
            for t in node.input_tensors:
                src = t._keras_history[0]
                out.setdefault(id(src), []).append(layer)
    return out


def _inputs_of(layer) -> list:
    node = layer._inbound_nodes[0]
    return [t._keras_history[0] for t in node.input_tensors]


def _act(w: _Writer, x: str, name: str, hint: str) -> str:
    if name in ("linear", None):
        return x
    if name == "relu":
        return w.node("Relu", [x], hint)
    if name == "relu6":
        return w.node("Clip", [x, w.const(np.float32(0), "zero"), w.const(np.float32(6), "six")], hint)
    if name == "softmax":
        return w.node("Softmax", [x], hint, axis=1)
    if name == "sigmoid":
        return w.node("Sigmoid", [x], hint)
    if name == "hard_swish":
        return w.node("HardSwish", [x], hint)
    raise FeraError(f"ONNX export: activation {name!r} is not supported")


def _activation_name(layer) -> str | None:
    fn = getattr(layer, "activation", None)
    return None if fn is None else getattr(fn, "__name__", str(fn))


def to_onnx(model, output_name: str = "probabilities"):
    """An ``onnx.ModelProto`` computing ``model`` (NHWC float32 input, as Keras takes it) for inference."""
    from onnx import TensorProto, helper

    from keras import layers as L

    w = _Writer()
    consumers = _consumers(model)
    inp = model.inputs[0]
    _, h, wd, c = inp.shape
    in_name = "image"
    if c == 1:
        x0 = w.node("Reshape", [in_name, w.const(np.array([-1, 1, h, wd], np.int64), "shape")], "to_nchw")
    else:
        x0 = w.node("Transpose", [in_name], "to_nchw", perm=[0, 3, 1, 2])
    # per layer: (ONNX value name, shape without batch: ("nchw", C, H, W) or ("flat", n))
    values: dict[int, tuple[str, tuple]] = {}
    folded: set[int] = set()
    for layer in model.layers:
        if isinstance(layer, L.InputLayer):
            values[id(layer)] = (x0, ("nchw", c, h, wd))
            continue
        if id(layer) in folded:
            continue
        srcs = _inputs_of(layer)
        x, shape = values[id(srcs[0])]
        nxt = consumers.get(id(layer), [])
        bn = nxt[0] if len(nxt) == 1 and isinstance(nxt[0], L.BatchNormalization) else None
        hint = layer.name
        if isinstance(layer, (L.Conv2D, L.DepthwiseConv2D, L.SeparableConv2D)):
            if layer.data_format != "channels_last":
                raise FeraError(f"ONNX export: {layer.name} is not channels_last")
            ch, hh, ww = shape[1:]
            pads = _pads(layer, (hh, ww))
            attrs = dict(strides=list(layer.strides), pads=pads, dilations=list(layer.dilation_rate))
            if isinstance(layer, L.SeparableConv2D):
                dk = _np(layer.depthwise_kernel)  # (kh, kw, C, 1)
                if dk.shape[3] != 1:
                    raise FeraError(f"ONNX export: {layer.name} has a depth multiplier above 1")
                x = w.node("Conv", [x, w.const(dk.transpose(2, 3, 0, 1).astype(np.float32), "dw")], hint + "_dw",
                           group=ch, kernel_shape=list(layer.kernel_size), **attrs)
                kernel = _np(layer.pointwise_kernel)  # (1, 1, C, out)
                attrs, group = dict(strides=[1, 1], pads=[0, 0, 0, 0], dilations=[1, 1]), 1
            elif isinstance(layer, L.DepthwiseConv2D):
                kernel = _np(layer.kernel)  # (kh, kw, C, 1)
                if kernel.shape[3] != 1:
                    raise FeraError(f"ONNX export: {layer.name} has a depth multiplier above 1")
                kernel, group = kernel.transpose(0, 1, 3, 2), ch  # -> (kh, kw, 1, C)
            else:
                kernel, group = _np(layer.kernel), 1  # (kh, kw, in, out)
                if layer.groups != 1:
                    raise FeraError(f"ONNX export: {layer.name} has groups")
            wk = kernel.transpose(3, 2, 0, 1)  # (out, in/group, kh, kw)
            bias = _np(layer.bias) if layer.use_bias else np.zeros(wk.shape[0])
            if bn is not None:
                scale, shift = _bn_scale_shift(bn)
                wk, bias = wk * scale[:, None, None, None], bias * scale + shift
                folded.add(id(bn))
            y = w.node("Conv", [x, w.const(wk.astype(np.float32), "W"), w.const(bias.astype(np.float32), "B")], hint,
                       group=group, kernel_shape=list(kernel.shape[:2]), **attrs)
            oh = (hh + pads[0] + pads[2] - ((kernel.shape[0] - 1) * attrs["dilations"][0] + 1)) // attrs["strides"][0] + 1
            ow = (ww + pads[1] + pads[3] - ((kernel.shape[1] - 1) * attrs["dilations"][1] + 1)) // attrs["strides"][1] + 1
            out_shape = ("nchw", wk.shape[0], oh, ow)
            act = _activation_name(layer)
            if bn is not None and act not in ("linear", None):
                raise FeraError(f"ONNX export: {layer.name} has an activation before its BatchNormalization")
            y = _act(w, y, act, hint + "_act")
            values[id(bn if bn is not None else layer)] = (y, out_shape)
            values[id(layer)] = (y, out_shape)
            continue
        if isinstance(layer, L.Dense):
            if shape[0] != "flat":
                raise FeraError(f"ONNX export: {layer.name} takes a {len(shape) - 1}-d input; add Flatten or "
                                "global pooling before it")
            kernel = _np(layer.kernel)  # (in, out)
            bias = _np(layer.bias) if layer.use_bias else np.zeros(kernel.shape[1])
            if len(shape) == 3:  # flattened from NHWC (h, w, c): reorder the rows to NCHW (c, h, w)
                ch, hh, ww = shape[2]
                kernel = kernel.reshape(hh, ww, ch, -1).transpose(2, 0, 1, 3).reshape(ch * hh * ww, -1)
            if bn is not None:
                scale, shift = _bn_scale_shift(bn)
                kernel, bias = kernel * scale[None, :], bias * scale + shift
                folded.add(id(bn))
            y = w.node("Gemm", [x, w.const(kernel.astype(np.float32), "W"), w.const(bias.astype(np.float32), "B")],
                       hint)
            y = _act(w, y, _activation_name(layer), hint + "_act")
            values[id(bn if bn is not None else layer)] = (y, ("flat", kernel.shape[1]))
            values[id(layer)] = values[id(bn if bn is not None else layer)]
            continue
        if isinstance(layer, L.BatchNormalization):  # not after a conv/dense: a per-channel affine
            scale, shift = _bn_scale_shift(layer)
            bshape = (1, -1, 1, 1) if shape[0] == "nchw" else (1, -1)
            y = w.node("Mul", [x, w.const(scale.reshape(bshape).astype(np.float32), "scale")], hint)
            y = w.node("Add", [y, w.const(shift.reshape(bshape).astype(np.float32), "shift")], hint + "_shift")
            values[id(layer)] = (y, shape)
            continue
        if isinstance(layer, L.ReLU):
            if layer.negative_slope or layer.threshold:
                raise FeraError(f"ONNX export: {layer.name} is a leaky or thresholded ReLU")
            if layer.max_value is not None:
                y = w.node("Clip", [x, w.const(np.float32(0), "zero"), w.const(np.float32(layer.max_value), "max")], hint)
            else:
                y = w.node("Relu", [x], hint)
            values[id(layer)] = (y, shape)
            continue
        if isinstance(layer, L.Activation):
            values[id(layer)] = (_act(w, x, _activation_name(layer), hint), shape)
            continue
        if isinstance(layer, L.Dropout):
            values[id(layer)] = (x, shape)
            continue
        if isinstance(layer, (L.MaxPooling2D, L.AveragePooling2D)):
            ch, hh, ww = shape[1:]
            pads = _pads(layer, (hh, ww))
            (kh, kw), (sh, sw) = layer.pool_size, layer.strides
            op = "MaxPool" if isinstance(layer, L.MaxPooling2D) else "AveragePool"
            extra = {} if op == "MaxPool" else {"count_include_pad": 0}
            y = w.node(op, [x], hint, kernel_shape=[kh, kw], strides=[sh, sw], pads=pads, **extra)
            oh = (hh + pads[0] + pads[2] - kh) // sh + 1
            ow = (ww + pads[1] + pads[3] - kw) // sw + 1
            values[id(layer)] = (y, ("nchw", ch, oh, ow))
            continue
        if isinstance(layer, L.GlobalAveragePooling2D):
            y = w.node("GlobalAveragePool", [x], hint)
            y = w.node("Flatten", [y], hint + "_flat", axis=1)
            values[id(layer)] = (y, ("flat", shape[1]))
            continue
        if isinstance(layer, L.Flatten):
            ch, hh, ww = shape[1:]
            y = w.node("Flatten", [x], hint, axis=1)
            values[id(layer)] = (y, ("flat", ch * hh * ww, (ch, hh, ww)))  # Dense reorders its rows
            continue
        if isinstance(layer, (L.Add, L.Multiply)):
            names = [values[id(s)][0] for s in srcs]
            y = names[0]
            for other in names[1:]:
                y = w.node("Add" if isinstance(layer, L.Add) else "Mul", [y, other], hint)
            values[id(layer)] = (y, shape)
            continue
        if isinstance(layer, L.Concatenate):
            if shape[0] != "nchw" or layer.axis not in (-1, 3):
                raise FeraError(f"ONNX export: {layer.name} concatenates along an axis other than channels")
            parts = [values[id(s)] for s in srcs]
            y = w.node("Concat", [p[0] for p in parts], hint, axis=1)
            values[id(layer)] = (y, ("nchw", sum(p[1][1] for p in parts), shape[2], shape[3]))
            continue
        raise FeraError(f"ONNX export: layer {layer.name} ({type(layer).__name__}) is not supported")
    last = model.outputs[0]._keras_history[0]
    y, shape = values[id(last)]
    if shape[0] != "flat":
        raise FeraError("ONNX export: the model's output is not a vector per image")
    w.nodes.append(helper.make_node("Identity", [y], [output_name], name=output_name))
    graph = helper.make_graph(
        w.nodes, model.name,
        [helper.make_tensor_value_info(in_name, TensorProto.FLOAT, ["N", h, wd, c])],
        [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, ["N", shape[1]])], w.inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="fera")
    m.ir_version = 8  # readable by ONNX Runtime 1.14+ and onnxruntime-web
    return m
