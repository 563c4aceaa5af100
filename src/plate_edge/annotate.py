"""Draw readings on a copy of an image: plate outline, character boxes, text and confidence."""
from __future__ import annotations

import cv2
import numpy as np

from .types import PlateReading


def draw_readings(image: np.ndarray, readings: list[PlateReading]) -> np.ndarray:
    """A BGR copy of `image` (BGR, BGRA or gray) with each reading drawn on it."""
    if image.ndim == 2:
        out = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    elif image.shape[2] == 4:
        out = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    else:
        out = image.copy()
    if out.dtype != np.uint8:
        out = cv2.normalize(out, np.empty_like(out), 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    thick = max(1, round(max(out.shape[:2]) / 640))
    for r in readings:
        poly = np.round(np.asarray(r.polygon, np.float32)).astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(out, [poly], True, (0, 220, 0), thick, cv2.LINE_AA)
        for b in r.char_boxes:
            cv2.rectangle(out, (b.x, b.y), (b.x + b.w, b.y + b.h), (255, 160, 0), 1)
        label = f"{r.text} {r.confidence:.2f}"
        scale = 0.5 * thick
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
        x = int(min(p[0] for p in r.polygon))
        y = int(min(p[1] for p in r.polygon)) - 4
        if y - th < 0:
            y = int(max(p[1] for p in r.polygon)) + th + 4
        x = max(0, min(x, out.shape[1] - tw))
        cv2.rectangle(out, (x, y - th - base), (x + tw, y + base), (0, 0, 0), -1)
        cv2.putText(out, label, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 255, 255), thick, cv2.LINE_AA)
    return out
