"""The learned plate reader: one Keras model over the whole rectified plate crop, CTC over two rows.

    input  (B, 48, 160, 1) float, pixel / 255 (gray, resized without keeping the aspect ratio)
    body   3x3 conv + BN + ReLU blocks with max-pooling down to 6 x 40
    head   Conv2D (6, 1) over the full remaining height -> 2*C channels per column, reshaped to
           (B, 2, 40, C): row 0 = the 40 columns of the top text line, row 1 = the bottom line;
           1x3 convs along each row; a 1x1 conv ("Dense") to NUM_CLASSES logits
    output (B, 80, NUM_CLASSES) logits: the 40 timesteps of row 0, then the 40 of row 1

Class 0 is the CTC blank, classes 1..36 are LABELS ("0-9A-Z"). The loss is CTC per row: row 0
must read the top line (the whole text of a one-row plate), row 1 the bottom line (nothing, i.e.
all blanks, for a one-row plate). Only int8-friendly builtins (Conv2D, BN folded, ReLU,
MaxPool, Reshape, Transpose), so the full-integer TFLite model has no float fallback.
"""
from __future__ import annotations

import numpy as np

LABELS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
BLANK = 0
NUM_CLASSES = len(LABELS) + 1
INPUT_SIZE = (48, 160)          # H, W
ROWS = 2
MAX_ROW_CHARS = 12              # longest text of one row the label tensors hold

# name -> (body stages, head channels per row, 1x3 seq convs). A stage is (channels, n_convs, pool);
# stage 0 may use a stride-2 first conv ("s2") instead of full-resolution convs.
ARCHS = {
    # the layout the issue suggested: 32 -> 64,64 -> 128,128 (231 M MAC per plate; count_macs)
    "ctc-l": dict(stem=(32, 1), stages=[(64, 2, (2, 2)), (128, 2, (2, 1))], stem_pool=(2, 2), head=128, seq=2),
    # stride-2 stem, narrower last stage (182 M MAC: it keeps the 64-channel stage at 24x80, most of the work)
    "ctc-m": dict(stem=(32, 2), stages=[(64, 2, (2, 2)), (96, 2, (2, 1))], stem_pool=None, head=96, seq=2),
    "ctc-s": dict(stem=(24, 2), stages=[(48, 2, (2, 2)), (64, 2, (2, 1))], stem_pool=None, head=64, seq=1),
    # for CPUs without an int8 dot product (56 M MAC: 1.9 ms a plate, invoke, on an AVX2-only core)
    "ctc-xs": dict(stem=(16, 2), stages=[(32, 2, (2, 2)), (64, 2, (2, 1))], stem_pool=None, head=64, seq=1),
}
DEFAULT_ARCH = "ctc-l"


def build(arch: str = DEFAULT_ARCH, input_size=INPUT_SIZE, num_classes: int = NUM_CLASSES):
    """The Keras model (logits out). Input: (B, H, W, 1) float in 0..1."""
    import keras
    from keras import layers
    cfg = ARCHS[arch]
    h, w = input_size

    def conv(x, ch, kernel=(3, 3), strides=(1, 1), padding="same", name=None):
        x = layers.Conv2D(ch, kernel, strides=strides, padding=padding, use_bias=False, name=name)(x)
        x = layers.BatchNormalization(momentum=0.9, name=None if name is None else name + "_bn")(x)
        return layers.ReLU(name=None if name is None else name + "_relu")(x)

    inp = keras.Input((h, w, 1), name="plate")
    ch, stride = cfg["stem"]
    x = conv(inp, ch, strides=(stride, stride), name="stem")
    if cfg["stem_pool"]:
        x = layers.MaxPooling2D(cfg["stem_pool"])(x)
    for k, (ch, n, pool) in enumerate(cfg["stages"]):
        for j in range(n):
            x = conv(x, ch, name=f"b{k}c{j}")
        x = layers.MaxPooling2D(pool)(x)
    fh, fw = int(x.shape[1]), int(x.shape[2])
    c = cfg["head"]
    # two-row head: the whole height of each column -> C features for row 0 and C for row 1
    x = conv(x, ROWS * c, kernel=(fh, 1), padding="valid", name="rows")        # (B, 1, fw, 2C)
    x = layers.Reshape((fw, ROWS, c))(x)                                         # (B, fw, 2, C)
    x = layers.Permute((2, 1, 3))(x)                                             # (B, 2, fw, C)
    for j in range(cfg["seq"]):
        x = conv(x, c, kernel=(1, 3), name=f"seq{j}")
    x = layers.Conv2D(num_classes, (1, 1), name="classes")(x)                    # (B, 2, fw, K)
    out = layers.Reshape((ROWS * fw, num_classes), name="logits")(x)
    return keras.Model(inp, out, name=f"plate-reader-{arch}")


def timesteps_per_row(model) -> int:
    return int(model.output_shape[1]) // ROWS


# --------------------------------------------------------------------------- labels and loss

def encode_rows(row_texts: list[str], max_len: int = MAX_ROW_CHARS) -> np.ndarray:
    """(ROWS, 1 + max_len) int32: per row its length, then its class indices (1..36), 0-padded.
    `row_texts` has one entry (one-row plate) or two (top, bottom)."""
    out = np.zeros((ROWS, 1 + max_len), np.int32)
    for r, t in enumerate(row_texts[:ROWS]):
        t = t[:max_len]
        out[r, 0] = len(t)
        out[r, 1:1 + len(t)] = [LABELS.index(ch) + 1 for ch in t]
    return out


def ctc_rows_loss(y_true, y_pred):
    """CTC per row. y_true: (B, ROWS, 1 + L) from encode_rows; y_pred: (B, ROWS*T, K) logits. Keras
    ops only, so that any Keras backend trains the reader (TensorFlow here, JAX or PyTorch on a GPU
    machine without TensorFlow)."""
    from keras import ops
    y_true = ops.cast(y_true, "int32")
    steps = int(y_pred.shape[1]) // ROWS
    total = 0.0
    for r in range(ROWS):
        logits = ops.cast(y_pred[:, r * steps:(r + 1) * steps, :], "float32")
        total = total + ops.ctc_loss(y_true[:, r, 1:], logits, y_true[:, r, 0],
                                     ops.ones_like(y_true[:, r, 0]) * steps, mask_index=BLANK)
    return total


def count_macs(model) -> int:
    """Multiply-accumulates of the conv layers for one plate (for the report)."""
    total = 0
    for layer in model.layers:
        if layer.__class__.__name__ == "Conv2D":
            kh, kw, cin, cout = layer.kernel.shape
            oh, ow = layer.output.shape[1:3]
            total += int(kh * kw * cin * cout * oh * ow)
    return total
