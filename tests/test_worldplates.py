"""The world plate renderer: determinism, the text/boxes/rows contract, boxes agree with the ink."""
from __future__ import annotations

import re

import numpy as np
import pytest

from convert.worldplates import REGIONS, region_group, render_plate, sample

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
                # ...and the box is tight: ink reaches every side of it
                assert ink[:3].any() and ink[-3:].any() and ink[:, :3].any() and ink[:, -3:].any(), (r, s.text)


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


def test_taxi_medallion_small_letter_is_read():
    """A New York medallion (5J23 + a small letter on the baseline): the small letter is part of the
    text, its box is the last, lower-case sized and sitting on the main characters' baseline."""
    rng = np.random.default_rng(4)
    found = 0
    for _ in range(120):
        p = render_plate(rng, "us-ny-taxi")
        if not re.fullmatch(r"[0-9][A-Z][0-9]{2}[A-Z]", p.text):
            continue
        found += 1
        assert len(p.boxes) == 5
        main, small = p.boxes[:4], p.boxes[4]
        cap = max(b[3] - b[1] for b in main)
        assert small[3] - small[1] < 0.75 * cap                     # small
        assert abs(small[3] - max(b[3] for b in main)) < 0.15 * cap  # on the baseline
        assert small[0] >= main[-1][2] - 1                           # after the main text
    assert found >= 5


def test_new_york_commercial_layout():
    rng = np.random.default_rng(8)
    texts = [render_plate(rng, "us-ny").text for _ in range(200)]
    assert sum(bool(re.fullmatch(r"[0-9]{5}[A-Z]{2}", t)) for t in texts) >= 10
