"""Plate verification: is what the detector found a plate? (no TensorFlow here)

The detector fires on headlights, grilles, badges and shop signs as well as plates (about 1.2 such
detections per real frame), and the reader spends a model run on each before its reading is
dropped. The verifier (trained and exported by `python -m convert.train_verifier`) is a tiny int8
classifier that looks at each detection cut out upright (`cut`: its quadrilateral grown by the
model's margin, scaled to a small fixed input) and gives the probability that it is a plate; a
detection below its threshold is not read, so the reading work of a frame follows the plates in
view rather than its clutter. Everything it needs (input size, margin, threshold) is in the
model's "plate_edge" metadata entry.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .classify import ModelError, _input_lut, _quant, open_model, resolve_model_path
from .detect import Detection, DetectorConfig, order_quad, rectify
from .recognise import prepare, softmax

MODEL_KIND = "plate_verifier"
MAX_CUT_SCALE = 4   # a plate is cut at its own resolution up to this many times the input, then area-scaled


def cut(gray: np.ndarray, quad, size_hw: tuple[int, int], margin: float) -> np.ndarray:
    """The quadrilateral (clockwise from top-left) warped upright with `margin` (a share of its
    width and height) on every side, at its own resolution (capped), then area-scaled to
    `size_hw`: uint8 (H, W). The training side (convert.train_verifier) cuts with this function."""
    q = order_quad(quad)
    qh = 0.5 * float(np.linalg.norm(q[3] - q[0]) + np.linalg.norm(q[2] - q[1])) * (1 + 2 * margin)
    h, w = size_hw
    out_h = int(np.clip(round(qh), h, MAX_CUT_SCALE * h))
    return prepare(rectify(gray, q, out_h, out_h * w // h, margin), size_hw)


class PlateVerifier:
    """An int8 TFLite plate/not-plate classifier: `keep(gray, detections)` -> the plates."""

    def __init__(self, interpreter, meta: dict, path: str, threshold: float | None = None):
        self.path, self.meta = path, meta
        self.input_hw: tuple[int, int] = (int(meta["input_size"][0]), int(meta["input_size"][1]))
        self.margin = float(meta.get("margin", 0.1))
        self.threshold = float(threshold if threshold is not None else meta.get("threshold", 0.5))
        self.model_id = str(meta.get("model_id", Path(path).stem))
        self._interp = interpreter
        inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
        if tuple(int(v) for v in inp["shape"][1:3]) != self.input_hw:
            raise ModelError(f"{path}: input shape {list(inp['shape'])} does not match the metadata "
                             f"input_size {list(self.input_hw)}")
        if int(out["shape"][-1]) != 2:
            raise ModelError(f"{path}: expected 2 outputs (other, plate), the model has {out['shape'][-1]}")
        self._in_index, self._out_index = inp["index"], out["index"]
        norm = meta.get("normalization", {})
        self._lut = _input_lut(float(norm.get("mean", 0.0)), float(norm.get("std", 255.0)), _quant(inp))
        self._out_q = _quant(out)
        self._batch = int(inp["shape"][0])

    @classmethod
    def load(cls, path: str | Path, threads: int = 1, threshold: float | None = None) -> PlateVerifier:
        interp, meta = open_model(path, threads, lambda m: m.get("kind") == MODEL_KIND and "input_size" in m,
                                  "a plate verifier's kind and input_size", "python -m convert.train_verifier")
        return cls(interp, meta, str(path), threshold)

    @classmethod
    def from_config(cls, cfg: DetectorConfig, base_dir: str | Path | None = None) -> PlateVerifier:
        """The verifier of `cfg.verifier` (a shipped model's name or a path, relative to `base_dir`,
        the config file's folder, then to the working directory) at `cfg.verify_threshold` (None:
        its own), as PlateDetector.from_config loads the detector; a ModelError names the setting
        `reader.detector.verifier`."""
        try:
            return cls.load(resolve_model_path(cfg.verifier, base_dir), cfg.threads, cfg.verify_threshold)
        except ModelError as exc:
            raise ModelError(str(exc), "reader.detector.verifier") from exc

    def scores(self, cuts: list[np.ndarray]) -> np.ndarray:
        """P(plate) of each cut (uint8 of input_hw), in one invoke."""
        n = len(cuts)
        if n == 0:
            return np.zeros(0, np.float32)
        if self._batch != n:
            self._interp.resize_tensor_input(self._in_index, [n, *self.input_hw, 1])
            self._interp.allocate_tensors()
            self._batch = n
        self._interp.set_tensor(self._in_index, np.take(self._lut, np.stack(cuts))[..., None])
        self._interp.invoke()
        logits = self._out_q.dequantize(self._interp.get_tensor(self._out_index))
        return softmax(logits)[:, 1]

    def keep(self, gray: np.ndarray, found: list[Detection]) -> list[Detection]:
        """The detections of a grayscale frame this verifier takes for plates (P >= threshold)."""
        if not found:
            return []
        p = self.scores([cut(gray, d.quad, self.input_hw, self.margin) for d in found])
        return [d for d, s in zip(found, p) if s >= self.threshold]
