"""Character segmentation: the characters of a deskewed plate crop, in reading order.

The crop is dark text on a light background (the localizer inverts light-on-dark plates). Ink
blobs are chained into text lines (plate_edge.textline); the main line - or two stacked rows - is
kept. Anything that is not in that line of same-height characters is dropped: borders, bolts,
stickers, state names and slogans (smaller), EU bands and frames (taller or not in line), and
the rims local thresholds draw around dark areas (an EU band, the car body) at the line's ends.
Blobs touching the crop's sides are dropped too, unless a tight crop cut close to a character:
one that sits whole on the line's top and bottom and continues it is taken back.
Blobs of touching characters are split at the weakest ink columns; a character merged with
something above or below the line (header text, frame, bolt) is recovered by cutting the mask to
the line's band, between the line's characters and at its ends. Three binarisations of the crop
each propose a segmentation and the one the others agree with most is kept.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator

import cv2
import numpy as np
from pydantic import Field, model_validator

from .charimg import ink_patch
from .settings import Settings
from .textline import (
    RUN_ASPECT,
    H,
    Line,
    W,
    X,
    Y,
    binarize,
    chain_lines,
    char_like,
    components,
    fit_line,
    median,
    stacked,
)
from .types import Box, CharCrop


class SegmentConfig(Settings):
    """Settings of the character segmenter (`reader.segment`)."""
    min_chars: int = Field(4, ge=1, le=20)
    max_chars: int = Field(10, ge=1, le=20)
    max_tilt_deg: float = Field(5.0, ge=0, le=45)   # residual tilt allowed inside a (deskewed) crop
    max_gap: float = Field(1.6, gt=0, le=20)        # largest gap between neighbouring characters, in char heights
    height_ratio: float = Field(1.35, ge=1, le=10)  # neighbouring characters differ in height by less than this

    @model_validator(mode="after")
    def _counts(self) -> SegmentConfig:
        if self.min_chars > self.max_chars:
            raise ValueError(f"min_chars: must be <= max_chars ({self.min_chars} > {self.max_chars})")
        return self


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
    parts = components(mask)
    blobs = parts[1][char_like(parts[1], sizes[0], sizes[1], max_aspect=RUN_ASPECT)].astype(np.float32)
    blobs = _drop_non_chars(blobs, crop.shape)
    rows = _main_rows(chain_lines(blobs, cfg.max_tilt_deg, 2, max_gap=cfg.max_gap,
                                  height_ratio=cfg.height_ratio), cfg)
    if not rows:
        return None
    if len(rows) == 1:
        rows = [_fill_gaps(rows[0], mask, parts, sizes)]
    chars = _char_boxes(crop, rows, mask)
    return (_score(rows, cfg), chars) if cfg.min_chars <= len(chars) <= cfg.max_chars else None


def _fill_gaps(line: Line, mask: np.ndarray, parts: tuple[np.ndarray, np.ndarray],
               sizes: tuple[float, float], margin: float = 0.1) -> Line:
    """The line plus characters that were merged with something above or below it (header text,
    frame, bolts): they come apart when the mask is cut to the band between the line's top and
    bottom (plus `margin` character heights), the columns of the line's own characters blanked so
    a frame line under several characters cannot bring them back as one blob. Between the line's
    characters every piece cut off something is taken; beyond its ends only pieces that sit on the
    line and continue it (_extend), as such a cut also turns frame edges into character-high bars."""
    top, bot = _line_edges(line)
    h, m = line.height, margin * line.height
    v = np.arange(mask.shape[0])[:, None] - line.slope * np.arange(mask.shape[1])[None, :]
    band = np.where((v >= top - m) & (v <= bot + m), mask, 0).astype(np.uint8)
    for x, _, w, _, _ in line.blobs.astype(int):
        band[:, x:x + w] = 0
    pieces, higher, lower, labels, ids = _cut_pieces(parts, band, sizes)
    if not len(pieces):
        return line
    x = pieces[:, X] + pieces[:, W] / 2
    off_top = pieces[:, Y] - line.slope * x - top
    off_bot = pieces[:, Y] + pieces[:, H] - line.slope * x - bot
    # cut where the piece runs into the margin and its ink goes on beyond the band
    above, below = higher & (off_top < -m / 2), lower & (off_bot > m / 2)
    inner = (pieces[:, X] > line.x0) & (pieces[:, X] + pieces[:, W] < line.x1) & (above | below)
    # beyond the ends: a character (maybe hanging on a bolt or frame) ends where the line does,
    # at least on one side; a post crossing the band is cut on both
    fits = (above | (np.abs(off_top) <= m / 2)) & (below | (np.abs(off_bot) <= m / 2)) & ~(above & below)
    # a piece at the crop's side may be a character a tight crop cut close to (the side's usual
    # blobs, a frame edge or the car body, reach beyond the band or are thin): only one whole in
    # height, on the line's top and bottom, and at least ~half a character wide is taken
    typ = _typical_width(line.blobs)
    flush = _on_line(pieces, line, top, bot) & ~higher & ~lower & ~_solid(pieces, narrow=0.0)
    flush &= pieces[:, W] >= 0.7 * typ  # M, W are ~1.4 typical widths
    beyond = (pieces[:, X] + pieces[:, W] <= line.x0) | (pieces[:, X] >= line.x1)
    at_side = _at_side(pieces, mask.shape[1])
    taken = beyond & ~_solid(pieces) & np.where(at_side, flush, fits)
    # a character merged with a frame post or the car body, which run on above and below the band
    merged = beyond & ~taken & ~at_side & (pieces[:, W] >= 0.5 * typ)
    rest = _ends_off_posts(pieces[merged], ids[merged], labels, line, top, bot, typ)
    blobs = _extend(np.concatenate([line.blobs, pieces[inner]]), np.concatenate([pieces[taken], rest]), h)
    return Line(blobs=blobs, slope=line.slope, height=line.height)


def _ends_off_posts(pieces: np.ndarray, ids: np.ndarray, labels: np.ndarray, line: Line,
                    top: float, bot: float, typ: float) -> np.ndarray:
    """Of the band `pieces` beyond the line's ends, the characters that come off a post (_strip_post)
    whole: on the line, not solid, one character wide (M, W are ~1.4 typical widths `typ`), and
    only the nearest on each side, as only the end character can touch what ends the plate."""
    stripped = [_strip_post(labels, i, p, line, top, bot, p[X] < line.x0) for i, p in zip(ids, pieces)]
    rest = np.array([r for r in stripped if r is not None], np.float32).reshape(-1, 5)
    rest = rest[_on_line(rest, line, top, bot) & ~_solid(rest, narrow=0.0)
                & (rest[:, W] >= 0.5 * typ) & (rest[:, W] <= 1.5 * typ)]
    left, right = rest[rest[:, X] < line.x0], rest[rest[:, X] >= line.x0]
    nearest = ([left[np.argmax(left[:, X] + left[:, W])]] if len(left) else []) + \
              ([right[np.argmin(right[:, X])]] if len(right) else [])
    return np.array(nearest, np.float32).reshape(-1, 5)


def _strip_post(labels: np.ndarray, label: int, piece: np.ndarray, line: Line, top: float, bot: float,
                left: bool, margin: float = 0.1, reach: float = 0.3) -> np.ndarray | None:
    """A band piece (`label` in the band's `labels`) beyond the line's `left` or right end without the post at
    its outer side, as a blob row; None without a post or if nothing is left. A post (frame edge, the car body's
    edge) is a run of columns inked solidly from beyond the line's top to beyond its bottom, in
    the piece's outer `reach` character heights (a frame's rounded corner may come first); a
    character's columns end at the line, so one hanging on a post comes off it whole. The rest is
    cut to the line's top and bottom (within half the margin), dropping what it was merged with."""
    x, y, w, h = (int(v) for v in piece[:4])
    sub = labels[y:y + h, x:x + w] == label
    on = sub.any(axis=0)
    first, last = np.argmax(sub, axis=0) + y, h - 1 - np.argmax(sub[::-1], axis=0) + y
    slack = margin * line.height / 2
    cols = np.arange(x, x + w)
    post = (on & (first <= top + line.slope * cols - slack) & (last + 1 >= bot + line.slope * cols + slack)
            & (sub.sum(axis=0) >= 0.9 * (last - first + 1)))
    outer = int(round(reach * line.height))
    post &= (cols < x + outer) if left else (cols >= x + w - outer)
    if not post.any():
        return None
    idx = np.flatnonzero(post)
    sub = sub[:, idx[-1] + 1:] if left else sub[:, :idx[0]]
    x = x + idx[-1] + 1 if left else x
    mid = x + sub.shape[1] / 2
    r0 = max(0, int(np.floor(top + line.slope * mid - slack)) - y)
    r1 = min(h, int(np.ceil(bot + line.slope * mid + slack)) - y)
    sub = sub[r0:r1]
    rows, cols_on = np.flatnonzero(sub.any(axis=1)), np.flatnonzero(sub.any(axis=0))
    if not len(rows):
        return None
    sub = sub[rows[0]:rows[-1] + 1, cols_on[0]:cols_on[-1] + 1]
    return np.array([x + cols_on[0], y + r0 + rows[0], sub.shape[1], sub.shape[0], sub.sum()], np.float32)


def _cut_pieces(parts: tuple[np.ndarray, np.ndarray], band: np.ndarray, sizes: tuple[float, float]
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Character-sized blobs of the band, for each whether its blob in the whole mask (`parts`:
    its components) reaches higher and lower than it does, and the band's component labels with
    each piece's label."""
    labels, stats = components(band)
    keep = np.flatnonzero(char_like(stats, sizes[0], sizes[1], max_aspect=RUN_ASPECT))
    whole, whole_stats = parts
    higher, lower = [], []
    for i in keep:
        x, y, w, h, _ = stats[i]
        r, c = np.unravel_index(int(np.argmax(labels[y:y + h, x:x + w] == i + 1)), (h, w))
        _, wy, _, wh, _ = whole_stats[whole[y + r, x + c] - 1]
        higher.append(wy < y)
        lower.append(wy + wh > y + h)
    return (stats[keep].astype(np.float32).reshape(-1, 5), np.array(higher, bool), np.array(lower, bool),
            labels, keep + 1)


def _extend(blobs: np.ndarray, pieces: np.ndarray, h: float, max_gap: float = 0.5) -> np.ndarray:
    """The line's blobs plus the pieces that continue it at either end, nearest first: each
    within `max_gap` character heights of the end (the spacing inside a group of characters).
    Thin pieces count too: a 1 or I is as narrow as a frame edge (down to an eighth of its
    height), and the frame edges that reach this far are dropped by _fill_gaps (posts crossing
    the band, bars at the crop's sides), _trim_ends (far apart) and _drop_rims (band rims)."""
    for _ in range(len(pieces)):
        left, right = blobs[:, X].min(), (blobs[:, X] + blobs[:, W]).max()
        gap = np.maximum(left - (pieces[:, X] + pieces[:, W]), pieces[:, X] - right)
        ok = (gap > -0.15 * h) & (gap < max_gap * h)
        if not ok.any():
            break
        i = int(np.argmin(np.where(ok, gap, np.inf)))
        blobs = np.concatenate([blobs, pieces[i:i + 1]])
        pieces = np.delete(pieces, i, axis=0)
    return blobs


def _char_boxes(crop: np.ndarray, rows: list[Line], mask: np.ndarray) -> list[tuple[int, Box]]:
    """(row, box) of each character of the chosen rows, reading order, touching ones split."""
    out: list[list[tuple[int, int, int, int]]] = []
    for line in rows:
        levels, dark = _ink_levels(line, crop, mask), None
        if levels is not None:
            paper, ink = levels
            contrast = paper - ink
            ok = contrast >= 0.5 * median(contrast)  # same ink: see _ink_levels
            if not ok.any():
                continue
            line = Line(blobs=line.blobs[ok], slope=line.slope, height=line.height)
            dark = (paper + median(ink[ok])) / 2
        boxes = _trim_ends(_split_touching(line, mask))
        out.append(boxes if dark is None else _drop_rims(boxes, crop, dark))
    return [(r, Box(x, y, w, h)) for r, boxes in enumerate(out) for x, y, w, h in boxes]


def _agreement(a: list[tuple[int, Box]], b: list[tuple[int, Box]]) -> float:
    """Share of characters two segmentations have in common (boxes overlapping by half);
    symmetric, so a segmentation with duplicate boxes gains nothing from them."""
    pa = np.array([[p.x, p.y, p.x + p.w, p.y + p.h] for _, p in a], np.float64)[:, None]
    pb = np.array([[q.x, q.y, q.x + q.w, q.y + q.h] for _, q in b], np.float64)[None]
    iw = np.clip(np.minimum(pa[..., 2], pb[..., 2]) - np.maximum(pa[..., 0], pb[..., 0]), 0, None)
    ih = np.clip(np.minimum(pa[..., 3], pb[..., 3]) - np.maximum(pa[..., 1], pb[..., 1]), 0, None)
    area = lambda r: (r[..., 2] - r[..., 0]) * (r[..., 3] - r[..., 1])
    inter = iw * ih
    iou = inter / np.maximum(area(pa) + area(pb) - inter, 1e-9)
    hit = iou >= 0.5
    return float(min(hit.any(axis=1).sum(), hit.any(axis=0).sum())) / max(len(a), len(b))


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
    """Drop blobs that touch the crop's sides (frame, car body; _fill_gaps takes back characters
    a tight crop cut close to) and solid wide blocks (EU band, stickers)."""
    return blobs[~_at_side(blobs, shape[1]) & ~_solid(blobs)]


def _at_side(blobs: np.ndarray, width: int) -> np.ndarray:
    """Which blobs touch the left or right side of a crop `width` px wide."""
    return (blobs[:, X] <= 0) | (blobs[:, X] + blobs[:, W] >= width)


def _solid(blobs: np.ndarray, narrow: float = 0.35) -> np.ndarray:
    """Which blobs are solid blocks wider than `narrow` heights: a character is a stroke figure -
    bold ones fill up to ~85% of their box - and only a narrow one (I, 1) is nearly solid."""
    w, h, area = blobs[:, W], blobs[:, H], blobs[:, 4]
    return (area > 0.9 * w * h) & (w > narrow * h)


def _trim_ends(boxes: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    """Drop blobs at either end of a line that stand far apart from the rest (screws, frame bits)."""
    while len(boxes) >= 3:
        gaps = [b[0] - (a[0] + a[2]) for a, b in zip(boxes[:-1], boxes[1:])]
        h = median([b[3] for b in boxes])
        med = median(gaps)
        # a thin bar (frame edge) needs less distance than a full character (separators are wide)
        odd = lambda b, gap: gap > max(1.5 * h, 4.0 * med) or (gap > 0.6 * h and b[2] < 0.2 * h)  # noqa: B023
        if odd(boxes[0], gaps[0]) and gaps[0] >= gaps[-1]:
            boxes = boxes[1:]
        elif odd(boxes[-1], gaps[-1]):
            boxes = boxes[:-1]
        else:
            break
    return boxes


def _main_rows(lines: list[Line], cfg: SegmentConfig) -> list[Line]:
    """The text line with the most ink (count x height), plus a stacked second row if any."""
    aligned = [_aligned(ln) for ln in lines]
    lines = [ln for ln in aligned if ln is not None]
    if not lines:
        return []
    main = max(lines, key=lambda ln: min(len(ln), cfg.max_chars) * ln.height)
    rows = [main]
    others = [ln for ln in lines if ln is not main and len(ln) >= 2 and stacked(main, ln)]
    if others:
        rows.append(max(others, key=lambda ln: len(ln) * ln.height))
    return sorted(rows, key=lambda ln: ln.cy)


def _aligned(line: Line) -> Line | None:
    """Keep the blobs whose top and bottom both sit on the line's top and bottom: band letters,
    emblems and frame pieces rarely share both. The line is refitted to them, as a character
    merged with a bolt or frame below it tilts the line it was chained into."""
    ok = _on_line(line.blobs, line, *_line_edges(line))
    if not ok.any():
        return None
    refit = fit_line(line.blobs[ok])
    return Line(blobs=line.blobs[ok], slope=refit.slope if refit else line.slope,
                height=median(line.blobs[ok][:, H]))


def _line_edges(line: Line) -> tuple[float, float]:
    """The line's top and bottom (median over its blobs, measured along the line's slope)."""
    b = line.blobs
    x = b[:, X] + b[:, W] / 2
    return median(b[:, Y] - line.slope * x), median(b[:, Y] + b[:, H] - line.slope * x)


def _on_line(blobs: np.ndarray, line: Line, top: float, bot: float, tol: float = 0.15) -> np.ndarray:
    """Which blobs have their top at `top` and their bottom at `bot` (within `tol` character heights)."""
    x = blobs[:, X] + blobs[:, W] / 2
    return ((np.abs(blobs[:, Y] - line.slope * x - top) <= tol * line.height)
            & (np.abs(blobs[:, Y] + blobs[:, H] - line.slope * x - bot) <= tol * line.height))


def _ink_levels(line: Line, crop: np.ndarray, mask: np.ndarray) -> tuple[float, np.ndarray] | None:
    """Grey of the paper around the line and mean grey of each blob's ink; None without paper.
    The characters of a plate share one ink colour, shadows and frame edges usually do not."""
    b = line.blobs.astype(int)
    x0, y0 = b[:, X].min(), b[:, Y].min()
    x1, y1 = (b[:, X] + b[:, W]).max(), (b[:, Y] + b[:, H]).max()
    paper = crop[y0:y1, x0:x1][mask[y0:y1, x0:x1] == 0]
    if paper.size == 0:
        return None
    ink = [cv2.mean(crop[y:y + h, x:x + w], mask[y:y + h, x:x + w])[0]
           if cv2.countNonZero(mask[y:y + h, x:x + w]) else float(np.median(paper))
           for x, y, w, h, _ in b]
    return float(np.median(paper)), np.array(ink)


def _drop_rims(boxes: list[tuple[int, int, int, int]], crop: np.ndarray,
               dark: float) -> list[tuple[int, int, int, int]]:
    """Drop blobs at either end of a line that are the rim of a dark area, not a stroke: local
    thresholds mark only the rims of areas wider than their window (an EU band, the car body).
    Outside such a rim it stays darker than `dark` (halfway from paper to ink) for a fifth of a
    character height, where a character has paper - or a thin frame line, then something lighter."""
    def rim(box: tuple[int, int, int, int], left: bool, reach: int) -> bool:
        x, y, w, h = box
        rows = slice(y + h // 5, y + h - h // 5)
        cols = crop[rows, max(0, x - reach):x] if left else crop[rows, x + w:x + w + reach]
        return cols.size > 0 and bool((np.median(cols, axis=0) < dark).all())

    while len(boxes) >= 2:
        reach = max(2, int(round(0.2 * median([b[3] for b in boxes]))))
        if rim(boxes[0], True, reach):
            boxes = boxes[1:]
        elif rim(boxes[-1], False, reach):
            boxes = boxes[:-1]
        else:
            break
    return boxes


def _score(rows: list[Line], cfg: SegmentConfig) -> float:
    n = sum(len(ln) for ln in rows)
    ink = sum(min(len(ln), cfg.max_chars) * ln.height for ln in rows)
    # height regularity: real characters of a row share one height
    spread = np.mean([np.std(ln.blobs[:, H]) / ln.height for ln in rows])
    return ink * (1.0 - min(0.5, float(spread))) * (1.0 if n <= cfg.max_chars else 0.5)


def _typical_width(blobs: np.ndarray) -> float:
    """A character's usual width: a character is at most ~0.8 of its height wide, so the median
    of the narrower blobs (of all of them for bold, wide fonts), not of runs of touching ones."""
    widths = blobs[:, W]
    normal = widths[widths <= 0.9 * blobs[:, H]]
    return median(normal if len(normal) else widths)


def _split_touching(line: Line, mask: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Boxes of a line, left to right, with blobs much wider than a character cut in pieces."""
    b = line.blobs[np.argsort(line.blobs[:, X])]
    typ = _typical_width(b)
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
            # every letter and digit reaches both the top and the foot of the line: a piece that
            # does not is a separator or frame bit that was merged with the characters
            if e - a >= 2 and len(rows_on) and rows_on[0] < 0.2 * h and rows_on[-1] >= 0.8 * h:
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
