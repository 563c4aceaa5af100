"""The parametric stroke fonts: every registration character in every style, deterministic,
look-alikes drawn apart where the style says so, and plates drawn in them keep their boxes."""
from __future__ import annotations

import cv2
import numpy as np

from convert import strokefont, worldplates
from convert.strokefont import STYLES, glyph, style

CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _diff(a: np.ndarray, b: np.ndarray) -> float:
    """Share of ink pixels that differ between two masks scaled to one size."""
    size = (24, 40)
    a = cv2.resize(a, size, interpolation=cv2.INTER_AREA) > 100
    b = cv2.resize(b, size, interpolation=cv2.INTER_AREA) > 100
    return float((a ^ b).sum() / max(1, (a | b).sum()))


def test_every_char_every_style_has_ink_within_the_cap():
    for sid in range(0, STYLES, 7):
        for ch in CHARS:
            mask, top, adv, left = glyph(sid, ch, 40)
            assert mask.dtype == np.uint8 and mask.max() > 200, (sid, ch)
            h = mask.shape[0] / 40
            assert -0.05 <= top <= 0.05 and 0.9 <= top + h <= 1.1, (sid, ch, top, h)   # cap height
            assert adv > 0 and 0 <= left < adv, (sid, ch)


def test_styles_are_deterministic_and_varied():
    assert style(3) == style(3)
    assert np.array_equal(glyph(3, "M", 40)[0], glyph.__wrapped__(3, "M", 40)[0])
    styles = [style(i) for i in range(STYLES)]
    assert len({round(s.width, 2) for s in styles}) > 20
    assert {s.round for s in styles} >= {0.0, 1.0}
    assert any(s.m_depth < 0.45 for s in styles) and any(s.m_depth > 0.85 for s in styles)


def test_shallow_m_differs_from_h_and_w_from_m():
    """Even New York's half-depth M is not an H, and W is not M upside down in ink."""
    for sid in range(40):
        assert _diff(glyph(sid, "M", 48)[0], glyph(sid, "H", 48)[0]) > 0.08, sid
        assert _diff(glyph(sid, "O", 48)[0], glyph(sid, "D", 48)[0]) > 0.02, sid


def test_renderer_uses_stroke_fonts_and_boxes_hold():
    """Some plates' registrations are drawn in stroke styles; those go through worldplates' glyph
    path (cap metrics, advance) like any font."""
    name = f"{strokefont.PREFIX}5"
    m, top, adv, left = worldplates._glyph(name, "A")
    assert m is not None and worldplates._cap_px(name) == worldplates._BASE
    assert worldplates._glyph(name, "-")[0] is None        # not a registration character: no ink
    rng = np.random.default_rng(0)
    picks = [worldplates._main_font(rng, "x.ttf") for _ in range(400)]
    share = sum(p.startswith(strokefont.PREFIX) for p in picks) / len(picks)
    assert abs(share - worldplates.STROKE_SHARE) < 0.08


def test_bare_one_styles_for_mandatory_like_plates():
    """Brazil's grey plates ask for styles whose 1 is a bare bar (told from I only by the layout)."""
    rng = np.random.default_rng(2)
    picks = [worldplates._main_font(rng, "font.ttf", 0.6, bare_one=True) for _ in range(300)]
    styles = [int(p[len(strokefont.PREFIX):]) for p in picks if p.startswith(strokefont.PREFIX)]
    assert abs(len(styles) / len(picks) - 0.6) < 0.1
    assert styles and not any(style(s).one_flag for s in styles)
    one = glyph(styles[0], "1", 48)[0]
    assert one.shape[1] < 0.5 * one.shape[0]   # a bar, no flag reaching left


def test_new_york_long_flag_one_and_upright_w():
    """New York's 1 has a flag reaching far left (the shipped reader took it for a 7) and its W
    stands on upright legs: some styles draw each, inside the glyph's box, and the 7 stays a 7."""
    long_flags = [sid for sid in range(STYLES) if style(sid).one_flag and style(sid).flag_reach > 0.2]
    upright = [sid for sid in range(STYLES) if style(sid).w_lean < 0.05]
    assert len(long_flags) > STYLES // 20 and len(upright) > STYLES // 20
    for sid in long_flags[:10]:
        one, _, adv, left = glyph(sid, "1", 48)
        cols = np.nonzero(one[4:12].max(axis=0) > 128)[0]       # ink a few px below the top
        assert cols.max() - cols.min() > 0.2 * 48, sid   # the flag reaches far from the stem
        assert 0 <= left < adv, sid
        assert _diff(one, glyph(sid, "7", 48)[0]) > 0.15, sid
    for sid in upright[:10]:
        w = glyph(sid, "W", 48)[0] > 128
        bottom = np.nonzero(w[-3:].any(axis=0))[0]
        assert bottom.min() < 0.15 * w.shape[1] and bottom.max() > 0.85 * w.shape[1], sid   # legs end at the sides


def test_new_york_like_styles_for_new_york_plates():
    """New York plates pick New-York-like styles (a condensed face, a footless 1 with a long
    flag) for about NY_FACE_SHARE of plates, and that 1 stays apart from the style's 7."""
    ny = [sid for sid in range(STYLES) if worldplates.ny_like(style(sid))]
    assert len(ny) > 20
    for sid in ny:
        st = style(sid)
        assert st.width <= worldplates.NY_MAX_WIDTH and st.one_flag and not st.one_base
        assert _diff(glyph(sid, "1", 48)[0], glyph(sid, "7", 48)[0]) > 0.15, sid
    rng = np.random.default_rng(4)
    picks = [worldplates._main_font(rng, "font.ttf", worldplates.NY_FACE_SHARE, ny_face=True) for _ in range(300)]
    styles = [int(p[len(strokefont.PREFIX):]) for p in picks if p.startswith(strokefont.PREFIX)]
    assert abs(len(styles) / len(picks) - worldplates.NY_FACE_SHARE) < 0.1
    assert all(worldplates.ny_like(style(s)) for s in styles)
    # ... in their New York variant: W's middle vertex up near the cap top, M's far down, so that
    # the W is no M turned over with a half-height vertex
    assert all(s >= STYLES and style(s).w_depth >= 0.8 and style(s).m_depth >= 0.45 for s in styles)
    for s in styles[:10]:
        w = glyph(s, "W", 48)[0] > 128
        top = np.nonzero(w[:4].any(axis=1))[0]
        middle = w[:max(1, w.shape[0] // 5), int(0.4 * w.shape[1]):int(0.6 * w.shape[1]) + 1]
        assert top.size and middle.any(), s   # ink at the top in the middle: the vertex reaches up
        assert _diff(glyph(s, "W", 48)[0], glyph(s, "M", 48)[0]) > 0.05, s   # and stays apart from M


def test_slashed_zero_is_neither_o_nor_eight():
    """Iowa's and other faces' 0 is crossed by a slash: some styles draw it (those whose counter
    is wide enough to cross), and it stays apart from the style's O and 8."""
    slashed = [sid for sid in range(STYLES) if style(sid).zero_slash]
    drawn = [sid for sid in slashed if _diff(glyph(sid, "0", 48)[0], glyph(sid, "O", 48)[0]) > 0.1]
    assert len(drawn) > STYLES // 25
    for sid in drawn:
        assert _diff(glyph(sid, "0", 48)[0], glyph(sid, "8", 48)[0]) > 0.1, sid


def test_some_styles_draw_zero_narrower_than_o():
    """Brazil's Mandatory and the FE-Schrift draw 0 narrower than O; most US faces alike."""
    narrow = [sid for sid in range(STYLES) if glyph(sid, "0", 48)[0].shape[1] < 0.92 * glyph(sid, "O", 48)[0].shape[1]]
    assert STYLES // 5 < len(narrow) < STYLES * 4 // 5
    assert all(not style(sid).zero_slash for sid in narrow)   # a slashed 0 keeps its counter
