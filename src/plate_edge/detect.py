"""Learned plate detector: one int8 TFLite invoke per frame finds every plate (no TensorFlow here).

The model (trained and exported by `python -m convert.train_detector`) is CenterNet-like and
anchor-free. It takes the grayscale frame letterboxed into a fixed input (scaled to fit, top-left,
the rest zero) and predicts, on a grid of `stride` input pixels:

- `heatmap` (1 channel, sigmoid): how likely each cell lies in the central region of a plate
  (trained with every cell of that region positive, FCOS-like, and a Gaussian-softened ring);
- `regression` (12 channels): the plate centre relative to the cell (dx, dy, in cells), log of the box size
  in cells (log w, log h), and the plate's 4 corners, clockwise from top-left, relative to the
  centre in units of the box size ((x - cx) / w, (y - cy) / h), which give a quadrilateral.

Decoding: cells that are a local maximum of the heatmap (3x3 max-pool equality) above the score
threshold, greedy non-maximum suppression on their boxes, the best `max_plates`. Refining: the
best `refine_max` detections are looked at once more in the frame zoomed about each so that it is
`refine_width` input pixels wide, the plate size the detector was trained on most (its boxes of
much larger or smaller plates are loose), and take the box and corners found there; one the
whole-frame look saw within `refine_within` of that width already keeps its first box. Tiles
(`tiles`: always, or "unread": the reader asks again for a frame where nothing read): the frame
is looked at once more in 2x2 overlapping tiles, each letterboxed like a frame, so a plate is
about 1.6 times as many input pixels wide as in the whole-frame look: small plates (40-80 px in a
1280x720 frame) give the heatmap too little to fire on. The zoom-out look (`frame_plate`, which
the reader asks of a whole frame smaller than the input or wider than CROP_ASPECT): is the frame
a plate crop? Letterboxed, such a frame is zoomed up until the plate fills the input, far beyond
the sizes the detector learned, and its characters look like plates of their own; shrunk to
ZOOM_OUT_WIDTH input pixels it shows one plate spanning it. Everything the
decoder needs (input size, stride, threshold, output layout) is in the model's "plate_edge"
metadata entry. `rectify` warps a detected quadrilateral to an upright crop for the reader.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
from pydantic import Field, field_validator

from .classify import ModelError, open_model, resolve_model_path
from .settings import Settings
from .types import Box

REG_CHANNELS = ("dx", "dy", "log_w", "log_h",
                "q0x", "q0y", "q1x", "q1y", "q2x", "q2y", "q3x", "q3y")
MODEL_KIND = "plate_detector"
MAX_ZOOM = 4.0   # refining never enlarges a detection more than this (tiny plates stay blurred anyway)
TILE_SHARE = 0.6  # each of the 2x2 tiles spans this share of the frame's width and height (they overlap
# by a fifth of the frame: a plate up to 256 px wide in a 1280-px frame lies whole in one)
ZOOM_OUT_WIDTH = 130  # the zoom-out look shows a frame this many input pixels wide (the plate size the
# detector was trained on most), and a plate found there ...
ZOOM_OUT_SHARE = 0.5  # ... at least this share of the frame's width is the frame itself (a plate crop)
CROP_ASPECT = 2.5     # a frame wider than this (width / height) is no camera's picture but may be a plate


class DetectorConfig(Settings):
    """Settings of the learned plate detector (`reader.detector`), with the learned reader only.
    `localizer` says when the hand-written localizer runs too: "fallback" (on frames where the
    detector finds no plate), "beside" (on every frame; the detected plates no localizer plate
    overlaps are read too) or "off"."""
    model: str = "plate-detector"    # "" (off), a shipped model name or a .tflite path
    score_threshold: float | None = Field(0.4, gt=0, lt=1)  # None: the model's own (its best F1 alone);
    # lower: the reader's confidence drops what is no plate
    max_plates: int = Field(8, ge=1, le=100)
    nms_iou: float = Field(0.4, gt=0, le=1)
    refine_width: int = Field(130, ge=0, le=400)  # 0: off; else the best detections are detected again in
    # the frame zoomed so that each is this many input pixels wide (see config.yaml for figures)
    refine_max: int = Field(1, ge=0, le=100)  # the best this many detections of a frame are refined
    # (one more invoke each, about 2.5 ms); the rest keep their first boxes
    refine_within: float = Field(1.25, ge=1, le=4)  # ... unless the first look saw them within this factor
    # of refine_width wide already: refining would look at them at about the same size (1: always refine)
    overlap: float = Field(0.2, ge=0, le=1)  # beside: a detection overlapping a localizer plate more (IoU) is it
    crop_margin_x: float = Field(0.04, ge=0, le=1)  # detected outlines are cut this share of their width
    # wider on each side (its boxes are loose at the text's ends)
    localizer: Literal["fallback", "beside", "off"] = "fallback"   # see config.yaml for figures
    tiles: Literal["off", "unread", "always"] = "unread"   # the frame is also looked at in 2x2 tiles, which
    # finds plates 40-80 px wide in a 1280x720 frame: never, when nothing in it reads (the reader looks
    # again; not on a motion-gated camera), or always (twice the cost); see config.yaml for figures
    verifier: str = "plate-verifier"  # "" (off), a shipped model name or a .tflite path (python -m
    # convert.train_verifier): a detection it takes for no plate (a headlight, grille, badge) is not read
    verify_threshold: float | None = Field(None, gt=0, lt=1)   # None: the verifier's own (see config.yaml)
    threads: int = Field(1, ge=1, le=64)

    @field_validator("localizer", "tiles", mode="before")
    @classmethod
    def _bare_off(cls, value):
        return "off" if value is False else value   # YAML reads a bare `off` as false

    @field_validator("tiles", mode="before")
    @classmethod
    def _bare_on(cls, value):
        return "always" if value is True else value   # ... and `on` or `true` as true


@dataclass
class Detection:
    box: Box                                  # axis-aligned, frame pixels
    quad: list[tuple[float, float]]           # 4 corners, clockwise from top-left, frame pixels
    score: float                              # heatmap peak, 0..1


def spans(plate: Detection, width: int, height: int = 0) -> bool:
    """Whether a plate found in a crop look spans an image `width` px wide (and `height` px high):
    ZOOM_OUT_SHARE of each."""
    return plate.box.w >= ZOOM_OUT_SHARE * width and plate.box.h >= ZOOM_OUT_SHARE * height


# ---------------------------------------------------------------------- pure decoding

def letterbox_scale(shape: tuple[int, ...], size_hw: tuple[int, int]) -> float:
    """The scale at which a frame of `shape` (h, w, ...) fits (h, w) `size_hw`: letterbox's."""
    return min(size_hw[1] / shape[1], size_hw[0] / shape[0])


def letterbox(gray: np.ndarray, size_hw: tuple[int, int]) -> tuple[np.ndarray, float]:
    """The frame scaled to fit (h, w), at the top-left of a zero canvas, and its scale."""
    h, w = gray.shape[:2]
    H, W = size_hw
    s = letterbox_scale(gray.shape, size_hw)
    nw, nh = max(1, min(W, int(round(w * s)))), max(1, min(H, int(round(h * s))))
    if s < 1:
        small = shrink(gray, (nw, nh))
    elif (nw, nh) != (w, h):
        small = cv2.resize(gray, (nw, nh), interpolation=cv2.INTER_LINEAR)
    else:
        small = gray
    if (nh, nw) == (H, W):
        return np.ascontiguousarray(small), s
    canvas = np.zeros((H, W), np.uint8)
    canvas[:nh, :nw] = small
    return canvas, s


def shrink(gray: np.ndarray, size_wh: tuple[int, int]) -> np.ndarray:
    """The image shrunk to (w, h) `size_wh`, averaging as INTER_AREA does: by the whole factor k
    first (OpenCV's fast k x k block mean; the last w % k columns and h % k rows dropped), then the
    rest (a factor over 1/2) bilinearly. A 1280x720 frame to 626x352 in 0.2 ms instead of INTER_AREA's
    1.9 at once (one thread, AMD EPYC), its pixels 0.6-2 grey levels from INTER_AREA's on average."""
    h, w = gray.shape[:2]
    k = min(w // size_wh[0], h // size_wh[1])
    if k >= 2:
        gray = cv2.resize(gray[:h - h % k, :w - w % k], (w // k, h // k), interpolation=cv2.INTER_AREA)
    if gray.shape[1::-1] == tuple(size_wh):
        return gray
    return cv2.resize(gray, size_wh, interpolation=cv2.INTER_LINEAR if k >= 2 else cv2.INTER_AREA)


def zoom_onto(gray: np.ndarray, zoom: float, tx: float, ty: float, size_wh: tuple[int, int]) -> np.ndarray:
    """The image mapped by x' = zoom * x + tx, y' = zoom * y + ty onto a (w, h) `size_wh` canvas, its
    border repeated. Zoomed out (zoom < 1), the part the canvas shows is first shrunk averaging
    (shrink), as warpAffine cannot: its bilinear sampling alone skips pixels and aliases edges."""
    w, h = size_wh
    if zoom >= 1:
        return cv2.warpAffine(gray, np.array([[zoom, 0, tx], [0, zoom, ty]], np.float32), (w, h),
                              flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    fh, fw = gray.shape[:2]
    x0, y0 = max(0, int(-tx / zoom) - 1), max(0, int(-ty / zoom) - 1)
    x1, y1 = min(fw, int(np.ceil((w - tx) / zoom)) + 2), min(fh, int(np.ceil((h - ty) / zoom)) + 2)
    if x1 - x0 < 2 or y1 - y0 < 2:      # the canvas shows nothing of the image but its repeated border
        x0, y0, x1, y1 = 0, 0, fw, fh
    part = gray[y0:y1, x0:x1]
    sw, sh = max(1, round(part.shape[1] * zoom)), max(1, round(part.shape[0] * zoom))
    small = shrink(part, (sw, sh))
    sx, sy = sw / part.shape[1], sh / part.shape[0]
    # a pixel u of `small` is the part's (u + 0.5) / s - 0.5 (pixel centres), which the canvas shows at zoom
    # times that plus the shifts
    m = np.array([[zoom / sx, 0, zoom * (x0 + 0.5 / sx - 0.5) + tx],
                  [0, zoom / sy, zoom * (y0 + 0.5 / sy - 0.5) + ty]], np.float32)
    return cv2.warpAffine(small, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def peaks(heat: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of 3x3 local maxima of a 2-D heatmap at or above threshold."""
    heat = np.asarray(heat, np.float32)
    pooled = cv2.dilate(heat, np.ones((3, 3), np.uint8))  # 3x3 max-pool, same size
    rows, cols = np.nonzero((heat == pooled) & (heat >= threshold))
    return rows, cols


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> list[int]:
    """Greedy non-maximum suppression on (N, 4) x0, y0, x1, y1 boxes; kept indices, best first."""
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    areas = np.maximum(0, boxes[:, 2] - boxes[:, 0]) * np.maximum(0, boxes[:, 3] - boxes[:, 1])
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        ix = np.clip(np.minimum(boxes[i, 2], boxes[rest, 2]) - np.maximum(boxes[i, 0], boxes[rest, 0]), 0, None)
        iy = np.clip(np.minimum(boxes[i, 3], boxes[rest, 3]) - np.maximum(boxes[i, 1], boxes[rest, 1]), 0, None)
        inter = ix * iy
        union = areas[i] + areas[rest] - inter
        order = rest[inter <= iou * np.maximum(union, 1e-9)]
    return keep


def decode(heat: np.ndarray, reg: np.ndarray, stride: int, threshold: float, max_plates: int = 8,
           nms_iou: float = 0.4) -> list[tuple[float, np.ndarray, np.ndarray]]:
    """Heatmap (h, w) and regression (h, w, 12) -> [(score, box x0 y0 x1 y1, quad (4, 2))] in
    input pixels, best first."""
    rows, cols = peaks(heat, threshold)
    if rows.size == 0:
        return []
    r = reg[rows, cols].astype(np.float32)
    scores = heat[rows, cols].astype(np.float32)
    cx = (cols + r[:, 0]) * stride
    cy = (rows + r[:, 1]) * stride
    w = np.exp(np.clip(r[:, 2], -3, 7)) * stride
    h = np.exp(np.clip(r[:, 3], -3, 7)) * stride
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1)
    quads = np.stack([cx[:, None] + r[:, 4::2] * w[:, None], cy[:, None] + r[:, 5::2] * h[:, None]], 2)
    keep = nms(boxes, scores, nms_iou)[:max_plates]
    return [(float(scores[i]), boxes[i], quads[i]) for i in keep]


def order_quad(quad: np.ndarray) -> np.ndarray:
    """4 points clockwise from top-left (image coordinates, y down)."""
    q = np.asarray(quad, np.float64).reshape(4, 2)
    c = q.mean(0)
    ang = np.arctan2(q[:, 1] - c[1], q[:, 0] - c[0])
    q = q[np.argsort(ang)]                       # clockwise on screen, starting somewhere
    start = int(np.argmin(q[:, 0] + q[:, 1]))    # top-left: smallest x + y
    return np.roll(q, -start, axis=0)


def rectify(frame: np.ndarray, quad, out_h: int, out_w: int | None = None,
            margin: float = 0.1) -> np.ndarray:
    """Warp the plate quadrilateral (clockwise from top-left) to an upright out_h x out_w crop
    with `margin` (a fraction of the plate's width and height) kept on every side. out_w None:
    from the quad's own aspect ratio."""
    q = order_quad(quad).astype(np.float32)
    if out_w is None:
        qw = 0.5 * float(np.linalg.norm(q[1] - q[0]) + np.linalg.norm(q[2] - q[3]))
        qh = 0.5 * float(np.linalg.norm(q[3] - q[0]) + np.linalg.norm(q[2] - q[1]))
        out_w = max(8, int(round(out_h * qw / max(qh, 1e-6))))
    pw, ph = out_w / (1 + 2 * margin), out_h / (1 + 2 * margin)
    mx, my = margin * pw, margin * ph
    dst = np.array([[mx, my], [mx + pw, my], [mx + pw, my + ph], [mx, my + ph]], np.float32)
    m = cv2.getPerspectiveTransform(q, dst)
    return cv2.warpPerspective(frame, m, (int(out_w), int(out_h)), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)


# ---------------------------------------------------------------------- the device runtime

class PlateDetector:
    """An int8 TFLite plate detector: `detect(frame)` -> [Detection], best first."""

    def __init__(self, interpreter, meta: dict, path: str, cfg: DetectorConfig | None = None):
        self.path, self.meta = path, meta
        self.cfg = cfg or DetectorConfig(model=path)
        self.input_hw: tuple[int, int] = (int(meta["input_size"][0]), int(meta["input_size"][1]))
        self.stride = int(meta["stride"])
        self.threshold = float(self.cfg.score_threshold if self.cfg.score_threshold is not None
                               else meta.get("score_threshold", 0.3))
        # a tile's detection must pass the model's own threshold (its best F1 alone), not only the
        # reader's lower one: four more looks, zoomed, see four times the clutter
        self.tile_threshold = max(self.threshold, float(meta.get("score_threshold", self.threshold)))
        self.model_id = str(meta.get("model_id", Path(path).stem))
        self._interp = interpreter
        inp = interpreter.get_input_details()[0]
        if tuple(int(v) for v in inp["shape"][1:3]) != self.input_hw:
            raise ModelError(f"{path}: input shape {list(inp['shape'])} does not match the metadata "
                             f"input_size {list(self.input_hw)}")
        self._in_index = inp["index"]
        norm = meta.get("normalization", {})
        values = (np.arange(256, dtype=np.float32) - float(norm.get("mean", 0.0))) / float(norm.get("std", 255.0))
        scale, zero = inp["quantization"]
        if inp["dtype"] == np.float32 or scale == 0:
            self._lut = values.astype(inp["dtype"])
        else:
            info = np.iinfo(inp["dtype"])
            self._lut = np.clip(np.round(values / scale + zero), info.min, info.max).astype(inp["dtype"])
        self._heat: dict | None = None
        self._reg: dict | None = None
        for out in interpreter.get_output_details():
            ch = int(out["shape"][-1])
            if ch == 1:
                self._heat = out
            elif ch == len(REG_CHANNELS):
                self._reg = out
        if self._heat is None or self._reg is None:
            raise ModelError(f"{path}: expected a 1-channel heatmap and a {len(REG_CHANNELS)}-channel "
                             "regression output")

    @classmethod
    def load(cls, path: str | Path, threads: int = 1, cfg: DetectorConfig | None = None) -> PlateDetector:
        interp, meta = open_model(
            path, threads, lambda m: m.get("kind") == MODEL_KIND and "input_size" in m and "stride" in m,
            "a plate detector's kind, input_size and stride", "python -m convert.train_detector")
        return cls(interp, meta, str(path), cfg)

    @classmethod
    def from_config(cls, cfg: DetectorConfig, base_dir: str | Path | None = None) -> PlateDetector:
        """The detector of `cfg.model` (a shipped model's name or a path, relative to `base_dir`,
        the config file's folder, then to the working directory); a ModelError names the setting
        `reader.detector.model`."""
        try:
            return cls.load(resolve_model_path(cfg.model, base_dir), cfg.threads, cfg)
        except ModelError as exc:
            raise ModelError(str(exc), "reader.detector.model") from exc

    def raw(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """Dequantized heatmap (h, w), regression (h, w, 12) and the letterbox scale of a frame."""
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
        canvas, s = letterbox(gray, self.input_hw)
        self._interp.set_tensor(self._in_index, np.take(self._lut, canvas)[None, :, :, None])
        self._interp.invoke()
        assert self._heat is not None and self._reg is not None
        return self._get(self._heat)[0, :, :, 0], self._get(self._reg)[0], s

    def _get(self, out: dict) -> np.ndarray:
        q = self._interp.get_tensor(out["index"])
        scale, zero = out["quantization"]
        return q if out["dtype"] == np.float32 or scale == 0 else (q.astype(np.float32) - zero) * scale

    def look(self, gray: np.ndarray) -> list[Detection]:
        """The whole-frame look of a grayscale frame: one invoke, unrefined (detect's first step)."""
        return self._detect(gray, 1.0, 0.0, 0.0)

    def detect(self, frame: np.ndarray, tiles: bool | None = None,
               first: list[Detection] | None = None) -> list[Detection]:
        """Plates in a BGR or grayscale frame, best first, at most cfg.max_plates (refined); with the
        2x2-tile look too when `tiles` says so (None: when cfg.tiles is "always"). `first`: the
        frame's whole-frame look (`look`) when it was made already."""
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
        found = self.look(gray) if first is None else first
        if self.cfg.tiles == "always" if tiles is None else tiles:
            found = self._with_tiles(gray, found)
        if not self.cfg.refine_width:
            return found
        out: list[Detection] = []
        s = letterbox_scale(gray.shape, self.input_hw)   # the first look's scale
        for d in [d if self._seen_at_size(d, s) else self.refine(gray, d)
                  for d in found[:self.cfg.refine_max]] + found[self.cfg.refine_max:]:
            if all(d.box.iou(o.box) <= self.cfg.nms_iou for o in out):   # two may settle on one plate
                out.append(d)
        return out

    def _seen_at_size(self, d: Detection, scale: float) -> bool:
        """Whether the first look (at `scale`) saw `d` within refine_within of refine_width wide."""
        f = self.cfg.refine_within
        return f > 1 and self.cfg.refine_width / f <= d.box.w * scale <= self.cfg.refine_width * f

    def frame_plate(self, gray: np.ndarray) -> Detection | None:
        """The plate a grayscale frame that may be a plate crop (smaller than the model's input, or
        wider than CROP_ASPECT) is, if it is one: the crop look's plate when it spans the frame
        (spans). detect() zooms such a frame up and sees its characters as plates of their own."""
        (fh, fw), (h, w) = gray.shape[:2], self.input_hw
        if not (fh < h and fw < w or fw > CROP_ASPECT * fh):
            return None
        plate = self.crop_look(gray)
        return plate if plate is not None and spans(plate, fw) else None

    def crop_look(self, gray: np.ndarray) -> Detection | None:
        """The best detection in a grayscale image looked at zoomed out, ZOOM_OUT_WIDTH input pixels
        wide (the plate size the detector learned most, if the image is a plate crop): where the
        plate of a crop is, and whether it spans the crop (spans) or is loose in it."""
        fh, fw = gray.shape[:2]
        return self._best_about(gray, Box(0, 0, fw, fh), min(ZOOM_OUT_WIDTH / fw, MAX_ZOOM))

    def refine(self, gray: np.ndarray, det: Detection) -> Detection:
        """The detection found again in the frame zoomed about it (refine_width input pixels wide):
        the box and corners of the zoomed detection whose centre lies in `det`, with det's score;
        `det` itself when there is none."""
        b = det.box
        best = self._best_about(gray, b, min(self.cfg.refine_width / max(1, b.w), MAX_ZOOM))
        return det if best is None else Detection(box=best.box, quad=best.quad, score=det.score)

    def _best_about(self, gray: np.ndarray, b: Box, zoom: float) -> Detection | None:
        """The best detection centred in `b` when the frame is zoomed by `zoom` about b's centre (the
        frame's border repeated around it), its box clipped to the frame; None if there is none."""
        cx, cy = b.centre
        h, w = self.input_hw
        tx, ty = w / 2 - zoom * cx, h / 2 - zoom * cy
        zoomed = zoom_onto(gray, zoom, tx, ty, (w, h))
        inside = [e for e in self._detect(zoomed, zoom, tx, ty) if b.contains(*e.box.centre)]
        if not inside:
            return None
        best = max(inside, key=lambda e: e.score)
        return Detection(box=best.box.clip(gray.shape[1], gray.shape[0]), quad=best.quad, score=best.score)

    def _with_tiles(self, gray: np.ndarray, found: list[Detection]) -> list[Detection]:
        """`found` (the whole-frame look's detections) and, best first, those of 2x2 overlapping tiles
        (TILE_SHARE of the frame each) that pass tile_threshold and are no plate already kept: a
        tile's detection overlapping a kept one, or centred in it, is that plate or a part of it
        cut by the tile's edge."""
        fh, fw = gray.shape[:2]
        tw, th = int(round(fw * TILE_SHARE)), int(round(fh * TILE_SHARE))
        tiled: list[Detection] = []
        for y0 in (0, fh - th):
            for x0 in (0, fw - tw):
                tiled += self._detect(gray[y0:y0 + th, x0:x0 + tw], 1.0, -float(x0), -float(y0))
        out = list(found)
        for d in sorted(tiled, key=lambda d: -d.score):
            if d.score >= self.tile_threshold and all(
                    d.box.iou(o.box) <= self.cfg.nms_iou and not o.box.contains(*d.box.centre) for o in out):
                out.append(d)
        return sorted(out, key=lambda d: -d.score)[:self.cfg.max_plates]

    def _detect(self, gray: np.ndarray, zoom: float, tx: float, ty: float) -> list[Detection]:
        """Detections of one invoke, mapped back through x_frame = (x_image - tx) / zoom."""
        heat, reg, s = self.raw(gray)
        fh, fw = gray.shape[:2]
        out = []
        for score, box, quad in decode(heat, reg, self.stride, self.threshold, self.cfg.max_plates,
                                       self.cfg.nms_iou):
            x0, y0 = max(0.0, box[0] / s), max(0.0, box[1] / s)
            x1, y1 = min(float(fw), box[2] / s), min(float(fh), box[3] / s)
            if x1 - x0 < 2 or y1 - y0 < 2:
                continue
            x0, x1, y0, y1 = (x0 - tx) / zoom, (x1 - tx) / zoom, (y0 - ty) / zoom, (y1 - ty) / zoom
            q = order_quad((quad / s - [tx, ty]) / zoom)
            out.append(Detection(box=Box(int(round(x0)), int(round(y0)), int(round(x1 - x0)), int(round(y1 - y0))),
                                 quad=[(float(x), float(y)) for x, y in q], score=score))
        return out
