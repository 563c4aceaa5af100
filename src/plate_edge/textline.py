"""Text lines from character-like blobs: binarize, keep char-shaped components, chain them into lines.

Shared by the localizer (finding plates in a frame) and the segmenter (finding characters in a
plate), so both agree on what a character looks like. Everything is relative to the character
height, so the same rules hold for 10 px and 100 px characters.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass

import cv2
import numpy as np

# Blob columns
X, Y, W, H, AREA = range(5)
# width/height up to which a blob may be a run of touching characters (for splitting later)
RUN_ASPECT = 4.0


@dataclass
class Line:
    """Blobs (rows of an (N,5) x,y,w,h,area array) in reading order, and the line through them."""
    blobs: np.ndarray
    slope: float          # dy/dx of the character centres
    height: float         # median character height

    @property
    def angle_deg(self) -> float:
        return float(np.degrees(np.arctan(self.slope)))

    @property
    def x0(self) -> int:
        return int(self.blobs[:, X].min())

    @property
    def x1(self) -> int:
        return int((self.blobs[:, X] + self.blobs[:, W]).max())

    @property
    def cy(self) -> float:
        return float((self.blobs[:, Y] + self.blobs[:, H] / 2).mean())

    def __len__(self) -> int:
        return len(self.blobs)


def median(values) -> float:
    """np.median for the handful of numbers a line has, without numpy's per-call overhead."""
    return float(statistics.median(np.asarray(values, np.float64).ravel().tolist()))


def binarize(gray: np.ndarray, char_h: float, dark_ink: bool) -> np.ndarray:
    """Ink mask (255) by a local-mean threshold whose window follows the character size.

    The offset is a fraction of the region's contrast, so dim and bright regions behave alike.
    """
    block = max(3, int(round(char_h * 0.8)) | 1)
    sample = (gray[::4, ::4] if gray.size > 4096 else gray).ravel()
    if sample.size:
        k = [int(0.05 * (sample.size - 1)), int(0.95 * (sample.size - 1))]
        lo, hi = np.partition(sample, k)[k]
    else:
        lo = hi = 0
    offset = max(2.0, 0.08 * (float(hi) - float(lo)))
    if dark_ink:  # ink where pixel <= local mean - offset
        return cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, block, offset)
    return cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, block, -offset)


def char_blobs(mask: np.ndarray, min_h: float, max_h: float, max_aspect: float = 1.3) -> np.ndarray:
    """Connected components that could be characters: height in range, plausible width and fill.

    `max_aspect` (width/height) above ~1.3 admits touching characters, for the segmenter to split.
    """
    _, stats = components(mask)
    return stats[char_like(stats, min_h, max_h, max_aspect)].astype(np.float32)


def components(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """8-connected components of a mask: label image (0 background, i + 1 for stats row i) and
    (N,5) x,y,w,h,area stats."""
    _, labels, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(mask, 8, cv2.CV_32S, cv2.CCL_GRANA)
    return labels, stats[1:]


def char_like(s: np.ndarray, min_h: float, max_h: float, max_aspect: float = 1.3) -> np.ndarray:
    """Which stats rows (x,y,w,h,area) are character-like; see char_blobs."""
    w, h, area = s[:, W], s[:, H], s[:, AREA]
    # solid blocks are not characters, except narrow bars (1, I in plain bold fonts)
    return ((h >= min_h) & (h <= max_h) & (w <= max_aspect * h) & (w * 8 >= h)
            & (area >= 0.12 * w * h) & ((area <= 0.95 * w * h) | (w <= 0.35 * h)))


def chain_lines(blobs: np.ndarray, max_tilt_deg: float = 15.0, min_count: int = 3,
                max_gap: float = 1.4, height_ratio: float = 1.4) -> list[Line]:
    """Chain blobs left to right into lines of similar-height, evenly placed characters.

    Each blob links to its nearest right neighbour that has a similar height, lies within
    `max_gap` character heights and within the tilt cone; chains of `min_count` or more are lines.
    """
    n = len(blobs)
    if n < min_count:
        return []
    order = np.argsort(blobs[:, X])
    b = blobs[order]
    cx = b[:, X] + b[:, W] / 2
    cy = b[:, Y] + b[:, H] / 2
    h = b[:, H]
    right = b[:, X] + b[:, W]
    tan = np.tan(np.radians(max_tilt_deg))
    # all pairs at once (i: row, j: column); blob counts per region are in the hundreds at most
    hm = np.maximum(h[:, None], h[None, :])
    ratio = hm / np.minimum(h[:, None], h[None, :])
    gap = b[None, :, X] - right[:, None]
    dx = cx[None, :] - cx[:, None]
    dy = np.abs(cy[None, :] - cy[:, None])
    ok = ((dx > 0.15 * hm) & (gap > -0.15 * hm) & (gap < max_gap * hm) & (ratio < height_ratio)
          & (dy < tan * dx + 0.2 * hm))
    cost = np.where(ok, dx + 2 * dy, np.inf)
    nxt = np.where(ok.any(axis=1), cost.argmin(axis=1), -1)
    # when several blobs chose the same right neighbour, it keeps the most similar in height
    # (then the nearest): an emblem between two characters must not steal the link
    prev = np.full(n, -1)
    best = np.full(n, np.inf)
    for i in np.flatnonzero(nxt >= 0):
        j = nxt[i]
        c = 3.0 * abs(np.log(h[i] / h[j])) + 0.5 * (cx[j] - cx[i]) / h[j]
        if c < best[j]:
            prev[j], best[j] = i, c
    lines = []
    for start in np.flatnonzero((prev < 0) & (nxt >= 0) if min_count > 1 else prev < 0):
        chain = [start]
        while nxt[chain[-1]] >= 0 and prev[nxt[chain[-1]]] == chain[-1]:
            chain.append(nxt[chain[-1]])
        if len(chain) >= min_count:
            line = fit_line(b[chain])
            if line is not None and abs(line.angle_deg) <= max_tilt_deg + 1:
                lines.append(line)
    return lines


def stacked(a: Line, b: Line) -> bool:
    """b is another row of the same plate as a: overlapping columns, close above or below."""
    overlap = min(a.x1, b.x1) - max(a.x0, b.x0)
    narrow = min(a.x1 - a.x0, b.x1 - b.x0)
    dy = abs(a.cy - b.cy)
    hmax = max(a.height, b.height)
    return (overlap > 0.5 * narrow and 0.8 * hmax < dy < 2.0 * hmax
            and 0.45 < a.height / b.height < 2.2 and abs(a.angle_deg - b.angle_deg) < 8)


def fit_line(blobs: np.ndarray) -> Line | None:
    """Least-squares line through the blob centres, dropping height outliers."""
    h = blobs[:, H]
    med = median(h)
    blobs = blobs[(h > med / 1.35) & (h < med * 1.35)]
    if len(blobs) < 2:
        return None
    cx = blobs[:, X] + blobs[:, W] / 2
    cy = blobs[:, Y] + blobs[:, H] / 2
    dx = cx - cx.mean()
    var = float((dx * dx).sum())
    slope = float((dx * (cy - cy.mean())).sum() / var) if var > 0 else 0.0
    return Line(blobs=blobs, slope=slope, height=median(blobs[:, H]))


def find_lines(gray: np.ndarray, min_h: float, max_h: float, max_tilt_deg: float,
               min_count: int = 3, max_aspect: float = 1.3) -> list[tuple[Line, bool]]:
    """Lines of characters in both polarities: (line, dark_ink); see char_blobs for `max_aspect`."""
    out = []
    char_h = np.sqrt(min_h * max_h)
    for dark in (True, False):
        mask = binarize(gray, char_h, dark)
        blobs = char_blobs(mask, min_h, max_h, max_aspect)
        out += [(ln, dark) for ln in chain_lines(blobs, max_tilt_deg, min_count)]
    return out
