"""Plain values that cross module boundaries: boxes, plate candidates, character crops, readings."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np


@dataclass(frozen=True)
class Box:
    """Axis-aligned box in pixels: top-left corner and size."""
    x: int
    y: int
    w: int
    h: int

    def iou(self, other: Box) -> float:
        ix = max(0, min(self.x + self.w, other.x + other.w) - max(self.x, other.x))
        iy = max(0, min(self.y + self.h, other.y + other.h) - max(self.y, other.y))
        inter = ix * iy
        union = self.w * self.h + other.w * other.h - inter
        return inter / union if union > 0 else 0.0

    @property
    def centre(self) -> tuple[float, float]:
        return self.x + self.w / 2, self.y + self.h / 2

    def contains(self, x: float, y: float) -> bool:
        """Whether the point lies in the box (edges included)."""
        return self.x <= x <= self.x + self.w and self.y <= y <= self.y + self.h

    def as_list(self) -> list[int]:
        return [self.x, self.y, self.w, self.h]

    def clip(self, width: int, height: int) -> Box:
        """The part of the box inside a width x height frame (at least 1 x 1)."""
        x0, y0 = min(max(0, self.x), width - 1), min(max(0, self.y), height - 1)
        x1, y1 = min(width, self.x + self.w), min(height, self.y + self.h)
        return Box(x0, y0, max(1, x1 - x0), max(1, y1 - y0))


Polygon = list[tuple[float, float]]


@dataclass
class PlateCandidate:
    """A plate found in a frame: where it is and its rectified (deskewed) grayscale crop."""
    box: Box                      # in frame coordinates
    polygon: Polygon              # 4 corners in frame coordinates, clockwise from top-left
    crop: np.ndarray              # rectified grayscale plate, uint8, dark text on light background
                                  # (empty: a found plate handed to a recogniser that cuts its own)
    score: float = 0.0            # localizer's own confidence, 0..1
    char_boxes: list[Box] = field(default_factory=list)  # optional hint: boxes in crop coordinates
    to_frame: np.ndarray | None = None  # 2x3 affine mapping crop coordinates to frame coordinates


@dataclass
class CharCrop:
    """One segmented character: its box in the plate crop, its row and a white-on-black patch."""
    box: Box
    row: int
    patch: np.ndarray             # uint8, ink=255 on background=0, tight around the character


@dataclass
class PlateReading:
    """What the reader says about one plate."""
    text: str
    confidence: float
    char_confidences: list[float]
    box: Box
    polygon: Polygon
    char_boxes: list[Box]         # in frame coordinates (axis-aligned approximation)
    model_id: str
    format: str | None = None     # name of the plate format that matched, if any
    layout: str | None = None     # regions whose common layout the text follows (plate_edge.layouts)
    alternatives: list[list[tuple[str, float]]] = field(default_factory=list)  # per char top-k

    def to_json(self) -> dict:
        d = asdict(self)
        d["box"] = self.box.as_list()
        d["char_boxes"] = [b.as_list() for b in self.char_boxes]
        d["polygon"] = [[round(float(x), 1), round(float(y), 1)] for x, y in self.polygon]
        d["confidence"] = round(float(self.confidence), 4)
        d["char_confidences"] = [round(float(c), 4) for c in self.char_confidences]
        d.pop("alternatives")
        return d
