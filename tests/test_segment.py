"""Segmenter on rendered plates: the right characters, in order, and nothing else."""
import cv2
import numpy as np
import pytest

from plate_edge.config import SegmentConfig
from plate_edge.segment import char_groups, segment
from plate_edge.sim.synth import PlateStyle, find_fonts, random_text, render_plate
from plate_edge.types import Box, CharCrop


def _gray(plate):
    g = cv2.cvtColor(plate.image, cv2.COLOR_BGR2GRAY)
    return g if plate.dark_on_light else 255 - g  # the localizer hands over dark-on-light crops


def _matches(chars, plate) -> bool:
    """Same count, and each segmented box overlaps the true box of the same position."""
    if len(chars) != len(plate.char_boxes):
        return False
    return all(c.box.iou(b) >= 0.4 for c, b in zip(chars, plate.char_boxes))


def test_random_plates_mostly_segmented_exactly():
    rng = np.random.default_rng(11)
    ok = 0
    for _ in range(60):
        plate = render_plate(random_text(rng), rng)
        ok += _matches(segment(_gray(plate), SegmentConfig()), plate)
    assert ok >= 0.8 * 60, ok


@pytest.mark.parametrize("dark", [True, False])
def test_clutter_is_rejected(dark):
    """EU band, bolts, border and a small header line must not become characters."""
    rng = np.random.default_rng(3)
    fonts = find_fonts()
    style = PlateStyle(font=fonts[0] if fonts else None, dark_on_light=dark,
                       paper=(235, 235, 235) if dark else (20, 20, 20), ink=(20, 20, 20) if dark else (235, 235, 235),
                       char_height=40, eu_band=dark, bolts=True, border=True, header="CITY-NAME",
                       separator="-")
    plate = render_plate("AB123CD", rng, style=style)
    chars = segment(_gray(plate), SegmentConfig())
    assert _matches(chars, plate), [c.box for c in chars]


def test_two_rows_are_ordered_by_row():
    rng = np.random.default_rng(5)
    fonts = find_fonts()
    style = PlateStyle(font=fonts[0] if fonts else None, char_height=36, border=False)
    plate = render_plate("ABC 1234", rng, style=style, rows=2)
    chars = segment(_gray(plate), SegmentConfig())
    assert _matches(chars, plate)
    assert [c.row for c in chars] == [0, 0, 0, 1, 1, 1, 1]


def test_patches_are_ink_on_black():
    rng = np.random.default_rng(8)
    plate = render_plate("4711", rng, style=PlateStyle(char_height=40))
    chars = segment(_gray(plate), SegmentConfig())
    assert len(chars) == 4
    for c in chars:
        assert c.patch.dtype == np.uint8
        # the border of a patch is mostly background (dark), its inside has bright ink
        border = np.concatenate([c.patch[0], c.patch[-1], c.patch[:, 0], c.patch[:, -1]])
        assert np.median(border) < 128 and c.patch.max() > 200


@pytest.mark.parametrize("img", [np.zeros((0, 0), np.uint8), np.zeros((1, 1), np.uint8),
                                 np.zeros((60, 200), np.uint8), np.full((60, 200), 255, np.uint8)])
def test_blank_input_gives_nothing(img):
    assert segment(img, SegmentConfig()) == []


def test_count_limits_are_honoured():
    rng = np.random.default_rng(9)
    plate = render_plate("AB12", rng, style=PlateStyle(char_height=40))
    assert segment(_gray(plate), SegmentConfig(min_chars=5)) == []


def _plates(seed: int, pattern: str, **style):
    """20 borderless plates with 40 px characters, cycling through the installed fonts."""
    rng = np.random.default_rng(seed)
    fonts = find_fonts()
    for i in range(20):
        look = PlateStyle(font=fonts[i % len(fonts)] if fonts else None, char_height=40, border=False, **style)
        yield render_plate(random_text(rng, pattern), rng, style=look)


def _kept_after_damage(seed: int, pattern: str, damage, separator: str = "") -> int:
    """How many of 20 rendered plates still segment into all their characters after `damage`
    draws on them in ink colour."""
    ok = 0
    for plate in _plates(seed, pattern, separator=separator):
        gray = _gray(plate)
        damage(gray, plate.char_boxes, int(np.percentile(gray, 2)))
        ok += len(segment(gray, SegmentConfig())) == len(plate.char_boxes)
    return ok


def test_characters_touching_a_frame_edge_are_kept():
    """A frame edge drawn through the foot of every character must not merge them into one blob."""
    def frame_edge(gray, boxes, ink):
        bottom = max(b.y + b.h for b in boxes)
        cv2.line(gray, (0, bottom), (gray.shape[1], bottom), ink, 3)
    ok = _kept_after_damage(17, "LLDDDD", frame_edge)
    assert ok >= 14, ok


def test_a_character_merged_with_something_above_it_is_kept():
    """Header text or a bolt touching one character must not lose that character."""
    def blob_above_third(gray, boxes, ink):
        b = boxes[2]
        cv2.rectangle(gray, (b.x, max(0, b.y - b.h // 2)), (b.x + b.w, b.y + 2), ink, -1)
    ok = _kept_after_damage(23, "LLLDDDD", blob_above_third)
    assert ok >= 14, ok


def test_solid_bars_count_as_characters():
    """In plain bold fonts 1 and I are solid rectangles; they are characters, not blocks."""
    img = np.full((80, 300), 230, np.uint8)
    x = 20
    for ch in "4I7I":
        if ch == "I":
            cv2.rectangle(img, (x + 8, 31), (x + 14, 59), 20, -1)   # as tall as the digits
        else:
            cv2.putText(img, ch, (x, 60), cv2.FONT_HERSHEY_SIMPLEX, 1.45, 20, 5, cv2.LINE_AA)
        x += 40
    chars = segment(img, SegmentConfig())
    assert len(chars) == 4, [c.box for c in chars]


@pytest.mark.parametrize("text,sep,rows,groups", [
    ("ABC 1234", "", 1, ["ABC", "1234"]),       # a space
    ("AB123CD", "-", 1, ["AB", "123CD"]),        # a hyphen at the first letter/digit change
    ("M1I1HXY", ".", 1, ["M", "1I1HXY"]),        # a dot; narrow 1 and I make no gaps
    ("ABC1D23", "", 1, ["ABC1D23"]),             # evenly spaced: one group
    ("ABC 1234", "", 2, ["ABC", "1234"]),        # two rows
])
def test_char_groups_split_at_separators_and_rows(text, sep, rows, groups):
    rng = np.random.default_rng(5)
    fonts = find_fonts()
    style = PlateStyle(font=fonts[0] if fonts else None, char_height=40, spacing=0.12, separator=sep)
    plate = render_plate(text, rng, style=style, rows=rows)
    chars = segment(_gray(plate), SegmentConfig())
    assert _matches(chars, plate)
    got = ["".join(plate.text[i] for i in g) for g in char_groups(chars)]
    assert got == groups


def test_narrow_glyphs_centred_in_their_cell_make_no_group_gap():
    """Plate fonts give 1 and I the usual advance: the wide bare sides of a 1 are no separator."""
    def cell(i, w=20, shift=0):   # monospaced cells 26 px apart, characters 40 px tall
        return CharCrop(box=Box(i * 26 + shift + (20 - w) // 2, 0, w, 40), row=0, patch=None)
    chars = [cell(0), cell(1), cell(2), cell(3, shift=24), cell(4, w=6), cell(5, w=6), cell(6)]
    assert [len(g) for g in char_groups(chars)] == [3, 4]


def test_a_frame_line_under_some_characters_adds_no_character():
    """A frame line just under characters 1-3, joined to 1 and 3 and running on down: the blob
    it makes of them must not come back as extra characters next to the ones between."""
    def frame_line(gray, boxes, ink):
        b1, b3 = boxes[1], boxes[3]
        foot = max(b.y + b.h for b in boxes)
        cv2.rectangle(gray, (b1.x, foot + 1), (b3.x + b3.w, foot + 2), ink, -1)
        for b in (b1, b3):
            cv2.rectangle(gray, (b.x + b.w // 3, b.y + b.h - 2), (b.x + b.w // 2, foot + 1), ink, -1)
        cv2.rectangle(gray, (b1.x, foot + 1), (b1.x + 3, gray.shape[0] - 1), ink, -1)
    ok = _kept_after_damage(23, "LLLDDDD", frame_line)
    assert ok >= 16, ok


def test_an_end_character_merged_with_something_above_it_is_kept():
    """The first character hanging on a bolt or frame piece is still a character of the line."""
    def blob_above_first(gray, boxes, ink):
        b = boxes[0]
        cv2.rectangle(gray, (b.x, max(0, b.y - b.h // 2)), (b.x + b.w // 2, b.y + 2), ink, -1)
    ok = _kept_after_damage(23, "LLLDDDD", blob_above_first)
    assert ok >= 16, ok


def test_a_bolt_under_a_character_does_not_cut_the_line_short():
    """A bolt touching the foot of the next-to-last character makes it taller than the others; the
    line must keep it and the character after it."""
    def bolt_below(gray, boxes, ink):
        b = boxes[-2]
        cv2.circle(gray, (b.x + b.w // 2, b.y + b.h + 5), 7, ink, -1)
    ok = _kept_after_damage(23, "LLLDDDD", bolt_below)
    assert ok >= 16, ok


def test_a_separator_touching_its_neighbours_is_not_a_character():
    """A hyphen run into the characters either side of it is cut away, not kept as a character."""
    def long_hyphen(gray, boxes, ink):
        b1, b2 = boxes[1], boxes[2]
        cy = (b1.y + b2.y + (b1.h + b2.h) // 2) // 2
        cv2.rectangle(gray, (b1.x + b1.w // 2, cy - 2), (b2.x + b2.w // 2, cy + 2), ink, -1)
    ok = _kept_after_damage(7, "LLDDDD", long_hyphen, separator="-")
    assert ok >= 16, ok


def test_the_rim_of_an_eu_band_is_not_a_character():
    """A grey band (an EU band's blue) between the plate's light border and, on its left, the dark
    car body: local thresholds mark its right rim, a character-high bar next to the text."""
    rng = np.random.default_rng(5)
    fonts = find_fonts()
    ok = 0
    for i in range(20):
        h = 40
        style = PlateStyle(font=fonts[i % len(fonts)] if fonts else None, char_height=h, border=False,
                           margin=0.5)
        plate = render_plate(random_text(rng, "LLDDDLL"), rng, style=style)
        gray = cv2.copyMakeBorder(_gray(plate), 0, 0, h, 0, cv2.BORDER_REPLICATE)
        top = min(b.y for b in plate.char_boxes) - h // 10
        bottom = max(b.y + b.h for b in plate.char_boxes) + h // 10
        x1 = plate.char_boxes[0].x + h - int(0.15 * h)
        gray[top:bottom, x1 - int(0.8 * h):x1] = 110
        gray[:, :x1 - int(0.8 * h)] = 50
        ok += len(segment(gray, SegmentConfig(), h)) == len(plate.text)
    assert ok >= 16, ok


def _tight_crops(seed: int, cut) -> tuple[int, int]:
    """How many of 20 rendered plates, cropped with `cut(box) -> (left x, right x)` of the first
    and last character, keep all their characters and how many keep all but those two."""
    whole = inner = 0
    for plate in _plates(seed, "LLDDDLL"):
        first, last = plate.char_boxes[0], plate.char_boxes[-1]
        gray = _gray(plate)[:, cut(first)[0]:cut(last)[1]]
        n = len(segment(gray, SegmentConfig(), 40))
        whole += n == len(plate.text)
        inner += n == len(plate.text) - 2
    return whole, inner


def test_characters_a_tight_crop_cuts_close_to_are_kept():
    """A crop that ends right at the first and last characters' outer edges (a tight label box)
    must not lose them for touching its sides."""
    whole, _ = _tight_crops(13, lambda b: (b.x, b.x + b.w))
    assert whole >= 15, whole


def test_characters_cut_in_half_by_the_crop_are_dropped():
    """Less than half of a character left by the crop is no character to read."""
    _, inner = _tight_crops(13, lambda b: (b.x + int(0.6 * b.w), b.x + int(0.4 * b.w)))
    assert inner >= 15, inner


@pytest.mark.parametrize("width,rows", [(4, "all"),       # a thin frame edge
                                        (14, "down"),     # dark body from above down to the text's foot
                                        (14, "text")])    # a dark block as tall as the text
def test_a_frame_edge_or_car_body_at_the_crop_side_is_no_character(width, rows):
    """A tight crop (a quarter character height above and below the text, 0.6 beside it) with
    something dark along its sides: none of it becomes a character, none of the text is lost."""
    h, ok = 40, 0
    for plate in _plates(19, "LLDDDLL", margin=1.0):
        first, last = plate.char_boxes[0], plate.char_boxes[-1]
        top = min(b.y for b in plate.char_boxes) - h // 4
        foot = max(b.y + b.h for b in plate.char_boxes) + h // 4
        gray = _gray(plate)[top:foot, first.x - 24:last.x + last.w + 24].copy()
        dark = {"all": slice(None), "down": slice(0, -(h // 4)), "text": slice(h // 4, -(h // 4))}[rows]
        gray[dark, :width] = 40
        gray[dark, -width:] = 40
        ok += len(segment(gray, SegmentConfig(), h)) == len(plate.text)
    assert ok >= 16, ok


def _post(gray, x: int, ink: int, width: int = 4):
    """A vertical frame post `width` px wide from the plate's top to its foot, left edge at `x`."""
    cv2.rectangle(gray, (x, 0), (x + width - 1, gray.shape[0] - 1), ink, -1)


@pytest.mark.parametrize("end", [0, -1])
def test_an_end_character_merged_with_a_frame_post_is_kept(end):
    """The first or last character touching a frame post that runs above and below the text is
    still read: the post is cut away, not the character dropped with it."""
    def post_on_end(gray, boxes, ink):
        b = boxes[end]
        _post(gray, b.x - 3 if end == 0 else b.x + b.w - 1, ink)
    ok = _kept_after_damage(29, "LLLDDDD", post_on_end)
    assert ok >= 16, ok


@pytest.mark.parametrize("where", ["beside", "between"])
def test_a_frame_post_is_no_character(where):
    """A frame post near the first character (not touching it) or crossing the line between two
    characters adds no character."""
    def post(gray, boxes, ink):
        if where == "beside":
            _post(gray, boxes[0].x - boxes[0].h // 4, ink)
        else:
            a, b = boxes[2], boxes[3]
            _post(gray, (a.x + a.w + b.x) // 2 - 1, ink, width=3)
    ok = _kept_after_damage(37, "LLLDDDD", post)
    assert ok >= 16, ok


@pytest.mark.parametrize("pattern,end", [("LLDDDDI", -1), ("ILLDDDD", 0)])
@pytest.mark.parametrize("side", ["above", "below"])
def test_a_narrow_end_character_merged_with_something_is_kept(pattern, end, side):
    """An I (or a 1) ending the line, run into something above or below it (a frame edge, a bolt,
    a stripe of the background a tight crop leaves beyond the plate's edge), is still read: cut
    off it, it is as thin as a frame edge - a fifth of its height wide or less - and still a
    character. (Hairline I's, an eighth of their height, are no character-like blob at all.)"""
    def stripe(gray, boxes, ink):
        b, w = boxes[end], max(2, boxes[end].w // 3)
        if side == "above":
            cv2.rectangle(gray, (b.x, 0), (b.x + w, b.y + 1), ink, -1)
        else:
            cv2.rectangle(gray, (b.x + b.w - w, b.y + b.h - 2), (b.x + b.w, gray.shape[0] - 1), ink, -1)
    ok = _kept_after_damage(41, pattern, stripe)
    assert ok >= 14, ok
