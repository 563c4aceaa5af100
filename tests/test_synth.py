"""The synthetic plate/scene renderer: determinism, geometry of its ground truth, fallbacks."""
import cv2
import numpy as np
import pytest

from plate_edge.sim import synth
from plate_edge.types import Box


def _inside(box: Box, image: np.ndarray) -> bool:
    h, w = image.shape[:2]
    return box.x >= 0 and box.y >= 0 and box.x + box.w <= w and box.y + box.h <= h and box.w > 0 and box.h > 0


def test_render_plate_is_deterministic():
    a = synth.render_plate("AB123CD", np.random.default_rng(7))
    b = synth.render_plate("AB123CD", np.random.default_rng(7))
    assert np.array_equal(a.image, b.image) and a.char_boxes == b.char_boxes


@pytest.mark.parametrize("seed", range(8))
def test_char_boxes_cover_each_character(seed):
    rng = np.random.default_rng(seed)
    plate = synth.render_plate("ABC 1234", rng)
    assert plate.text == "ABC1234"
    assert plate.image.dtype == np.uint8 and plate.image.ndim == 3
    assert len(plate.char_boxes) == 7
    assert all(_inside(b, plate.image) for b in plate.char_boxes)
    xs = [b.x for b in plate.char_boxes]
    assert xs == sorted(xs)                                 # reading order
    for a, b in zip(plate.char_boxes, plate.char_boxes[1:]):
        assert a.iou(b) == 0                                # no overlapping boxes in one row


@pytest.mark.parametrize("dark", [True, False])
def test_polarity(dark):
    rng = np.random.default_rng(3)
    style = synth.PlateStyle(font=(synth.find_fonts() or (None,))[0], dark_on_light=dark,
                             paper=(230, 230, 230) if dark else (20, 20, 20),
                             ink=(20, 20, 20) if dark else (230, 230, 230), border=False)
    plate = synth.render_plate("8", rng, style)
    gray = cv2.cvtColor(plate.image, cv2.COLOR_BGR2GRAY)
    b = plate.char_boxes[0]
    ink = gray[b.y:b.y + b.h, b.x:b.x + b.w].min() if dark else gray[b.y:b.y + b.h, b.x:b.x + b.w].max()
    paper = np.median(gray)
    assert plate.dark_on_light is dark
    assert (ink < paper - 100) if dark else (ink > paper + 100)


def test_look_alike_glyphs():
    """bar_one draws 1 as a solid bar as narrow as the I's stem; o_zero draws 0 as a narrowed O."""
    font = next((f for f in synth.find_fonts() if "DejaVuSans.ttf" in f), None)
    if font is None:
        pytest.skip("DejaVuSans not installed")
    def ink(style, ch):
        mask, _ = synth._styled_glyph(style, 40, ch)
        return mask
    plain, swapped = synth.PlateStyle(font=font), synth.PlateStyle(font=font, bar_one=True, o_zero=True)
    bar = ink(swapped, "1")
    assert (bar > 127).mean() > 0.95 and bar.shape[1] < ink(plain, "1").shape[1] / 2
    zero, letter_o = ink(swapped, "0"), ink(plain, "O")
    assert zero.shape[0] == letter_o.shape[0] and zero.shape[1] == round(letter_o.shape[1] * 0.85)
    assert ink(swapped, "7").shape == ink(plain, "7").shape


@pytest.mark.parametrize("top", ["slant", "flat"])
def test_straight_six(top):
    """six_top draws 6 as a closed bowl under a straight stroke (a hole low down, none in the top
    40%, which is open to the right), and 9 as the same glyph upside down."""
    font = next((f for f in synth.find_fonts() if "DejaVuSans.ttf" in f), None)
    style = synth.PlateStyle(font=font, six_top=top)
    six, _ = synth._styled_glyph(style, 40, "6")
    nine, _ = synth._styled_glyph(style, 40, "9")
    assert np.array_equal(nine, six[::-1, ::-1])
    assert not np.array_equal(six, synth._styled_glyph(synth.PlateStyle(font=font), 40, "6")[0])
    h, w = six.shape
    background = (six < 100).astype(np.uint8)
    n, labels = cv2.connectedComponents(background, connectivity=4)
    outside = set(labels[0]) | set(labels[-1]) | set(labels[:, 0]) | set(labels[:, -1])
    holes = [k for k in range(1, n) if k not in outside]
    assert len(holes) == 1
    ys, _ = np.nonzero(labels == holes[0])
    assert ys.min() > 0.4 * h                              # the bowl is in the lower part
    assert (six[: h // 4, -max(1, w // 8):] < 100).all()   # the top right is open (not a 0/8)


def test_two_rows():
    plate = synth.render_plate("AB12345", np.random.default_rng(1), rows=2)
    assert plate.rows == 2
    top, bottom = plate.char_boxes[:3], plate.char_boxes[3:]
    assert max(b.y + b.h for b in top) <= min(b.y for b in bottom)


def test_hershey_fallback_without_fonts():
    rng = np.random.default_rng(0)
    style = synth.random_style(rng, fonts=())
    assert style.font is None
    plate = synth.render_plate("XY789", rng, style)
    assert len(plate.char_boxes) == 5 and all(_inside(b, plate.image) for b in plate.char_boxes)
    assert synth.find_fonts(("/nonexistent-font-dir",)) == ()


def test_render_scene_ground_truth():
    rng = np.random.default_rng(11)
    scene = synth.render_scene(["ABC1234", "XY12ZZ"], rng, size=(640, 480))
    assert scene.image.shape == (480, 640, 3) and scene.image.dtype == np.uint8
    assert [t for t, _ in scene.plates] == ["ABC1234", "XY12ZZ"]
    for (text, poly), chars in zip(scene.plates, scene.chars):
        pts = np.array(poly)
        assert pts.shape == (4, 2)
        assert (pts[:, 0] >= 0).all() and (pts[:, 0] <= 640).all()
        assert (pts[:, 1] >= 0).all() and (pts[:, 1] <= 480).all()
        width = np.linalg.norm(pts[1] - pts[0])
        assert 50 <= width <= 420
        top = pts[1] - pts[0]
        assert abs(np.degrees(np.arctan2(top[1], top[0]))) <= 25  # tilt (+ perspective)
        assert len(chars) == len(text)


def test_render_scene_is_deterministic():
    a = synth.render_scene(["AB123"], np.random.default_rng(5), size=(320, 240))
    b = synth.render_scene(["AB123"], np.random.default_rng(5), size=(320, 240))
    assert np.array_equal(a.image, b.image) and a.plates == b.plates


def test_degrade_keeps_shape_and_type():
    img = np.full((40, 120, 3), 200, np.uint8)
    out = synth.degrade(img, np.random.default_rng(0))
    assert out.shape == img.shape and out.dtype == np.uint8
    gray = synth.degrade(img[..., 0], np.random.default_rng(0))
    assert gray.shape == (40, 120)


def test_random_text_pattern():
    rng = np.random.default_rng(0)
    t = synth.random_text(rng, "LLL-DDDD")
    assert t[:3].isalpha() and t[3] == "-" and t[4:].isdigit()
