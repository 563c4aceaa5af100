"""The world plate renderer: determinism, the text/boxes/rows contract, boxes agree with the ink."""
from __future__ import annotations

import re

import cv2
import numpy as np
import pytest

from convert import worldplates
from convert.worldplates import GLARE_MAX, REGIONS, glare, region_group, render_plate, sample, sharpen

GROUPS = ("us", "ca", "eu", "gb", "br", "ar", "other")


def test_deterministic():
    for seed in (0, 1, 17):
        a = sample(np.random.default_rng(seed))
        b = sample(np.random.default_rng(seed))
        assert a.text == b.text and a.boxes == b.boxes and a.rows == b.rows and a.region == b.region
        assert np.array_equal(a.image, b.image)


def test_contract_many_samples():
    rng = np.random.default_rng(123)
    for _ in range(100):
        s = sample(rng)
        assert s.image.dtype == np.uint8 and s.image.ndim == 3 and s.image.shape[2] == 3
        assert re.fullmatch(r"[0-9A-Z]{2,10}", s.text), s.text
        assert len(s.boxes) == len(s.text) == len(s.rows)
        h, w = s.image.shape[:2]
        for x, y, bw, bh in s.boxes:
            assert 0 <= x and 0 <= y and bw > 0 and bh > 0 and x + bw <= w and y + bh <= h
        assert s.region in REGIONS
        assert set(s.rows) <= {0, 1}


def test_every_group_and_region_samples():
    rng = np.random.default_rng(5)
    assert {region_group(r) for r in REGIONS} == set(GROUPS)
    for r in REGIONS:
        s = sample(rng, r)
        assert s.region == r and len(s.boxes) == len(s.text)
    with pytest.raises(ValueError):
        sample(rng, "xx-nowhere")


def test_boxes_hold_the_ink():
    """Clean renders: inside each character box the ink contrast is far above that of the plate."""
    rng = np.random.default_rng(9)
    for r in ("us-ny", "us-nj", "us-ny-taxi", "eu-de", "gb", "br", "br-mercosur", "ar", "ar-mercosur", "ca-on"):
        for _ in range(3):
            s = sample(rng, r, clean=True)
            g = s.image.astype(np.float32).mean(2)
            for x, y, w, h in s.boxes:
                patch = g[y:y + h, x:x + w]
                # the plate just above and below the box (neighbours sit left and right)
                ring = np.concatenate([g[max(0, y - 4):max(0, y - 2), x:x + w].ravel(),
                                       g[y + h + 2:y + h + 4, x:x + w].ravel()])
                bg = np.median(ring)
                dev = np.abs(patch - bg)
                assert dev.max() > 45, (r, s.text)                      # the glyph is in its box
                ink = dev > 0.3 * dev.max()
                # ...and the box is tight: ink reaches every side of it (within 4 px: a round stroke
                # end, scaled to 40 px characters, fades below the contrast over up to 3)
                assert ink[:4].any() and ink[-4:].any() and ink[:, :4].any() and ink[:, -4:].any(), (r, s.text)


def test_plate_boxes_match_glyph_pixels():
    """On the canonical plate (before warping) each box is the ink of one glyph: outside the boxes
    of the text row and between glyphs, the text colour is absent."""
    rng = np.random.default_rng(11)
    p = render_plate(rng, "eu-de")
    assert len(p.boxes) == len(p.text)
    xs = sorted((b[0], b[2]) for b in p.boxes)
    for (_a0, a1), (b0, _b1) in zip(xs, xs[1:]):
        assert a1 <= b0 + 2   # glyph boxes do not overlap (beyond antialiasing)


def test_two_row():
    rng = np.random.default_rng(3)
    found = 0
    for _ in range(250):
        s = sample(rng)
        if 1 in s.rows:
            found += 1
            assert s.rows == sorted(s.rows) and s.rows[0] == 0
            top = [b for b, r in zip(s.boxes, s.rows) if r == 0]
            bot = [b for b, r in zip(s.boxes, s.rows) if r == 1]
            assert np.mean([y + h / 2 for x, y, w, h in bot]) > max(y + h / 2 for x, y, w, h in top)
    assert found >= 10


def _rendered(region: str, seed: int, n: int, pattern: str):
    """The canonical plates of `region` among n rendered from `seed` whose text matches `pattern`."""
    rng = np.random.default_rng(seed)
    return [p for p in (render_plate(rng, region) for _ in range(n)) if re.fullmatch(pattern, p.text)]


def test_taxi_medallion_small_letter_is_read():
    """A New York medallion (5J23 + a small letter on the baseline): the small letter is part of the
    text, its box is the last, lower-case sized and sitting on the main characters' baseline."""
    medallions = _rendered("us-ny-taxi", 4, 120, r"[0-9][A-Z][0-9]{2}[A-Z]")
    for p in medallions:
        assert len(p.boxes) == 5
        main, small = p.boxes[:4], p.boxes[4]
        cap = max(b[3] - b[1] for b in main)
        assert small[3] - small[1] < 0.75 * cap                     # small
        assert abs(small[3] - max(b[3] for b in main)) < 0.15 * cap  # on the baseline
        assert small[0] >= main[-1][2] - 1                           # after the main text
    assert len(medallions) >= 5


def test_new_york_commercial_layout():
    rng = np.random.default_rng(8)
    texts = [render_plate(rng, "us-ny").text for _ in range(200)]
    assert sum(bool(re.fullmatch(r"[0-9]{5}[A-Z]{2}", t)) for t in texts) >= 10


def _ink_beside_text(p, fg) -> int:
    """Pixels in the text colour beside the registration (left and right of its boxes, over its
    rows, inside the plate's outer 4%)."""
    x0, x1 = min(b[0] for b in p.boxes), max(b[2] for b in p.boxes)
    y0, y1 = min(b[1] for b in p.boxes), max(b[3] for b in p.boxes)
    w = p.img.shape[1]
    band = np.abs(p.img[y0:y1] - fg).max(axis=2) < 0.15
    return int(band[:, int(w * 0.04):max(int(w * 0.04), x0)].sum() + band[:, x1:int(w * 0.96)].sum())


@pytest.mark.parametrize("extra", [dict(code=True, agency=True), dict(code=True, agency=False),
                                   dict(access=True, code=False)])
def test_type_code_and_access_symbol_are_not_text(extra):
    """A stacked plate-type code (after issuer text) or the symbol of access is painted beside the
    registration in its colour, yet neither is part of the text or its boxes."""
    from convert.worldplates import _rgb, _us_like
    fg = _rgb("1a2050")
    painted = 0
    for seed in range(6):
        rng = np.random.default_rng(seed)
        p = _us_like(rng, "us-ny", bg=_rgb("f0aa28"), fg=fg, state="NEW YORK", slogan="", text="3178",
                     breaks=[], stacked=False, **extra)
        assert p.text == "3178" and len(p.boxes) == 4
        plain = _us_like(np.random.default_rng(seed), "us-ny", bg=_rgb("f0aa28"), fg=fg, state="NEW YORK",
                         slogan="", text="3178", breaks=[], stacked=False, code=False, access=False)
        painted += _ink_beside_text(p, fg) > _ink_beside_text(plain, fg) + 30
    assert painted == 6


def test_new_york_police_year_is_read():
    """New York police plates: four digits and a small two-digit year after them, all registration."""
    police = [p for p in _rendered("us-ny", 2, 400, r"[0-9]{6}")
              if p.boxes[4][3] - p.boxes[4][1] < 0.75 * (p.boxes[0][3] - p.boxes[0][1])]   # a small year
    for p in police:
        assert p.boxes[4][0] >= p.boxes[3][2] - 1 and p.boxes[5][0] >= p.boxes[4][2] - 1
    assert len(police) >= 3


def test_sharpening_puts_a_dark_and_a_bright_halo_along_an_edge():
    """The renderer's camera sharpens like an image processor: beside a grey-to-lighter step the
    dark side dips below its grey and the light side rises above its level (a plain blur would
    stay between the two)."""
    img = np.full((20, 40), 0.3, np.float32)
    img[:, 20:] = 0.7
    soft = cv2.GaussianBlur(img, (0, 0), 1.0)
    assert soft.min() >= 0.3 - 1e-6 and soft.max() <= 0.7 + 1e-6
    row = sharpen(soft, 1.0, 1.0)[10]
    assert row[:20].min() < 0.295 and row[20:].max() > 0.705
    assert abs(row[2] - 0.3) < 1e-3 and abs(row[-3] - 0.7) < 1e-3   # flat areas unchanged


def test_glare_brightens_but_never_erases_the_ink():
    """Glare at its strongest, centred on dark ink on a light plate: both get brighter, and the ink
    keeps at least 1 - GLARE_MAX of its contrast (so a glared plate's text is still there to read);
    outside the spot nothing changes."""
    img = np.full((20, 40, 3), 0.9, np.float32)
    img[5:15, 15:25] = 0.1
    spot = np.zeros((20, 40), np.float32)
    spot[:, 10:30] = 1.0
    out = glare(img, spot, GLARE_MAX)
    assert out.max() <= 1.0 and out[10, 20, 0] > 0.1 + 0.5 and out[10, 12, 0] > 0.9
    assert out[10, 12, 0] - out[10, 20, 0] >= (1 - GLARE_MAX) * 0.8 - 1e-6
    assert np.array_equal(out[:, :10], img[:, :10]) and np.array_equal(out[:, 30:], img[:, 30:])


def test_new_york_separator_is_the_state_outline():
    """New York plates part their groups with the state's outline: wider than tall, the bulk of
    upstate across the top, Long Island a tail at the bottom right, nothing at the bottom left."""
    m = worldplates._shape_mask(np.random.default_rng(3), "ny", 40) > 0.5
    h, w = m.shape
    assert 1.2 * h <= w <= 1.5 * h
    assert m[: h // 3, w // 2:].mean() > 0.3 and m[int(h * 0.85):, int(w * 0.75):].any()
    assert not m[int(h * 0.85):, : w // 2].any()


def _edges_touched(monkeypatch, share_name: str, share: float, seed: int) -> dict[str, int]:
    """Among 40 New York crops rendered with worldplates.<share_name> = share: how many have a
    character box reaching the crop's left, right, top or bottom edge."""
    monkeypatch.setattr(worldplates, share_name, share)
    rng = np.random.default_rng(seed)
    out = dict(left=0, right=0, top=0, bottom=0)
    for _ in range(40):
        s = sample(rng, "us-ny")
        out["left"] += min(x for x, _, _, _ in s.boxes) <= 0
        out["right"] += max(x + bw for x, _, bw, _ in s.boxes) >= s.image.shape[1]
        out["top"] += min(y for _, y, _, _ in s.boxes) <= 0
        out["bottom"] += max(y + bh for _, y, _, bh in s.boxes) >= s.image.shape[0]
    return out


def test_some_crops_cut_into_the_first_or_last_character(monkeypatch):
    """As hand-drawn label boxes do, some crops cut off part of the first or the last character
    whatever the margin: its box then reaches the crop's left or right edge."""
    cut = _edges_touched(monkeypatch, "SIDE_CUT_SHARE", 1.0, 32)
    assert cut["left"] + cut["right"] >= 36 and cut["left"] > 5 and cut["right"] > 5
    plain = _edges_touched(monkeypatch, "SIDE_CUT_SHARE", 0.0, 32)
    assert plain["left"] + plain["right"] < 8


def test_some_crops_bite_into_the_characters_feet_or_tops(monkeypatch):
    """As hand-drawn label boxes do, a few crops cut off the characters' feet (mostly) or tops:
    the cut character's box then reaches the crop's edge."""
    cut = _edges_touched(monkeypatch, "ROW_CUT_SHARE", 1.0, 31)
    assert cut["bottom"] + cut["top"] >= 38 and cut["bottom"] > cut["top"] > 3
    plain = _edges_touched(monkeypatch, "ROW_CUT_SHARE", 0.0, 31)
    assert plain["bottom"] + plain["top"] < 8


def test_countries_plates_hold_only_the_letters_and_serials_they_issue():
    """Rendered plates follow the rules plate_edge.layouts decodes with: no vowels in Spain, no O
    in France or Italy, only the Latin-Cyrillic letters in Ukraine and Bulgaria, Norwegian serials
    from 10000; each region's rendered standard plates are a layout of its own in the prior."""
    from plate_edge.layouts import LAYOUTS, layout_regex
    rng = np.random.default_rng(3)
    for region, banned in (("eu-es", "AEIOUQ"), ("eu-fr", "IOU"), ("eu-it", "IOQU"), ("ua", "DFGJLNQRSUVWYZ"),
                           ("eu-bg", "DFGIJLNQRSUVWZ"), ("eu-nl", "AEIOUCMQWY")):
        texts = [render_plate(rng, region).text for _ in range(60)]
        # (a few plates of each region are random text, as real ones of other series are)
        listed = [t for t in texts if any(re.fullmatch(layout_regex(lay), t) for lay, _ in LAYOUTS[region[-2:]])]
        assert len(listed) >= 45, region
        assert not any(set(t) & set(banned) for t in listed), region
    serials = [render_plate(rng, "no").text[2:] for _ in range(60)]
    assert all(s[0] != "0" for s in serials if len(s) == 5)


def test_some_crops_lean_as_far_as_real_ones():
    """Real US and Argentine crops lean past a shear of 0.2 (x per y) in 11-16% of crops; the
    renderer's rectification residue leans about 5% that far each way, none past 0.3 and rotation."""
    rng = np.random.default_rng(0)
    leans = []
    for _ in range(2000):
        h = worldplates._homography(rng, (200, 400), 20, 300, 150, 1.0)
        up = h[:2, :2] @ np.array([0.0, 1.0])          # where a vertical stroke points
        leans.append(up[0] / up[1])
    leans = np.array(leans)
    assert 0.015 < (leans > 0.2).mean() < 0.06 and 0.015 < (leans < -0.2).mean() < 0.06
    assert np.abs(leans).max() < worldplates.WIDE_SHEAR + np.tan(np.deg2rad(9))
