"""Synthetic licence plates and street scenes, deterministic for a given numpy Generator.

Used by tests, by the daemon's generated camera source and by convert/ to make character
training data. Glyphs come from TrueType fonts found under the usual font folders (Pillow);
with no font installed, OpenCV's Hershey fonts are used instead.
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ..types import Box, Polygon

try:  # Pillow is optional at run time: without it we fall back to Hershey fonts
    from PIL import Image, ImageDraw, ImageFont
except ImportError:  # pragma: no cover
    Image = ImageDraw = ImageFont = None  # type: ignore[assignment]

DIGITS = "0123456789"
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", "~/.fonts", "~/.local/share/fonts")
# Fonts no plate uses: symbols, scripts, maths, italics (tilt comes from perspective instead).
_SKIP = ("math", "symbol", "dingbat", "z003", "d050000l", "emoji", "italic", "oblique",
         "extralight", "thin", "light", "standardsymbols")
_SERIF = ("serif", "roman", "c059", "p052", "bookman", "freemono", "nimbusmonops", "century")
# Hershey faces used when there are no TrueType fonts.
_HERSHEY = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX,
            cv2.FONT_HERSHEY_TRIPLEX)

# (paper BGR, ink BGR) pairs seen on real plates
_DARK_ON_LIGHT = [((235, 235, 235), (20, 20, 20)), ((40, 200, 240), (15, 15, 15)),
                  ((200, 200, 200), (30, 30, 30)), ((225, 235, 240), (40, 30, 25)),
                  ((250, 250, 250), (60, 20, 10))]
_LIGHT_ON_DARK = [((20, 20, 20), (235, 235, 235)), ((120, 40, 10), (240, 240, 240)),
                  ((30, 90, 20), (235, 235, 235)), ((20, 20, 150), (235, 235, 235)),
                  ((45, 45, 45), (190, 190, 190))]


@dataclass
class PlateStyle:
    """How a plate looks. `font` is a TTF/OTF path, or None for a Hershey face."""
    font: str | None = None
    hershey: int = cv2.FONT_HERSHEY_SIMPLEX
    paper: tuple[int, int, int] = (235, 235, 235)
    ink: tuple[int, int, int] = (20, 20, 20)
    dark_on_light: bool = True
    char_height: int = 48            # cap height of the characters, pixels
    spacing: float = 0.12            # gap between characters, fraction of char_height
    squeeze: float = 1.0             # horizontal glyph scale (condensed < 1 < wide)
    stroke: int = 0                  # >0 thicker, <0 thinner (pixels of dilation / erosion)
    boxy: float = 0.0                # 0..1: bends round glyphs towards rounded rectangles
    bar_one: bool = False            # 1 drawn as a bare bar, like I (old Brazilian, many US plates)
    o_zero: bool = False             # 0 drawn as a narrowed O (typefaces that share the glyph)
    six_top: str = ""                # "slant" / "flat": 6 (and 9 upside down) with a straight top
                                     # stroke (FE-Schrift, Brazilian Mandatory) instead of a hook
    separator: str = ""              # "", "-", ".", " " or "emblem": drawn between groups
    border: bool = True
    bolts: bool = False
    eu_band: bool = False
    header: str = ""                 # small text above the characters (city name etc.)
    margin: float = 0.3              # fraction of char_height around the text


@dataclass
class RenderedPlate:
    image: np.ndarray                # BGR uint8, the whole plate
    text: str                        # characters in reading order (no spaces)
    char_boxes: list[Box]            # tight ink box of each character, same order as text
    dark_on_light: bool
    rows: int = 1


@dataclass
class Scene:
    image: np.ndarray                                # BGR uint8
    plates: list[tuple[str, Polygon]]                # text, 4 corners clockwise from top-left
    chars: list[list[Polygon]] = field(default_factory=list)  # per plate, each char's corners


# --------------------------------------------------------------------------- fonts

@functools.lru_cache(maxsize=4)
def find_fonts(dirs: tuple[str, ...] = FONT_DIRS, serif: bool = False) -> tuple[str, ...]:
    """Sorted paths of installed TrueType/OpenType fonts usable for plates."""
    found = set()
    for d in dirs:
        root = Path(os.path.expanduser(d))
        if not root.is_dir():
            continue
        for p in root.rglob("*"):
            name = p.name.lower()
            if p.suffix.lower() not in (".ttf", ".otf") or any(s in name for s in _SKIP):
                continue
            if not serif and any(s in name for s in _SERIF):
                continue
            found.add(str(p))
    return tuple(sorted(found))


@functools.lru_cache(maxsize=256)
def _truetype(path: str, size: int):
    return ImageFont.truetype(path, size)


@functools.lru_cache(maxsize=64)
def _cap_scale(path: str) -> float:
    """Font size per pixel of cap height, measured on 'H'."""
    font = _truetype(path, 100)
    x0, y0, x1, y1 = font.getbbox("H", anchor="ls")
    return 100.0 / max(1, y1 - y0)


@functools.lru_cache(maxsize=4096)
def _glyph(font: str | None, hershey: int, height: int, ch: str) -> tuple[np.ndarray, int]:
    """Ink mask (uint8 0..255) of one character cropped to its ink, and its top relative to
    the baseline (negative = above)."""
    pad = height
    canvas_h, canvas_w = 3 * height + 2 * pad, 3 * height + 2 * pad
    base = pad + 2 * height
    if font is not None and ImageFont is not None:
        img = Image.new("L", (canvas_w, canvas_h), 0)
        size = max(4, round(height * _cap_scale(font)))
        ImageDraw.Draw(img).text((pad, base), ch, fill=255, font=_truetype(font, size), anchor="ls")
        mask = np.asarray(img, np.uint8)
    else:
        mask = np.zeros((canvas_h, canvas_w), np.uint8)
        scale = cv2.getFontScaleFromHeight(hershey, height, 1)
        thick = max(1, round(height / 10))
        cv2.putText(mask, ch, (pad, base), hershey, scale, 255, thick, cv2.LINE_AA)
    ys, xs = np.nonzero(mask > 40)
    if len(xs) == 0:
        return np.zeros((height, max(1, height // 2)), np.uint8), -height
    return mask[ys.min():ys.max() + 1, xs.min():xs.max() + 1].copy(), int(ys.min() - base)


# --------------------------------------------------------------------------- styles

def random_style(rng: np.random.Generator, fonts: tuple[str, ...] | None = None) -> PlateStyle:
    """A plausible plate style: mostly dark on light, some light on dark."""
    fonts = find_fonts() if fonts is None else fonts
    dark = rng.random() < 0.75
    palette = _DARK_ON_LIGHT if dark else _LIGHT_ON_DARK
    paper, ink = palette[rng.integers(len(palette))]
    def jitter(c: tuple[int, int, int]) -> tuple[int, int, int]:
        b, g, r = (int(np.clip(v + rng.integers(-20, 21), 0, 255)) for v in c)
        return b, g, r

    return PlateStyle(
        # Hershey's stroke fonts look like DIN plate lettering, so they stay in the mix
        font=fonts[rng.integers(len(fonts))] if fonts and rng.random() > 0.25 else None,
        hershey=int(_HERSHEY[rng.choice([0, 0, 0, 1, 1, 2, 3])]),
        paper=jitter(paper), ink=jitter(ink), dark_on_light=dark,
        char_height=int(rng.integers(28, 64)),
        spacing=float(rng.uniform(0.04, 0.3)),
        squeeze=float(rng.uniform(0.7, 1.15)),
        stroke=int(rng.choice([-1, 0, 0, 0, 1, 1, 2])),
        separator=str(rng.choice(["", "", "-", ".", " ", "emblem"])),
        border=bool(rng.random() < 0.6),
        bolts=bool(rng.random() < 0.3),
        eu_band=bool(dark and rng.random() < 0.35),
        header=random_text(rng, "LL-" + "L" * int(rng.integers(4, 9))) if rng.random() < 0.15 else "",
        margin=float(rng.uniform(0.15, 0.5)),
    )


def random_text(rng: np.random.Generator, pattern: str | None = None) -> str:
    """Plate text from a pattern (L letter, D digit, other characters kept), or a common one."""
    if pattern is None:
        patterns = ["LLLDDDD", "LLDDDLL", "LLDDDDD", "DLLLDDD", "LLLDLDD", "LDDLLL", "DDDDDD",
                    "LLLLDD", "LDDDDLL"]
        pattern = patterns[rng.integers(len(patterns))]
    return "".join(LETTERS[rng.integers(26)] if c == "L" else DIGITS[rng.integers(10)]
                   if c == "D" else c for c in pattern)


# --------------------------------------------------------------------------- plates

def render_plate(text: str, rng: np.random.Generator, style: PlateStyle | None = None,
                 rows: int = 1) -> RenderedPlate:
    """Draw a flat, undistorted plate. Spaces in `text` become gaps; `rows=2` splits the text
    in two lines (at a space if there is one, else in the middle)."""
    style = random_style(rng) if style is None else style
    lines = _split_rows(text, rows)
    h = style.char_height
    line_masks, line_boxes = [], []
    for line in lines:
        mask, boxes = _draw_line(line, style, rng)
        line_masks.append(mask)
        line_boxes.append(boxes)
    margin = max(2, round(style.margin * h))
    header_h = round(0.3 * h) if style.header else 0
    band_w = round(0.45 * h) if style.eu_band else 0
    row_gap = round(0.25 * h)
    text_w = max(m.shape[1] for m in line_masks)
    width = band_w + text_w + 2 * margin
    height = sum(m.shape[0] for m in line_masks) + row_gap * (len(lines) - 1) + 2 * margin + header_h
    ink_mask = np.zeros((height, width), np.uint8)
    char_boxes = []
    y = margin + header_h
    for mask, boxes in zip(line_masks, line_boxes):
        x = band_w + margin + (text_w - mask.shape[1]) // 2
        region = ink_mask[y:y + mask.shape[0], x:x + mask.shape[1]]
        np.maximum(region, mask, out=region)
        char_boxes += [Box(b.x + x, b.y + y, b.w, b.h) for b in boxes]
        y += mask.shape[0] + row_gap
    if style.header:
        _draw_header(ink_mask, style, band_w, margin, header_h)
    image = _compose(ink_mask, style)
    _decorate(image, style, band_w, rng)
    return RenderedPlate(image=image, text="".join(lines).replace(" ", ""), char_boxes=char_boxes,
                         dark_on_light=style.dark_on_light, rows=len(lines))


def _split_rows(text: str, rows: int) -> list[str]:
    text = text.strip()
    if rows < 2 or len(text.replace(" ", "")) < 2:
        return [text]
    if " " in text:
        i = text.index(" ")
        return [text[:i].strip(), text[i + 1:].strip()]
    mid = len(text) // 2
    return [text[:mid], text[mid:]]


def _draw_line(line: str, style: PlateStyle, rng: np.random.Generator) -> tuple[np.ndarray, list[Box]]:
    """One row of characters as an ink mask, and the tight box of each character in it."""
    h = style.char_height
    gap = max(1, round(style.spacing * h))
    sep_at = _separator_index(line) if style.separator else -1
    glyphs, x = [], 0
    for i, ch in enumerate(line):
        if ch == " ":
            x += round(0.5 * h)
            continue
        if i == sep_at:
            x += _separator_width(style, h) + gap
        mask, top = _styled_glyph(style, h, ch)
        mask = _shape_glyph(mask, style)
        glyphs.append((x, top, mask))
        x += mask.shape[1] + gap
    top_min = min((t for _, t, _ in glyphs), default=-h)
    bottom = max((t + m.shape[0] for _, t, m in glyphs), default=0)
    pad = max(2, style.stroke + 2)
    out = np.zeros((bottom - top_min + 2 * pad, max(1, x - gap) + 2 * pad), np.uint8)
    boxes = []
    for gx, top, mask in glyphs:
        y0, x0 = top - top_min + pad, gx + pad
        region = out[y0:y0 + mask.shape[0], x0:x0 + mask.shape[1]]
        np.maximum(region, mask, out=region)
        ys, xs = np.nonzero(mask > 40)
        boxes.append(Box(int(x0 + xs.min()), int(y0 + ys.min()),
                         int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)))
    if sep_at > 0:
        _draw_separator(out, style, boxes[:sep_at], boxes[sep_at:], gap)
    return out, boxes


def _styled_glyph(style: PlateStyle, h: int, ch: str) -> tuple[np.ndarray, int]:
    """The font's glyph, or the look-alike some plate typefaces use instead (see PlateStyle)."""
    if ch == "1" and style.bar_one:
        mask, top = _glyph(style.font, style.hershey, h, "I")
        return np.full((mask.shape[0], _stem_width(style, h)), 255, np.uint8), top
    if ch == "0" and style.o_zero:
        mask, top = _glyph(style.font, style.hershey, h, "O")
        return cv2.resize(mask, (max(1, round(mask.shape[1] * 0.85)), mask.shape[0]),
                          interpolation=cv2.INTER_AREA), top
    if ch in "69" and style.six_top in ("slant", "flat"):
        mask, top = _glyph(style.font, style.hershey, h, "O")
        six = _straight_six(mask.shape[0], round(mask.shape[1] * 0.85), _stem_width(style, h),
                            style.six_top)
        return (six if ch == "6" else six[::-1, ::-1].copy()), top
    return _glyph(style.font, style.hershey, h, ch)


def _stem_width(style: PlateStyle, h: int) -> int:
    """Stroke width of the font: its I's stem, without serifs."""
    mask, _ = _glyph(style.font, style.hershey, h, "I")
    return max(1, int((mask[mask.shape[0] // 2] > 127).sum()))


def _straight_six(h: int, w: int, stem: int, top: str) -> np.ndarray:
    """A 6 whose bowl (lower 60%) is closed and whose upper stroke is straight: rising to the
    right ("slant") or a vertical stem with a flat bar on top ("flat"). Drawn 4x and reduced."""
    k, w = 4, max(w, 2 * stem + 2)
    t = max(k, stem * k)
    big = np.zeros((h * k, w * k), np.uint8)
    bh = 0.6 * h * k
    cx, cy = w * k / 2, h * k - bh / 2
    axes = (max(1, int((w * k - t) / 2)), max(1, int((bh - t) / 2)))
    cv2.ellipse(big, (int(cx), int(cy)), axes, 0, 0, 360, 255, t, cv2.LINE_AA)
    left, top_y = int(t / 2), int(t / 2)
    if top == "slant":
        cv2.line(big, (left, int(cy)), (int(0.55 * w * k), top_y), 255, t, cv2.LINE_AA)
    else:
        cv2.line(big, (left, int(cy)), (left, top_y), 255, t, cv2.LINE_AA)
        cv2.line(big, (left, top_y), (int(0.85 * w * k) - t // 2, top_y), 255, t, cv2.LINE_AA)
    return cv2.resize(big, (w, h), interpolation=cv2.INTER_AREA)


def _shape_glyph(mask: np.ndarray, style: PlateStyle) -> np.ndarray:
    if style.boxy > 0.01:
        mask = _boxy(mask, style.boxy)
    if abs(style.squeeze - 1.0) > 0.02:
        w = max(1, round(mask.shape[1] * style.squeeze))
        mask = cv2.resize(mask, (w, mask.shape[0]), interpolation=cv2.INTER_AREA)
    if style.stroke:
        k = np.ones((2 * abs(style.stroke) + 1,) * 2, np.uint8)
        mask = cv2.copyMakeBorder(mask, abs(style.stroke), abs(style.stroke), abs(style.stroke),
                                  abs(style.stroke), cv2.BORDER_CONSTANT, value=0)
        op = cv2.dilate if style.stroke > 0 else cv2.erode
        shaped = op(mask, k)
        if shaped.max() > 60 and shaped.sum() > 0.5 * mask.sum():  # never erode a thin glyph away
            mask = shaped
        ys, xs = np.nonzero(mask > 40)
        mask = mask[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    return mask


def _boxy(mask: np.ndarray, t: float) -> np.ndarray:
    """Squircle warp of the glyph's box: the inscribed ellipse moves towards the box edges, so
    an O becomes a rounded rectangle (boxy plate typefaces such as FE-Schrift) at t = 1."""
    h, w = mask.shape
    v, u = np.mgrid[0:h, 0:w].astype(np.float32)
    u = (u + 0.5) / w * 2 - 1
    v = (v + 0.5) / h * 2 - 1
    x = u * np.sqrt(np.clip(1 - t * v * v / 2, 0, 1))
    y = v * np.sqrt(np.clip(1 - t * u * u / 2, 0, 1))
    map_x = ((x + 1) / 2 * w - 0.5).astype(np.float32)
    map_y = ((y + 1) / 2 * h - 0.5).astype(np.float32)
    return cv2.remap(mask, map_x, map_y, cv2.INTER_LINEAR, borderValue=0)


def _separator_index(line: str) -> int:
    """Where a group separator goes: the first letter/digit change, else the middle."""
    for i in range(1, len(line)):
        if line[i - 1].isalpha() != line[i].isalpha() and " " not in line[i - 1:i + 1]:
            return i
    return len(line) // 2 if len(line) >= 4 else -1


def _separator_width(style: PlateStyle, h: int) -> int:
    return {"-": round(0.4 * h), ".": round(0.2 * h), " ": round(0.35 * h)}.get(style.separator, round(0.6 * h))


def _draw_separator(out: np.ndarray, style: PlateStyle, left: list[Box], right: list[Box], gap: int) -> None:
    if not left or not right:
        return
    x0, x1 = left[-1].x + left[-1].w + gap // 2, right[0].x - gap // 2
    top = min(b.y for b in left + right)
    bottom = max(b.y + b.h for b in left + right)
    cx, cy, h = (x0 + x1) // 2, (top + bottom) // 2, bottom - top
    if style.separator == "-":
        t = max(1, h // 12)
        cv2.rectangle(out, (x0 + 1, cy - t), (x1 - 1, cy + t), 255, -1)
    elif style.separator == ".":
        cv2.circle(out, (cx, cy), max(1, h // 14), 255, -1, cv2.LINE_AA)
    elif style.separator == "emblem":  # a round seal between groups, as on many EU plates
        cv2.circle(out, (cx, cy), max(2, (x1 - x0) // 3), 160, -1, cv2.LINE_AA)
        cv2.circle(out, (cx, cy - h // 3), max(1, (x1 - x0) // 5), 200, 1, cv2.LINE_AA)


def _draw_header(ink: np.ndarray, style: PlateStyle, band_w: int, margin: int, header_h: int) -> None:
    th = max(4, round(header_h * 0.6))
    scale = cv2.getFontScaleFromHeight(cv2.FONT_HERSHEY_SIMPLEX, th, 1)
    (tw, _), _ = cv2.getTextSize(style.header, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    x = band_w + max(0, (ink.shape[1] - band_w - tw) // 2)
    cv2.putText(ink, style.header, (x, margin // 2 + th + 1), cv2.FONT_HERSHEY_SIMPLEX, scale, 255, 1,
                cv2.LINE_AA)


def _compose(ink_mask: np.ndarray, style: PlateStyle) -> np.ndarray:
    a = (ink_mask.astype(np.float32) / 255.0)[..., None]
    paper = np.array(style.paper, np.float32)
    ink = np.array(style.ink, np.float32)
    return (paper * (1 - a) + ink * a).astype(np.uint8)


def _decorate(image: np.ndarray, style: PlateStyle, band_w: int, rng: np.random.Generator) -> None:
    h, w = image.shape[:2]
    if style.eu_band:
        image[:, :band_w] = (150, 50, 10)
        cv2.circle(image, (band_w // 2, h // 3), max(2, band_w // 4), (0, 200, 250), 1, cv2.LINE_AA)
        letter = LETTERS[rng.integers(26)]
        scale = cv2.getFontScaleFromHeight(cv2.FONT_HERSHEY_SIMPLEX, max(4, band_w // 3), 1)
        cv2.putText(image, letter, (band_w // 4, int(h * 0.85)), cv2.FONT_HERSHEY_SIMPLEX, scale,
                    (240, 240, 240), 1, cv2.LINE_AA)
    if style.border:
        t = max(1, h // 30)
        inset = max(1, h // 25)
        cv2.rectangle(image, (inset, inset), (w - 1 - inset, h - 1 - inset), style.ink, t, cv2.LINE_AA)
    if style.bolts:
        r = max(2, h // 18)
        for x in (int(w * 0.2), int(w * 0.8)):
            y = max(r + 1, style.char_height // 8)
            cv2.circle(image, (x, y), r, (150, 150, 150), -1, cv2.LINE_AA)


# --------------------------------------------------------------------------- degradations

def degrade(image: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """Camera-like damage: uneven light, blur, sensor noise, JPEG. Works on gray or BGR."""
    img: np.ndarray = image.astype(np.float32)
    h, w = img.shape[:2]
    # uneven lighting: a random linear gradient plus an overall gain
    gx, gy = rng.uniform(-1, 1, 2) * 0.5 * strength
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    light = 1.0 + gx * (xx / max(1, w) - 0.5) + gy * (yy / max(1, h) - 0.5)
    light *= rng.uniform(1 - 0.4 * strength, 1 + 0.2 * strength)
    img = img * (light[..., None] if img.ndim == 3 else light) + rng.uniform(-25, 25) * strength
    sigma = rng.uniform(0, 1.2 * strength)
    if sigma > 0.3:
        img = cv2.GaussianBlur(img, (0, 0), sigma)
    img = img + rng.normal(0, rng.uniform(0, 10 * strength), img.shape)
    img = np.clip(img, 0, 255).astype(np.uint8)
    if rng.random() < 0.6 * min(1.0, strength):
        quality = int(rng.integers(25, 90))
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
        decoded = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED) if ok else None
        if decoded is not None:
            img = decoded
    return img


# --------------------------------------------------------------------------- scenes

def render_scene(texts: list[str], rng: np.random.Generator, size: tuple[int, int] = (640, 480),
                 widths: tuple[int, int] = (60, 400), max_tilt: float = 15.0,
                 two_row_prob: float = 0.15, degrade_strength: float = 0.7) -> Scene:
    """Warp one plate per text into a cluttered background. Plates that cannot be placed
    without overlapping (too many for the frame) are left out of `plates`."""
    w_img, h_img = size
    image = _background(rng, w_img, h_img)
    plates, chars, images = [], [], []
    placed: list[np.ndarray] = []
    for text in texts:
        rows = 2 if rng.random() < two_row_prob and len(text) >= 4 else 1
        plate = render_plate(text, rng, rows=rows)
        quad = _place(plate.image.shape, rng, w_img, h_img, widths, max_tilt, placed)
        if quad is None:
            continue
        placed.append(quad)
        images.append(plate.image)
        m = cv2.getPerspectiveTransform(_corners(plate.image.shape), quad.astype(np.float32))
        plates.append((plate.text, [(float(x), float(y)) for x, y in quad]))
        chars.append([_warp_points(m, b) for b in plate.char_boxes])
    for body in placed:  # car bodies first, so none hides another car's plate
        if rng.random() < 0.7:
            _draw_body(image, body, rng)
    for plate_image, where in zip(images, placed):
        _paste(image, plate_image, where)
    image = degrade(image, rng, degrade_strength)
    return Scene(image=image, plates=plates, chars=chars)


def _corners(shape) -> np.ndarray:
    h, w = shape[:2]
    return np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)


def _warp_points(m: np.ndarray, b: Box) -> Polygon:
    pts = np.array([[b.x, b.y], [b.x + b.w, b.y], [b.x + b.w, b.y + b.h], [b.x, b.y + b.h]], np.float32)
    out = cv2.perspectiveTransform(pts[None], m)[0]
    return [(float(x), float(y)) for x, y in out]


def _place(shape, rng, w_img, h_img, widths, max_tilt, placed) -> np.ndarray | None:
    """A destination quad (clockwise from top-left) for a plate, not overlapping `placed`."""
    ph, pw = shape[:2]
    hi = min(widths[1], int(w_img * 0.85))
    for attempt in range(40):
        width = rng.uniform(widths[0], max(widths[0], hi)) * (0.97 ** attempt)
        height = width * ph / pw
        angle = np.deg2rad(rng.uniform(-max_tilt, max_tilt))
        quad = np.array([[-width / 2, -height / 2], [width / 2, -height / 2],
                         [width / 2, height / 2], [-width / 2, height / 2]], np.float64)
        # perspective: one side shorter (yaw) and a little shear
        k = rng.uniform(-0.12, 0.12)
        quad[:, 1] *= 1 + k * np.sign(quad[:, 0])
        quad[:, 0] += rng.uniform(-0.1, 0.1) * quad[:, 1]
        rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        quad = quad @ rot.T
        span = quad.max(0) - quad.min(0)
        if span[0] > w_img - 4 or span[1] > h_img - 4:
            continue
        cx = rng.uniform(-quad[:, 0].min() + 2, w_img - quad[:, 0].max() - 2)
        cy = rng.uniform(-quad[:, 1].min() + 2, h_img - quad[:, 1].max() - 2)
        quad = quad + (cx, cy)
        box = (*quad.min(0), *quad.max(0))
        if all(not _overlap(box, other) for other in placed):
            return quad
    return None


def _overlap(quad_box, other: np.ndarray, pad: float = 6.0) -> bool:
    x0, y0, x1, y1 = quad_box
    ox0, oy0 = other.min(0) - pad
    ox1, oy1 = other.max(0) + pad
    return x0 < ox1 and ox0 < x1 and y0 < oy1 and oy0 < y1


def _draw_body(image: np.ndarray, quad: np.ndarray, rng: np.random.Generator) -> None:
    c = quad.mean(0)
    body = ((quad - c) * rng.uniform(1.4, 2.5, 2) + c).astype(np.int32)
    cv2.fillConvexPoly(image, body, [int(v) for v in rng.integers(0, 255, 3)], cv2.LINE_AA)


def _paste(image: np.ndarray, plate: np.ndarray, quad: np.ndarray) -> None:
    h_img, w_img = image.shape[:2]
    span = quad.max(0) - quad.min(0)
    scale = max(span) / max(plate.shape[:2])
    if scale < 0.7:  # shrink first with area averaging so small plates are not aliased
        plate = cv2.resize(plate, None, fx=scale * 1.2, fy=scale * 1.2, interpolation=cv2.INTER_AREA)
    m = cv2.getPerspectiveTransform(_corners(plate.shape), quad.astype(np.float32))
    warped = cv2.warpPerspective(plate, m, (w_img, h_img), flags=cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(np.full(plate.shape[:2], 255, np.uint8), m, (w_img, h_img),
                               flags=cv2.INTER_LINEAR).astype(np.float32)[..., None] / 255.0
    image[:] = (image * (1 - mask) + warped * mask).astype(np.uint8)


def _background(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """Road-scene-like clutter: a gradient, shapes, lines and non-plate text."""
    c0, c1 = rng.integers(0, 255, 3), rng.integers(0, 255, 3)
    t = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    img = np.broadcast_to(c0 * (1 - t) + c1 * t, (h, w, 3)).astype(np.uint8).copy()
    for _ in range(int(rng.integers(8, 25))):
        colour = [int(v) for v in rng.integers(0, 255, 3)]
        kind = rng.integers(4)
        p = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        q = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        if kind == 0:
            cv2.rectangle(img, p, q, colour, -1)
        elif kind == 1:
            cv2.line(img, p, q, colour, int(rng.integers(1, 6)), cv2.LINE_AA)
        elif kind == 2:
            cv2.circle(img, p, int(rng.integers(5, max(6, min(w, h) // 4))), colour, -1, cv2.LINE_AA)
        else:
            word = "".join(rng.choice(list(LETTERS + DIGITS + "abcdefghij "), int(rng.integers(3, 10))))
            cv2.putText(img, word, p, int(_HERSHEY[rng.integers(len(_HERSHEY))]), rng.uniform(0.3, 1.5),
                        colour, int(rng.integers(1, 3)), cv2.LINE_AA)
    noise = rng.normal(0, 6, img.shape)
    return np.clip(img + noise, 0, 255).astype(np.uint8)
