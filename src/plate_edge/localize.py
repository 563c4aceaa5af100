"""Plate localization: where are the plates in a frame, and their deskewed crops.

Two steps. Cheap proposals on downscaled copies (dense vertical edges, one octave per range of
plate widths) say where text could be; each proposal is then checked at full resolution by
finding a line of character-like blobs in either polarity (plate_edge.textline). The fitted text line
gives the tilt, which the crop undoes; light-on-dark plates are inverted so every crop is dark
text on a light background (the background pinched between bold strokes, which the other
polarity's threshold can cut into a "ghost" line of characters, is told apart by its level).
Text with no plate outline near it (writing on walls and signs) is dropped before it costs a
segmentation.
"""
from __future__ import annotations

import math

import cv2
import numpy as np
from pydantic import Field, model_validator

from .settings import Settings
from .textline import RUN_ASPECT, H, Line, W, X, Y, find_lines, median, stacked
from .types import Box, PlateCandidate


class LocalizeConfig(Settings):
    """Settings of the plate finder (`reader.localize`)."""
    min_plate_width: int = Field(60, ge=8, le=7680)
    max_plate_width: int = Field(400, ge=8, le=7680)
    max_tilt_deg: float = Field(15.0, ge=0, le=45)
    max_plates: int = Field(8, ge=1, le=100)
    proposal_width: float = Field(36.0, ge=4, le=1000)  # px a plate of min width spans in the proposal image
    min_line_chars: int = Field(3, ge=1, le=20)   # character-like blobs in a row for a region to count as text
    crop_char_height: int = Field(32, ge=8, le=256)     # plate crops are scaled so characters are this tall
    crop_work_height: int = Field(160, ge=16, le=4096)  # read_crop: larger plate images are downscaled
    polarity_doubt: float = Field(0.5, ge=0, le=100)  # other polarity's text with this share of the ink:
                                                      # polarity in doubt (see config.yaml)
    pad_x: float = Field(0.5, ge=0, le=10)        # plate outline left/right of the characters, in char heights
    pad_y: float = Field(0.35, ge=0, le=10)       # plate outline above/below the characters
    crop_pad_x: float = Field(3.0, ge=0, le=20)   # crop for the segmenter: wider, keeps characters missed here
    crop_pad_y: float = Field(0.5, ge=0, le=10)
    min_edge_contrast: float = Field(0.03, ge=0, le=1)  # frames: drop text with no plate outline near it

    @model_validator(mode="after")
    def _widths(self) -> LocalizeConfig:
        if self.min_plate_width > self.max_plate_width:
            raise ValueError(f"min_plate_width: must be <= max_plate_width "
                             f"({self.min_plate_width} > {self.max_plate_width})")
        return self


class Localizer:
    def __init__(self, cfg: LocalizeConfig):
        self.cfg = cfg

    def find(self, gray: np.ndarray, zones: list | None = None) -> list[PlateCandidate]:
        """Plates in a grayscale frame, best first, at most cfg.max_plates."""
        cfg = self.cfg
        found: list[tuple[list[Line], bool]] = []
        for roi, min_h, max_h in self._regions(gray):
            x0, y0, x1, y1 = roi
            region = gray[y0:y1, x0:x1]
            # big characters need no full resolution to be found: work where the smallest is ~9 px
            f = min(1.0, 9.0 / min_h)
            if f < 0.9:
                region = cv2.resize(region, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
            else:
                f = 1.0
            lines = find_lines(region, min_h * f, max_h * f, cfg.max_tilt_deg, cfg.min_line_chars)
            for group, dark in _plates_from_lines(lines):
                found.append(([_shift(_scale(ln, 1.0 / f), x0, y0) for ln in group], dark))
        maybe = [self._candidate(gray, group, dark, bounded=True)
                 for group, dark in _dedupe(found, gray, cfg.polarity_doubt)]
        cands = [c for c in maybe if c is not None and in_zones(c.box, zones)]
        cands.sort(key=lambda c: -c.score)
        return cands[:cfg.max_plates]

    def from_crop(self, gray: np.ndarray) -> PlateCandidate | None:
        """The plate in an image that is already a plate (with some margin); None if no text line."""
        found = self.crop_candidates(gray)
        return found[0] if found else None

    def crop_candidates(self, gray: np.ndarray) -> list[PlateCandidate]:
        """from_crop's plate, then - only when the polarity is in doubt, i.e. the best text of the
        other polarity has cfg.polarity_doubt of its ink or more - that text as a second candidate,
        for the classifier to settle. [] if no text line."""
        h = gray.shape[0]
        scale = min(1.0, self.cfg.crop_work_height / h)
        small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else gray
        sh = small.shape[0]
        groups = []
        # the image is known to hold a plate: if no line of single characters shows, its
        # characters may run together (blur, tight spacing) - try again with runs of them
        for aspect in (1.3, RUN_ASPECT):
            lines = find_lines(small, 0.18 * sh, 0.95 * sh, self.cfg.max_tilt_deg, 2, max_aspect=aspect)
            groups = sorted(_plates_from_lines(lines, min_chars=2), key=lambda g: -_ink(g[0]))
            if groups:
                break
        if not groups:
            return []
        picks = [groups[0]]
        other = next((g for g in groups if g[1] != groups[0][1]), None)
        if other is not None and _ink(other[0]) >= self.cfg.polarity_doubt * _ink(groups[0][0]):
            picks.append(other)
        # the whole image is the plate: keep its full width, so characters the text line
        # missed (touching the frame, beyond a separator) still reach the segmenter
        found = [self._candidate(gray, [_scale(ln, 1.0 / scale) for ln in group], dark,
                                 span=(0.0, float(gray.shape[1]))) for group, dark in picks]
        return [c for c in found if c is not None]

    # ------------------------------------------------------------------ proposals

    def _regions(self, gray: np.ndarray) -> list[tuple[tuple[int, int, int, int], float, float]]:
        """Full-resolution regions to search, with the character-height range each may hold."""
        cfg = self.cfg
        H_, W_ = gray.shape[:2]
        out = []
        lo = float(cfg.min_plate_width)
        while lo <= cfg.max_plate_width:
            hi = min(float(cfg.max_plate_width), lo * 3)
            rois = []
            for x, y, w, h in _merge_rects(_edge_proposals(gray, lo, hi, cfg.proposal_width)):
                mx, my = 0.15 * w + h, 1.2 * h  # tall enough for the other row of a two-row plate
                rois.append((max(0, int(x - mx)), max(0, int(y - my)), min(W_, int(x + w + mx)),
                             min(H_, int(y + h + my)), h))
            for x0, y0, x1, y1, h in _drop_covered(rois):
                # characters are 10-15% of a one-row plate's width, up to ~45% on two-row plates;
                # the edge blob bounds them too, unless clutter has grown it
                out.append(((x0, y0, x1, y1), max(6.0, 0.1 * lo), max(8.0, min(0.5 * hi, 1.4 * h))))
            lo *= 3
        return out

    # ------------------------------------------------------------------ crops

    def _candidate(self, gray: np.ndarray, lines: list[Line], dark: bool,
                   span: tuple[float, float] | None = None, bounded: bool = False) -> PlateCandidate | None:
        """A deskewed crop around the text lines, cfg.crop_pad_x wider or spanning `span` (frame x0,
        x1). With `bounded`, None for text without a plate outline close above and below it."""
        cfg = self.cfg
        blobs = _blobs(lines)
        slope = float(np.average([ln.slope for ln in lines], weights=[len(ln) for ln in lines]))
        theta = math.atan(slope)
        c, s = math.cos(theta), math.sin(theta)
        char_h = median(blobs[:, H])
        # corners of every blob in the deskewed frame (u along the text line, v across)
        xs = np.concatenate([blobs[:, X], blobs[:, X] + blobs[:, W]] * 2)
        ys = np.concatenate([blobs[:, Y]] * 2 + [blobs[:, Y] + blobs[:, H]] * 2)
        cx0, cy0 = float(xs.mean()), float(ys.mean())
        u = c * (xs - cx0) + s * (ys - cy0)
        v = -s * (xs - cx0) + c * (ys - cy0)
        if bounded and cfg.min_edge_contrast > 0:
            # the text band from the blob centres: tilted blobs' boxes overstate it
            vc = -s * (blobs[:, X] + blobs[:, W] / 2 - cx0) + c * (blobs[:, Y] + blobs[:, H] / 2 - cy0)
            band = (u.min(), u.max(), vc.min() - char_h / 2, vc.max() + char_h / 2)
            if _edge_contrast(gray, c, s, cx0, cy0, band, char_h) < cfg.min_edge_contrast:
                return None
        k = cfg.crop_char_height / char_h
        if span is None:
            u0, u1 = u.min() - cfg.crop_pad_x * char_h, u.max() + cfg.crop_pad_x * char_h
        else:
            u0, u1 = min(u.min(), c * (span[0] - cx0)), max(u.max(), c * (span[1] - cx0))
        crop, m = _warp(gray, c, s, cx0, cy0, u0, u1,
                        v.min() - cfg.crop_pad_y * char_h, v.max() + cfg.crop_pad_y * char_h, k)
        if not dark:
            crop = 255 - crop
        # the plate outline: the characters plus the usual plate margin
        pu, pv = cfg.pad_x * char_h, cfg.pad_y * char_h
        uu = [u.min() - pu, u.max() + pu, u.max() + pu, u.min() - pu]
        vv = [v.min() - pv, v.min() - pv, v.max() + pv, v.max() + pv]
        poly = np.array([[cx0 + c * a - s * b, cy0 + s * a + c * b] for a, b in zip(uu, vv)])
        H_, W_ = gray.shape[:2]
        x0, y0 = np.clip(poly.min(axis=0), 0, None)
        x1, y1 = min(W_, poly[:, 0].max()), min(H_, poly[:, 1].max())
        if x1 - x0 < 2 or y1 - y0 < 2:
            return None
        box = Box(int(x0), int(y0), int(round(x1 - x0)), int(round(y1 - y0)))
        # character boxes in crop coordinates, as a hint for the segmenter
        hints = []
        for bx, by, bw, bh, _ in blobs:
            pts = np.array([[bx, by, 1], [bx + bw, by + bh, 1]], np.float64) @ m.T
            hints.append(Box(int(pts[:, 0].min()), int(pts[:, 1].min()),
                             int(abs(pts[1, 0] - pts[0, 0])), int(abs(pts[1, 1] - pts[0, 1]))))
        n = len(blobs)
        score = n / (n + 2.0) * (1.0 - min(0.5, float(np.std(blobs[:, H]) / char_h)))
        return PlateCandidate(box=box, polygon=[(float(px), float(py)) for px, py in poly], crop=crop,
                              score=score, char_boxes=hints, to_frame=cv2.invertAffineTransform(m))


# ---------------------------------------------------------------------- helpers

def _warp(gray, c, s, cx0, cy0, u0, u1, v0, v1, k):
    """Rotate by the text angle (cos c, sin s) about (cx0, cy0), cut [u0,u1]x[v0,v1], scale by k."""
    out_w, out_h = max(8, int(round((u1 - u0) * k))), max(8, int(round((v1 - v0) * k)))
    m = k * np.array([[c, s, -c * cx0 - s * cy0 - u0],
                      [-s, c, s * cx0 - c * cy0 - v0]], np.float64)
    crop = cv2.warpAffine(gray, m, (out_w, out_h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return crop, m


def _edge_contrast(gray, c, s, cx0, cy0, extent, char_h) -> float:
    """How clearly text sits on a bounded plate: the strongest change of the row-mean intensity
    (over a tenth of a character height) within 1.5 character heights above the text and the
    same below, the weaker side, relative to the text's own contrast. A plate's outline (or
    frame, bumper) shows within that reach; writing on a wall, a sign or a truck side does not."""
    u0, u1, v0, v1 = extent
    k = min(1.0, 32.0 / char_h)
    reach = 1.5 * char_h
    band, _ = _warp(gray, c, s, cx0, cy0, u0, u1, v0 - reach, v1 + reach, k)
    n, d = int(round(reach * k)), max(1, int(round(0.1 * char_h * k)))
    if len(band) < 2 * n + 2 or n <= 2 * d:
        return 0.0
    rows = band.mean(axis=1)
    text = band[n:len(band) - n].ravel()
    q = [int(0.1 * (text.size - 1)), int(0.9 * (text.size - 1))]
    lo, hi = np.partition(text, q)[q]
    contrast = float(hi) - float(lo) + 1.0
    steps = np.abs(rows[d:] - rows[:-d])
    # steps[i] spans rows i..i+d: keep those wholly outside the text, not at its own edge
    above, below = steps[:n - 2 * d], steps[len(band) - n + d:]
    return float(min(above.max(), below.max())) / contrast


def _edge_proposals(gray: np.ndarray, min_w: float, max_w: float, work_w: float) -> list[tuple]:
    """Rectangles (full-res x, y, w, h) of dense vertical edges, for plates min_w..max_w wide.

    The image is scaled so the narrowest plate of the range is `work_w` px wide; characters are
    then a few px apart and a closing of that size fuses a plate's strokes into one blob.
    """
    s = min(1.0, work_w / min_w)
    g = _shrink(gray, s) if s < 1 else gray
    gx = cv2.convertScaleAbs(cv2.Sobel(g, cv2.CV_16S, 1, 0, ksize=3))
    t, _ = cv2.threshold(gx, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    edges = ((gx > max(t, 24)) * 255).astype(np.uint8)
    kw = max(3, int(round(min_w * s * 0.18)))
    m = cv2.morphologyEx(edges, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (kw, 3)))
    m = cv2.morphologyEx(m, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (max(3, kw // 2), 3)))
    _, _, st, _ = cv2.connectedComponentsWithStatsWithAlgorithm(m, 8, cv2.CV_32S, cv2.CCL_GRANA)
    x, y, w, h, a = st[1:].T
    keep = (w >= 0.5 * min_w * s) & (w <= 1.5 * max_w * s) & (h >= 4) & (w >= h) & (a >= 0.3 * w * h)
    return [(float(x_) / s, float(y_) / s, float(w_) / s, float(h_) / s)
            for x_, y_, w_, h_ in zip(x[keep], y[keep], w[keep], h[keep])]


def _shrink(gray: np.ndarray, s: float) -> np.ndarray:
    """Downscale by s < 1. Above 1/2, a 3x3 blur then bilinear sampling does for edge finding
    what area averaging does, at a quarter of the cost."""
    if s < 0.5:
        return cv2.resize(gray, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
    return cv2.resize(cv2.GaussianBlur(gray, (3, 3), 0), None, fx=s, fy=s, interpolation=cv2.INTER_LINEAR)


def _merge_rects(rects: list[tuple]) -> list[tuple]:
    """Drop rectangles mostly inside a kept one of similar height (same text seen twice)."""
    rects = sorted(rects, key=lambda r: -r[2] * r[3])
    kept: list[tuple] = []
    for r in rects:
        x, y, w, h = r
        dup = False
        for kx, ky, kw, kh in kept:
            ix = max(0.0, min(x + w, kx + kw) - max(x, kx))
            iy = max(0.0, min(y + h, ky + kh) - max(y, ky))
            if ix * iy >= 0.8 * w * h and kh <= 1.6 * h:
                dup = True
                break
        if not dup:
            kept.append(r)
    return kept


def _drop_covered(rois: list[tuple]) -> list[tuple]:
    """Regions mostly (70%) inside a bigger one are searched with it, not again."""
    rois = sorted(rois, key=lambda r: -(r[2] - r[0]) * (r[3] - r[1]))
    kept: list[tuple] = []
    for r in rois:
        area = max(1, (r[2] - r[0]) * (r[3] - r[1]))
        inside = any(max(0, min(r[2], k[2]) - max(r[0], k[0])) * max(0, min(r[3], k[3]) - max(r[1], k[1]))
                     >= 0.7 * area and k[4] <= 1.6 * r[4] for k in kept)
        if not inside:
            kept.append(r)
    return kept


def _plates_from_lines(lines: list[tuple[Line, bool]], min_chars: int = 3) -> list[tuple[list[Line], bool]]:
    """Group lines into plates: a line alone, or two stacked rows of the same polarity."""
    lines = sorted(lines, key=lambda t: -_ink([t[0]]))
    used = [False] * len(lines)
    out = []
    for i, (a, dark) in enumerate(lines):
        if used[i]:
            continue
        used[i] = True
        group = [a]
        for j, (b, dark_b) in enumerate(lines):
            if used[j] or dark_b != dark or not stacked(a, b):
                continue
            used[j] = True
            group.append(b)
            break
        if sum(len(ln) for ln in group) >= min_chars:
            out.append((sorted(group, key=lambda ln: ln.cy), dark))
    return out


def _dedupe(found: list[tuple[list[Line], bool]], gray: np.ndarray, doubt: float) -> list[tuple[list[Line], bool]]:
    """One entry per plate when overlapping regions found the same characters. When the text kept
    for a place is in doubt - text of the other polarity there has `doubt` of its ink or more - and
    it is that text's ghost (see _ghost), the other text replaces it."""
    # the biggest text wins: a plate's characters over the small print around them
    found = sorted(found, key=lambda g: -_ink(g[0]))
    kept: list[tuple[tuple[list[Line], bool], Box]] = []
    for g in found:
        b = _bbox(g[0])
        clash = [(k, o) for k, o in kept if b.iou(o) >= 0.3]
        if clash and all(k[1] != g[1] and _ink(g[0]) >= doubt * _ink(k[0]) and _ghost(gray, k, g, o, b)
                         for k, o in clash):
            kept = [(k, o) for k, o in kept if b.iou(o) < 0.3]
            clash = []
        if not clash:
            kept.append((g, b))
    return [k for k, _ in kept]


def _ghost(gray: np.ndarray, a: tuple[list[Line], bool], b: tuple[list[Line], bool],
           box_a: Box, box_b: Box) -> bool:
    """Whether line(s) a are the ghost of the other polarity's b: the background between b's bold
    strokes, cut into character-sized pieces by the local threshold. Both are measured against
    the level of the plate around them (the median over both text boxes and a margin): real
    characters differ from it by the text's contrast, a ghost is made of it."""
    x0, x1 = min(box_a.x, box_b.x), max(box_a.x + box_a.w, box_b.x + box_b.w)
    y0, y1 = min(box_a.y, box_b.y), max(box_a.y + box_a.h, box_b.y + box_b.h)
    m = int(0.25 * (y1 - y0))
    step = max(1, (y1 - y0) // 32)   # levels need no full resolution on big text
    around = gray[max(0, y0 - m):y1 + m:step, max(0, x0 - m):x1 + m:step]
    level = float(np.median(around))
    return 2.0 * _standout(gray, *a, level, step) < _standout(gray, *b, level, step)


def _standout(gray: np.ndarray, lines: list[Line], dark: bool, level: float, step: int) -> float:
    """How far the ink of lines of characters lies beyond `level`, towards their polarity (its
    10% darkest or lightest pixels in their boxes, sampled every `step` px)."""
    px = np.concatenate([gray[y:y + h:step, x:x + w:step].ravel()
                         for x, y, w, h, _ in _blobs(lines).astype(int)])
    if not px.size:
        return 0.0
    k = int((0.1 if dark else 0.9) * (px.size - 1))
    ink = float(np.partition(px, k)[k])
    return level - ink if dark else ink - level


def _blobs(lines: list[Line]) -> np.ndarray:
    """The blob rows of several lines, as one array."""
    return np.concatenate([ln.blobs for ln in lines])


def _bbox(lines: list[Line]) -> Box:
    b = _blobs(lines)
    x0, y0 = b[:, X].min(), b[:, Y].min()
    return Box(int(x0), int(y0), int((b[:, X] + b[:, W]).max() - x0), int((b[:, Y] + b[:, H]).max() - y0))


def _shift(line: Line, dx: float, dy: float) -> Line:
    b = line.blobs.copy()
    b[:, X] += dx
    b[:, Y] += dy
    return Line(blobs=b, slope=line.slope, height=line.height)


def _scale(line: Line, f: float) -> Line:
    b = line.blobs.copy()
    b[:, :4] *= f
    b[:, 4] *= f * f
    return Line(blobs=b, slope=line.slope, height=line.height * f)


def _ink(lines: list[Line]) -> float:
    """Characters times their height: how much a group of lines looks like the main text."""
    return sum(len(ln) * ln.height for ln in lines)


def in_zones(box: Box, zones: list | None) -> bool:
    """Whether a box's centre lies in one of the zones (polygons; none given: anywhere)."""
    if not zones:
        return True
    c = box.centre
    return any(cv2.pointPolygonTest(np.asarray(z, np.float32).reshape(-1, 1, 2), c, False) >= 0 for z in zones)
