"""Character images: one definition of how a character patch is cut and fed to a classifier.

The segmenter (on the device) and the dataset builders (in convert/) both call these, so the
model sees at run time exactly what it saw in training.
"""
from __future__ import annotations

import cv2
import numpy as np


def ink_patch(gray: np.ndarray, dark_ink: bool = True) -> np.ndarray:
    """Turn a grayscale region holding one character into a uint8 patch, ink bright on black.

    Contrast is stretched between robust percentiles (5th and 99th), so lighting and plate colour
    do not matter.
    """
    if gray.size == 0:
        return np.zeros((1, 1), np.uint8)
    g: np.ndarray = np.asarray(gray, np.uint8)
    if dark_ink:
        g = cv2.bitwise_not(g)
    flat = g.ravel()
    k_lo, k_hi = (flat.size - 1) * 5 // 100, (flat.size - 1) * 99 // 100
    part = np.partition(flat, (k_lo, k_hi))  # two order statistics: cheaper than np.percentile
    lo, hi = float(part[k_lo]), float(part[k_hi])
    if hi - lo < 1.0:
        return np.zeros(g.shape, np.uint8)
    lut = np.clip((np.arange(256, dtype=np.float32) - lo) * (255.0 / (hi - lo)), 0, 255).astype(np.uint8)
    return cv2.LUT(g, lut)


def fit_patch(patch: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """MNIST-style framing: keep the aspect ratio, fit the longer side into 20/28 of the frame,
    centre it, pad with black. Returns uint8 of shape `size` (height, width)."""
    h_out, w_out = size
    h, w = patch.shape[:2]
    if h == 0 or w == 0:
        return np.zeros(size, np.uint8)
    inner_h, inner_w = max(1, round(h_out * 20 / 28)), max(1, round(w_out * 20 / 28))
    scale = min(inner_h / h, inner_w / w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    small = cv2.resize(patch, (nw, nh), interpolation=interp)
    out = np.zeros(size, np.uint8)
    y0, x0 = (h_out - nh) // 2, (w_out - nw) // 2
    out[y0:y0 + nh, x0:x0 + nw] = small
    return out


def to_batch(patches: list[np.ndarray], size: tuple[int, int]) -> np.ndarray:
    """Stack patches into a uint8 batch (N, H, W, 1) of framed pixel values."""
    batch = np.empty((len(patches), size[0], size[1], 1), np.uint8)
    for i, p in enumerate(patches):
        batch[i, :, :, 0] = fit_patch(p, size)
    return batch
