"""Synthetic plate characters, cut the way the segmenter cuts them from real plates.

A plate is rendered with edge.synth (random font, colours, weight, spacing), slightly warped,
shrunk to a realistic resolution and damaged (light, blur, noise, JPEG); then each character's
box, jittered like an imperfect segmentation, goes through edge.charimg.ink_patch and fit_patch.
"""
from __future__ import annotations

import cv2
import numpy as np

from edge import charimg, synth
from edge.types import Box

DIGITS = list("0123456789")
ALNUM = DIGITS + list("ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def make_chars(n: int, labels: list[str], seed: int, size: tuple[int, int] = (28, 28),
               strength: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """n patches (uint8, (n, H, W), ink bright on black) and their class indices."""
    rng = np.random.default_rng(seed)
    fonts = synth.find_fonts()
    xs, ys = [], []
    while len(xs) < n:
        text = "".join(rng.choice(labels, int(rng.integers(4, 9))))
        for patch, ch in plate_chars(text, rng, fonts, strength):
            xs.append(charimg.fit_patch(patch, size))
            ys.append(labels.index(ch))
    return np.stack(xs[:n]), np.array(ys[:n], np.int64)


def plate_chars(text: str, rng: np.random.Generator, fonts: tuple[str, ...],
                strength: float = 1.0, use_segmenter: bool = True) -> list[tuple[np.ndarray, str]]:
    """Render one damaged plate and cut its characters: [(ink patch, char)], with the reader's
    segmenter when it finds every character, else from the known boxes with a jittered cut."""
    style = synth.random_style(rng, fonts)
    style.char_height = int(rng.integers(24, 64))
    style.header = ""
    plate = synth.render_plate(text, rng, style, rows=1)
    image, boxes = _warp(plate.image, plate.char_boxes, rng, strength)
    image, boxes = _resample(image, boxes, rng)
    gray = cv2.cvtColor(synth.degrade(image, rng, strength), cv2.COLOR_BGR2GRAY)
    if not plate.dark_on_light:  # the localizer hands the segmenter dark-on-light crops
        gray = 255 - gray
    cut = _segmenter_patches(gray, len(plate.text)) if use_segmenter else None
    if cut is not None:
        return list(zip(cut, plate.text))
    out = []
    for box, ch in zip(boxes, plate.text):
        x0, y0, x1, y1 = _jitter(box, rng, gray.shape)
        out.append((charimg.ink_patch(gray[y0:y1, x0:x1], dark_ink=True), ch))
    return out


def _segmenter_patches(gray: np.ndarray, n: int) -> list[np.ndarray] | None:
    """The reader's own segmentation when it is available and finds exactly n characters."""
    try:
        from edge.config import SegmentConfig
        from edge.segment import segment
    except ImportError:
        return None
    try:
        chars = segment(gray, SegmentConfig())
    except Exception:  # a segmenter bug must not stop dataset generation
        return None
    return [c.patch for c in chars] if len(chars) == n else None


def _warp(image: np.ndarray, boxes: list[Box], rng, strength: float):
    """Residual rotation/shear/perspective left after the localizer's rectification."""
    h, w = image.shape[:2]
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    d = rng.normal(0, 0.025 * strength, (4, 2)) * [w * 0.3, h]
    shear = rng.normal(0, 0.025 * strength) * h
    dst = (src + d + np.float32([[shear, 0], [shear, 0], [0, 0], [0, 0]])).astype(np.float32)
    dst -= dst.min(0)
    m = cv2.getPerspectiveTransform(src, dst)
    size = (int(np.ceil(dst[:, 0].max())) + 1, int(np.ceil(dst[:, 1].max())) + 1)
    border = tuple(int(v) for v in image[1, 1])
    warped = cv2.warpPerspective(image, m, size, flags=cv2.INTER_LINEAR, borderValue=border)
    new_boxes = []
    for b in boxes:
        pts = np.float32([[b.x, b.y], [b.x + b.w, b.y], [b.x + b.w, b.y + b.h], [b.x, b.y + b.h]])
        q = cv2.perspectiveTransform(pts[None], m)[0]
        x0, y0 = np.floor(q.min(0)).astype(int)
        x1, y1 = np.ceil(q.max(0)).astype(int)
        new_boxes.append(Box(int(x0), int(y0), int(x1 - x0), int(y1 - y0)))
    return warped, new_boxes


def _resample(image: np.ndarray, boxes: list[Box], rng):
    """Shrink to a camera-like character height (10-50 px), sometimes blown up again."""
    char_h = np.median([b.h for b in boxes])
    target = rng.uniform(10, 50)
    s = min(1.0, target / char_h)
    if s > 0.95:
        return image, boxes
    small = cv2.resize(image, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
    if rng.random() < 0.3:  # upscaled by the localizer's rectification
        small = cv2.resize(small, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR)
        return small, boxes
    scaled = [Box(int(b.x * s), int(b.y * s), max(1, int(np.ceil((b.x + b.w) * s)) - int(b.x * s)),
                  max(1, int(np.ceil((b.y + b.h) * s)) - int(b.y * s))) for b in boxes]
    return small, scaled


def _jitter(b: Box, rng, shape) -> tuple[int, int, int, int]:
    """The box as an imperfect segmenter would cut it: edges off by a few % of its height."""
    e = rng.normal(0, 0.04, 4) * b.h
    if rng.random() < 0.15:  # a loose cut catching bits of neighbours / border
        e += np.abs(rng.normal(0, 0.12, 4)) * b.h * np.array([1, 0.5, 1, 0.5])
    x0 = int(np.clip(round(b.x - e[0]), 0, shape[1] - 1))
    y0 = int(np.clip(round(b.y - e[1]), 0, shape[0] - 1))
    x1 = int(np.clip(round(b.x + b.w + e[2]), x0 + 1, shape[1]))
    y1 = int(np.clip(round(b.y + b.h + e[3]), y0 + 1, shape[0]))
    return x0, y0, x1, y1
