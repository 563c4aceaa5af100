"""Float Keras weights back from an int8 TFLite export of the same architecture.

The way back to training (or to another export) when a shipped model's Keras weights were not
kept: each int8 convolution of the export (per-channel scales, batch normalisation folded into its
weights and int32 bias) is dequantized into the matching Keras Conv2D or DepthwiseConv2D: in
execution order (the reader: one chain), or `by_name` (a graph with branches, whose execution order
the converter may change: the plate detector) by the layer names the export keeps, a name given in
the code matched as is and Keras' numbered ones (conv2d_7; a depthwise one's weights are named
after a layer fused into it, batch_normalization_9 or re_lu_9) by their order of creation. Each
BatchNormalization after a convolution is then set to add the folded bias, and nothing else, at
the statistics `x` gives it: its moving mean and variance are the convolution's output statistics
on `x`, its scale undoes that normalisation (gamma = sqrt(var + eps)) and its offset is mean +
bias. In inference the block computes exactly conv(x) + bias, as the export does; in training,
on batches like `x`, nearly so, so that fine-tuning starts where the export is.

    model = reader_model.build(arch); load_tflite(model, "plate.tflite", x)   # x: (N, H, W, 1) in 0..1
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from plate_edge.classify import load_interpreter_class

CONVOLUTIONS = {"CONV_2D": "Conv2D", "DEPTHWISE_CONV_2D": "DepthwiseConv2D"}   # TFLite op -> Keras layer
_NUMBERED = re.compile(r"^(conv2d|depthwise_conv2d)(_\d+)?$")   # a convolution Keras has named itself


@dataclass
class Convolution:
    kind: str            # the Keras layer class: Conv2D or DepthwiseConv2D
    name: str            # the layer name in the export (a depthwise one's: a layer fused into it)
    kernel: np.ndarray   # Keras order: (kh, kw, cin, cout), depthwise (kh, kw, c, 1)
    bias: np.ndarray     # (cout,)


def int8_convolutions(path: str | Path) -> list[Convolution]:
    """Every CONV_2D and DEPTHWISE_CONV_2D of a TFLite file in float, in execution order."""
    interpreter = load_interpreter_class()
    # no XNNPACK: it packs constant tensors away, and they are what is read here (each runtime's
    # interpreter module defines OpResolverType)
    resolver = sys.modules[interpreter.__module__].OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    interp = interpreter(model_path=str(path), experimental_op_resolver_type=resolver)
    interp.allocate_tensors()
    tensors = {t["index"]: t for t in interp.get_tensor_details()}

    def value(index: int) -> np.ndarray:
        q = tensors[index]["quantization_parameters"]
        raw = interp.get_tensor(index).astype(np.float64)
        scales, zeros = np.asarray(q["scales"], np.float64), np.asarray(q["zero_points"], np.float64)
        if len(scales) <= 1:      # float, or one scale for the tensor
            return (raw - zeros.sum()) * (scales.sum() if len(scales) else 1.0)
        shape = [1] * raw.ndim
        shape[q["quantized_dimension"]] = -1
        return (raw - zeros.reshape(shape)) * scales.reshape(shape)

    out = []
    for op in interp._get_ops_details():
        kind = CONVOLUTIONS.get(op["op_name"])
        if kind is None:
            continue
        _, w, b = op["inputs"]
        weights = value(w)
        # TFLite (cout, kh, kw, cin) -> Keras order; depthwise (1, kh, kw, c) -> (kh, kw, c, 1)
        kernel = weights[0][..., None] if kind == "DepthwiseConv2D" else weights.transpose(1, 2, 3, 0)
        bias = value(b) if b >= 0 else np.zeros(weights.shape[0 if kind == "Conv2D" else -1])
        scopes = tensors[w]["name"].split("/")
        out.append(Convolution(kind, scopes[1] if len(scopes) > 1 else scopes[0], kernel.astype(np.float32),
                               bias.astype(np.float32)))
    if all(c.name.endswith("_1") for c in out):     # the scope suffix of a Keras 3 export
        for c in out:
            c.name = c.name[:-2]
    return out


def _number(name: str) -> int:
    """The number Keras appended to a layer name (conv2d_7 -> 7; conv2d -> 0)."""
    m = re.search(r"_(\d+)$", name)
    return int(m.group(1)) if m else 0


def _by_name(layers: list, found: list[Convolution], path) -> list[Convolution]:
    """`found` in the order of `layers`: names given in the code as is, the others (Keras' own
    numbering) by their number's rank among the convolutions of their kind."""
    given = {layer.name for layer in layers if not _NUMBERED.match(layer.name)}

    def keys(named: list[tuple[str, str]]) -> list[tuple[str, str, int]]:
        numbered = {kind: sorted(_number(n) for k, n in named if k == kind and n not in given) for kind, _ in named}
        return [(kind, name, 0) if name in given else (kind, "#", numbered[kind].index(_number(name)))
                for kind, name in named]

    theirs = dict(zip(keys([(c.kind, c.name) for c in found]), found))
    ours = keys([(type(layer).__name__, layer.name) for layer in layers])
    if len(theirs) != len(found) or sorted(theirs) != sorted(ours):
        raise ValueError(f"{path}: its convolutions {sorted(theirs)} do not name the model's {sorted(ours)}")
    return [theirs[k] for k in ours]


def load_tflite(model, path: str | Path, x: np.ndarray, batch_size: int = 256, by_name: bool = False) -> None:
    """Set `model`'s weights from the int8 TFLite file at `path` (see the module docstring)."""
    import keras
    convs = [layer for layer in model.layers if type(layer).__name__ in CONVOLUTIONS.values()]
    found = int8_convolutions(path)
    if by_name:
        found = _by_name(convs, found, path)
    shapes = [tuple(c.kernel.shape) for c in convs]
    if [c.kernel.shape for c in found] != shapes:
        raise ValueError(f"{path}: its convolutions {[c.kernel.shape for c in found]} are not the model's {shapes} "
                         "(another --arch?)")
    after = {id(layer.input): layer for layer in model.layers
             if isinstance(layer, keras.layers.BatchNormalization)}
    for conv, c in zip(convs, found):
        kernel, bias = c.kernel, c.bias
        bn = after.get(id(conv.output))
        if bn is None:                           # the last convolution keeps its own bias
            conv.set_weights([kernel, bias])
            continue
        conv.set_weights([kernel])
        z = keras.Model(model.input, conv.output).predict(x, batch_size=batch_size, verbose=0)
        z = z.reshape(-1, z.shape[-1]).astype(np.float64)
        mean, var = z.mean(axis=0), z.var(axis=0)
        bn.set_weights([np.sqrt(var + bn.epsilon).astype(np.float32), (mean + bias).astype(np.float32),
                        mean.astype(np.float32), var.astype(np.float32)])
