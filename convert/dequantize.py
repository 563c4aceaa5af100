"""Float Keras weights back from an int8 TFLite export of the same architecture.

The way back to training when a shipped model's Keras weights were not kept: each int8 convolution
of the export (per-channel scales, batch normalisation folded into its weights and int32 bias) is
dequantized into the matching Keras Conv2D, in order. Each BatchNormalization after a convolution
is then set to add the folded bias, and nothing else, at the statistics `x` gives it: its moving
mean and variance are the convolution's output statistics on `x`, its scale undoes that
normalisation (gamma = sqrt(var + eps)) and its offset is mean + bias. In inference the block
computes exactly conv(x) + bias, as the export does; in training, on batches like `x`, nearly so,
so that fine-tuning starts where the export is.

    model = reader_model.build(arch); load_tflite(model, "plate.tflite", x)   # x: (N, H, W, 1) in 0..1
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from plate_edge.classify import load_interpreter_class


def int8_convolutions(path: str | Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """(kernel (kh, kw, cin, cout), bias (cout,)) in float of every CONV_2D of a TFLite file, in
    execution order."""
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
        if op["op_name"] != "CONV_2D":
            continue
        _, w, b = op["inputs"]
        kernel = value(w).transpose(1, 2, 3, 0)          # TFLite (cout, kh, kw, cin) -> Keras order
        bias = value(b) if b >= 0 else np.zeros(kernel.shape[-1])
        out.append((kernel.astype(np.float32), bias.astype(np.float32)))
    return out


def load_tflite(model, path: str | Path, x: np.ndarray, batch_size: int = 256) -> None:
    """Set `model`'s weights from the int8 TFLite file at `path` (see the module docstring)."""
    import keras
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    found = int8_convolutions(path)
    shapes = [tuple(c.kernel.shape) for c in convs]
    if [k.shape for k, _ in found] != shapes:
        raise ValueError(f"{path}: its convolutions {[k.shape for k, _ in found]} are not the model's {shapes} "
                         "(another --arch?)")
    after = {id(layer.input): layer for layer in model.layers
             if isinstance(layer, keras.layers.BatchNormalization)}
    for conv, (kernel, bias) in zip(convs, found):
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
