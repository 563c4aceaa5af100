"""Character segmentation: the characters of a deskewed plate crop, in reading order.

The crop is dark text on a light background (the localizer inverts light-on-dark plates). Ink
blobs are chained into text lines (edge.textline); the main line - or two stacked rows - is
kept. Anything that is not in that line of same-height characters is dropped: borders, bolts,
stickers, state names and slogans (smaller), EU bands and frames (taller or not in line).
Blobs of touching characters are split at the weakest ink columns; a character merged with
something above or below the line (header text, frame, bolt) is recovered by cutting the mask to
the line's band. Three binarisations of the crop each propose a segmentation and the one the
others agree with most is kept.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator

import cv2
import numpy as np

from .charimg import ink_patch
from .config import SegmentConfig
from .textline import H, W, X, Y, Line, binarize, chain_lines, char_blobs, median, stacked
from .types import Box, CharCrop


def segment(crop: np.ndarray, cfg: SegmentConfig, char_h: float | None = None) -> list[CharCrop]:
    """Characters of a grayscale dark-on-light plate crop; [] when no plausible line is found.

    `char_h` is the expected character height when the caller knows it (the localizer does);
    otherwise characters from 20% to 95% of the crop height are considered.
    """
    if crop.ndim != 2 or min(crop.shape) < 8:
        return []
    if char_h:
        sizes = (0.65 * char_h, 1.45 * char_h)
    else:
        char_h, sizes = 0.5 * crop.shape[0], (0.2 * crop.shape[0], 0.95 * crop.shape[0])
    options = _segmentations(crop, _masks(crop, char_h), cfg, sizes)
    if not options:  # characters merged with a frame edge in every mask: remove long strokes
        options = _segmentations(crop, [_erase_rules(binarize(crop, char_h * 1.5, dark_ink=True), char_h)],
                                 cfg, sizes)
    if not options:
        return []
    # each binarisation errs differently (a character merged with the frame in one, a frame piece
    # kept in another): take the segmentation the others agree with most, ties by geometry
    votes = [sum(_agreement(a, b) for b in options if b is not a) for a in options]
    return [CharCrop(box=b, row=r, patch=ink_patch(crop[b.y:b.y + b.h, b.x:b.x + b.w], dark_ink=True))
            for r, b in options[int(np.argmax(votes))]]


def _segmentations(crop: np.ndarray, masks: Iterable[np.ndarray], cfg: SegmentConfig,
                   sizes: tuple[float, float]) -> list[list[tuple[int, Box]]]:
    """One segmentation (row, box per character) per ink mask that gives a plausible line of
    characters `sizes` (min, max) tall, best geometry first."""
    found = []
    for mask in masks:
        seg = _segmentation(crop, mask, cfg, sizes)
        if seg is not None:
            found.append(seg)
        if len(found) == 2 and _agreement(found[0][1], found[1][1]) == 1.0:
            break  # two masks that agree outvote any further one: no need to make it
    return [boxes for _, boxes in sorted(found, key=lambda t: -t[0])]


def _segmentation(crop: np.ndarray, mask: np.ndarray, cfg: SegmentConfig,
                  sizes: tuple[float, float]) -> tuple[float, list[tuple[int, Box]]] | None:
    """(geometry score, characters) of the main text line(s) in one ink mask, if plausible."""
    blobs = _drop_non_chars(char_blobs(mask, sizes[0], sizes[1], max_aspect=4.0), crop.shape)
    rows = _main_rows(chain_lines(blobs, cfg.max_tilt_deg, 2, max_gap=cfg.max_gap,
                                  height_ratio=cfg.height_ratio), cfg)
    if not rows:
        return None
    if len(rows) == 1:
        rows = [_fill_gaps(rows[0], mask, sizes)]
    chars = _char_boxes(crop, rows, mask)
    return (_score(rows, cfg), chars) if cfg.min_chars <= len(chars) <= cfg.max_chars else None


def _fill_gaps(line: Line, mask: np.ndarray, sizes: tuple[float, float], margin: float = 0.1) -> Line:
    """The line plus characters inside it that were merged with something above or below (header
    text, frame, bolts): they come apart when the mask is cut to the band between the line's top
    and bottom (plus `margin` character heights). Only gaps between the line's own characters are
    searched - at its ends such a cut would turn frame edges into characters."""
    b = line.blobs
    x = b[:, X] + b[:, W] / 2
    top = median(b[:, Y] - line.slope * x) - margin * line.height
    bot = median(b[:, Y] + b[:, H] - line.slope * x) + margin * line.height
    x0, x1 = int(b[:, X].min()), int((b[:, X] + b[:, W]).max())
    yy, xx = np.mgrid[0:mask.shape[0], x0:x1]
    v = yy - line.slope * xx
    band = np.where((v >= top) & (v <= bot), mask[:, x0:x1], 0).astype(np.uint8)
    found = char_blobs(band, sizes[0], sizes[1], max_aspect=4.0)
    found[:, X] += x0
    inside = (found[:, X] > x0) & (found[:, X] + found[:, W] < x1)
    new = [f for f in found[inside] if not _overlaps_any(f, b) and _was_cut(f, mask, band, x0)]
    if not new:
        return line
    return Line(blobs=np.concatenate([b, np.array(new, np.float32)]), slope=line.slope, height=line.height)


def _was_cut(blob: np.ndarray, mask: np.ndarray, band: np.ndarray, x0: int) -> bool:
    """Whether the band cut the blob off ink above or below it (so it was merged with that)."""
    x, y, w, h = (int(v) for v in blob[:4])
    cols = slice(x, x + w)
    above = y > 0 and bool(mask[y - 1, cols].any()) and not band[y - 1, x - x0:x - x0 + w].any()
    below = y + h < mask.shape[0] and bool(mask[y + h, cols].any()) and not band[y + h, x - x0:x - x0 + w].any()
    return above or below


def _overlaps_any(blob: np.ndarray, blobs: np.ndarray) -> bool:
    """Whether the blob shares a third of its columns with any of `blobs`."""
    common = np.minimum(blob[X] + blob[W], blobs[:, X] + blobs[:, W]) - np.maximum(blob[X], blobs[:, X])
    return bool(np.any(common > blob[W] / 3))


def _char_boxes(crop: np.ndarray, rows: list[Line], mask: np.ndarray) -> list[tuple[int, Box]]:
    """(row, box) of each character of the chosen rows, reading order, touching ones split."""
    rows = [ln for ln in (_same_ink(ln, crop, mask) for ln in rows) if ln is not None]
    return [(r, Box(x, y, w, h)) for r, line in enumerate(rows)
            for x, y, w, h in _trim_ends(_split_touching(line, mask))]


def _agreement(a: list[tuple[int, Box]], b: list[tuple[int, Box]]) -> float:
    """Share of characters two segmentations have in common (boxes overlapping by half)."""
    pa = np.array([[p.x, p.y, p.x + p.w, p.y + p.h] for _, p in a], np.float64)[:, None]
    pb = np.array([[q.x, q.y, q.x + q.w, q.y + q.h] for _, q in b], np.float64)[None]
    iw = np.clip(np.minimum(pa[..., 2], pb[..., 2]) - np.maximum(pa[..., 0], pb[..., 0]), 0, None)
    ih = np.clip(np.minimum(pa[..., 3], pb[..., 3]) - np.maximum(pa[..., 1], pb[..., 1]), 0, None)
    area = lambda r: (r[..., 2] - r[..., 0]) * (r[..., 3] - r[..., 1])
    inter = iw * ih
    iou = inter / np.maximum(area(pa) + area(pb) - inter, 1e-9)
    return float((iou >= 0.5).any(axis=1).sum()) / max(len(a), len(b))


def _masks(crop: np.ndarray, char_h: float) -> Iterator[np.ndarray]:
    """Three ink masks, made as needed: local thresholds over a wide window (uneven light,
    shadows), Otsu (clean plates, thick strokes) and a narrow window (characters close to the
    frame, low contrast)."""
    yield binarize(crop, char_h * 1.5, dark_ink=True)
    yield cv2.threshold(crop, 0, 255, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)[1]
    yield binarize(crop, char_h * 0.7, dark_ink=True)


def _erase_rules(mask: np.ndarray, char_h: float) -> np.ndarray:
    """The mask without horizontal strokes much longer than a character (frame edges, borders),
    so characters touching them come apart. Slightly slanted edges count too."""
    thick = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_RECT, (1, 3)))
    rules = cv2.morphologyEx(thick, cv2.MORPH_OPEN,
                             cv2.getStructuringElement(cv2.MORPH_RECT, (max(3, int(2.5 * char_h)), 1)))
    return cv2.bitwise_and(mask, cv2.bitwise_not(rules))


def _drop_non_chars(blobs: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Drop blobs that touch the crop's sides (frame, car body) and solid wide blocks (EU band,
    stickers): a character is a stroke figure - bold ones fill up to ~85% of their box - and only
    a narrow one (I, 1) is nearly solid."""
    x, w, h, area = blobs[:, X], blobs[:, W], blobs[:, H], blobs[:, 4]
    touches = (x <= 0) | (x + w >= shape[1])
    solid = (area > 0.9 * w * h) & (w > 0.35 * h)
    return blobs[~touches & ~solid]


def _trim_ends(boxes: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    """Drop blobs at either end of a line that stand far apart from the rest (screws, frame bits)."""
    while len(boxes) >= 3:
        gaps = [b[0] - (a[0] + a[2]) for a, b in zip(boxes[:-1], boxes[1:])]
        h = median([b[3] for b in boxes])
        med = median(gaps)
        # a thin bar (frame edge) needs less distance than a full character (separators are wide)
        odd = lambda b, gap: gap > max(1.5 * h, 4.0 * med) or (gap > 0.6 * h and b[2] < 0.2 * h)
        if odd(boxes[0], gaps[0]) and gaps[0] >= gaps[-1]:
            boxes = boxes[1:]
        elif odd(boxes[-1], gaps[-1]):
            boxes = boxes[:-1]
        else:
            break
    return boxes


def _main_rows(lines: list[Line], cfg: SegmentConfig) -> list[Line]:
    """The text line with the most ink (count x height), plus a stacked second row if any."""
    lines = [_aligned(ln) for ln in lines]
    lines = [ln for ln in lines if ln is not None]
    if not lines:
        return []
    main = max(lines, key=lambda ln: min(len(ln), cfg.max_chars) * ln.height)
    rows = [main]
    others = [ln for ln in lines if ln is not main and len(ln) >= 2 and stacked(main, ln)]
    if others:
        rows.append(max(others, key=lambda ln: len(ln) * ln.height))
    return sorted(rows, key=lambda ln: ln.cy)


def _aligned(line: Line, tol: float = 0.15) -> Line | None:
    """Keep the blobs whose top and bottom both sit on the line's top and bottom (within `tol`
    character heights): band letters, emblems and frame pieces rarely share both."""
    b = line.blobs
    x = b[:, X] + b[:, W] / 2
    top = b[:, Y] - line.slope * x
    bot = b[:, Y] + b[:, H] - line.slope * x
    ok = (np.abs(top - median(top)) <= tol * line.height) & (np.abs(bot - median(bot)) <= tol * line.height)
    if not ok.any():
        return None
    return Line(blobs=b[ok], slope=line.slope, height=median(b[ok][:, H]))


def _same_ink(line: Line, crop: np.ndarray, mask: np.ndarray) -> Line | None:
    """Drop blobs whose ink is much fainter than the line's: the characters of a plate share one
    ink colour, shadows and frame edges usually do not."""
    b = line.blobs
    y0, y1 = int(b[:, Y].min()), int((b[:, Y] + b[:, H]).max())
    x0, x1 = int(b[:, X].min()), int((b[:, X] + b[:, W]).max())
    paper = crop[y0:y1, x0:x1][mask[y0:y1, x0:x1] == 0]
    if paper.size == 0:
        return line
    bg = float(np.median(paper))
    contrast = []
    for x, y, w, h, _ in line.blobs.astype(int):
        m = mask[y:y + h, x:x + w]
        contrast.append(bg - cv2.mean(crop[y:y + h, x:x + w], m)[0] if cv2.countNonZero(m) else 0.0)
    contrast = np.array(contrast)
    ok = contrast >= 0.5 * median(contrast)
    return Line(blobs=line.blobs[ok], slope=line.slope, height=line.height) if ok.any() else None


def _score(rows: list[Line], cfg: SegmentConfig) -> float:
    n = sum(len(ln) for ln in rows)
    ink = sum(min(len(ln), cfg.max_chars) * ln.height for ln in rows)
    # height regularity: real characters of a row share one height
    spread = np.mean([np.std(ln.blobs[:, H]) / ln.height for ln in rows])
    return ink * (1.0 - min(0.5, float(spread))) * (1.0 if n <= cfg.max_chars else 0.5)


def _split_touching(line: Line, mask: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Boxes of a line, left to right, with blobs much wider than a character cut in pieces."""
    b = line.blobs[np.argsort(line.blobs[:, X])]
    widths = b[:, W]
    # a character is at most ~0.8 of its height wide; typical width from the narrower blobs
    # (from all of them for bold, wide fonts)
    normal = widths[widths <= 0.9 * b[:, H]]
    typ = median(normal if len(normal) else widths)
    out = []
    for x, y, w, h, _ in b.astype(int):
        k = int(round(w / max(typ, 1.0)))
        # W and M can be as wide as tall; a pair of touching characters is wider than both
        if w <= 1.15 * h or w < 1.7 * typ or k < 2:
            out.append((x, y, w, h))
            continue
        cols = (mask[y:y + h, x:x + w] > 0).sum(axis=0).astype(np.float32)
        cuts = [0]
        for i in range(1, k):
            c = int(round(i * w / k))
            lo, hi = max(cuts[-1] + 1, c - int(0.25 * w / k)), min(w - 1, c + int(0.25 * w / k) + 1)
            cuts.append(lo + int(np.argmin(cols[lo:hi])) if hi > lo else c)
        cuts.append(w)
        for a, e in zip(cuts[:-1], cuts[1:]):
            sub = mask[y:y + h, x + a:x + e]
            rows_on = np.flatnonzero(sub.any(axis=1))
            if e - a >= 2 and len(rows_on):
                out.append((x + a, y + int(rows_on[0]), e - a, int(rows_on[-1] - rows_on[0] + 1)))
    return out


def char_groups(chars: list[CharCrop]) -> list[list[int]]:
    """Indices of the characters (reading order) split into groups at row breaks and at gaps
    clearly wider than the usual gap between neighbours (spaces, hyphens, seals between groups).

    A narrow glyph (1, I) is counted as if it were as wide as a typical character, centred: plate
    fonts give it the usual advance, and its wide bare sides are no separator.
    """
    if not chars:
        return []
    h = median([c.box.h for c in chars])
    typ_w = median([c.box.w for c in chars])
    pad = [max(0.0, typ_w - c.box.w) / 2 for c in chars]
    same_row = [a.row == b.row for a, b in zip(chars[:-1], chars[1:])]
    gaps = [b.box.x - (a.box.x + a.box.w) - pa - pb
            for a, b, pa, pb in zip(chars[:-1], chars[1:], pad[:-1], pad[1:])]
    row_gaps = [g for g, s in zip(gaps, same_row) if s]
    usual = median(row_gaps) if row_gaps else 0.0
    groups = [[0]]
    for i, (g, s) in enumerate(zip(gaps, same_row), start=1):
        if not s or g - usual > max(usual, 0.2 * h):
            groups.append([])
        groups[-1].append(i)
    return groups
