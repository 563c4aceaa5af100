"""Learned plate reading: one int8 TFLite model reads a whole rectified plate crop (CTC, two rows).

The model (built and exported by `python -m convert.train_reader`) takes a gray crop resized to
its input size without keeping the aspect ratio and gives, for each of `rows` x `timesteps`
frames (the columns of row 0, then those of row 1), logits over `blank + labels`. Greedy CTC
decoding per row: argmax per frame, collapse repeats, drop blanks. Row 0 holds the whole text of
a one-row plate (row 1 then emits only blanks) or the top line of a two-row plate.

No TensorFlow here: numpy, OpenCV and the TFLite runtime that classify.py loads.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from .classify import ModelError, _input_lut, _quant, open_model

LEAN_EDGE_PERCENTILE = 90   # lean(): the strongest tenth of a cut's edges ...
LEAN_MAX = 0.5               # ... that stand within this shear of vertical ...
LEAN_RIM = 6                 # ... away from the top and bottom sixth of the cut ...
LEAN_MIN_EDGES = 20          # ... and at least this many of them


@dataclass
class RawReading:
    """What the model read on one crop, before any format/layout decoding."""
    text: str                                   # greedy CTC text, reading order (top row first)
    probs: np.ndarray                           # (len(text), len(labels)): each character's row,
                                                # renormalised over the non-blank labels
    char_probs: list[float]                     # probability of each chosen character (its frame's
                                                # softmax value, blank included in the denominator)
    positions: list[tuple[int, float, float]]   # (row, x0, x1) per character, x in input fractions
    rows: list[int]                             # row of each character (0 top)
    two_row: bool = False                       # whether row 1 emitted anything
    frames: list[tuple[int, int]] = field(default_factory=list)  # (row, frame) of each char's best frame
    classes: list[int] = field(default_factory=list)            # model class of each character
    frame_probs: np.ndarray | None = None       # (rows * T, 1 + len(labels)) the softmax frames read

    def boxes(self, width: int, height: int) -> list[tuple[int, int, int, int]]:
        """Each character's (x, y, w, h) in a crop of width x height: x from the CTC frames, y the
        whole height (one-row plate) or the character's half (two-row plate)."""
        out = []
        for row, x0, x1 in self.positions:
            y0, y1 = (0.0, 1.0) if not self.two_row else (0.5 * row, 0.5 * row + 0.5)
            xa, xb = int(round(x0 * width)), int(round(x1 * width))
            ya, yb = int(round(y0 * height)), int(round(y1 * height))
            out.append((xa, ya, max(1, xb - xa), max(1, yb - ya)))
        return out


def softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def prepare(crop: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """BGR or gray crop -> gray uint8 (H, W) of `size` (H, W), aspect ratio not kept. The training
    side (convert.reader_data) uses this same function."""
    if crop.ndim == 3:
        crop = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY if crop.shape[2] == 3 else cv2.COLOR_BGRA2GRAY)
    h, w = size
    if crop.shape[0] == h and crop.shape[1] == w:
        return np.ascontiguousarray(crop, np.uint8)
    shrink = crop.shape[0] > h and crop.shape[1] > w
    return cv2.resize(crop, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def smooth(cut: np.ndarray, sigma: float) -> np.ndarray:
    """A prepared cut smoothed by a Gaussian of `sigma` model-input pixels (0: as it is): real
    plates carry fine detail (grain, embossing, JPEG, sharpening halos) the rendered plates the
    model learned from lack. The device (reader.learned.input_blur) and the training report
    (convert.train_reader) read through this one function."""
    return cv2.GaussianBlur(cut, (0, 0), sigma) if sigma > 0 else cut


def lean(cut: np.ndarray) -> float:
    """How far the characters of a prepared cut lean: the shear (x shift per y, model-input
    pixels; positive when their feet lie right of their tops) of its strong near-vertical edges,
    the gradient-weighted median of -gy/gx over them (a stroke x = x0 + k y has gy = -k gx). 0 when
    the cut has too few such edges to say."""
    g = cut.astype(np.float32)
    gx = cv2.Sobel(g, cv2.CV_32F, 1, 0)
    gy = cv2.Sobel(g, cv2.CV_32F, 0, 1)
    mag = np.hypot(gx, gy)
    k = -gy / np.where(np.abs(gx) > 1e-6, gx, 1e-6)
    rim = g.shape[0] // LEAN_RIM
    edge = (mag > np.percentile(mag, LEAN_EDGE_PERCENTILE)) & (np.abs(k) < LEAN_MAX) & (np.abs(gx) > 1)
    edge[:rim] = edge[-rim:] = False          # the plate's own top and bottom edges, frames
    if edge.sum() < LEAN_MIN_EDGES:
        return 0.0
    w, v = mag[edge], k[edge]
    order = np.argsort(v)
    c = np.cumsum(w[order])
    return float(v[order][np.searchsorted(c, c[-1] / 2)])


def ctc_greedy(probs: np.ndarray, labels: str | list[str], blank: int = 0, rows: int = 2) -> RawReading:
    """Greedy CTC decode of (rows * T, K) per-frame probabilities (softmax over blank + labels).

    Per row: argmax per frame, collapse repeats, drop blanks. A character's probability row is the
    softmax row of its highest-scoring frame in its run, renormalised over the non-blank labels;
    its x range runs from the first to the last frame of its run, widened by half a frame on each
    side, as a fraction of the input width."""
    probs = np.asarray(probs, np.float32)
    k = probs.shape[-1]
    steps = probs.shape[0] // rows
    keep = [c for c in range(k) if c != blank]
    label_of = {c: str(labels[i]) for i, c in enumerate(keep)}
    text, char_rows, chars, char_p, positions, frames, classes = [], [], [], [], [], [], []
    for r in range(rows):
        p = probs[r * steps:(r + 1) * steps]
        best = p.argmax(axis=1)
        t = 0
        while t < steps:
            c = int(best[t])
            end = t
            while end + 1 < steps and best[end + 1] == c:
                end += 1
            if c != blank:
                f = t + int(p[t:end + 1, c].argmax())
                row = p[f, keep]
                chars.append(row / max(float(row.sum()), 1e-12))
                char_p.append(float(p[f, c]))
                text.append(label_of[c])
                char_rows.append(r)
                positions.append((r, max(0.0, (t - 0.5) / steps), min(1.0, (end + 1.5) / steps)))
                frames.append((r, f))
                classes.append(c)
            t = end + 1
    table = np.stack(chars) if chars else np.zeros((0, len(keep)), np.float32)
    return RawReading(text="".join(text), probs=table.astype(np.float32), char_probs=char_p,
                      positions=positions, rows=char_rows, two_row=any(r > 0 for r in char_rows),
                      frames=frames, classes=classes, frame_probs=probs)


def ctc_log_likelihood(frames: np.ndarray, seqs: list[list[int]], blank: int = 0) -> np.ndarray:
    """log P(seq | frames) under CTC (the training loss, negated) for every frame matrix and class
    sequence: frames (N, T, K) softmax rows, M sequences -> (N, M). The forward algorithm over the
    blank-extended sequences, vectorised over N and M."""
    n, steps, _ = frames.shape
    m = len(seqs)
    width = 2 * max((len(q) for q in seqs), default=0) + 1
    ext = np.full((m, width), blank, np.int64)
    for i, q in enumerate(seqs):
        ext[i, 1:2 * len(q):2] = q
    ends = np.array([2 * len(q) for q in seqs], np.int64)          # the last blank of each
    skip = np.zeros((m, width), bool)                                # s-2 -> s: between two labels
    skip[:, 2:] = (ext[:, 2:] != blank) & (ext[:, 2:] != ext[:, :-2])
    valid = np.arange(width)[None, :] <= ends[:, None]
    emit = np.log(np.maximum(frames, 1e-30))[:, :, ext]                # (N, T, M, S)
    alpha = np.full((n, m, width), -np.inf)
    alpha[:, :, :2] = emit[:, 0, :, :2]
    alpha = np.where(valid, alpha, -np.inf)
    pad = np.full((n, m, 2), -np.inf)
    for t in range(1, steps):
        shifted = np.concatenate([pad, alpha], axis=2)
        alpha = np.logaddexp(alpha, shifted[:, :, 1:-1])
        alpha = np.where(skip, np.logaddexp(alpha, shifted[:, :, :-2]), alpha) + emit[:, t]
        alpha = np.where(valid, alpha, -np.inf)
    last = np.take_along_axis(alpha, np.broadcast_to(ends[None, :, None], (n, m, 1)), axis=2)[..., 0]
    before = np.take_along_axis(alpha, np.broadcast_to(np.maximum(ends - 1, 0)[None, :, None], (n, m, 1)),
                                axis=2)[..., 0]
    return np.logaddexp(last, np.where(ends > 0, before, -np.inf))


class PlateRecogniser:
    """An int8 TFLite CTC plate reader with the `plate_edge` metadata of convert.train_reader."""

    def __init__(self, interpreter, meta: dict, path: str):
        if meta.get("decoder") != "ctc":
            raise ModelError(f"{path}: not a plate reader model (metadata decoder is "
                             f"{meta.get('decoder')!r}, expected 'ctc')")
        self.path = path
        self.meta = meta
        self.labels: list[str] = [str(x) for x in meta["labels"]]
        in_h, in_w = (int(v) for v in meta["input_size"])
        self.input_size: tuple[int, int] = (in_h, in_w)
        self.model_id: str = str(meta.get("model_id", Path(path).stem))
        self.blank = int(meta.get("blank_index", 0))
        self.rows = int(meta.get("rows", 2))
        self.timesteps = int(meta.get("timesteps_per_row", 0))
        norm = meta.get("normalization", {})
        self._logits = meta.get("output", "logits") == "logits"
        self._interp = interpreter
        inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
        self._in_index, self._out_index = inp["index"], out["index"]
        self._in_shape = tuple(int(v) for v in inp["shape"][1:])
        self._in_lut = _input_lut(float(norm.get("mean", 0.0)), float(norm.get("std", 255.0)),
                                  _quant(inp))
        self._out_q = _quant(out)
        self._dynamic_batch = inp["shape_signature"][0] == -1
        self._batch = int(inp["shape"][0])
        classes = int(out["shape"][-1])
        if classes != len(self.labels) + 1:
            raise ModelError(f"{path}: model has {classes} classes but {len(self.labels)} labels + blank "
                             "in its metadata")
        if self.timesteps and int(out["shape"][-2]) != self.rows * self.timesteps:
            raise ModelError(f"{path}: model has {out['shape'][-2]} frames, metadata says "
                             f"{self.rows} x {self.timesteps}")

    @classmethod
    def load(cls, path: str | Path, threads: int = 1) -> PlateRecogniser:
        interp, meta = open_model(path, threads, lambda m: "labels" in m and "input_size" in m,
                                  "labels and input_size", "python -m convert.train_reader")
        return cls(interp, meta, str(path))

    def frame_probs(self, crops: list[np.ndarray]) -> np.ndarray:
        """(N, rows * T, 1 + len(labels)) per-frame probabilities, one invoke per crop (or one for
        all when the model's batch is dynamic)."""
        n = len(crops)
        if n == 0:
            return np.zeros((0, self.rows * max(1, self.timesteps), len(self.labels) + 1), np.float32)
        batch = np.stack([prepare(c, self.input_size) for c in crops])[..., None]
        batch = np.take(self._in_lut, batch)
        if self._dynamic_batch:
            if self._batch != n:
                self._interp.resize_tensor_input(self._in_index, [n, *self._in_shape])
                self._interp.allocate_tensors()
                self._batch = n
            out = self._invoke(batch)
        else:
            out = np.concatenate([self._invoke_padded(batch[i:i + self._batch])
                                  for i in range(0, n, self._batch)])
        out = self._out_q.dequantize(out)
        return softmax(out) if self._logits else out

    def _invoke(self, batch: np.ndarray) -> np.ndarray:
        self._interp.set_tensor(self._in_index, batch)
        self._interp.invoke()
        return self._interp.get_tensor(self._out_index).copy()

    def _invoke_padded(self, batch: np.ndarray) -> np.ndarray:
        n = len(batch)
        if n < self._batch:
            batch = np.concatenate([batch, np.zeros((self._batch - n,) + batch.shape[1:], batch.dtype)])
        return self._invoke(batch)[:n]

    def recognise(self, crops: list[np.ndarray]) -> list[RawReading]:
        """Read each plate crop (BGR or gray): greedy CTC text, per-character probability rows,
        positions and rows."""
        return [ctc_greedy(p, self.labels, self.blank, self.rows) for p in self.frame_probs(crops)]
