"""Synthetic plate characters, cut the way the segmenter cuts them from real plates.

A plate is rendered with plate_edge.sim.synth (a font drawn by plate-likeness, random colours, weight,
width, spacing, look-alike glyphs), soiled (dirt, paint chips, bolt heads), slightly warped,
shrunk to a realistic resolution and damaged (light, blur, noise, JPEG); then the reader's
segmenter (or each character's box, jittered like an imperfect segmentation) cuts it and the
patches go through plate_edge.charimg.ink_patch and fit_patch. Characters the damage made unreadable
(every counter closed) are left out rather than labelled.
"""
from __future__ import annotations

import cv2
import numpy as np

from plate_edge import charimg
from plate_edge.sim import synth
from plate_edge.types import Box

DIGITS = list("0123456789")
ALNUM = DIGITS + list("ABCDEFGHIJKLMNOPQRSTUVWXYZ")

# How plate-like each installed font is (substring of the lower-case file name -> sampling weight;
# first match wins). Plates use DIN 1451 (most of Europe), FE-Schrift, Highway-Gothic-like and other
# condensed grotesques; generic text fonts (footed 1, curly 6, round 0) only add variety.
FONT_WEIGHTS = (("din", 10.0), ("rg2014", 2.0), ("highway", 2.0),
                ("robotocondensed", 2.0), ("narrow", 2.0), ("condensed", 1.5), ("bebas", 1.5),
                ("b612", 1.5), ("mono", 0.3))
OTHER_FONT_WEIGHT = 0.5
HERSHEY_SHARE = 0.1  # OpenCV stroke fonts: DIN-like strokes, but their 1 and I are both bare bars
# Plate typefaces that draw look-alikes the same: a bare-bar 1 like I (old Brazilian, many US
# states), a 0 that is a narrowed O. Without these the model is sure a bar is an I.
BAR_ONE_SHARE = 0.3
O_ZERO_SHARE = 0.3
SIX_TOP_SHARE = 0.2   # a straight-topped 6/9 (FE-Schrift, Mandatory): not in the installed fonts
# Real plates carry dirt specks, paint chips and bolt heads over the glyphs (inside an O's ring a
# blob is not a Q's tail), and yawed plates arrive horizontally crushed (W's strokes merge).
SOIL_SHARE = 0.4
SQUASH_SHARE = 0.15


def font_weights(fonts: tuple[str, ...]) -> np.ndarray:
    """Sampling probabilities of `fonts` from FONT_WEIGHTS."""
    def weight(path: str) -> float:
        name = path.rsplit("/", 1)[-1].lower()
        return next((w for key, w in FONT_WEIGHTS if key in name), OTHER_FONT_WEIGHT)
    w = np.array([weight(f) for f in fonts], np.float64)
    return w / w.sum()


def plate_style(rng: np.random.Generator, fonts: tuple[str, ...], probs: np.ndarray | None = None):
    """plate_edge.sim.synth's random style with the font drawn by plate-likeness, and condensed/bold variants."""
    style = synth.random_style(rng, fonts)
    if fonts and rng.random() >= HERSHEY_SHARE:
        style.font = fonts[rng.choice(len(fonts), p=font_weights(fonts) if probs is None else probs)]
    else:
        style.font = None
    style.squeeze = float(rng.uniform(0.6, 1.15))
    style.boxy = float(rng.uniform(0.2, 0.7)) if rng.random() < 0.35 else 0.0
    style.char_height = int(rng.integers(24, 64))
    style.stroke = int(round(style.char_height * rng.choice([-0.03, 0, 0, 0, 0.03, 0.05, 0.07])))
    style.header = ""
    style.bar_one = bool(rng.random() < BAR_ONE_SHARE)
    style.o_zero = bool(rng.random() < O_ZERO_SHARE)
    style.six_top = str(rng.choice(["slant", "flat"])) if rng.random() < SIX_TOP_SHARE else ""
    return style


def make_chars(n: int, labels: list[str], seed: int, size: tuple[int, int] = (28, 28),
               strength: float = 1.0, digit_weight: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """n patches (uint8, (n, H, W), ink bright on black) and their class indices.

    Each digit class is drawn `digit_weight` times as often as each letter class: about 2.6 gives
    plates' half digits, half letters, so the model's prior for a look-alike (a bare bar: 1 or I)
    is the one it meets on plates. 1.0: classes balanced."""
    rng = np.random.default_rng(seed)
    fonts = synth.find_fonts()
    probs = font_weights(fonts) if fonts else None
    class_p = np.array([digit_weight if lab.isdigit() else 1.0 for lab in labels])
    class_p /= class_p.sum()
    xs, ys = [], []
    while len(xs) < n:
        text = "".join(rng.choice(labels, int(rng.integers(4, 9)), p=class_p))
        for patch, ch in plate_chars(text, rng, fonts, strength, probs=probs):
            xs.append(charimg.fit_patch(patch, size))
            ys.append(labels.index(ch))
    return np.stack(xs[:n]), np.array(ys[:n], np.int64)


def plate_chars(text: str, rng: np.random.Generator, fonts: tuple[str, ...],
                strength: float = 1.0, use_segmenter: bool = True,
                probs: np.ndarray | None = None) -> list[tuple[np.ndarray, str]]:
    """Render one damaged plate and cut its characters: [(ink patch, char)], with the reader's
    segmenter when it finds every character, else from the known boxes with a jittered cut."""
    style = plate_style(rng, fonts, probs)
    plate = synth.render_plate(text, rng, style, rows=1)
    image = soil(plate.image, plate.char_boxes, style, rng)
    image, boxes = _warp(image, plate.char_boxes, rng, strength)
    image, boxes = _resample(image, boxes, rng)
    image = _squash(image, boxes, rng)
    gray = cv2.cvtColor(synth.degrade(image, rng, strength), cv2.COLOR_BGR2GRAY)
    if not plate.dark_on_light:  # the localizer hands the segmenter dark-on-light crops
        gray = 255 - gray
    # the fallback cut draws from its own stream, so whether the segmenter succeeds here does not
    # shift the random numbers of every later plate (a segmenter change stays a local change)
    jitter_rng = np.random.default_rng(rng.integers(1 << 62))
    cut = _segmenter_patches(gray, boxes) if use_segmenter else None
    if cut is None:
        cut = []
        for box in boxes:
            x0, y0, x1, y1 = _jitter(box, jitter_rng, gray.shape)
            cut.append(charimg.ink_patch(gray[y0:y1, x0:x1], dark_ink=True))
    clean = cv2.cvtColor(plate.image, cv2.COLOR_BGR2GRAY)
    return [(patch, ch) for patch, ch, box in zip(cut, plate.text, plate.char_boxes)
            if readable(patch, charimg.ink_patch(clean[box.y:box.y + box.h, box.x:box.x + box.w],
                                                 dark_ink=plate.dark_on_light))]


def readable(patch: np.ndarray, clean: np.ndarray) -> bool:
    """False when blur, low resolution or weight closed every counter the undamaged glyph has
    without a trace (a 0 crushed into a bar, an 8 into a blob): no reader could tell its
    class, so it gets no label."""
    return counters(patch, depth=0.12) > 0 or counters(clean) == 0


def counters(patch: np.ndarray, size: tuple[int, int] = (28, 28), depth: float = 0.5) -> int:
    """Counters of an ink-bright patch framed like the classifier's input: dark basins enclosed
    by ink at least `depth` of the patch's contrast deep (grayscale hole filling, so a blurred
    but open counter counts and a bar with a faint dent does not)."""
    img = charimg.fit_patch(patch, size).astype(np.float32)
    top = float(img.max())
    if top == 0:
        return 0
    filled = np.full_like(img, top)   # reconstruction by erosion from the border
    filled[0, :], filled[-1, :], filled[:, 0], filled[:, -1] = img[0, :], img[-1, :], img[:, 0], img[:, -1]
    cross = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
    while True:
        nxt = np.maximum(cv2.erode(filled, cross), img)
        if np.array_equal(nxt, filled):
            break
        filled = nxt
    basins = ((filled - img) >= depth * top).astype(np.uint8)
    n, _, stats, _ = cv2.connectedComponentsWithStats(basins, connectivity=4)
    return int(sum(stats[k, cv2.CC_STAT_AREA] >= 2 for k in range(1, n)))


def _segmenter_patches(gray: np.ndarray, boxes: list[Box]) -> list[np.ndarray] | None:
    """The reader's own segmentation when it is available and its cuts match the known
    character boxes one to one (a separator or bolt cut as a character would be a wrong label)."""
    try:
        from plate_edge.segment import SegmentConfig, segment
    except ImportError:
        return None
    try:
        chars = segment(gray, SegmentConfig())
    except Exception:  # a segmenter bug must not stop dataset generation
        return None
    if len(chars) != len(boxes) or not all(_same_char(c.box, b) for c, b in zip(chars, boxes)):
        return None
    return [c.patch for c in chars]


def _same_char(cut: Box, true: Box) -> bool:
    """The cut's centre lies in the true box and it covers at least 60% of the box (a cut of
    half a character, its neighbour's part merged elsewhere, is not that character)."""
    cx, cy = cut.x + cut.w / 2, cut.y + cut.h / 2
    iw = min(cut.x + cut.w, true.x + true.w) - max(cut.x, true.x)
    ih = min(cut.y + cut.h, true.y + true.h) - max(cut.y, true.y)
    return (true.x - 1 <= cx <= true.x + true.w + 1 and true.y - 1 <= cy <= true.y + true.h + 1
            and max(0, iw) * max(0, ih) >= 0.6 * true.w * true.h)


def soil(image: np.ndarray, boxes: list[Box], style, rng, share: float = SOIL_SHARE) -> np.ndarray:
    """In `share` of plates, 1-3 blobs over random characters: dirt specks (ink-like), paint
    chips (paper-coloured) or bolt heads (grey, larger), anywhere from the glyph's upper part
    to just below its bottom edge."""
    if rng.random() >= share or not boxes:
        return image
    out = image.copy()
    ink, paper = np.float64(style.ink), np.float64(style.paper)
    for _ in range(int(rng.integers(1, 4))):
        b = boxes[int(rng.integers(len(boxes)))]
        kind = rng.choice(["dirt", "dirt", "chip", "bolt"])
        r = b.h * (rng.uniform(0.08, 0.15) if kind == "bolt" else rng.uniform(0.03, 0.09))
        if kind == "bolt":
            colour = np.full(3, rng.uniform(90, 190))
        else:  # dirt leans to the ink colour, a paint chip to the paper's
            near, far = (ink, paper) if kind == "dirt" else (paper, ink)
            a = rng.uniform(0.5, 1.0)
            colour = near * a + far * (1 - a)
        centre = (int(round(b.x + rng.uniform(0.1, 0.9) * b.w)), int(round(b.y + rng.uniform(0.15, 1.05) * b.h)))
        axes = tuple(max(1, int(round(r * rng.uniform(0.6, 1.4)))) for _ in range(2))
        cv2.ellipse(out, centre, axes, float(rng.uniform(0, 180)), 0, 360,
                    [int(c) for c in colour], -1, cv2.LINE_AA)
    return out


def _squash(image: np.ndarray, boxes: list[Box], rng) -> np.ndarray:
    """In SQUASH_SHARE of plates, horizontal detail of a yawed plate: characters 6-14 px wide,
    blown up again to the same size (boxes unchanged)."""
    if rng.random() >= SQUASH_SHARE:
        return image
    s = rng.uniform(6, 14) / max(1.0, float(np.median([b.w for b in boxes])))
    if s > 0.9:
        return image
    h, w = image.shape[:2]
    small = cv2.resize(image, (max(1, round(w * s)), h), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def _warp(image: np.ndarray, boxes: list[Box], rng, strength: float):
    """Residual rotation/shear/perspective left after the localizer's rectification."""
    h, w = image.shape[:2]
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    d = rng.normal(0, 0.025 * strength, (4, 2)) * [w * 0.3, h]
    shear = rng.normal(0, 0.05 * strength) * h  # slanted characters, ~6 degrees at 2 sigma
    dst = (src + d + np.float32([[shear, 0], [shear, 0], [0, 0], [0, 0]])).astype(np.float32)
    dst -= dst.min(0)
    m = cv2.getPerspectiveTransform(src, dst)
    size = (int(np.ceil(dst[:, 0].max())) + 1, int(np.ceil(dst[:, 1].max())) + 1)
    border = tuple(int(v) for v in image[1, 1])
    warped = cv2.warpPerspective(image, m, size, flags=cv2.INTER_LINEAR, borderValue=border)
    new_boxes = []
    for b in boxes:
        pts = np.float32([[b.x, b.y], [b.x + b.w, b.y], [b.x + b.w, b.y + b.h], [b.x, b.y + b.h]])
        q = cv2.perspectiveTransform(pts[None], m)[0]
        x0, y0 = np.floor(q.min(0)).astype(int)
        x1, y1 = np.ceil(q.max(0)).astype(int)
        new_boxes.append(Box(int(x0), int(y0), int(x1 - x0), int(y1 - y0)))
    return warped, new_boxes


def _resample(image: np.ndarray, boxes: list[Box], rng):
    """Shrink to a camera-like character height (10-50 px, half of them a blurry 11-22 px),
    sometimes blown up again."""
    char_h = np.median([b.h for b in boxes])
    target = rng.uniform(11, 22) if rng.random() < 0.5 else rng.uniform(18, 50)
    s = min(1.0, target / char_h)
    if s > 0.95:
        return image, boxes
    small = cv2.resize(image, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
    if rng.random() < 0.4:  # upscaled by the localizer's rectification
        small = cv2.resize(small, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR)
        return small, boxes
    scaled = [Box(int(b.x * s), int(b.y * s), max(1, int(np.ceil((b.x + b.w) * s)) - int(b.x * s)),
                  max(1, int(np.ceil((b.y + b.h) * s)) - int(b.y * s))) for b in boxes]
    return small, scaled


def _jitter(b: Box, rng, shape) -> tuple[int, int, int, int]:
    """The box as an imperfect segmenter would cut it: edges off by a few % of its height."""
    e = rng.normal(0, 0.04, 4) * b.h
    if rng.random() < 0.15:  # a loose cut catching bits of neighbours / border
        e += np.abs(rng.normal(0, 0.12, 4)) * b.h * np.array([1, 0.5, 1, 0.5])
    x0 = int(np.clip(round(b.x - e[0]), 0, shape[1] - 1))
    y0 = int(np.clip(round(b.y - e[1]), 0, shape[0] - 1))
    x1 = int(np.clip(round(b.x + b.w + e[2]), x0 + 1, shape[1]))
    y1 = int(np.clip(round(b.y + b.h + e[3]), y0 + 1, shape[0]))
    return x0, y0, x1, y1
