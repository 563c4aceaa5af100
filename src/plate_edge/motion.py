"""Motion gate: decides which frames, and which parts of them, are worth reading.

A cheap, per-camera motion mask in the manner of NVRs such as Frigate: each frame is downscaled to a
small grey image and compared with a running-average background (``cv2.accumulateWeighted``) that
follows slow light changes. Pixels that differ by more than ``threshold`` grey levels are motion; the
mask is dilated and its connected regions become boxes in frame pixels (padded, merged). A frame with
too little changed area is static and is not read, except once every ``recheck_s`` seconds (full frame),
so a static scene costs next to nothing while a parked car's plate is still read now and then.

A global light change (clouds, auto exposure) is compensated before thresholding: the background is
mapped onto the frame by a fitted gain and offset (and clipped like the sensor clips). A sudden change
(lights switched, day/night switch, most of the frame changed at once) resets the background and reads
that frame whole once.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from .types import Box

Reason = Literal["motion", "recheck", "static"]

# Share of the downscaled frame that, changed at once, is taken for a global change (lights, exposure).
_GLOBAL_CHANGE = 0.8
# A gain change of the whole picture beyond this (against the background) is a light jump.
_LIGHT_JUMP_GAIN = 0.15
# Motion regions covering more than this share of the frame are read as the full frame.
_FULL_FRAME_SHARE = 0.6


class MotionConfig(BaseModel):
    """Per-camera motion gate settings (``cameras.<name>.motion``)."""
    model_config = ConfigDict(extra="forbid")

    # None: on for live cameras (V4L2, rtsp/http, picamera2), off for files, folders, generated
    enabled: bool | None = None
    width: int = Field(default=160, ge=32, le=640)          # the frame is downscaled to this width for the difference
    threshold: int = Field(default=20, ge=1, le=255)        # grey-level change that counts as motion
    min_area: float = Field(default=0.002, ge=0.0, le=1.0)  # share of the downscaled frame that must change
    background_alpha: float = Field(default=0.05, gt=0.0, le=1.0)  # how fast the background follows light changes
    recheck_s: float = Field(default=5.0, ge=0.0)           # a static scene is still read this often
    pad: float = Field(default=0.15, ge=0.0, le=1.0)        # motion boxes are grown by this share before reading


def source_is_live(source: object) -> bool:
    """Whether a camera source (a URL, a device path or index, 'picamera2', a file, a folder,
    'generated') is a live camera."""
    if isinstance(source, int):
        return True
    s = str(source).strip().lower()
    if s.isdigit() or s.startswith("/dev/video") or s in ("picamera2", "picamera", "libcamera"):
        return True
    scheme = s.split("://", 1)[0] if "://" in s else ""
    return scheme in ("rtsp", "rtsps", "rtmp", "http", "https", "udp", "tcp", "srt")


def resolve_enabled(cfg: MotionConfig, source: object) -> bool:
    """``cfg.enabled``, or when it is None: on for live cameras, off for files, folders and generated."""
    return source_is_live(source) if cfg.enabled is None else bool(cfg.enabled)


def gate_for_camera(cam_cfg: object) -> MotionGate | None:
    """The motion gate for a camera's settings (``cam_cfg.motion``, defaults when absent), or None
    when it is off for this camera (explicitly, or by default for a file, folder or generated source)."""
    cfg = getattr(cam_cfg, "motion", None) or MotionConfig()
    if isinstance(cfg, dict):
        cfg = MotionConfig(**cfg)
    if not resolve_enabled(cfg, getattr(cam_cfg, "source", "")):
        return None
    return MotionGate(cfg.model_copy(update={"enabled": True}))


@dataclass
class MotionResult:
    run: bool                           # read this frame
    regions: list[Box] = field(default_factory=list)  # where to read, in frame pixels (full frame on recheck)
    reason: Reason = "static"
    changed: float = 0.0                # share of the downscaled frame that changed


def _light_change(g: np.ndarray, bg: np.ndarray) -> tuple[float, float]:
    """Gain and offset that best map the background onto the frame (a light or exposure change),
    from a sparse sample: least squares for the gain, then the median for the offset (robust to a
    moving object). Saturated pixels are left out; the gain is kept within [0.5, 2]."""
    ok = (g > 4) & (g < 251) & (bg > 4) & (bg < 251)
    if np.count_nonzero(ok) < 32:
        return 1.0, float(np.median(g - bg))
    x, y = bg[ok], g[ok]
    mx, my = float(x.mean()), float(y.mean())
    var = float(((x - mx) ** 2).mean())
    gain = float(((x - mx) * (y - my)).mean()) / var if var > 1.0 else 1.0
    gain = min(2.0, max(0.5, gain))
    if abs(gain - 1.0) < 0.02:
        gain = 1.0
    return gain, float(np.median(y - gain * x))


def _merge(boxes: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    """Merges overlapping or touching (x0, y0, x1, y1) boxes until none overlap."""
    out = list(boxes)
    merged = True
    while merged and len(out) > 1:
        merged = False
        i = 0
        while i < len(out):
            j = i + 1
            while j < len(out):
                a, b = out[i], out[j]
                if a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]:
                    out[i] = (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))
                    del out[j]
                    merged = True
                else:
                    j += 1
            i += 1
    return out


class MotionGate:
    """Per-camera motion gate; ``check(frame, now)`` says whether to read the frame and where."""

    def __init__(self, cfg: MotionConfig | None = None) -> None:
        self.cfg = cfg or MotionConfig()
        self._bg: np.ndarray | None = None        # float32 background, downscaled grey
        self._shape: tuple[int, int] = (0, 0)      # frame (h, w) the background belongs to
        self._last_full: float | None = None      # when the full frame was last read
        self._kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3))
        self.skipped = 0                          # frames answered run=False

    def reset(self) -> None:
        self._bg = None
        self._last_full = None

    def _small_grey(self, frame: np.ndarray) -> np.ndarray:
        h, w = frame.shape[:2]
        sw = min(self.cfg.width, w)
        sh = max(1, round(h * sw / w))
        # Sample every step-th pixel first (half the downscale factor), then average the rest:
        # a quarter of INTER_AREA's cost on the whole frame, still two-by-two averaging against noise.
        # The sampling is a nearest-neighbour resize: a fifth of a strided numpy copy's time.
        step = max(1, (w // sw) // 2)
        src = cv2.resize(frame, (-(-w // step), -(-h // step)), interpolation=cv2.INTER_NEAREST) if step > 1 else frame
        small = cv2.resize(src, (sw, sh), interpolation=cv2.INTER_AREA)
        if small.ndim == 3:
            small = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY if small.shape[2] == 3 else cv2.COLOR_BGRA2GRAY)
        return cv2.GaussianBlur(small, (3, 3), 0)

    def _full(self, reason: Reason, now: float, changed: float = 0.0) -> MotionResult:
        h, w = self._shape
        self._last_full = now
        return MotionResult(True, [Box(0, 0, w, h)], reason, changed)

    def check(self, frame: np.ndarray, now: float) -> MotionResult:
        h, w = frame.shape[:2]
        if self.cfg.enabled is False:
            self._shape = (h, w)
            return self._full("motion", now)
        grey = self._small_grey(frame)
        if self._bg is None or self._shape != (h, w) or self._bg.shape != grey.shape:
            # First frame (or a new frame size): nothing to compare with; read the scene once.
            self._shape = (h, w)
            self._bg = grey.astype(np.float32)
            return self._full("recheck", now)
        bg = self._bg
        g = grey.astype(np.float32)
        gain, shift = _light_change(g[::3, ::3], bg[::3, ::3])
        if abs(gain - 1.0) > _LIGHT_JUMP_GAIN or abs(shift) > 2 * self.cfg.threshold:
            # The light jumped (switched on, exposure step): start the background again from this
            # frame and read it whole once.
            self._bg = g
            return self._full("motion", now, 1.0)
        # The background as this light would show it, clipped like the sensor clips (saturation).
        expected = np.clip(bg * gain + shift, 0.0, 255.0)
        mask: np.ndarray = (np.abs(g - expected) > self.cfg.threshold).astype(np.uint8)
        cv2.accumulateWeighted(grey, bg, self.cfg.background_alpha)
        changed = float(cv2.countNonZero(mask)) / mask.size
        if changed >= _GLOBAL_CHANGE:
            # Most of the frame changed at once: lights, exposure or a camera knock. Start the
            # background again from this frame and read it whole once.
            self._bg = grey.astype(np.float32)
            return self._full("motion", now, changed)
        if changed <= self.cfg.min_area:
            if self._last_full is None or now - self._last_full >= self.cfg.recheck_s:
                return self._full("recheck", now, changed)
            self.skipped += 1
            return MotionResult(False, [], "static", changed)
        mask = cv2.dilate(mask, self._kernel, iterations=2)
        n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        sh, sw = mask.shape
        fx, fy = w / sw, h / sh
        min_px = max(2, int(self.cfg.min_area * mask.size * 0.1))
        boxes: list[tuple[int, int, int, int]] = []
        for i in range(1, n):
            x, y, bw, bh, area = (int(v) for v in stats[i])
            if area < min_px:
                continue
            px, py = bw * self.cfg.pad + 1, bh * self.cfg.pad + 1
            x0 = max(0, int((x - px) * fx))
            y0 = max(0, int((y - py) * fy))
            x1 = min(w, int(np.ceil((x + bw + px) * fx)))
            y1 = min(h, int(np.ceil((y + bh + py) * fy)))
            boxes.append((x0, y0, x1, y1))
        if not boxes:
            if self._last_full is None or now - self._last_full >= self.cfg.recheck_s:
                return self._full("recheck", now, changed)
            self.skipped += 1
            return MotionResult(False, [], "static", changed)
        merged = _merge(boxes)
        covered = sum((b[2] - b[0]) * (b[3] - b[1]) for b in merged)
        if covered >= _FULL_FRAME_SHARE * w * h:
            return self._full("motion", now, changed)
        return MotionResult(True, [Box(x0, y0, x1 - x0, y1 - y0) for x0, y0, x1, y1 in merged], "motion", changed)
