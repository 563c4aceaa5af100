"""The `generated` camera source: synthetic plates driving across a scene, one after another.

Built on plate_edge.sim.synth (plate renderer and background). Used by the demo, the daemon tests and the
bench, and by `write_clip` to make a video file. Deterministic for a given seed.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..source import EndOfStream, GeneratedSourceConfig
from . import synth

__all__ = ["GeneratedSource", "GeneratedSourceConfig", "write_clip"]


@dataclass
class _Pass:
    text: str
    plate: np.ndarray             # BGR, already scaled to the configured width
    body_colour: tuple[int, int, int]


class GeneratedSource:
    """Frames at cfg.fps: each plate crosses the scene in seconds_per_plate, then a gap."""

    def __init__(self, cfg: GeneratedSourceConfig):
        self.cfg = cfg
        self.pace_fps = cfg.fps
        rng = np.random.default_rng(cfg.seed)
        self.background = _background(cfg.width, cfg.height)
        fonts = synth.find_fonts()
        style = synth.PlateStyle(font=fonts[0] if fonts else None, char_height=48)
        self.passes = [self._make_pass(text, rng, style) for text in cfg.plates]
        self.frames_per_pass = max(1, round(cfg.seconds_per_plate * cfg.fps))
        self.frames_per_gap = max(0, round(cfg.gap_s * cfg.fps))
        self.n = 0

    def _make_pass(self, text: str, rng: np.random.Generator, style) -> _Pass:
        img = synth.render_plate(text, rng, style=style).image
        scale = self.cfg.plate_width / img.shape[1]
        img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        b, g, r = (int(v) for v in rng.integers(30, 200, 3))
        colour = (b, g, r)
        return _Pass(text, img, colour)

    @property
    def period(self) -> int:
        return self.frames_per_pass + self.frames_per_gap

    def read(self) -> np.ndarray:
        k, pos = divmod(self.n, self.period)
        if k >= len(self.passes):
            if not self.cfg.loop:
                raise EndOfStream()
            k %= len(self.passes)
        self.n += 1
        frame = self.background.copy()
        if pos < self.frames_per_pass:
            self._draw(frame, self.passes[k], pos / max(1, self.frames_per_pass - 1))
        return frame

    def _draw(self, frame: np.ndarray, p: _Pass, progress: float) -> None:
        h_img, w_img = frame.shape[:2]
        ph, pw = p.plate.shape[:2]
        # the whole plate stays in view: it travels from the left margin to the right margin
        x0 = int(0.03 * w_img + progress * (0.94 * w_img - pw))
        y0 = int(h_img * 0.6 - ph / 2 + 0.05 * h_img * np.sin(progress * np.pi))
        bw, bh = int(pw * 2.2), int(ph * 3.2)
        bx, by = x0 + pw // 2 - bw // 2, y0 - int(bh * 0.55)
        cv2.rectangle(frame, (bx, by), (bx + bw, by + bh), p.body_colour, -1)
        frame[y0:y0 + ph, x0:x0 + pw] = p.plate

    def close(self) -> None:
        pass


def _background(w: int, h: int) -> np.ndarray:
    """A plain street: sky gradient, road, kerb. No text, so nothing but the plates reads as one."""
    t = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    sky = np.array([200, 170, 140], np.float32) * (1 - t) + np.array([90, 90, 90], np.float32) * t
    img = np.broadcast_to(sky, (h, w, 3)).astype(np.uint8).copy()
    cv2.rectangle(img, (0, int(h * 0.8)), (w, h), (70, 70, 70), -1)
    cv2.line(img, (0, int(h * 0.8)), (w, int(h * 0.8)), (160, 160, 160), 3)
    return img


def write_clip(cfg: GeneratedSourceConfig, path: str, fourcc: str = "mp4v") -> int:
    """Render the whole (non-looping) sequence into a video file; returns the frame count."""
    src = GeneratedSource(cfg)
    writer = cv2.VideoWriter(path, cv2.VideoWriter.fourcc(*fourcc), cfg.fps, (cfg.width, cfg.height))
    if not writer.isOpened():
        raise RuntimeError(f"cannot write video {path}")
    n = 0
    try:
        for _ in range(src.period * len(src.passes)):
            writer.write(src.read())
            n += 1
    finally:
        writer.release()
    return n
