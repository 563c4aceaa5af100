"""Localizer on generated scenes: plates found, tilt undone, polarity normalised, zones honoured."""
import cv2
import numpy as np
import pytest

from plate_edge.config import LocalizeConfig, SegmentConfig
from plate_edge.localize import Localizer
from plate_edge.segment import segment
from plate_edge.sim.synth import PlateStyle, random_text, render_plate, render_scene
from plate_edge.types import Box


def _box(poly) -> Box:
    p = np.asarray(poly)
    (x0, y0), (x1, y1) = p.min(0), p.max(0)
    return Box(int(x0), int(y0), int(x1 - x0), int(y1 - y0))


def _gray(img):
    return cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)


def test_plates_in_generated_scenes_are_found():
    rng = np.random.default_rng(21)
    loc = Localizer(LocalizeConfig())
    found = total = 0
    for _ in range(15):
        scene = render_scene([random_text(rng) for _ in range(3)], rng, size=(960, 720))
        cands = loc.find(_gray(scene.image))
        for _, poly in scene.plates:
            total += 1
            found += max((c.box.iou(_box(poly)) for c in cands), default=0) >= 0.4
    assert total >= 30
    assert found >= 0.85 * total, (found, total)


def _pasted(plate_img, angle, canvas=(900, 600), bg=90):
    """A plate rotated by `angle` degrees in the middle of a plain canvas."""
    w, h = canvas
    out = np.full((h, w, 3), bg, np.uint8)
    ph, pw = plate_img.shape[:2]
    x0, y0 = (w - pw) // 2, (h - ph) // 2
    out[y0:y0 + ph, x0:x0 + pw] = plate_img
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    return cv2.warpAffine(out, m, (w, h), borderValue=(bg, bg, bg))


@pytest.mark.parametrize("angle", [-14.0, -7.0, 0.0, 8.0, 14.0])
@pytest.mark.parametrize("dark", [True, False])
def test_tilt_is_undone_and_crop_is_dark_on_light(angle, dark):
    rng = np.random.default_rng(4)
    style = PlateStyle(dark_on_light=dark, paper=(230, 230, 230) if dark else (30, 30, 30),
                       ink=(25, 25, 25) if dark else (230, 230, 230), char_height=36)
    plate = render_plate("KA4271", rng, style=style)
    cands = Localizer(LocalizeConfig()).find(_gray(_pasted(plate.image, angle)))
    assert cands
    best = cands[0]
    p = np.asarray(best.polygon)
    top_edge = np.degrees(np.arctan2(p[1, 1] - p[0, 1], p[1, 0] - p[0, 0]))
    assert abs(top_edge - (-angle)) < 2.5   # cv2 angles are counter-clockwise
    chars = segment(best.crop, SegmentConfig(), LocalizeConfig().crop_char_height)
    assert len(chars) == 6
    tops = np.array([c.box.y for c in chars])
    assert np.ptp(tops) <= 0.15 * np.median([c.box.h for c in chars]) + 2  # level after deskew
    # dark text on light: the crop's background is brighter than its characters
    ink = np.concatenate([best.crop[c.box.y:c.box.y + c.box.h, c.box.x:c.box.x + c.box.w].ravel() for c in chars])
    assert np.median(best.crop) > np.percentile(ink, 20) + 40


def test_from_crop_finds_the_text_of_a_plate_image():
    rng = np.random.default_rng(6)
    plate = render_plate("MH12AB", rng, style=PlateStyle(char_height=50, eu_band=True, bolts=True))
    cand = Localizer(LocalizeConfig()).from_crop(_gray(plate.image))
    assert cand is not None
    assert len(segment(cand.crop, SegmentConfig(), LocalizeConfig().crop_char_height)) == 6


def test_zones_filter_candidates():
    rng = np.random.default_rng(2)
    plate = render_plate("7301", rng, style=PlateStyle(char_height=36))
    img = _gray(_pasted(plate.image, 0.0))
    loc = Localizer(LocalizeConfig())
    assert loc.find(img)
    left_zone = [[(0, 0), (100, 0), (100, 600), (0, 600)]]
    assert loc.find(img, zones=left_zone) == []


@pytest.mark.parametrize("img", [np.zeros((480, 640), np.uint8), np.full((480, 640), 255, np.uint8),
                                 np.zeros((10, 10), np.uint8)])
def test_blank_frames_have_no_plates(img):
    assert Localizer(LocalizeConfig()).find(img) == []


def test_noise_does_not_crash():
    img = np.random.default_rng(0).integers(0, 256, (720, 1280), dtype=np.uint8)
    assert isinstance(Localizer(LocalizeConfig()).find(img), list)


def test_text_without_a_plate_outline_is_not_a_plate():
    """Writing on a plain surface (wall, sign, truck side) has no plate edge near it."""
    rng = np.random.default_rng(8)
    canvas = np.full((600, 900, 3), 150, np.uint8)
    cv2.putText(canvas, "KA4271", (250, 200), cv2.FONT_HERSHEY_SIMPLEX, 1.6, (30, 30, 30), 5, cv2.LINE_AA)
    plate = render_plate("KA4271", rng, style=PlateStyle(char_height=36))
    ph, pw = plate.image.shape[:2]
    canvas[400:400 + ph, 250:250 + pw] = plate.image
    gray = _gray(canvas)
    plain_text = Box(240, 150, 300, 70)
    assert any(c.box.iou(plain_text) > 0.3 for c in Localizer(LocalizeConfig(min_edge_contrast=0.0)).find(gray))
    cands = Localizer(LocalizeConfig()).find(gray)
    assert not any(c.box.iou(plain_text) > 0.3 for c in cands)
    assert any(c.box.y > 380 for c in cands)   # the plate is still found


def symbols_over_plate(text="4071358"):
    """A dark-on-light plate under a dark strip of light symbols that has more ink than the
    plate's text: which polarity holds the plate is in doubt for the localizer."""
    rng = np.random.default_rng(4)
    plate = render_plate(text, rng, style=PlateStyle(char_height=40, border=False, margin=0.4)).image
    strip = np.full((96, max(plate.shape[1], 340), 3), 30, np.uint8)
    cv2.putText(strip, "#@&#@", (8, 78), cv2.FONT_HERSHEY_SIMPLEX, 2.4, (230, 230, 230), 5, cv2.LINE_AA)
    plate = cv2.copyMakeBorder(plate, 0, 0, 0, strip.shape[1] - plate.shape[1], cv2.BORDER_REPLICATE)
    return np.vstack([strip, plate])


def test_crop_candidates_offer_the_other_polarity_only_when_in_doubt():
    loc = Localizer(LocalizeConfig())
    rng = np.random.default_rng(6)
    for dark in (True, False):   # clear plates: one candidate, as from_crop gives
        plate = render_plate("MH12AB", rng, style=PlateStyle(char_height=40, dark_on_light=dark,
                                                             paper=(230,) * 3 if dark else (30,) * 3,
                                                             ink=(30,) * 3 if dark else (230,) * 3))
        assert len(loc.crop_candidates(_gray(plate.image))) == 1
    both = loc.crop_candidates(_gray(symbols_over_plate()))
    assert len(both) == 2
    counts = [len(segment(c.crop, SegmentConfig(), LocalizeConfig().crop_char_height)) for c in both]
    assert counts[1] == 7 and counts[0] != 7   # the symbols have the more ink; the plate comes second
    never = Localizer(LocalizeConfig(polarity_doubt=2.0))
    assert len(never.crop_candidates(_gray(symbols_over_plate()))) == 1


def touching_pairs(text="OKM2385", char_h=40):
    """A plate whose characters touch their neighbours two by two (ink bleeding over tight
    spacing in a blurry shot): every pair is one blob wider than any single character."""
    rng = np.random.default_rng(5)
    style = PlateStyle(char_height=char_h, spacing=0.2, border=False, margin=0.5)
    plate = render_plate(text, rng, style=style)
    img = plate.image.copy()
    ink = _gray(img) < 128
    for a, b in zip(plate.char_boxes[0::2], plate.char_boxes[1::2]):
        # a short bridge from a's ink to b's, on the row nearest mid-height where both have ink
        rows = [y for y in range(a.y, a.y + a.h) if ink[y, a.x:a.x + a.w].any() and ink[y, b.x:b.x + b.w].any()]
        y = min(rows, key=lambda r: abs(r - (a.y + a.h // 2)))
        x0 = a.x + int(np.flatnonzero(ink[y, a.x:a.x + a.w]).max())
        x1 = b.x + int(np.flatnonzero(ink[y, b.x:b.x + b.w]).min())
        img[y - 1:y + 2, x0:x1 + 1] = style.ink
    return _gray(img), plate


def test_from_crop_finds_text_whose_characters_touch_in_pairs():
    gray, plate = touching_pairs()
    cand = Localizer(LocalizeConfig()).from_crop(gray)
    assert cand is not None
    # the text line holds every character: its blobs span the text, first to last character
    hints = np.array([[b.x, b.x + b.w] for b in cand.char_boxes], np.float64)
    x0, x1 = (cand.to_frame @ [[hints.min(), hints.max()], [0, 0], [1, 1]])[0]
    first, last = plate.char_boxes[0], plate.char_boxes[-1]
    assert abs(x0 - first.x) <= 3 and abs(x1 - (last.x + last.w)) <= 3


def dim_bold_plate(dark=True, stroke=4, char_h=34, light=80):
    """A dim, noisy plate of bold characters (text JIY4434) between a bright bumper above and a
    dark shadow below. The surroundings set a large threshold offset, so on a dark-on-light plate
    the other polarity's mask keeps only the paper pinched between the bold strokes: a "ghost"
    line of character-sized pieces with more ink than the real characters. `light` is the
    paper (dark text) or ink (light text) level. Returns the frame and the plate's box."""
    style = PlateStyle(dark_on_light=dark, stroke=stroke, char_height=char_h,
                       paper=(light,) * 3 if dark else (30,) * 3, ink=(25,) * 3 if dark else (light,) * 3)
    img = render_plate("JIY4434", np.random.default_rng(1), style=style).image.astype(np.float32)
    img = cv2.GaussianBlur(img, (0, 0), 1.0) + np.random.default_rng(3).normal(0, 8, img.shape[:2])[..., None]
    ph, pw = img.shape[:2]
    gray = _gray(_pasted(np.clip(img, 0, 255).astype(np.uint8), 0.0, canvas=(1280, 720)))
    x0, y0 = (1280 - pw) // 2, (720 - ph) // 2
    gray[y0 - ph // 2:y0 - 4, x0 - 40:x0 + pw + 40] = 250
    gray[y0 + ph + 4:y0 + ph + ph // 2, x0 - 40:x0 + pw + 40] = 5
    return gray, Box(x0, y0, pw, ph)


# bold dark text with a ghost line; guards: light text, bold and normal (the segmenter joins a
# pair of the bold light characters on bright ink: 6 is enough there to show the polarity)
@pytest.mark.parametrize("dark,stroke,light,n", [(True, 4, 80, 7), (False, 4, 110, 7), (False, 4, 200, 6),
                                                 (False, 0, 110, 7), (False, 0, 200, 7)])
def test_bold_text_is_read_in_its_own_polarity_not_its_ghost(dark, stroke, light, n):
    gray, plate = dim_bold_plate(dark, stroke, light=light)
    cands = [c for c in Localizer(LocalizeConfig()).find(gray) if c.box.iou(plate) > 0.3]
    assert cands
    crop = cands[0].crop
    chars = segment(crop, SegmentConfig(), LocalizeConfig().crop_char_height)
    assert len(chars) >= n
    # normalised to dark on light: the plate margin just above the characters is brighter than their ink
    x0, x1 = min(c.box.x for c in chars), max(c.box.x + c.box.w for c in chars)
    y0 = min(c.box.y for c in chars)
    ink = np.concatenate([crop[c.box.y:c.box.y + c.box.h, c.box.x:c.box.x + c.box.w].ravel() for c in chars])
    assert np.median(crop[y0 - 6:y0 - 2, x0:x1]) > np.percentile(ink, 20) + 30
