"""World plate renderer: rendered licence-plate crops, as a camera and a plate finder deliver them.

The training source of the learned whole-plate reader (issue 10). Every sample is a crop of a plate
of some region of the world (US states, Canada, EU countries, UK, Brazil, Argentina, others) with
its registration text and the box of every character in the crop:

    from convert.worldplates import sample, REGIONS, region_group
    s = sample(np.random.default_rng(7))            # or sample(rng, "us-ny")
    s.image, s.text, s.boxes, s.rows, s.region

Deterministic from the generator passed in (no global random state). A sample is drawn in three
steps: the plate is painted at a canonical scale (main characters CAP px tall) from its region's
design (backgrounds, bands, state names, slogans, separators, stacked type codes, stickers,
embossing), set into its surroundings (car body, bumper, dealer frame, shadows, dirt, glare, night
IR), then one homography (rotation, shear, perspective, scale to 10-60 px characters) maps it into
a crop with tight to loose margins, followed by blur, exposure, colour cast, noise and JPEG.
Character boxes are the bounding boxes of each glyph's ink corners mapped by the same homography.

Following Björklund et al. (2019): variety over fidelity; no real image is used here.
"""
from __future__ import annotations

import functools
import glob
import os
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from plate_edge import layouts

from . import strokefont

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
LETTERS = ALPHABET[10:]
DIGITS = ALPHABET[:10]
CAP = 48          # canonical height of the main characters (px) at which plates are painted
_BASE = 80        # size glyph masks are rasterised at, once per (font, char)
STROKE_SHARE = 0.35   # plates whose registration is drawn in a parametric stroke font (strokefont)
EDGE_CUT_SHARE = 0.15  # crops that cut into the first or last character, as hand-drawn label boxes
EDGE_CUT_MAX = 0.3     # and finders do: by up to this share of its width (where the margin is tight)
SIDE_CUT_SHARE = 0.06  # crops whose left or right edge bites into the first or last character
SIDE_CUT_MAX = 0.5     # whatever the margin, by up to this share of its width (US label boxes do)
ROW_CUT_SHARE = 0.06   # crops whose bottom (two in three) or top edge bites into the characters, as
ROW_CUT_MAX = 0.22     # hand-drawn US label boxes do: by up to this share of their height
NY_FACE_SHARE = 0.5      # New York plates (taxis too, not police) drawn in a New-York-like stroke style
NY_MAX_WIDTH = 0.56      # ... whose glyphs are at most this wide (cap heights)
WIDE_SHEAR_SHARE = 0.15  # crops whose characters lean by a shear of up to WIDE_SHEAR (an uncorrected
WIDE_SHEAR = 0.3         # camera roll or yaw): past 0.2 lean 11% of real US crops, 16% of Argentine, 7% before
BR_MANDATORY_SHARE = 0.6   # grey Brazilian plates in a Mandatory-like stroke style: 1 a bare bar
TYPE_CODE_SHARE = 0.05   # North-American plates with a tall stacked type code left of the registration
ACCESS_SHARE = 0.04      # and with the symbol of access beside it
POLICE_SHARE = 0.1       # New York plates of the police (NYPD): a small two-digit year after 4 digits
NY_SEP_NEAR_SHARE = 0.7  # New York's state shape drawn near the next character, as New York places it ...
NY_SEP_NEAR = (0.02, 0.15)  # ... this many cap heights from it: its Long Island tail by a 1's flag reads as
# a 7's bar to a reader that only saw the shape centred in the gap (JGA1530 read JGA7530)
SHARPEN_SHARE = 0.4      # crops sharpened as a camera's image processor does (unsharp mask: halos)
GLARE_SHARE = 0.12       # plates under a soft spot of glare (sun or headlight on the plate) ...
GLARE_MAX = 0.75         # ... screen-blended at up to this strength: the ink keeps at least a quarter of
# its contrast (an additive spot of up to 0.9 washed whole characters out of plates whose text still
# said they were there: training to read what cannot be seen)
# New York State's outline (longitude, latitude; Lake Erie, the St. Lawrence, Lake Champlain, the
# Connecticut line, Long Island out to Montauk, Staten Island, the Delaware, the Pennsylvania line),
# drawn between the groups of New York plates: a broad body with Long Island as a tail to the right
_NY = np.array([(-79.76, 42.27), (-78.9, 42.9), (-79.05, 43.25), (-77.5, 43.3), (-76.2, 43.5), (-76.3, 44.2),
                (-74.7, 45.0), (-73.35, 45.0), (-73.3, 43.6), (-73.25, 42.75), (-73.5, 42.05), (-73.5, 41.2),
                (-73.65, 41.0), (-72.6, 40.98), (-71.85, 41.07), (-72.5, 40.8), (-73.75, 40.58), (-74.25, 40.5),
                (-74.0, 40.75), (-74.7, 41.35), (-75.35, 42.0), (-79.76, 42.0)])
NY_OUTLINE = (_NY - [_NY[:, 0].min(), _NY[:, 1].max()]) * [1.0, -1.0]
NY_OUTLINE /= NY_OUTLINE.max(axis=0)   # 0-1 across and down (drawn 1.25-1.45 times as wide as tall)


@dataclass
class PlateSample:
    image: np.ndarray                        # BGR uint8 crop
    text: str                                # registration text, 0-9 A-Z, reading order
    boxes: list[tuple[int, int, int, int]]   # x, y, w, h of each character of `text`
    rows: list[int]                          # row (0 = top) of each character
    region: str


# ---------------------------------------------------------------------------------------------
# Regions
# ---------------------------------------------------------------------------------------------
US_STATES = {
    "al": "ALABAMA", "ak": "ALASKA", "az": "ARIZONA", "ar": "ARKANSAS", "ca": "California",
    "co": "COLORADO", "ct": "Connecticut", "de": "DELAWARE", "fl": "Florida", "ga": "GEORGIA",
    "hi": "HAWAII", "id": "IDAHO", "il": "Illinois", "in": "INDIANA", "ia": "IOWA", "ks": "KANSAS",
    "ky": "Kentucky", "la": "LOUISIANA", "me": "MAINE", "md": "Maryland", "ma": "Massachusetts",
    "mi": "MICHIGAN", "mn": "MINNESOTA", "ms": "MISSISSIPPI", "mo": "MISSOURI", "mt": "MONTANA",
    "ne": "NEBRASKA", "nv": "NEVADA", "nh": "NEW HAMPSHIRE", "nj": "New Jersey", "nm": "NEW MEXICO",
    "ny": "NEW YORK", "nc": "NORTH CAROLINA", "nd": "NORTH DAKOTA", "oh": "OHIO", "ok": "OKLAHOMA",
    "or": "OREGON", "pa": "PENNSYLVANIA", "ri": "RHODE ISLAND", "sc": "SOUTH CAROLINA",
    "sd": "SOUTH DAKOTA", "tn": "TENNESSEE", "tx": "TEXAS", "ut": "UTAH", "vt": "VERMONT",
    "va": "VIRGINIA", "wa": "Washington", "wv": "WEST VIRGINIA", "wi": "WISCONSIN", "wy": "WYOMING",
    "dc": "DISTRICT OF COLUMBIA",
}
_US_BIG = {"ny": 9.0, "ny-taxi": 6.0, "nj": 4.0, "pa": 3.0, "ca": 2.5, "tx": 2.0, "fl": 2.0, "ct": 1.2}
REGIONS: dict[str, float] = {f"us-{k}": v for k, v in _US_BIG.items()}
for _k in US_STATES:
    REGIONS.setdefault(f"us-{_k}", 0.35)
REGIONS.update({
    "ca-on": 2.0, "ca-qc": 1.2, "ca-bc": 0.8,
    "eu-de": 5.0, "eu-fr": 2.0, "eu-it": 2.0, "eu-es": 2.0, "eu-pl": 1.5, "eu-nl": 1.5, "eu-ro": 1.5,
    "eu-be": 1.0, "eu-cz": 1.0, "eu-pt": 1.0, "eu-se": 0.8, "eu-at": 0.8, "eu-sk": 0.6, "eu-hu": 0.6,
    "eu-fi": 0.5, "eu-dk": 0.5, "eu-bg": 0.5, "eu-hr": 0.5,
    "gb": 5.0,
    "br": 5.0, "br-mercosur": 5.0,
    "ar": 3.0, "ar-mercosur": 3.0,
    "ru": 1.0, "tr": 1.0, "ua": 0.6, "ch": 0.6, "no": 0.5, "mx": 0.8, "other": 1.5,
})


def region_group(region: str) -> str:
    """Test-set group of a region: us, ca, eu, gb, br, ar or other."""
    head = region.split("-", 1)[0]
    return head if head in ("us", "ca", "eu", "gb", "br", "ar") else "other"


# layouts: L letter, N digit, space = group break (where a separator may go)
EU_LAYOUTS = {
    "de": None, "fr": ["LL NNN LL"], "it": ["LL NNN LL"], "es": ["NNNN LLL"],
    "pl": ["LL NNNNN", "LLL NNNN", "LL NNNLL", "LLL NNLL"], "nl": ["LL NNN L", "N LLL NN", "NN LLL N", "LL NN LL", "NN LL NN"],
    "ro": ["LL NN LLL", "L NN LLL", "L NNN LLL"], "be": ["N LLL NNN"], "cz": ["NLN NNNN", "NLL NNNN"],
    "pt": ["NN LL NN", "LL NN LL", "NN NN LL"], "se": ["LLL NNN", "LLL NNL"], "at": ["L NNNN L", "LL NNN LL", "L NNN LL"],
    "sk": ["LL NNN LL"], "hu": ["LLL NNN", "LL LL NNN"], "fi": ["LLL NNN", "LL NNN"], "dk": ["LL MN NNN"],
    "bg": ["LL NNNN LL", "L NNNN LL"], "hr": ["LL NNN L", "LL NNNN LL"],
}
# the letters a country issues, where it leaves some out: the reader's layouts' (plate_edge.layouts),
# and Britain no I or Q (which the layouts leave out: their prior made Slovak AB123CD plates British)
ISSUED_LETTERS = {**layouts.ISSUED_LETTERS, "gb": "ABCDEFGHJKLMNOPRSTUVWXYZ"}
EU_CODE = {"de": "D", "fr": "F", "it": "I", "es": "E", "pl": "PL", "nl": "NL", "ro": "RO", "be": "B",
           "cz": "CZ", "pt": "P", "se": "S", "at": "A", "sk": "SK", "hu": "H", "fi": "FIN", "dk": "DK",
           "bg": "BG", "hr": "HR"}
VANITY = ("HELLO", "GOBLUE", "MYCAR", "SUNNY", "LUCKY7", "BOSS", "MOMSVAN", "TEXAN", "GOFAST", "DADDY",
          "ROCKY", "NYC", "JERSEY", "BEACH", "TRUCKN", "JESUS1", "LOVE", "QUEEN", "KING", "2FAST4U",
          "IMLATE", "RETIRED", "TESLA", "VETERAN", "GATORS", "SKI", "PAPA", "NANA", "ZOOM", "WOW",
          "HOKIES", "YANKEES", "METS", "GIANTS", "BRONX", "MAGIC", "ANGEL", "SMILE", "WIZARD", "OK")
SLOGANS = ("EMPIRE STATE", "GARDEN STATE", "Excelsior", "YOURS TO DISCOVER", "Sunshine State",
           "THE LONE STAR STATE", "visitPA.com", "dmv.ca.gov", "Constitution State", "Great Lakes",
           "First in Flight", "Land of Lincoln", "Wild Wonderful", "Live Free or Die", "Famous Potatoes",
           "The Natural State", "Grand Canyon State", "Peach State", "Treasure State", "Ocean State",
           "Taxed Without Representation", "Green Mountain State", "America's Dairyland", "Heart of It All",
           "SPORTSMAN", "IN GOD WE TRUST", "Share the Road", "COUNTY", "Jefferson County", "Kings County",
           "Choose Life", "Support Education", "Blue Ribbon", "VETERAN", "Amateur Radio", "COMMERCIAL",
           "Purple Heart", "Pride of Place", "Beautiful", "JE ME SOUVIENS", "Wine Country", "Spirit of America")
DEALER = ("CENTRAL AVE NISSAN.COM", "MARQUIS AUTO", "HUDSON TOYOTA", "STAR CARS", "BILL VOLZ",
          "NACMIAS AUTO SALES", "718-880-3000", "AUTO GROUP", "HONDA OF QUEENS", "BAY RIDGE FORD",
          "KIA OF BROOKLYN", "PREMIER MOTORS", "ALL AMERICAN", "CHEVROLET", "BMW OF MANHATTAN", "SERVICE",
          "LEASING", "YONKERS NY", "(914) 961-3500", "ROSE CADILLAC", "WE ARE FAMILY", "CARS.COM")
AGENCIES = (("City of", "New York"), ("Metropolitan", "Transportation", "Authority"), ("Village of", "Scarsdale"),
            ("County of", "Nassau"), ("Fire", "Department"), ("State", "Police"), ("Town of", "Greenwich"),
            ("Board of", "Education"), ("Sheriff",), ("Port", "Authority"))
BR_CITIES = ("SP SAO PAULO", "RJ RIO DE JANEIRO", "MG BELO HORIZONTE", "PR CURITIBA", "RS PORTO ALEGRE",
             "BA SALVADOR", "SC JOINVILLE", "GO GOIANIA", "PE RECIFE", "SP CAMPINAS", "SP SANTOS")

# ---------------------------------------------------------------------------------------------
# Fonts and glyph masks
# ---------------------------------------------------------------------------------------------
_FONT_DIRS = ("/usr/share/fonts",)


def _font(name: str) -> str | None:
    for d in _FONT_DIRS:
        hits = sorted(glob.glob(os.path.join(d, "**", name), recursive=True))
        if hits:
            return hits[0]
    return None


@functools.cache
def _fonts(kind: str) -> tuple[str, ...]:
    names = {
        # tall condensed plate faces (NY, NJ, PA, taxi ...)
        "us": ("RG2014B.ttf", "RG2014C.ttf", "RG2014D.ttf", "NimbusSansNarrow-Bold.otf",
               "LiberationSansNarrow-Bold.ttf", "RobotoCondensed-Bold.ttf", "RobotoCondensed-Medium.ttf",
               "BebasNeue-Bold.otf", "BebasNeue-Regular.otf", "DejaVuSansCondensed-Bold.ttf", "OSP-DIN.ttf",
               "RG2014E.ttf", "LiberationSansNarrow-Regular.ttf"),
        "din": ("OSP-DIN.ttf", "OSP-DIN.ttf", "OSP-DIN.ttf", "RG2014C.ttf", "RobotoCondensed-Regular.ttf",
                "LiberationSansNarrow-Bold.ttf", "NimbusSansNarrow-Regular.otf"),
        "wide": ("DejaVuSans-Bold.ttf", "LiberationSans-Bold.ttf", "NimbusSans-Bold.otf", "RG2014D.ttf",
                 "RG2014E.ttf", "FreeSansBold.ttf", "B612-Bold.otf", "Roboto-Black.ttf"),
        "serif": ("C059-Bold.otf", "NimbusRoman-Bold.otf", "P052-Bold.otf", "DejaVuSerifCondensed-Bold.ttf",
                  "LiberationSerif-Bold.ttf", "C059-BdIta.otf", "URWBookman-Demi.otf"),
        "deco": ("NimbusSans-Bold.otf", "LiberationSans-Bold.ttf", "C059-Bold.otf", "NimbusRoman-Bold.otf",
                 "DejaVuSans-Bold.ttf", "RobotoCondensed-Bold.ttf", "URWGothic-Demi.otf", "Z003-MediumItalic.otf",
                 "NimbusSans-BoldItalic.otf", "P052-BoldItalic.otf", "BebasNeue-Bold.otf", "FreeSerifBold.ttf"),
    }[kind]
    out = tuple(p for p in (_font(n) for n in names) if p)
    if not out:  # no fonts installed: any TrueType font at all
        out = tuple(sorted(glob.glob("/usr/share/fonts/**/*.ttf", recursive=True))[:3])
    return out


def _main_font(rng, font: str, share: float = STROKE_SHARE, bare_one: bool = False, ny_face: bool = False) -> str:
    """The registration's font: `font`, or for `share` of plates a parametric stroke style (with
    bare_one: one whose 1 is a bare bar, as in Brazil's Mandatory, so that only the layout tells
    it from an I; with ny_face: one like New York's face, see ny_like, in its New York variant:
    strokefont.ny_variant)."""
    if rng.random() >= share:
        return font
    sid = int(rng.integers(strokefont.STYLES))
    while (bare_one and strokefont.style(sid).one_flag) or (ny_face and not ny_like(strokefont.style(sid))):
        sid = int(rng.integers(strokefont.STYLES))
    return f"{strokefont.PREFIX}{strokefont.ny_variant(sid) if ny_face else sid}"


def ny_like(st: strokefont.Style) -> bool:
    """A stroke style like New York's plate face: condensed, a footless 1 whose flag reaches far
    left and down."""
    return st.one_flag and st.flag_reach > 0 and not st.one_base and st.width <= NY_MAX_WIDTH


@functools.cache
def _pil_font(path: str) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, _BASE)


@functools.cache
def _cap_metrics(path: str) -> tuple[int, int]:
    """Top and bottom of the ink of 'H' in the raster frame used by _glyph."""
    m = _raster(path, "H")
    ys = np.nonzero(m.any(1))[0]
    return int(ys[0]), int(ys[-1]) + 1


def _raster(path: str, ch: str) -> np.ndarray:
    f = _pil_font(path)
    im = Image.new("L", (_BASE * 2, _BASE * 2), 0)
    ImageDraw.Draw(im).text((_BASE // 3, _BASE // 3), ch, font=f, fill=255)
    return np.asarray(im)


@functools.cache
def _glyph(path: str, ch: str) -> tuple[np.ndarray | None, float, float, float]:
    """(mask cropped to ink, top relative to cap top, advance, left bearing), all in cap heights."""
    if path.startswith(strokefont.PREFIX):
        try:
            return strokefont.glyph(int(path[len(strokefont.PREFIX):]), ch, _BASE)
        except KeyError:   # not a registration character: the stroke fonts draw 0-9 A-Z only
            return None, 0.0, 0.5, 0.0
    top, bot = _cap_metrics(path)
    cap = bot - top
    try:
        adv = _pil_font(path).getlength(ch) / cap
    except Exception:
        adv = 0.6
    m = _raster(path, ch)
    ys, xs = np.nonzero(m > 20)
    if len(xs) == 0:
        return None, 0.0, max(adv, 0.3), 0.0
    crop = m[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    return crop, (ys.min() - top) / cap, adv, (xs.min() - _BASE // 3) / cap


@functools.lru_cache(maxsize=60000)
def _glyph_sized(path: str, ch: str, h: int, w: int, bold: int = 0) -> np.ndarray:
    """The glyph mask resized to w x h; `bold` px heavier strokes (the mask grows by `bold` each side)."""
    m = cv2.resize(_glyph(path, ch)[0], (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) * (1 / 255)
    if bold:
        m = cv2.dilate(np.pad(m, bold), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * bold + 1, 2 * bold + 1)))
    return m


def _layout(path: str, text: str, cap: float, xs: float, track: float):
    """Place `text` (any chars) at cap height `cap`, x-scale `xs`, extra tracking `track` (cap heights).
    Returns [(ch, mask, x, y)] relative to (left, cap top) and the total width."""
    out, x = [], 0.0
    for ch in text:
        m, top, adv, left = _glyph(path, ch)
        if m is not None:
            gh = max(1, round(m.shape[0] / _BASE * cap * _BASE / _cap_px(path)))
            gw = max(1, round(m.shape[1] / _BASE * cap * xs * _BASE / _cap_px(path)))
            out.append((ch, _glyph_sized(path, ch, gh, gw), x + left * cap * xs, top * cap))
        x += (adv + track) * cap * xs
    return out, x - track * cap * xs


@functools.cache
def _cap_px(path: str) -> int:
    if path.startswith(strokefont.PREFIX):
        return _BASE
    t, b = _cap_metrics(path)
    return b - t


# ---------------------------------------------------------------------------------------------
# Painting helpers (canvas: float32 HxWx3 BGR in 0..1)
# ---------------------------------------------------------------------------------------------
def _rgb(h: str) -> np.ndarray:
    return np.array([int(h[4:6], 16), int(h[2:4], 16), int(h[0:2], 16)], np.float32) / 255


def _jit(rng, c, a=0.06):
    return np.clip(np.asarray(c, np.float32) + rng.normal(0, a, 3).astype(np.float32), 0, 1)


def _blend(canvas, mask, x, y, color, alpha=1.0):
    """canvas[y:y+h, x:x+w] = mix(canvas, color, mask*alpha), clipped to the canvas."""
    H, W = canvas.shape[:2]
    x, y = int(round(x)), int(round(y))
    h, w = mask.shape[:2]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, W), min(y + h, H)
    if x1 <= x0 or y1 <= y0:
        return
    m = mask[y0 - y:y1 - y, x0 - x:x1 - x]
    if alpha != 1.0:
        m = m * alpha
    reg = canvas[y0:y1, x0:x1]
    reg += (np.asarray(color, np.float32) - reg) * m[..., None]


def _text(canvas, rng, path, text, cap, cx, cy, color, xs=1.0, track=0.05, max_w=None, anchor="c"):
    """Paint decorative text centred at (cx, cy) (or left-anchored at cx); returns its x extent."""
    if cap < 2 or not text:
        return cx, cx
    items, w = _layout(path, text, cap, xs, track)
    if max_w and w > max_w:
        s = max_w / w
        items, w = _layout(path, text, cap, xs * s, track)
    x0 = cx - w / 2 if anchor == "c" else cx
    for _ch, m, x, y in items:
        _blend(canvas, m, x0 + x, cy - cap / 2 + y, color)
    return x0, x0 + w


def _smooth_noise(rng, h, w, cells, ch=1):
    g = rng.random((max(2, cells[0]), max(2, cells[1]), ch)).astype(np.float32)
    out = cv2.resize(g, (w, h), interpolation=cv2.INTER_CUBIC)
    return out.reshape(h, w, ch)


def _background(rng, h, w, base, kind=None):
    """A plate background of colour `base`: solid, gradient, smooth blobs, scenic or textured."""
    kind = kind or rng.choice(["solid", "grad", "blobs", "scenic", "texture"], p=[0.35, 0.25, 0.2, 0.12, 0.08])
    img = np.empty((h, w, 3), np.float32)
    img[:] = base
    if kind == "grad":
        other = _jit(rng, base, 0.18)
        t = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
        if rng.random() < 0.5:
            t = np.abs(t - 0.5) * 2
        img[:] = base * (1 - t) + other * t
    elif kind == "blobs":
        n = _smooth_noise(rng, h, w, (rng.integers(2, 4), rng.integers(3, 7)), 3)
        n = n * 0.15 + n.mean(2, keepdims=True) * 0.85    # mostly lightness, a little hue
        img += (n - 0.5) * rng.uniform(0.1, 0.35)
    elif kind == "scenic":
        sky = _jit(rng, base, 0.1)
        t = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
        img[:] = sky * (1 - t * 0.3) + base * t * 0.3
        if rng.random() < 0.6:  # sun
            r = int(h * rng.uniform(0.12, 0.3))
            cv2.circle(img, (int(rng.uniform(0.1, 0.9) * w), int(rng.uniform(0.2, 0.6) * h)), r,
                       tuple(float(v) for v in _jit(rng, _rgb("f0a030"), 0.1)), -1, cv2.LINE_AA)
        k = rng.integers(3, 8)
        xs_ = np.linspace(0, w, k + 2)
        ys_ = h * rng.uniform(0.55, 0.85, k + 2)
        pts = np.array([[0, h]] + [[x, y] for x, y in zip(xs_, ys_)] + [[w, h]], np.int32)
        col = _jit(rng, rng.choice([_rgb("406a9a"), _rgb("5a8040"), _rgb("9a6a40"), _rgb("707070")]), 0.1)
        cv2.fillPoly(img, [pts], tuple(float(v) for v in (img[0, 0] * 0.4 + col * 0.6)), cv2.LINE_AA)
    elif kind == "texture":
        n = _smooth_noise(rng, h, w, (h // 6, w // 6), 1)
        img *= 1 - rng.uniform(0.05, 0.2) * n
    return img


def _shape_mask(rng, kind, h):
    """Separator / emblem mask of height ~h: state-like outline, heart, dash, dot, badge, star."""
    h = max(4, int(h))
    if kind == "dash":
        w = max(3, int(h * rng.uniform(0.4, 0.8)))
        m = np.zeros((h, w), np.float32)
        t = max(1, int(h * rng.uniform(0.08, 0.14)))
        c = h // 2
        m[c - t // 2:c - t // 2 + t, :] = 1
        return m
    if kind == "ny":   # New York's outline, as New York plates separate their groups
        w = max(4, int(h * rng.uniform(1.25, 1.45)))
        m = np.zeros((h, w), np.uint8)
        pts = NY_OUTLINE + rng.normal(0, 0.015, NY_OUTLINE.shape)
        cv2.fillPoly(m, [np.round(pts * [w - 1, h - 1]).astype(np.int32)], 255, cv2.LINE_AA)
        return m.astype(np.float32) / 255
    w = int(h * rng.uniform(0.7, 1.3))
    m = np.zeros((h, w), np.uint8)
    if kind == "heart":
        r = w // 4
        cv2.circle(m, (w // 4 + 1, h // 3), r, 255, -1, cv2.LINE_AA)
        cv2.circle(m, (3 * w // 4 - 1, h // 3), r, 255, -1, cv2.LINE_AA)
        cv2.fillPoly(m, [np.array([[1, h // 3 + 1], [w - 1, h // 3 + 1], [w // 2, h - 1]], np.int32)], 255, cv2.LINE_AA)
    elif kind in ("dot", "badge"):
        r = min(h, w) // 2 - 1
        cv2.circle(m, (w // 2, h // 2), r, 255, -1, cv2.LINE_AA)
    elif kind == "star":
        a = np.linspace(0, 2 * np.pi, 11)[:-1] - np.pi / 2
        rr = np.where(np.arange(10) % 2 == 0, 0.5, 0.22) * min(h, w)
        pts = np.stack([w / 2 + rr * np.cos(a), h / 2 + rr * np.sin(a)], 1).astype(np.int32)
        cv2.fillPoly(m, [pts], 255, cv2.LINE_AA)
    else:  # a state-like irregular outline
        k = int(rng.integers(6, 12))
        a = np.sort(rng.uniform(0, 2 * np.pi, k))
        rr = rng.uniform(0.3, 0.5, k)
        pts = np.stack([w / 2 + rr * w * np.cos(a), h / 2 + rr * h * np.sin(a)], 1).astype(np.int32)
        cv2.fillPoly(m, [pts], 255, cv2.LINE_AA)
        if rng.random() < 0.5:  # a Long-Island-like tail
            y = int(h * rng.uniform(0.6, 0.85))
            cv2.line(m, (w // 2, y), (w - 1, y - int(h * 0.1)), 255, max(1, h // 10), cv2.LINE_AA)
    return m.astype(np.float32) / 255


# ---------------------------------------------------------------------------------------------
# Registration texts
# ---------------------------------------------------------------------------------------------
def _from_layout(rng, layout: str, letters: str = LETTERS) -> tuple[str, list[int]]:
    """Text of a layout like 'LLL NNNN' (L a letter of `letters`, N a digit, M a digit but 0, X
    either); returns (text, group break positions)."""
    text, breaks = [], []
    for c in layout:
        if c == " ":
            breaks.append(len(text))
        elif c == "L":
            text.append(letters[rng.integers(len(letters))])
        elif c == "N":
            text.append(DIGITS[rng.integers(10)])
        elif c == "M":
            text.append(DIGITS[1 + rng.integers(9)])
        elif c == "X":
            text.append(ALPHABET[rng.integers(36)])
        else:
            text.append(c)
    return "".join(text), breaks


def _random_text(rng, lo=2, hi=8):
    n = int(rng.integers(lo, hi + 1))
    p = rng.uniform(0.2, 0.8)
    return "".join(DIGITS[rng.integers(10)] if rng.random() < p else LETTERS[rng.integers(26)] for _ in range(n))


def _us_text(rng, layouts=("LLL NNNN", "N LLL NNN", "NNN LLL", "LLL NNN", "LL NNNNN", "NNNNN LL", "LNN LLL")):
    r = rng.random()
    if r < 0.72:
        return _from_layout(rng, layouts[rng.integers(len(layouts))] if rng.random() < 0.8 else layouts[0])
    if r < 0.82:
        t = _random_text(rng, 4, 8)
        return t, ([int(rng.integers(1, len(t)))] if rng.random() < 0.5 else [])
    if r < 0.92:
        return VANITY[rng.integers(len(VANITY))], []
    t = "".join(DIGITS[rng.integers(10)] for _ in range(int(rng.integers(3, 8))))
    return t, ([int(rng.integers(1, len(t)))] if rng.random() < 0.4 else [])


# ---------------------------------------------------------------------------------------------
# Plate painting
# ---------------------------------------------------------------------------------------------
@dataclass
class _Plate:
    img: np.ndarray                     # HxWx3 float32
    boxes: list                         # [(x0, y0, x1, y1)] of each char (canvas px)
    rows: list
    text: str
    region: str
    radius: float = 0.0                 # rounded corner radius (px)
    text_box: tuple = (0, 0, 0, 0)      # union of char boxes


def _main_text(rng, img, text, breaks, font, color, cap, y_top, x0, x1, *, xs=None, track=None,
               sep=None, sep_color=None, emboss=0.0, gap=None, bold=None):
    """Paint the registration characters in [x0, x1] at cap top y_top; returns their boxes."""
    xs = xs if xs is not None else rng.uniform(0.8, 1.1)
    bold = bold if bold is not None else int(rng.choice([0, 0, 0, 1, 1, 2]) * cap / CAP + 0.5)
    track = track if track is not None else rng.uniform(0.04, 0.2)
    gap = gap if gap is not None else (rng.uniform(0.75, 1.0) if sep == "ny" else rng.uniform(0.3, 0.8) if sep
                                       else rng.uniform(0.1, 0.6))
    # natural width
    def widths(xs_):
        ws = []
        for ch in text:
            m, top, adv, left = _glyph(font, ch)
            ws.append(adv * cap * xs_)
        return ws
    ws = widths(xs)
    total = sum(ws) + track * cap * xs * (len(text) - 1) + gap * cap * len(breaks)
    avail = x1 - x0
    if total > avail:
        f = avail / total
        xs *= f
        if f < 0.65:   # squeezing too hard: also shrink the height
            cap *= max(0.6, f / 0.65)
        ws = widths(xs)
        total = sum(ws) + track * cap * xs * (len(text) - 1) + gap * cap * len(breaks)
    x = x0 + (avail - total) / 2 + (rng.uniform(-1, 1) * (avail - total) * 0.15)
    boxes, sep_at = [], []   # separators: (centre x, index of the character after it)
    shade = []
    for i, ch in enumerate(text):
        if i in breaks:
            sep_at.append((x + gap * cap / 2 - track * cap * xs / 2, i))
            x += gap * cap
        m, top, adv, left = _glyph(font, ch)
        cp = _cap_px(font)
        gh = max(1, round(m.shape[0] * cap / cp))
        gw = max(1, round(m.shape[1] * cap * xs / cp))
        mask = _glyph_sized(font, ch, gh, gw, bold)
        gx, gy = round(x + left * cap * xs) - bold, round(y_top + top * cap) - bold
        shade.append((mask, gx, gy))
        boxes.append((gx, gy, gx + mask.shape[1], gy + mask.shape[0]))
        x += ws[i] + track * cap * xs
    if emboss > 0:  # raised characters: a light edge up-left, a dark edge down-right
        d = max(1.0, cap * rng.uniform(0.02, 0.05))
        for mask, gx, gy in shade:
            _blend(img, mask, gx + d, gy + d, (0.05, 0.05, 0.05), emboss * 0.4)
            _blend(img, mask, gx - d * 0.7, gy - d * 0.7, (1, 1, 1), emboss * 0.25)
    for mask, gx, gy in shade:
        _blend(img, mask, gx, gy, color)
    if sep:
        for sx, nxt in sep_at:
            if sep == "discs":
                _discs(rng, img, sx, y_top, cap)
                continue
            sh = cap * (rng.uniform(0.8, 1.0) if sep == "dash" else rng.uniform(0.35, 0.5) if sep == "ny"
                        else rng.uniform(0.3, 0.6))
            sm = _shape_mask(rng, sep, sh)
            if sep == "ny" and rng.random() < NY_SEP_NEAR_SHARE:   # its right end near the next character
                near = boxes[nxt][0] - rng.uniform(*NY_SEP_NEAR) * cap - sm.shape[1] / 2
                sx = max(sx, near)   # never nearer the character before than centred
            _blend(img, sm, sx - sm.shape[1] / 2, y_top + cap / 2 - sm.shape[0] / 2, sep_color if sep_color is not None else color)
    return boxes, cap


def _discs(rng, img, x, y_top, cap):
    """Two round stickers stacked between the groups (German seals, Czech and Slovak inspection
    stickers): NOT characters, though a reader may take them for an 8."""
    r = cap * rng.uniform(0.13, 0.2)
    palette = [_rgb("d02020"), _rgb("20a040"), _rgb("2060d0"), _rgb("e0c020"), _rgb("e07020"), _rgb("c8c8c8")]
    for cy in (y_top + cap * 0.5 - r * 1.25, y_top + cap * 0.5 + r * 1.25):
        c = _jit(rng, palette[int(rng.integers(len(palette)))], 0.06)
        cv2.circle(img, (int(round(x)), int(round(cy))), max(1, int(round(r))), tuple(float(v) for v in c), -1, cv2.LINE_AA)
        cv2.circle(img, (int(round(x)), int(round(cy))), max(1, int(round(r))), tuple(float(v) * 0.6 for v in c),
                   max(1, int(r * 0.15)), cv2.LINE_AA)


def _stacked(rng, img, font, color, cap, x, y_top, n=None):
    """Tiny plate-type letters stacked vertically (NOT part of the registration)."""
    n = n or int(rng.integers(2, 4))
    s = cap / n * rng.uniform(0.75, 0.95)
    for k in range(n):
        ch = LETTERS[rng.integers(26)] if rng.random() < 0.8 else DIGITS[rng.integers(10)]
        _text(img, rng, font, ch, s, x, y_top + (k + 0.5) * cap / n, color)


def _agency(rng, img, color, cap, cx, y_mid, width):
    """Two or three lines of small issuer text ('City of / New York', 'Metropolitan /
    Transportation / Authority') centred on (cx, y_mid), at most `width` wide: NOT characters."""
    lines = AGENCIES[int(rng.integers(len(AGENCIES)))]
    lc = cap * rng.uniform(0.13, 0.19)
    font = _pick(rng, _fonts("deco"))
    for k, line in enumerate(lines):
        y = y_mid + (k - (len(lines) - 1) / 2) * lc * 1.45
        _text(img, rng, font, line, lc, cx, y, color, xs=rng.uniform(0.8, 1.0), max_w=width)


def _type_code(rng, img, font, color, cap, x0, y_top, with_agency: bool) -> float:
    """A plate-type code as New York's agency and municipal plates carry it: two (or three)
    letters stacked as tall as the registration, left of it, often after small issuer text; NOT
    part of the registration (the OpenALPR benchmarks' labels leave it out). Returns the x where
    the registration may start."""
    x = x0
    if with_agency:
        aw = cap * rng.uniform(0.9, 1.4)
        _agency(rng, img, _jit(rng, color, 0.05), cap, x + aw / 2, y_top + cap / 2, aw)
        x += aw + cap * 0.1
    n = int(rng.choice([2, 2, 2, 3]))
    s = cap / n * rng.uniform(0.82, 0.95)
    cw = s * rng.uniform(0.75, 0.95)
    for k in range(n):
        ch = LETTERS[rng.integers(26)] if rng.random() < 0.9 else DIGITS[rng.integers(10)]
        _text(img, rng, font, ch, s, x + cw / 2, y_top + (k + 0.5) * cap / n, color)
    return x + cw * rng.uniform(1.1, 1.5)


def _wheelchair(h: int) -> np.ndarray:
    """The international symbol of access (a seated figure in a wheel), mask h px tall: NOT a
    character, though a reader may take it for an E or a 6."""
    h = max(8, int(h))
    w = int(h * 0.85)
    m = np.zeros((h, w), np.uint8)
    t = max(1, h // 11)
    cv2.circle(m, (int(w * 0.42), int(h * 0.1)), max(1, h // 10), 255, -1, cv2.LINE_AA)        # head
    cv2.line(m, (int(w * 0.4), int(h * 0.24)), (int(w * 0.36), int(h * 0.58)), 255, t + 1, cv2.LINE_AA)  # back
    cv2.line(m, (int(w * 0.36), int(h * 0.58)), (int(w * 0.7), int(h * 0.58)), 255, t + 1, cv2.LINE_AA)  # seat
    cv2.line(m, (int(w * 0.7), int(h * 0.58)), (int(w * 0.86), int(h * 0.9)), 255, t + 1, cv2.LINE_AA)  # leg
    cv2.line(m, (int(w * 0.39), int(h * 0.36)), (int(w * 0.66), int(h * 0.36)), 255, t, cv2.LINE_AA)     # arm
    cv2.ellipse(m, (int(w * 0.4), int(h * 0.68)), (int(w * 0.3), int(h * 0.28)), 0, -60, 200, 255, t, cv2.LINE_AA)
    return m.astype(np.float32) / 255


def _sticker(rng, img, x, y, w, h):
    col = rng.choice([_rgb("e02020"), _rgb("20a040"), _rgb("f0e020"), _rgb("2060e0"), _rgb("f08020"), _rgb("ffffff")])
    cv2.rectangle(img, (int(x), int(y)), (int(x + w), int(y + h)), tuple(float(v) for v in _jit(rng, col, 0.05)), -1)
    f = _fonts("deco")[0]
    _text(img, rng, f, str(int(rng.integers(10, 99))), h * 0.45, x + w / 2, y + h / 2, (0.1, 0.1, 0.1), max_w=w * 0.9)


def _bolts(rng, img, color=None):
    h, w = img.shape[:2]
    r = max(2, int(h * rng.uniform(0.03, 0.05)))
    ys = [int(h * rng.uniform(0.08, 0.14))]
    if rng.random() < 0.4:
        ys.append(int(h * rng.uniform(0.86, 0.92)))
    c = color if color is not None else tuple(float(v) for v in _jit(rng, (0.35, 0.35, 0.35), 0.15))
    for y in ys:
        for x in (int(w * rng.uniform(0.15, 0.3)), int(w * rng.uniform(0.7, 0.85))):
            cv2.circle(img, (x, y), r, c, -1, cv2.LINE_AA)
            cv2.circle(img, (x - r // 3, y - r // 3), max(1, r // 3), (0.85, 0.85, 0.85), -1, cv2.LINE_AA)


def _pick(rng, seq):
    return seq[int(rng.integers(len(seq)))]


def _us_like(rng, region, *, bg, fg, state, slogan, font=None, top_color=None, top_band=None,
             bottom_band=None, sep=None, layout=None, text=None, breaks=None, bg_kind=None, top_font=None,
             emboss=None, two_row=False, stacked=None, aspect=2.0, small_suffix="", code=None, agency=None,
             access=None):
    """A North-American-style plate (12 x 6 in): state name on top, slogan at the bottom.
    small_suffix: characters painted small on the baseline after the main text, yet part of the
    registration (New York City taxi medallions 5J23 + A, police plates 4339 + 18).
    code: a tall stacked plate-type code left of the registration (`agency`: after small issuer
    text), access: the symbol of access beside it; neither is part of the registration."""
    H = int(CAP / rng.uniform(0.42, 0.52))
    W = int(H * aspect * rng.uniform(0.97, 1.03))
    img = _background(rng, H, W, bg, bg_kind)
    top_color = top_color if top_color is not None else _jit(rng, fg, 0.08)
    band_h = 0
    if top_band is not None:
        band_h = int(H * rng.uniform(0.12, 0.17))
        img[:band_h] = top_band
    bh = 0
    if bottom_band is not None:
        bh = int(H * rng.uniform(0.12, 0.18))
        img[H - bh:] = bottom_band
    tf = top_font or _pick(rng, _fonts("deco") + _fonts("serif"))
    if state and rng.random() < 0.93:
        sc = H * rng.uniform(0.1, 0.16)
        _text(img, rng, tf, state, sc, W / 2 + rng.normal(0, W * 0.02), H * rng.uniform(0.1, 0.14), top_color,
              xs=rng.uniform(0.9, 1.3), track=rng.uniform(0.02, 0.25), max_w=W * 0.8)
    if slogan and rng.random() < 0.85:
        sc = H * rng.uniform(0.07, 0.12)
        _text(img, rng, _pick(rng, _fonts("deco")), slogan, sc, W / 2 + rng.normal(0, W * 0.02),
              H * rng.uniform(0.86, 0.91), _jit(rng, top_color, 0.1), xs=rng.uniform(0.9, 1.2),
              track=rng.uniform(0.02, 0.2), max_w=W * 0.85)
    if text is None:
        text, breaks = _from_layout(rng, layout) if layout else _us_text(rng)
    ny = region.startswith("us-ny") and (font is None or font in _fonts("us"))   # not police's wide face
    font = _main_font(rng, font or _pick(rng, _fonts("us")), NY_FACE_SHARE if ny else STROKE_SHARE, ny_face=ny)
    emboss = emboss if emboss is not None else (rng.uniform(0.4, 1.0) if rng.random() < 0.5 else 0.0)
    stacked = stacked if stacked is not None else rng.random() < 0.15
    code = code if code is not None else (not stacked and rng.random() < TYPE_CODE_SHARE)
    access = access if access is not None else (not code and rng.random() < ACCESS_SHARE)
    margin = W * rng.uniform(0.05, 0.09)
    x0, x1 = margin, W - margin
    if stacked:  # room for the tiny letters at the left or right
        sw = CAP * 0.38
        if rng.random() < 0.6:
            _stacked(rng, img, font, fg, CAP * 0.8, x0 + sw / 2, H * 0.5 - CAP * 0.4)
            x0 += sw * 1.3
        else:
            _stacked(rng, img, font, fg, CAP * 0.8, x1 - sw / 2, H * 0.5 - CAP * 0.4)
            x1 -= sw * 1.3
    if rng.random() < 0.35:  # registration stickers in the top corners
        sw, shh = W * rng.uniform(0.1, 0.16), H * rng.uniform(0.12, 0.18)
        for sx in ([W * 0.03] if rng.random() < 0.5 else []) + ([W * 0.97 - sw] if rng.random() < 0.7 else []):
            _sticker(rng, img, sx, H * rng.uniform(0.03, 0.08), sw, shh)
    if two_row:
        k = int(rng.integers(1, len(text))) if len(text) > 2 else 1
        rows_txt = [text[:k], text[k:]]
        cap = CAP * 0.72
        boxes, rows = [], []
        for r, t in enumerate(rows_txt):
            b, _ = _main_text(rng, img, t, [], font, fg, cap, H * (0.2 + 0.4 * r), x0, x1, emboss=emboss)
            boxes += b
            rows += [r] * len(t)
    else:
        sep = sep if sep is not None else (_pick(rng, ["state", "dash", "heart", "dot", "star", None, None, None]) if breaks else None)
        cap = CAP * rng.uniform(0.95, 1.05)
        lo, hi = band_h + 0.04 * H, H - bh - 0.04 * H
        cap = min(cap, (hi - lo) / 1.05)
        y_top = float(np.clip(H * 0.5 - cap * rng.uniform(0.45, 0.55), lo, hi - cap * 1.05))
        small = cap * rng.uniform(0.4, 0.6)
        if access:   # the symbol of access at the left or right of the registration
            sym = _wheelchair(cap * rng.uniform(0.7, 1.0))
            if rng.random() < 0.5:
                _blend(img, sym, x0, y_top + cap / 2 - sym.shape[0] / 2, fg)
                x0 += sym.shape[1] * rng.uniform(1.1, 1.4)
            else:
                _blend(img, sym, x1 - sym.shape[1], y_top + cap / 2 - sym.shape[0] / 2, fg)
                x1 -= sym.shape[1] * rng.uniform(1.1, 1.4)
        if code:
            x0 = _type_code(rng, img, font, fg, cap, x0, y_top,
                            agency if agency is not None else rng.random() < 0.5)
        x1m = x1 - small * 1.1 * len(small_suffix)
        boxes, _ = _main_text(rng, img, text, breaks or [], font, fg, cap, y_top, x0, x1m, sep=sep, emboss=emboss,
                              xs=rng.uniform(0.68, 1.0) if rng.random() < 0.7 else None)
        if small_suffix:   # small beside the main text as drawn (a long text is drawn shrunk to fit)
            small = min(small, 0.6 * max(b[3] - b[1] for b in boxes))
            sx0 = boxes[-1][2] + small * rng.uniform(0.1, 0.4)
            base = max(b[3] for b in boxes)
            sb, _ = _main_text(rng, img, small_suffix, [], font, fg, small, base - small, sx0,
                               sx0 + small * len(small_suffix), emboss=emboss, track=0.1)
            boxes += sb
            text += small_suffix
        rows = [0] * len(text)
    if rng.random() < 0.7:
        _bolts(rng, img)
    if rng.random() < 0.4:  # a thin printed border
        t = max(1, int(H * 0.015))
        cv2.rectangle(img, (t * 2, t * 2), (W - 1 - t * 2, H - 1 - t * 2), tuple(float(v) for v in top_color), t, cv2.LINE_AA)
    return _Plate(img, boxes, rows, text, region, radius=H * rng.uniform(0.03, 0.1))


def _eu_like(rng, region, code, text, breaks, *, bg=None, fg=None, font=None, band=True, right_band=None,
             badges=False, two_row=False):
    """A European 520 x 110 mm plate (or a 2-row square one): blue band with stars and country code."""
    bg = bg if bg is not None else _jit(rng, (0.95, 0.95, 0.95), 0.03)
    fg = fg if fg is not None else _jit(rng, (0.07, 0.07, 0.07), 0.03)
    font = _main_font(rng, font or _pick(rng, _fonts("din")))
    if two_row:
        H = int(CAP * 2.0 / 0.75)
        W = int(H * rng.uniform(1.1, 1.6))
    else:
        H = int(CAP / rng.uniform(0.64, 0.72))
        W = int(H * rng.uniform(4.1, 4.8))
    img = _background(rng, H, W, bg, "solid" if rng.random() < 0.7 else "grad")
    bw = 0
    blue = _jit(rng, _rgb("103a9a"), 0.05)
    if band:
        bw = int(H * (0.42 if not two_row else 0.3) * rng.uniform(0.95, 1.05))
        bh = H if not two_row else H // 2
        img[:bh, :bw] = blue
        ring = np.linspace(0, 2 * np.pi, 13)[:-1]
        for a in ring:
            cx, cy = bw / 2 + np.cos(a) * bw * 0.28, bh * 0.33 + np.sin(a) * bw * 0.28
            cv2.circle(img, (int(cx), int(cy)), max(1, int(bw * 0.04)), (0.1, 0.8, 0.95), -1, cv2.LINE_AA)
        if code:
            _text(img, rng, _fonts("din")[0], code, bh * 0.25, bw / 2, bh * 0.78, (1, 1, 1), max_w=bw * 0.9)
    rb = 0
    if right_band is not None:
        rb = int(H * 0.42)
        img[:, W - rb:] = blue
        _text(img, rng, _fonts("din")[0], right_band, H * 0.25, W - rb / 2, H * 0.75, (1, 1, 1), max_w=rb * 0.9)
    x0, x1 = bw + H * 0.08, W - rb - H * 0.08
    if two_row:
        k = breaks[0] if breaks else len(text) // 2
        boxes, rows = [], []
        for r, t in enumerate((text[:k], text[k:])):
            b, _ = _main_text(rng, img, t, [], font, fg, CAP * 0.95, H * (0.06 + 0.5 * r), x0 if r == 0 else H * 0.08,
                              x1, track=rng.uniform(0.05, 0.15))
            boxes += b
            rows += [r] * len(t)
    else:
        sep = (_pick(rng, ["discs", "discs", "badge"]) if badges else
               _pick(rng, ["dash", None, None, "dot"]) if breaks else None)
        boxes, _ = _main_text(rng, img, text, breaks, font, fg, CAP, H * 0.5 - CAP * 0.5, x0, x1, sep=sep,
                              sep_color=(_jit(rng, (0.3, 0.3, 0.7), 0.1) if badges else None),
                              track=rng.uniform(0.05, 0.18), xs=rng.uniform(0.85, 1.05), emboss=rng.uniform(0, 0.6))
        rows = [0] * len(text)
    t = max(1, int(H * 0.025))
    cv2.rectangle(img, (t, t), (W - 1 - t, H - 1 - t), tuple(float(v) for v in fg), t, cv2.LINE_AA)
    return _Plate(img, boxes, rows, text, region, radius=H * 0.06)


def _de_text(rng):
    n1 = int(rng.choice([1, 2, 3], p=[0.3, 0.5, 0.2]))
    n2 = int(rng.integers(1, 3))
    n3 = int(rng.integers(1, 5 if n1 + n2 < 4 else 8 - n1 - n2))
    t = "".join(LETTERS[rng.integers(26)] for _ in range(n1 + n2)) + "".join(DIGITS[rng.integers(10)] for _ in range(n3))
    if rng.random() < 0.05:
        t += _pick(rng, "EH")
    return t, [n1, n1 + n2]


def _plate(rng, region: str) -> _Plate:
    g = region_group(region)
    two = rng.random() < 0.1
    if region == "us-ny":
        v = rng.random()
        commercial = rng.random() < 0.2   # commercial: 12345 MA, "COMMERCIAL" under it
        text, breaks = _from_layout(rng, "NNNNN LL" if commercial else "LLL NNNN") if rng.random() < 0.6 \
            else _us_text(rng)
        extra: dict = {}
        u = rng.random()
        if u < 0.1:   # agency and municipal plates: a few digits after a stacked type code
            text, breaks = _from_layout(rng, _pick(rng, ["NNNN", "NNNN", "NNN", "NNNNN"]))
            extra = dict(code=True, agency=rng.random() < 0.8, stacked=False)
        elif u < 0.1 + POLICE_SHARE:   # police: bold blue digits, a small two-digit year, all registration
            return _us_like(rng, region, bg=_jit(rng, (0.95, 0.95, 0.95), 0.03), fg=_jit(rng, _rgb("1a50b0"), 0.08),
                            state=_pick(rng, ["", "NEW YORK", "POLICE"]), slogan="", text=_from_layout(rng, "NNNN")[0],
                            breaks=[], sep=None, stacked=False, code=False, font=_pick(rng, _fonts("wide")),
                            small_suffix=f"{int(rng.integers(10, 30))}")
        if v < 0.55:   # Empire Gold: orange-yellow, navy text, navy band "NEW YORK", "EMPIRE STATE"
            return _us_like(rng, region, bg=_jit(rng, _rgb("f0aa28"), 0.05), fg=_jit(rng, _rgb("1a2050"), 0.04),
                            state="NEW YORK", slogan="COMMERCIAL" if commercial else "EMPIRE STATE",
                            top_band=_jit(rng, _rgb("1a2858"), 0.04),
                            top_color=_jit(rng, _rgb("f8f0e0"), 0.04), text=text, breaks=breaks,
                            sep="ny" if breaks and rng.random() < 0.8 else None, bg_kind="grad", two_row=two,
                            top_font=_pick(rng, _fonts("serif")), **extra)
        if v < 0.85:   # Excelsior: white, navy text, gold skyline band
            return _us_like(rng, region, bg=_jit(rng, _rgb("f4f4f0"), 0.03), fg=_jit(rng, _rgb("1a2050"), 0.04),
                            state="NEW YORK", slogan="EXCELSIOR", bottom_band=_jit(rng, _rgb("e0b040"), 0.06),
                            top_color=_jit(rng, _rgb("1a2a78"), 0.04), text=text, breaks=breaks,
                            sep="ny" if breaks and rng.random() < 0.8 else None, two_row=two,
                            top_font=_pick(rng, _fonts("serif")), **extra)
        return _us_like(rng, region, bg=_jit(rng, _rgb("e8eef8"), 0.04), fg=_jit(rng, _rgb("202a70"), 0.05),
                        state="NEW YORK", slogan="THE EMPIRE STATE", top_color=_jit(rng, _rgb("c02020"), 0.05),
                        text=text, breaks=breaks, bg_kind="scenic" if rng.random() < 0.5 else "grad", two_row=two, **extra)
    if region == "us-ny-taxi":
        n = int(rng.integers(5, 7))
        medallion, slogan = "", _pick(rng, ["T&LC", "T&LC", "T&LC", "TLC", "TAXI", "LIVERY"])
        if rng.random() < 0.3:   # medallion: 5J23 and a small letter on the baseline
            text, medallion, slogan = _from_layout(rng, "NLNN")[0], LETTERS[rng.integers(26)], "TAXI"
        elif rng.random() < 0.8:   # for-hire T123456C; yellow cabs' Y123456C, "TAXI" under it
            head = _pick(rng, "TTTY")
            text = head + "".join(DIGITS[rng.integers(10)] for _ in range(n)) + "C"
            slogan = "TAXI" if head == "Y" else slogan
        else:
            text = "".join(DIGITS[rng.integers(10)] for _ in range(int(rng.integers(3, 6)))) + _pick(rng, ["CH", "LA", "TL", "C"])
        return _us_like(rng, region, bg=_jit(rng, _rgb(_pick(rng, ["eca828", "f0b030", "f8c020"])), 0.05),
                        fg=_jit(rng, (0.08, 0.08, 0.1), 0.03),
                        state="NEW YORK", slogan=slogan,
                        top_band=_jit(rng, _rgb("1a2858"), 0.04) if rng.random() < 0.5 else None,
                        top_color=_jit(rng, _rgb("1a2858"), 0.04), text=text, breaks=[], sep=None,
                        font=_pick(rng, _fonts("us")[:6]), stacked=False, bg_kind="grad", small_suffix=medallion)
    if region == "us-nj":
        text, breaks = _us_text(rng, ("LNN LLL", "LLL NNL", "LNN LLL", "LLL NNNN"))
        return _us_like(rng, region, bg=_jit(rng, _rgb("f0e8b0"), 0.04), fg=_jit(rng, (0.07, 0.07, 0.07), 0.03),
                        state="New Jersey", slogan="Garden State", text=text, breaks=breaks,
                        sep="state" if breaks else None, bg_kind="grad", top_font=_pick(rng, _fonts("serif")),
                        two_row=two)
    if region == "us-pa":
        return _us_like(rng, region, bg=_jit(rng, (0.96, 0.96, 0.96), 0.03), fg=_jit(rng, _rgb("1a2a68"), 0.04),
                        state="PENNSYLVANIA", slogan="visitPA.com", top_band=_jit(rng, _rgb("1a2a68"), 0.04),
                        top_color=(0.95, 0.95, 0.95), bottom_band=_jit(rng, _rgb("f0c030"), 0.05),
                        layout="LLL NNNN", sep="dash", two_row=two)
    if region == "us-ca":
        return _us_like(rng, region, bg=_jit(rng, (0.96, 0.96, 0.96), 0.03), fg=_jit(rng, _rgb("1a2a70"), 0.05),
                        state="California", slogan=_pick(rng, ["dmv.ca.gov", "", "Keep Tahoe Blue"]),
                        top_color=_jit(rng, _rgb("c02020"), 0.05), top_font=_pick(rng, _fonts("deco")[7:]),
                        layout=_pick(rng, ["NLLLNNN", "NLLLNNN", "NLLL NNN"]), sep=None, two_row=two)
    if region == "us-tx":
        return _us_like(rng, region, bg=_jit(rng, (0.93, 0.93, 0.9), 0.04), fg=_jit(rng, (0.07, 0.07, 0.07), 0.03),
                        state="TEXAS", slogan="THE LONE STAR STATE", layout=_pick(rng, ["LLL NNNN", "LL L NNNN"]),
                        sep="state", bg_kind=_pick(rng, ["scenic", "blobs", "grad"]), two_row=two)
    if region == "us-fl":
        return _us_like(rng, region, bg=_jit(rng, (0.96, 0.96, 0.94), 0.03), fg=_jit(rng, _rgb("105a30"), 0.05),
                        state=_pick(rng, ["MYFLORIDA.COM", "FLORIDA"]), slogan="Sunshine State",
                        layout=_pick(rng, ["LLL LNN", "NNN LLL", "LLLL NN"]), sep="star",
                        bg_kind="blobs", two_row=two)
    if g == "us":
        st = region.split("-", 1)[1]
        light = rng.random() < 0.82
        if light:
            bg = _jit(rng, _pick(rng, [(0.96, 0.96, 0.96), _rgb("f0f0e0"), _rgb("e0ecf8"), _rgb("f8f0d8"), _rgb("e8f4e8")]), 0.04)
            fg = _jit(rng, _pick(rng, [(0.07, 0.07, 0.07), _rgb("1a2a70"), _rgb("701a1a"), _rgb("104a20"), _rgb("202050")]), 0.04)
        else:
            bg = _jit(rng, _pick(rng, [_rgb("1a2a60"), (0.1, 0.1, 0.1), _rgb("304a80"), _rgb("503020")]), 0.04)
            fg = _jit(rng, _pick(rng, [(0.95, 0.95, 0.95), _rgb("f0d040"), _rgb("f0f0d0")]), 0.04)
        return _us_like(rng, region, bg=bg, fg=fg, state=US_STATES.get(st, "USA"), slogan=_pick(rng, SLOGANS),
                        top_color=_jit(rng, _pick(rng, [fg, _rgb("c02020"), _rgb("1a3aa0"), (0.1, 0.1, 0.1)]), 0.04),
                        two_row=two, aspect=2.0 if not two else 1.4)
    if region == "ca-on":
        return _us_like(rng, region, bg=_jit(rng, (0.96, 0.96, 0.96), 0.03), fg=_jit(rng, _rgb("1a3080"), 0.05),
                        state="ONTARIO", slogan="YOURS TO DISCOVER", layout=_pick(rng, ["LLLL NNN", "LLL NNN"]),
                        sep="star" if rng.random() < 0.6 else "dash", two_row=two)
    if region == "ca-qc":
        return _us_like(rng, region, bg=_jit(rng, (0.96, 0.96, 0.96), 0.03), fg=_jit(rng, _rgb("1a3080"), 0.05),
                        state="QUEBEC", slogan="JE ME SOUVIENS", layout=_pick(rng, ["NNN LLL", "LNN LLL", "NNN LNL"]),
                        sep=None, two_row=two)
    if region == "ca-bc":
        return _us_like(rng, region, bg=_jit(rng, (0.96, 0.96, 0.96), 0.03), fg=_jit(rng, _rgb("1a3080"), 0.05),
                        state="BRITISH COLUMBIA", slogan="BEAUTIFUL", layout=_pick(rng, ["LLN NNL", "LL NNNN", "NNN LLL"]),
                        bg_kind="scenic", sep=None, two_row=two)
    if g == "eu":
        c = region.split("-", 1)[1]
        text, breaks = _de_text(rng) if c == "de" else \
            _from_layout(rng, _pick(rng, EU_LAYOUTS[c]), ISSUED_LETTERS.get(c, LETTERS))
        if rng.random() < 0.07:
            text, breaks = _random_text(rng, 4, 8), []
        bg = _jit(rng, _rgb("f8d020"), 0.04) if c == "nl" or (c == "dk" and rng.random() < 0.2) else None
        return _eu_like(rng, region, EU_CODE[c], text, breaks, bg=bg, badges=(c in ("de", "cz", "sk") and rng.random() < 0.9),
                        right_band=(f"{int(rng.integers(1, 96)):02d}" if c == "fr" and rng.random() < 0.8 else
                                    str(int(rng.integers(1995, 2025))) if c == "it" and rng.random() < 0.5 else None),
                        font=_fonts("din")[0] if c == "de" and rng.random() < 0.8 else None, two_row=two)
    if region == "gb":
        text, breaks = _from_layout(rng, "LLNN LLL", ISSUED_LETTERS["gb"])
        rear = rng.random() < 0.55
        bg = _jit(rng, _rgb("f8d020") if rear else (0.96, 0.96, 0.96), 0.03)
        return _eu_like(rng, region, "UK" if rng.random() < 0.6 else "GB", text, breaks, bg=bg,
                        font=_pick(rng, _fonts("wide")[:4] + _fonts("din")), band=rng.random() < 0.5, two_row=two)
    if region == "br":
        text, breaks = _from_layout(rng, "LLL NNNN")
        H = int(CAP / rng.uniform(0.5, 0.58))
        W = int(H * rng.uniform(2.8, 3.2))
        img = _background(rng, H, W, _jit(rng, (0.72, 0.72, 0.72), 0.06), _pick(rng, ["solid", "grad", "texture"]))
        fg = _jit(rng, (0.08, 0.08, 0.08), 0.03)
        _text(img, rng, _pick(rng, _fonts("din")), _pick(rng, BR_CITIES), H * 0.13, W / 2, H * 0.13, fg, max_w=W * 0.7)
        boxes, _ = _main_text(rng, img, text, breaks, _main_font(rng, _pick(rng, _fonts("din") + _fonts("us")[:3]), BR_MANDATORY_SHARE, True), fg, CAP,
                              H * 0.6 - CAP / 2, W * 0.05, W * 0.95, sep=_pick(rng, ["dash", "dot"]), emboss=rng.uniform(0.3, 1.0))
        t = max(1, int(H * 0.03))
        cv2.rectangle(img, (t, t), (W - 1 - t, H - 1 - t), tuple(float(v) for v in fg), t)
        return _Plate(img, boxes, [0] * 7, text, region, radius=H * 0.05)
    if region in ("br-mercosur", "ar-mercosur"):
        text, breaks = _from_layout(rng, "LLL NLNN" if region == "br-mercosur" else "LL NNN LL")
        H = int(CAP / rng.uniform(0.5, 0.56))
        W = int(H * rng.uniform(3.0, 3.3))
        img = _background(rng, H, W, _jit(rng, (0.96, 0.96, 0.96), 0.03), "solid")
        bh = int(H * 0.22)
        img[:bh] = _jit(rng, _rgb("1a40a0"), 0.05)
        _text(img, rng, _fonts("din")[0], "BRASIL" if region == "br-mercosur" else "REPUBLICA ARGENTINA",
              bh * 0.6, W / 2, bh / 2, (1, 1, 1), max_w=W * 0.6)
        cv2.rectangle(img, (int(W * 0.03), int(bh * 0.2)), (int(W * 0.1), int(bh * 0.8)), (0.8, 0.6, 0.2), -1)
        fg = _jit(rng, (0.06, 0.06, 0.06), 0.03)
        boxes, _ = _main_text(rng, img, text, [] if region == "br-mercosur" else breaks,
                              _main_font(rng, _pick(rng, _fonts("din"))), fg,
                              CAP, bh + (H - bh) / 2 - CAP / 2, W * 0.06, W * 0.94, track=rng.uniform(0.05, 0.2))
        t = max(1, int(H * 0.02))
        cv2.rectangle(img, (t, t), (W - 1 - t, H - 1 - t), tuple(float(v) for v in fg), t)
        return _Plate(img, boxes, [0] * len(text), text, region, radius=H * 0.06)
    if region == "ar":   # old black plate, white characters, white border
        text, breaks = _from_layout(rng, "LLL NNN")
        H = int(CAP / rng.uniform(0.52, 0.6))
        W = int(H * rng.uniform(2.9, 3.3))
        img = _background(rng, H, W, _jit(rng, (0.08, 0.08, 0.08), 0.03), "solid")
        fg = _jit(rng, (0.93, 0.93, 0.93), 0.03)
        t = max(2, int(H * 0.05))
        cv2.rectangle(img, (t, t), (W - 1 - t, H - 1 - t), tuple(float(v) for v in fg), t)
        _text(img, rng, _fonts("din")[0], "REPUBLICA ARGENTINA", H * 0.09, W / 2, H * 0.13, fg, max_w=W * 0.5)
        boxes, _ = _main_text(rng, img, text, breaks, _main_font(rng, _pick(rng, _fonts("din") + _fonts("us")[:2])), fg, CAP,
                              H * 0.55 - CAP / 2, W * 0.06, W * 0.94, gap=rng.uniform(0.4, 0.9),
                              emboss=rng.uniform(0.3, 0.9))
        return _Plate(img, boxes, [0] * 6, text, region, radius=H * 0.05)
    # other countries
    if region == "ru":
        text = _from_layout(rng, "LNNNLL", ISSUED_LETTERS["ru"])[0]
        reg = "".join(DIGITS[rng.integers(10)] for _ in range(int(rng.integers(2, 4))))
        p = _eu_like(rng, region, "", text + reg, [1, 4, 6], band=False, font=_pick(rng, _fonts("din")))
        return p
    if region == "tr":
        text, breaks = _from_layout(rng, _pick(rng, ["NN L NNNN", "NN LL NNN", "NN LLL NN"]))
        return _eu_like(rng, region, "TR", text, breaks, two_row=two)
    if region == "ua":
        text, breaks = _from_layout(rng, "LL NNNN LL", ISSUED_LETTERS["ua"])
        return _eu_like(rng, region, "UA", text, breaks, two_row=two)
    if region == "no":
        text, breaks = _from_layout(rng, "LL MNNNN")   # serials run 10000-99999
        return _eu_like(rng, region, "N", text, breaks, two_row=two)
    if region == "ch":
        text, breaks = _from_layout(rng, "LL " + "N" * int(rng.integers(1, 7)))
        return _eu_like(rng, region, "", text, breaks, band=False, two_row=two)
    if region == "mx":
        text, breaks = _from_layout(rng, _pick(rng, ["LLL NNN L", "LLL NNNN", "LL NNNNN"]))
        return _us_like(rng, region, bg=_jit(rng, (0.95, 0.95, 0.95), 0.04), fg=_jit(rng, (0.1, 0.1, 0.1), 0.03),
                        state=_pick(rng, ["MEXICO", "JALISCO", "NUEVO LEON", "CDMX", "SONORA"]), slogan="",
                        text=text, breaks=breaks, sep="dash", bg_kind="blobs", two_row=two)
    # anything: random colours, random text
    text = _random_text(rng, 2, 8)
    dark = rng.random() < 0.3
    bg = rng.random(3).astype(np.float32) * 0.3 + (0.05 if dark else 0.65)
    fg = rng.random(3).astype(np.float32) * 0.25 + (0.72 if dark else 0.02)
    if rng.random() < 0.5:
        return _eu_like(rng, region, _pick(rng, ["", "RA", "CH", "MEX", "RCH", "ZA", "IL"]), text, [], bg=bg, fg=fg,
                        band=rng.random() < 0.3, font=_pick(rng, _fonts("din") + _fonts("wide") + _fonts("us")), two_row=two)
    return _us_like(rng, region, bg=bg, fg=fg, state=_pick(rng, ["", "TAXI", "POLICE", "CD", "TRANSPORT", "TEMP"]),
                    slogan="", text=text, breaks=[], font=_pick(rng, _fonts("us") + _fonts("wide")), two_row=two)


# ---------------------------------------------------------------------------------------------
# Capture: surroundings, warp, camera effects
# ---------------------------------------------------------------------------------------------
def _scene(rng, p: _Plate, ir: bool, clean: bool = False):
    """Set the plate into car surroundings (pad = half a plate height or more); returns scene, offset."""
    H, W = p.img.shape[:2]
    pad = int(H * 0.6)
    SH, SW = H + 2 * pad, W + 2 * pad
    car = _jit(rng, _pick(rng, [(0.1, 0.1, 0.1), (0.85, 0.85, 0.85), (0.5, 0.5, 0.5), (0.15, 0.15, 0.5),
                                (0.6, 0.1, 0.1), (0.25, 0.3, 0.25), (0.7, 0.7, 0.75), (0.3, 0.2, 0.15)]), 0.08)
    scene = _background(rng, SH, SW, car, _pick(rng, ["grad", "blobs", "texture", "solid"]))
    for _ in range(int(rng.integers(0, 3))):   # bumper edges, grille slats
        y = int(rng.uniform(0, SH))
        cv2.line(scene, (0, y), (SW, y + int(rng.normal(0, 5))), tuple(float(v) for v in _jit(rng, car * 0.5, 0.05)),
                 int(rng.integers(1, max(2, H // 8))))
    # recess shadow behind the plate
    cv2.rectangle(scene, (pad - 3, pad - 3), (pad + W + 3, pad + H + 3),
                  tuple(float(v) for v in car * rng.uniform(0.2, 0.6)), -1)
    # plate with rounded corners
    mask = np.zeros((H, W), np.float32)
    r = int(p.radius)
    cv2.rectangle(mask, (r, 0), (W - 1 - r, H - 1), 1, -1)
    cv2.rectangle(mask, (0, r), (W - 1, H - 1 - r), 1, -1)
    for cx, cy in ((r, r), (W - 1 - r, r), (r, H - 1 - r), (W - 1 - r, H - 1 - r)):
        cv2.circle(mask, (cx, cy), r, 1, -1, cv2.LINE_AA)
    reg = scene[pad:pad + H, pad:pad + W]
    reg += (p.img - reg) * mask[..., None]
    ty0 = min(b[1] for b in p.boxes) if p.boxes else H * 0.2
    ty1 = max(b[3] for b in p.boxes) if p.boxes else H * 0.8
    tx0 = min(b[0] for b in p.boxes)
    tx1 = max(b[2] for b in p.boxes)
    if rng.random() < 0.55:  # a frame (dealer frame): thin sides, text top and bottom, may hide slogan/state
        fc = _jit(rng, _pick(rng, [(0.05, 0.05, 0.05), (0.08, 0.08, 0.08), (0.7, 0.7, 0.72), (0.2, 0.2, 0.22)]), 0.04)
        side = max(2, int(H * rng.uniform(0.04, 0.12)))
        top = int(np.clip(H * rng.uniform(0.02, 0.2), 2, max(3, ty0 - 2)))
        bot = int(np.clip(H * rng.uniform(0.05, 0.3), 2, max(3, H - ty1 - 2)))
        ox0, oy0 = pad - side, pad - int(H * rng.uniform(0.03, 0.12))
        ox1, oy1 = pad + W + side, pad + H + int(H * rng.uniform(0.05, 0.25))
        ix0, iy0 = int(min(pad + side * 0.6, pad + tx0 - 2)), pad + top
        ix1, iy1 = int(max(pad + W - side * 0.6, pad + tx1 + 2)), pad + H - bot
        frame = np.zeros(scene.shape[:2], np.uint8)
        cv2.rectangle(frame, (ox0, oy0), (ox1, oy1), 255, -1)
        cv2.rectangle(frame, (ix0, iy0), (ix1, iy1), 0, -1)
        scene[frame > 0] = fc
        tc = _jit(rng, (0.95, 0.95, 0.95) if fc.mean() < 0.5 else (0.1, 0.1, 0.1), 0.05)
        f = _pick(rng, _fonts("deco"))
        if rng.random() < 0.7 and oy1 - iy1 > 6:
            _text(scene, rng, f, _pick(rng, DEALER), (oy1 - iy1) * 0.6, (ox0 + ox1) / 2, (iy1 + oy1) / 2, tc,
                  max_w=(ox1 - ox0) * 0.9)
        if rng.random() < 0.4 and iy0 - oy0 > 6:
            _text(scene, rng, f, _pick(rng, DEALER), (iy0 - oy0) * 0.6, (ox0 + ox1) / 2, (oy0 + iy0) / 2, tc,
                  max_w=(ox1 - ox0) * 0.9)
    if not clean and rng.random() < 0.3:  # dirt
        n = _smooth_noise(rng, H, W, (int(rng.integers(3, 10)), int(rng.integers(6, 20))), 1)
        dirt = np.clip((n - rng.uniform(0.4, 0.7)) * 3, 0, 1) * rng.uniform(0.2, 0.6)
        reg = scene[pad:pad + H, pad:pad + W]
        reg += (np.float32([0.2, 0.3, 0.35]) - reg) * dirt
    if not clean and rng.random() < 0.2:  # hard-edged shadow
        a = rng.uniform(0, np.pi)
        c = np.array([rng.uniform(0, SW), rng.uniform(0, SH)])
        d = np.array([np.cos(a), np.sin(a)]) * SW * 2
        nrm = np.array([-np.sin(a), np.cos(a)]) * SW * 2
        poly = np.array([c - d, c + d, c + d + nrm, c - d + nrm], np.int32)
        m = np.zeros((SH, SW), np.uint8)
        cv2.fillPoly(m, [poly], 1)
        scene[m > 0] *= rng.uniform(0.35, 0.75)
    if not clean and rng.random() < GLARE_SHARE:
        gl = np.zeros((SH, SW), np.float32)
        cv2.ellipse(gl, (int(pad + rng.uniform(0, W)), int(pad + rng.uniform(0, H))),
                    (int(W * rng.uniform(0.05, 0.3)), int(H * rng.uniform(0.1, 0.4))), rng.uniform(0, 180), 0, 360, 1, -1)
        scene = glare(scene, cv2.GaussianBlur(gl, (0, 0), H * 0.08), rng.uniform(0.3, GLARE_MAX))
    if ir:  # night infrared: grey, retro-reflective plate bright, surroundings dark
        g = scene @ np.float32([0.2, 0.6, 0.2])
        pm = np.zeros((SH, SW), np.float32)
        pm[pad:pad + H, pad:pad + W] = mask
        g = g * (pm * rng.uniform(1.0, 1.6) + (1 - pm) * rng.uniform(0.15, 0.5))
        scene = np.repeat(g[..., None], 3, 2)
    return scene, pad


def _homography(rng, scene_shape, pad, pw, ph, s):
    """Scale by s about the plate centre, then rotation, shear and slight perspective."""
    cx, cy = pad + pw / 2, pad + ph / 2
    T = np.array([[1, 0, -cx], [0, 1, -cy], [0, 0, 1]], np.float64)
    a = np.deg2rad(rng.normal(0, 2.0) if rng.random() < 0.85 else rng.uniform(-8, 8))
    R = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    sh = rng.normal(0, 0.05) if rng.random() >= WIDE_SHEAR_SHARE else rng.uniform(-WIDE_SHEAR, WIDE_SHEAR)
    Sh = np.array([[1, sh, 0], [rng.normal(0, 0.03), 1, 0], [0, 0, 1]])
    sx = s * rng.uniform(0.85, 1.12)
    S = np.diag([sx, s, 1.0])
    P = np.eye(3)
    P[2, 0] = rng.normal(0, 0.1) / pw
    P[2, 1] = rng.normal(0, 0.1) / ph
    return S @ P @ Sh @ R @ T


def _apply(Hm, pts):
    p = np.c_[pts, np.ones(len(pts))] @ Hm.T
    return p[:, :2] / p[:, 2:3]


def _camera(rng, img, ir):
    h, w = img.shape[:2]
    f = img
    if rng.random() < 0.5:   # defocus
        f = cv2.GaussianBlur(f, (0, 0), rng.uniform(0.3, 1.3) * max(1.0, h / 80))
    if rng.random() < 0.15:  # motion
        k = int(rng.integers(3, 8))
        ker = np.zeros((k, k), np.float32)
        ker[k // 2] = 1 / k
        M = cv2.getRotationMatrix2D((k / 2 - 0.5, k / 2 - 0.5), rng.uniform(-30, 30), 1)
        ker = cv2.warpAffine(ker, M, (k, k))
        ker /= max(ker.sum(), 1e-6)
        f = cv2.filter2D(f, -1, ker)
    if rng.random() < 0.15:  # low resolution, re-enlarged
        s = rng.uniform(0.35, 0.7)
        f = cv2.resize(cv2.resize(f, (max(1, int(w * s)), max(1, int(h * s))), interpolation=cv2.INTER_AREA), (w, h))
    if rng.random() < SHARPEN_SHARE:
        f = sharpen(f, rng.uniform(0.5, 1.5), rng.uniform(0.3, 1.5))
    # exposure, contrast, gamma (one lookup table), colour cast, noise
    gain, off, c, gam = rng.uniform(0.55, 1.35), rng.uniform(-0.1, 0.12), rng.uniform(0.6, 1.2), rng.uniform(0.7, 1.4)
    lut = np.clip(((np.arange(256, dtype=np.float32) / 255 * gain + off) - 0.5) * c + 0.5, 0, 1) ** gam
    out = np.clip(f * 255 + 0.5, 0, 255).astype(np.uint8)
    out = cv2.LUT(out, np.clip(lut * 255 + 0.5, 0, 255).astype(np.uint8))
    if not ir and rng.random() < 0.6:
        out = cv2.multiply(out, tuple(float(v) for v in 1 + rng.normal(0, 0.05, 3)) + (0.0,))
    sd = rng.uniform(0, 12)
    if sd > 1.5:
        n = rng.standard_normal((h, w, 1) if ir else (h, w, 3), dtype=np.float32) * sd
        out = np.clip(out + n, 0, 255).astype(np.uint8)
    if rng.random() < 0.7:
        ok, enc = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(20, 95))])
        out = cv2.imdecode(enc, cv2.IMREAD_COLOR)
    return out


def glare(img: np.ndarray, spot: np.ndarray, strength: float) -> np.ndarray:
    """A spot of glare (`spot` 0-1 per pixel, times `strength` < 1) screen-blended over a float
    image in 0-1: every pixel moves towards white by that share of its distance, so dark ink under
    the spot's centre keeps 1 - strength of its contrast to the plate instead of vanishing."""
    return img + (1.0 - img) * (spot * strength)[..., None]


def sharpen(img: np.ndarray, sigma: float, amount: float) -> np.ndarray:
    """Unsharp masking, as phone and camera image processors sharpen: edges get a dark and a
    bright halo (float image in 0-1, clipped). The model must not read the halos as detail."""
    return np.clip(img + amount * (img - cv2.GaussianBlur(img, (0, 0), sigma)), 0.0, 1.0)


def _region(rng) -> str:
    keys = _region_keys()
    return keys[0][int(np.searchsorted(keys[1], rng.random() * keys[1][-1], side="right"))]


@functools.lru_cache(maxsize=1)
def _region_keys():
    ks = list(REGIONS)
    return ks, np.cumsum([REGIONS[k] for k in ks])


def render_plate(rng: np.random.Generator, region: str):
    """The clean plate at canonical scale (no surroundings, no capture effects): for tests and inspection."""
    return _plate(rng, region)


def sample(rng: np.random.Generator, region: str | None = None, clean: bool = False) -> PlateSample:
    """One plate crop of `region` (drawn by REGIONS weight when None). `clean`: no capture damage."""
    region = region or _region(rng)
    if region not in REGIONS:
        raise ValueError(f"unknown region {region!r}")
    p = _plate(rng, region)
    ir = (not clean) and rng.random() < (0.5 if region_group(region) == "ar" else 0.08)
    scene, pad = _scene(rng, p, ir) if not clean else _scene(np.random.default_rng(0), p, False, True)
    ph, pw = p.img.shape[:2]
    cap = np.median([b[3] - b[1] for b in p.boxes])
    r = rng.random()
    target = rng.uniform(24, 60) if r < 0.72 else rng.uniform(10, 24) if r < 0.9 else rng.uniform(50, 66)
    if clean:
        target = 40.0
    s = float(target / cap)
    # pre-shrink the scene (anti-aliased) so the warp is near unit scale
    pre = min(1.0, s * 1.1)
    if pre < 0.98:
        scene = cv2.resize(scene, (max(1, int(scene.shape[1] * pre)), max(1, int(scene.shape[0] * pre))),
                           interpolation=cv2.INTER_AREA)
        pre_x = scene.shape[1] / (pw + 2 * pad)
        pre_y = scene.shape[0] / (ph + 2 * pad)
    else:
        pre_x = pre_y = 1.0
    Hm = _homography(rng, scene.shape, pad, pw, ph, s) if not clean else \
        np.array([[s, 0, -(pad + pw / 2) * s], [0, s, -(pad + ph / 2) * s], [0, 0, 1]])
    D = np.diag([1 / pre_x, 1 / pre_y, 1.0])          # pre-shrunk scene -> canonical scene
    corners = np.array([[pad, pad], [pad + pw, pad], [pad + pw, pad + ph], [pad, pad + ph]], np.float64)
    pc = _apply(Hm, corners)
    quads = [_apply(Hm, np.array([[b[0] + pad, b[1] + pad], [b[2] + pad, b[1] + pad], [b[2] + pad, b[3] + pad],
                                  [b[0] + pad, b[3] + pad]])) for b in p.boxes]
    cb = np.array([[q[:, 0].min(), q[:, 1].min(), q[:, 0].max(), q[:, 1].max()] for q in quads])
    x0, y0 = pc[:, 0].min(), pc[:, 1].min()
    x1, y1 = pc[:, 0].max(), pc[:, 1].max()
    phh = y1 - y0
    m = rng.random()
    if clean:
        lo, hi = 0.05, 0.1
    elif m < 0.5:
        lo, hi = -0.12, 0.04
    elif m < 0.88:
        lo, hi = -0.04, 0.15
    else:
        lo, hi = 0.1, 0.5
    mx = rng.uniform(lo, hi, 4) * phh
    cx0, cy0, cx1, cy1 = x0 - mx[0], y0 - mx[1], x1 + mx[2], y1 + mx[3]
    # never cut more than a sliver of a character, but for EDGE_CUT_SHARE of the crops
    ch_h = np.median(cb[:, 3] - cb[:, 1])
    cut = 0.0 if clean else 0.04 * ch_h
    cut_x = [cut, cut]
    if not clean and rng.random() < EDGE_CUT_SHARE:   # the crop bites into the first or last character
        side = int(rng.integers(2))
        edge = cb[int(np.argmin(cb[:, 0]))] if side == 0 else cb[int(np.argmax(cb[:, 2]))]
        cut_x[side] = rng.uniform(0.05, EDGE_CUT_MAX) * (edge[2] - edge[0])
    cx0 = min(cx0, cb[:, 0].min() + cut_x[0])
    cy0 = min(cy0, cb[:, 1].min() + cut)
    cx1 = max(cx1, cb[:, 2].max() - cut_x[1])
    cy1 = max(cy1, cb[:, 3].max() - cut)
    if not clean and rng.random() < SIDE_CUT_SHARE:   # the crop bites into the first or last character
        first, last = cb[int(np.argmin(cb[:, 0]))], cb[int(np.argmax(cb[:, 2]))]
        if rng.random() < 0.5:
            cx0 = first[0] + rng.uniform(0.1, SIDE_CUT_MAX) * (first[2] - first[0])
        else:
            cx1 = last[2] - rng.uniform(0.1, SIDE_CUT_MAX) * (last[2] - last[0])
    if not clean and rng.random() < ROW_CUT_SHARE:   # the crop bites into the characters' feet or tops
        bite = rng.uniform(0.06, ROW_CUT_MAX) * ch_h
        if rng.random() < 2 / 3:
            cy1 = cb[:, 3].max() - bite
        else:
            cy0 = cb[:, 1].min() + bite
    ox, oy = int(np.floor(cx0)), int(np.floor(cy0))
    ow, oh = int(np.ceil(cx1)) - ox, int(np.ceil(cy1)) - oy
    Tout = np.array([[1, 0, -ox], [0, 1, -oy], [0, 0, 1]], np.float64)
    Hfull = Tout @ Hm
    out = cv2.warpPerspective(scene, Hfull @ D, (ow, oh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    img = _camera(rng, out, ir) if not clean else np.clip(out * 255 + 0.5, 0, 255).astype(np.uint8)
    boxes = []
    for q in quads:
        q = q - [ox, oy]
        bx0, by0 = max(0, int(np.floor(q[:, 0].min()))), max(0, int(np.floor(q[:, 1].min())))
        bx1, by1 = min(ow, int(np.ceil(q[:, 0].max()))), min(oh, int(np.ceil(q[:, 1].max())))
        boxes.append((bx0, by0, max(1, bx1 - bx0), max(1, by1 - by0)))
    return PlateSample(img, p.text, boxes, list(p.rows), region)


if __name__ == "__main__":
    import time
    rng = np.random.default_rng(0)
    for _ in range(50):
        sample(rng)
    t = time.perf_counter()
    n = 500
    for _ in range(n):
        sample(rng)
    dt = time.perf_counter() - t
    print(f"{n / dt:.0f} samples/s ({dt / n * 1000:.2f} ms each)")
