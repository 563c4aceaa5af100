"""Parametric stroke fonts: plate lettering no installed font draws, for the world plate renderer.

Real plates use faces that are not installed here and differ exactly where a reader errs:
Brazil's Mandatory and Germany's FE-Schrift square their O, 0 and D, draw 1 as a bare bar and 6
with a straight stem; New York's condensed commercial face has an M whose vertex stops halfway, a
taxi face draws wide rounded 2s. Every style here is one draw of a few such choices (width,
stroke weight, corner rounding, M/W vertex depth, flags, serifs, open or closed 4 ...), so the
reader learns a character from many shapes rather than from a dozen fonts.

A glyph is a few strokes: polylines whose corners are rounded by a quadratic curve of the
style's radius, drawn with round ends at the style's weight. Coordinates are in cap heights,
y down from the cap top.

    mask, top, advance, left = glyph(style_id, "M", cap_px=80)

`style_id` picks the style deterministically (STYLES of them), so glyph masks can be cached. Ids
STYLES..2*STYLES-1 are New York variants (ny_variant): the style of `id - STYLES` with New York's
W (its middle vertex up at the cap top) and M (its vertex far down).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import cv2
import numpy as np

STYLES = 512          # distinct styles; a style is a pure function of its id
PREFIX = "stroke:"    # worldplates font names of the form "stroke:<id>"
_SHIFT = 4            # cv2 sub-pixel bits
O_ROUND_MIN = 0.26    # O's corners stay rounder than D's (0.22 of the width) in every style
NY_W_DEPTH = (0.8, 1.0)   # New York variants: how far W's middle vertex reaches up (share of the height)
NY_M_DEPTH = (0.45, 0.75)  # ... and M's vertex down (about two thirds)


@dataclass(frozen=True)
class Style:
    width: float        # glyph box width, cap heights (0.42 condensed .. 0.72 wide)
    weight: float       # stroke width, cap heights
    round: float        # corner rounding: 0 square (Mandatory, FE) .. 1 round
    mono: bool          # every glyph the same advance (narrow I and 1 otherwise)
    m_depth: float      # how far M's vertex reaches down (share of the height)
    m_splay: float      # M's outer legs lean out by this share of the width
    w_depth: float      # how far W's middle vertex reaches up
    one_flag: bool
    one_base: bool
    i_serif: bool
    seven_bar: bool
    four_open: bool
    six_straight: bool  # 6 and 9 with a straight diagonal stem
    three_flat: bool    # 3 with a flat top and a diagonal
    a_kind: int         # 0 pointed, 1 flat top, 2 arch
    g_spur: bool
    j_bar: bool
    mid: float          # height of the middle bars (E, F, H, A, P, R, B)
    flag_reach: float   # 1's flag reaches this far left of the stem (cap heights; 0: a third of its
    flag_drop: float    # box) and this far down: New York's long flag reads as a 7 if unseen
    w_lean: float       # W's outer legs lean in by this share of the width (0: upright, New York)
    zero_slash: bool    # 0 crossed by a slash (Iowa and other states' faces): not an 8, not an O
    o_round: float      # O's least corner radius (share of the width; D's is 0.22): Brazil's
    # grey-plate O is squarish, yet its left corners stay round where D's are square
    zero_width: float   # 0's width as a share of the style's: Brazil's Mandatory and the FE-Schrift
    # draw 0 narrower than O (1: as wide, as most US faces, where only the layout tells them apart)


@functools.cache
def style(style_id: int) -> Style:
    if style_id >= STYLES:
        return _ny_variant(style(style_id - STYLES), style_id)
    rng = np.random.default_rng([7103, style_id])
    rnd = float(rng.choice([0.0, 0.15, 0.3, 0.5, 0.7, 0.9, 1.0]))
    return Style(width=float(rng.uniform(0.42, 0.72)), weight=float(rng.uniform(0.08, 0.19)), round=rnd,
                 mono=bool(rng.random() < 0.5), m_depth=float(rng.uniform(0.3, 0.95)),
                 m_splay=float(rng.choice([0.0, 0.0, rng.uniform(0.05, 0.15)])),
                 w_depth=float(rng.uniform(0.35, 1.0)), one_flag=bool(rng.random() < 0.8),
                 one_base=bool(rng.random() < 0.3), i_serif=bool(rng.random() < 0.35),
                 seven_bar=bool(rng.random() < 0.1), four_open=bool(rng.random() < 0.4),
                 six_straight=bool(rng.random() < 0.4), three_flat=bool(rng.random() < 0.35),
                 a_kind=int(rng.choice([0, 0, 1, 2] if rnd >= 0.3 else [0, 0, 1])),
                 g_spur=bool(rng.random() < 0.5), j_bar=bool(rng.random() < 0.3),
                 mid=float(rng.uniform(0.44, 0.54)),
                 # drawn last, so that the styles' earlier choices stay as they were
                 flag_reach=float(rng.choice([0.0, rng.uniform(0.15, 0.3)])),
                 flag_drop=float(rng.uniform(0.15, 0.4)),
                 w_lean=float(rng.choice([0.22, rng.uniform(0.0, 0.22)])),
                 zero_slash=bool(rng.random() < 0.12),
                 o_round=float(rng.choice([0.35, rng.uniform(O_ROUND_MIN, 0.35)])),
                 zero_width=float(rng.choice([1.0, rng.uniform(0.75, 0.9)])))


def ny_variant(style_id: int) -> int:
    """The id of `style_id`'s New York variant: real New York plates draw a W whose middle vertex
    reaches the cap top, and an M whose vertex reaches far down; at a few pixels per stroke a W
    with a half-height vertex (most styles) is what tells it from an M or an H, so a reader that
    learned only those reads New York's W as M and its M as H."""
    return style_id % STYLES + STYLES


def _ny_variant(st: Style, style_id: int) -> Style:
    rng = np.random.default_rng([7104, style_id])
    return replace(st, w_depth=float(rng.uniform(*NY_W_DEPTH)), m_depth=float(rng.uniform(*NY_M_DEPTH)))


def _rounded(points: list[tuple[float, float]], radius: float | list[float], closed: bool) -> np.ndarray:
    """The polyline through `points` with each corner cut by a quadratic curve of `radius`
    (per corner or one for all; the ends of an open line stay)."""
    n = len(points)
    rads = radius if isinstance(radius, list) else [radius] * n
    pts = [np.asarray(p, np.float64) for p in points]
    out: list[np.ndarray] = []
    for i in range(n):
        p = pts[i]
        if not closed and i in (0, n - 1) or rads[i] <= 0:
            out.append(p)
            continue
        a, b = pts[i - 1], pts[(i + 1) % n]
        da, db = np.linalg.norm(a - p), np.linalg.norm(b - p)
        r = min(rads[i], da / 2, db / 2)
        if r <= 1e-6:
            out.append(p)
            continue
        q0, q1 = p + (a - p) * r / da, p + (b - p) * r / db
        for s in np.linspace(0, 1, 7):
            out.append((1 - s) ** 2 * q0 + 2 * (1 - s) * s * p + s ** 2 * q1)
    return np.array(out)


def _strokes(st: Style, ch: str, w: float) -> list[tuple[np.ndarray, bool]]:
    """Skeleton strokes of `ch` in a box w wide, 1 tall (cap units), inset by half the weight."""
    h = st.weight / 2
    L, R, T, B = h, w - h, h, 1 - h
    C, M = (L + R) / 2, T + (B - T) * st.mid
    ww = R - L
    rad = st.round * ww / 2                       # full round: a stadium
    rad_min = max(rad, 0.22 * ww)                 # bowls and U stay a little round even when square
    e = 0.16                                      # terminal length of C, S, 2, 3, 5
    S: list[tuple[list, float | list[float], bool]] = []

    def add(pts, r=0.0, closed=False):
        S.append((pts, r, closed))

    if ch in "0O":
        add([(L, T), (R, T), (R, B), (L, B)], rad if ch == "0" else max(rad, st.o_round * ww), True)
        if ch == "0" and st.zero_slash and ww - st.weight > 1.6 * st.weight:   # a counter wide enough to cross
            add([(R - 0.18 * ww, T + 0.18), (L + 0.18 * ww, B - 0.18)])
    elif ch == "Q":
        add([(L, T), (R, T), (R, B), (L, B)], max(rad, 0.35 * ww), True)
        add([(C + 0.1 * ww, B - 0.22), (R + h * 0.5, B + h * 0.3)])
    elif ch == "D":
        add([(L, T), (R, T), (R, B), (L, B)], [0, rad_min, rad_min, 0], True)
    elif ch == "C":
        add([(R, T + e), (R, T), (L, T), (L, B), (R, B), (R, B - e)], [0, rad, rad, rad, rad, 0])
    elif ch == "G":
        add([(R, T + e), (R, T), (L, T), (L, B), (R, B), (R, M + 0.05), (C, M + 0.05)],
            [0, rad, rad, rad, rad * 0.5, 0, 0])
        if st.g_spur:
            add([(R, M + 0.05), (R, B + 0.0)])
    elif ch == "1":
        x = C + 0.12 * ww if not st.mono else C + 0.05 * ww
        reach = st.flag_reach or 0.35 * ww
        if st.one_flag:
            x = min(R, max(x, L + reach))    # a long flag moves the stem right, not out of the box
        add([(x - reach, T + (st.flag_drop if st.flag_reach else 0.22)), (x, T), (x, B)] if st.one_flag
            else [(x, T), (x, B)])
        if st.one_base:
            add([(x - 0.35 * ww, B), (min(R, x + 0.35 * ww), B)])
    elif ch == "I":
        add([(C, T), (C, B)])
        if st.i_serif:
            add([(C - 0.3 * ww, T), (C + 0.3 * ww, T)])
            add([(C - 0.3 * ww, B), (C + 0.3 * ww, B)])
    elif ch == "2":
        add([(L, T + e), (L, T), (R, T), (R, M - 0.02), (L, B), (R, B)], [0, rad, rad, rad * 0.6, 0, 0])
    elif ch == "3":
        if st.three_flat:
            add([(L, T), (R, T), (C, M - 0.03), (R, M - 0.03), (R, B), (L, B), (L, B - e)],
                [0, 0, 0, rad_min, rad, rad, 0])
        else:
            add([(L, T + e), (L, T), (R, T), (R, M), (C - 0.1 * ww, M)], [0, rad, rad, rad, 0])
            add([(C - 0.1 * ww, M), (R, M), (R, B), (L, B), (L, B - e)], [0, rad, rad, rad, 0])
    elif ch == "4":
        xv = R - 0.22 * ww
        yb = T + 0.68 * (B - T)
        if st.four_open:
            add([(L, T), (L, yb), (R, yb)])
            add([(xv, T + 0.3), (xv, B)])
        else:
            add([(xv, B), (xv, T), (L, yb), (R, yb)])
    elif ch == "5":
        add([(R, T), (L, T), (L, M - 0.04), (R, M - 0.04), (R, B), (L, B), (L, B - e)],
            [0, 0, 0, rad_min, rad, rad, 0])
    elif ch in "69":
        if st.six_straight:
            pts = [(R - 0.1 * ww, T), (L, M + 0.06)]
            bowl = [(L, M - 0.02), (R, M - 0.02), (R, B), (L, B)]
            strokes = [(pts, 0.0, False), (bowl, rad_min, True)]
        else:
            strokes = [([(R, T + e), (R, T), (L, T), (L, B), (R, B), (R, M - 0.02), (L, M - 0.02)],
                        [0, rad, rad, rad, rad_min, rad_min, 0], False)]
        for pts, r, closed in strokes:
            if ch == "9":
                pts = [(L + R - x, T + B - y) for x, y in pts]
            add(pts, r, closed)
    elif ch == "7":
        add([(L, T), (R, T), (C - 0.1 * ww, B)])
        if st.seven_bar:
            add([(C - 0.15 * ww, M), (R - 0.05 * ww, M)])
    elif ch == "8":
        add([(L + 0.06 * ww, T), (R - 0.06 * ww, T), (R - 0.06 * ww, M), (L + 0.06 * ww, M)], rad_min * 0.9, True)
        add([(L, M), (R, M), (R, B), (L, B)], rad_min, True)
    elif ch == "A":
        ya = T + (B - T) * 0.64
        if st.a_kind == 2:
            add([(L, B), (L, T), (R, T), (R, B)], [0, rad, rad, 0])
            add([(L, M), (R, M)])
        else:
            top = [(C, T)] if st.a_kind == 0 else [(C - 0.14 * ww, T), (C + 0.14 * ww, T)]
            add([(L, B)] + top + [(R, B)])
            add([(L + 0.2 * ww, ya), (R - 0.2 * ww, ya)])
    elif ch == "B":
        add([(L, T), (R - 0.07 * ww, T), (R - 0.07 * ww, M), (L, M)], [0, rad_min, rad_min, 0], True)
        add([(L, M), (R, M), (R, B), (L, B)], [0, rad_min, rad_min, 0], True)
    elif ch == "E":
        add([(R, T), (L, T), (L, B), (R, B)])
        add([(L, M), (R - 0.12 * ww, M)])
    elif ch == "F":
        add([(R, T), (L, T), (L, B)])
        add([(L, M), (R - 0.12 * ww, M)])
    elif ch == "H":
        add([(L, T), (L, B)])
        add([(R, T), (R, B)])
        add([(L, M), (R, M)])
    elif ch == "J":
        add([(R, T), (R, B), (L, B), (L, B - 0.25)], [0, rad_min, rad_min, 0])
        if st.j_bar:
            add([(C - 0.1 * ww, T), (R, T)])
    elif ch == "K":
        add([(L, T), (L, B)])
        add([(R, T), (L, M + 0.06)])
        add([(L + 0.3 * ww, M - 0.06), (R, B)])
    elif ch == "L":
        add([(L, T), (L, B), (R, B)])
    elif ch == "M":
        s = st.m_splay * ww
        add([(L, B), (L + s, T), (C, T + st.m_depth * (B - T)), (R - s, T), (R, B)])
    elif ch == "N":
        add([(L, B), (L, T), (R, B), (R, T)])
    elif ch == "P":
        add([(L, B), (L, T), (R, T), (R, M + 0.04), (L, M + 0.04)], [0, 0, rad_min, rad_min, 0])
    elif ch == "R":
        add([(L, B), (L, T), (R, T), (R, M), (L, M)], [0, 0, rad_min, rad_min, 0])
        add([(C - 0.05 * ww, M), (R, B)])
    elif ch == "S":
        add([(R, T + e), (R, T), (L, T), (L, M), (R, M), (R, B), (L, B), (L, B - e)],
            [0, rad, rad, rad_min, rad_min, rad, rad, 0])
    elif ch == "T":
        add([(L, T), (R, T)])
        add([(C, T), (C, B)])
    elif ch == "U":
        add([(L, T), (L, B), (R, B), (R, T)], [0, rad_min, rad_min, 0])
    elif ch == "V":
        add([(L, T), (C, B), (R, T)])
    elif ch == "W":
        add([(L, T), (L + st.w_lean * ww, B), (C, B - st.w_depth * (B - T)), (R - st.w_lean * ww, B), (R, T)])
    elif ch == "X":
        add([(L, T), (R, B)])
        add([(R, T), (L, B)])
    elif ch == "Y":
        add([(L, T), (C, M), (R, T)])
        add([(C, M), (C, B)])
    elif ch == "Z":
        add([(L, T), (R, T), (L, B), (R, B)])
    else:
        raise KeyError(ch)
    return [(_rounded(p, r, c), c) for p, r, c in S]


def _box_width(st: Style, ch: str) -> float:
    if not st.mono and ch == "1":
        return max(0.6 * st.width, st.flag_reach + 1.2 * st.weight if st.one_flag else 0.0)
    if not st.mono and ch == "I":
        return 0.55 * st.width if st.i_serif else st.weight * 1.05
    if ch in "MW":
        return st.width * 1.15
    if ch == "0" and not st.zero_slash:   # a slashed 0 keeps the counter its slash crosses
        return st.width * st.zero_width
    return st.width


@functools.lru_cache(maxsize=4096)
def glyph(style_id: int, ch: str, cap_px: int) -> tuple[np.ndarray, float, float, float]:
    """(uint8 mask cropped to ink, top relative to the cap top, advance, left bearing); all but
    the mask in cap heights, like worldplates' font glyphs."""
    st = style(style_id % (2 * STYLES))
    w = _box_width(st, ch)
    pad = int(cap_px * 0.3)
    canvas = np.zeros((cap_px + 2 * pad, int(np.ceil(w * cap_px)) + 2 * pad), np.uint8)
    thick = max(1, int(round(st.weight * cap_px)))
    for pts, closed in _strokes(st, ch, w):
        q = np.round((pts * cap_px + pad) * (1 << _SHIFT)).astype(np.int32)
        cv2.polylines(canvas, [q], closed, 255, thick, cv2.LINE_AA, _SHIFT)
    ys, xs = np.nonzero(canvas > 20)
    mask = canvas[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    side = 0.08
    return mask, (ys.min() - pad) / cap_px, w + 2 * side, side + (xs.min() - pad) / cap_px
