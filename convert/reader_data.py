"""Data for the plate reader: rendered plates (cached), plates-ar crops, real measuring sets.

Rendered plates come from convert.worldplates (the world plate renderer) when it is present, else
from a small stand-in built on plate_edge.sim.synth. N samples are rendered once in chunks of
CHUNK, chunk k from the seed sequence (seed, k), over `workers` processes (so the result does not
depend on the process count), prepared exactly like the device does (plate_edge.recognise.prepare:
gray, resized to 48 x 160 without keeping the aspect ratio) and cached as uint8 arrays in
runs/reader_cache/<source>-<seed>-<n>.npz.

Real data: plates-ar (MIT) is split by index in labels.csv order: index % 5 == 0 is held out for
measuring, the rest may be trained on. The plates of plates-boxes (romania, MIT; openimages, CC BY)
have no text there; BOXES_TEXTS gives the texts of some of them (convert/README: how they were
labelled), cut from their scenes with a margin; the detector's test parts (openimages test/, the
romania test video) are never among them. plates-us-dev and plates-dev are for measuring only.
"""
from __future__ import annotations

import csv
import hashlib
import multiprocessing as mp
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from plate_edge.recognise import prepare

from .reader_model import INPUT_SIZE, LABELS, encode_rows

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
CACHE = ROOT / "runs" / "reader_cache"
CHUNK = 500
AR_HOLDOUT_EVERY = 5
BOXES_TEXTS = ROOT / "convert" / "plates-boxes-texts.csv"   # file (in plates-boxes), box, plate text
BOX_MARGIN = 0.06   # plates-boxes crops: this share of the box width left and right, twice that of its height


@dataclass
class PlateSet:
    """Prepared crops and their texts. x: (N, H, W) uint8; rows: per sample the row texts."""
    x: np.ndarray
    texts: list[str]
    row_texts: list[tuple[str, ...]]
    groups: list[str]
    description: str
    files: list[str] | None = None      # source image paths (real sets)

    def __len__(self) -> int:
        return len(self.texts)

    def labels(self) -> np.ndarray:
        return np.stack([encode_rows(list(r)) for r in self.row_texts]) if len(self) else \
            np.zeros((0, 2, 13), np.int32)

    def take(self, idx) -> PlateSet:
        idx = np.asarray(idx, np.int64)
        return PlateSet(self.x[idx], [self.texts[i] for i in idx], [self.row_texts[i] for i in idx],
                        [self.groups[i] for i in idx], self.description,
                        None if self.files is None else [self.files[i] for i in idx])


def concat(sets: list[PlateSet], description: str) -> PlateSet:
    return PlateSet(np.concatenate([s.x for s in sets]), sum((s.texts for s in sets), []),
                    sum((s.row_texts for s in sets), []), sum((s.groups for s in sets), []), description)


# --------------------------------------------------------------------------- rendered plates

def renderer_source() -> str:
    """'worldplates' when convert/worldplates.py is importable, else 'standin'."""
    try:
        from . import worldplates  # noqa: F401
        return "worldplates"
    except Exception:
        return "standin"


def _source_tag(source: str) -> str:
    """Cache key part: the renderer's source files' hash, so a changed renderer re-renders."""
    files = [ROOT / "convert" / "worldplates.py", ROOT / "convert" / "strokefont.py"] if source == "worldplates" else \
        [Path(__file__), ROOT / "src" / "plate_edge" / "sim" / "synth.py"]
    h = hashlib.sha1()
    for f in files:
        if f.is_file():
            h.update(f.read_bytes())
    return f"{source}-{h.hexdigest()[:8]}"


def _rows_of(text: str, rows: list[int]) -> tuple[str, ...]:
    if not rows or max(rows) == 0:
        return (text,)
    top = "".join(c for c, r in zip(text, rows) if r == 0)
    bottom = "".join(c for c, r in zip(text, rows) if r > 0)
    return (top, bottom)


def _render_chunk(args) -> tuple[np.ndarray, list[str], list[tuple[str, ...]], list[str]]:
    source, seed, chunk, n = args
    rng = np.random.default_rng([seed, chunk])
    xs, texts, rows, groups = [], [], [], []
    if source == "worldplates":
        from . import worldplates as wp
        for _ in range(n):
            s = wp.sample(rng)
            text = "".join(c for c in s.text if c in LABELS)
            xs.append(prepare(s.image, INPUT_SIZE))
            texts.append(text)
            rows.append(_rows_of(s.text, list(s.rows)))
            groups.append(wp.region_group(s.region))
    else:
        for _ in range(n):
            image, text, row_texts = standin_sample(rng)
            xs.append(prepare(image, INPUT_SIZE))
            texts.append(text)
            rows.append(row_texts)
            groups.append("standin")
    return np.stack(xs), texts, rows, groups


def render(n: int, seed: int, workers: int = 2, cache: Path | None = CACHE, progress: bool = True,
           source: str | None = None) -> PlateSet:
    """n rendered plates (deterministic for seed), from the cache when there."""
    source = source or renderer_source()
    tag = _source_tag(source)
    path = None if cache is None else Path(cache) / f"{tag}-{seed}-{n}.npz"
    if path is not None and path.is_file():
        with np.load(path, allow_pickle=False) as d:
            rows = [tuple(r.split("|")) for r in d["rows"].tolist()]
            return PlateSet(d["x"], d["texts"].tolist(), rows, d["groups"].tolist(),
                            f"{n} rendered ({tag}, seed {seed})")
    jobs = [(source, seed, k, min(CHUNK, n - k * CHUNK)) for k in range(-(-n // CHUNK))]
    parts, t0 = [], time.time()
    ctx = mp.get_context("fork")
    with ctx.Pool(max(1, workers)) as pool:
        for _k, part in enumerate(pool.imap(_render_chunk, jobs)):
            parts.append(part)
            if progress:
                done = sum(len(p[1]) for p in parts)
                el = time.time() - t0
                print(f"\rrendering {done}/{n} plates ({source}), {el:.0f}s, "
                      f"ETA {el / done * (n - done):.0f}s   ", end="", flush=True)
    if progress:
        print(flush=True)
    x = np.concatenate([p[0] for p in parts])
    texts = sum((p[1] for p in parts), [])
    rows = sum((p[2] for p in parts), [])
    groups = sum((p[3] for p in parts), [])
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, x=x, texts=np.array(texts), rows=np.array(["|".join(r) for r in rows]),
                 groups=np.array(groups))
        tmp.replace(path)
    return PlateSet(x, texts, rows, groups, f"{n} rendered ({tag}, seed {seed})")


# --------------------------------------------------------------------------- stand-in renderer

def standin_sample(rng: np.random.Generator) -> tuple[np.ndarray, str, tuple[str, ...]]:
    """A plate crop from plate_edge.sim.synth: one or two rows, soiled, warped a little, loose or
    tight margins, shrunk and damaged. Used until convert.worldplates exists."""
    from plate_edge.sim import synth

    from . import charsynth
    fonts = synth.find_fonts()
    style = charsynth.plate_style(rng, fonts)
    two = rng.random() < 0.2
    n = int(rng.integers(4, 9))
    pattern = "".join("L" if rng.random() < 0.45 else "D" for _ in range(n))
    text = synth.random_text(rng, pattern if rng.random() < 0.5 else None)
    plate = synth.render_plate(text, rng, style, rows=2 if two else 1)
    img = charsynth.soil(plate.image, plate.char_boxes, style, rng)
    row_texts = tuple(synth._split_rows(text, 2)) if plate.rows == 2 else (plate.text,)
    # loose or tight crop margins around the plate, then a little perspective
    h, w = img.shape[:2]
    pad = [int(rng.uniform(-0.06, 0.25) * (h if i < 2 else w) * (0.4 if i >= 2 else 1)) for i in range(4)]
    border = max(0, max(pad))
    bg = tuple(int(v) for v in rng.integers(0, 256, 3))
    big = cv2.copyMakeBorder(img, border, border, border, border, cv2.BORDER_CONSTANT, value=bg)
    y0, y1 = border - pad[0], border + h + pad[1]
    x0, x1 = border - pad[2], border + w + pad[3]
    src = np.float32([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
    jit = rng.normal(0, 0.025, (4, 2)) * np.float32([x1 - x0, y1 - y0])
    shear = rng.normal(0, 0.05) * (y1 - y0)
    jit[:2, 0] += shear
    jit[2:, 0] -= shear
    out_w, out_h = int(x1 - x0), int(y1 - y0)
    dst = np.float32([[0, 0], [out_w, 0], [out_w, out_h], [0, out_h]])
    m = cv2.getPerspectiveTransform(src + jit.astype(np.float32), dst)
    crop = cv2.warpPerspective(big, m, (out_w, out_h), borderMode=cv2.BORDER_REPLICATE)
    # realistic resolution: 10-60 px character height
    target = rng.uniform(10, 60) / max(1, style.char_height)
    if target < 1:
        crop = cv2.resize(crop, (max(8, int(out_w * target)), max(6, int(out_h * target))),
                          interpolation=cv2.INTER_AREA)
    crop = synth.degrade(crop, rng, float(rng.uniform(0.3, 1.2)))
    return crop, plate.text, row_texts


# --------------------------------------------------------------------------- real crops

def read_labels(root: Path) -> list[dict]:
    with open(root / "labels.csv", newline="") as f:
        return list(csv.DictReader(f))


def load_real(root: Path, rows: list[dict], group: str, description: str) -> PlateSet:
    xs, texts, files, row_texts = [], [], [], []
    for r in rows:
        path = root / "crops" / r["file"]
        img = cv2.imread(str(path))
        if img is None:
            continue
        text = "".join(c for c in r["plate"].upper() if c in LABELS)
        xs.append(prepare(img, INPUT_SIZE))
        texts.append(text)
        row_texts.append((text,))
        files.append(str(path))
    x = np.stack(xs) if xs else np.zeros((0, *INPUT_SIZE), np.uint8)
    return PlateSet(x, texts, row_texts, [group] * len(texts), description, files)


def plates_ar(part: str, root: Path = SHARED / "plates-ar") -> PlateSet | None:
    """plates-ar 'train' (index % 5 != 0) or 'heldout' (index % 5 == 0); None when absent."""
    if not (root / "labels.csv").is_file():
        return None
    rows = read_labels(root)
    keep = [r for i, r in enumerate(rows) if (i % AR_HOLDOUT_EVERY == 0) == (part == "heldout")]
    return load_real(root, keep, "ar", f"plates-ar {part} ({len(keep)} crops, MIT)")


def plates_boxes(root: Path = SHARED / "plates-boxes", texts: Path = BOXES_TEXTS) -> PlateSet | None:
    """The plates-boxes plates whose text `texts` gives, cut from their scenes; None when absent."""
    if not root.is_dir() or not texts.is_file():
        return None
    with open(texts, newline="") as f:
        rows = list(csv.DictReader(f))
    xs, labels, files = [], [], []
    path, img = None, None
    for r in rows:        # a scene's plates are neighbouring rows: one scene in memory at a time
        if root / r["file"] != path:
            path = root / r["file"]
            img = cv2.imread(str(path))
        if img is None:
            continue
        x, y, w, h = (float(r[k]) for k in "xywh")
        mx, my = BOX_MARGIN * w, 2 * BOX_MARGIN * h
        x0, y0 = max(0, int(round(x - mx))), max(0, int(round(y - my)))
        x1, y1 = min(img.shape[1], int(round(x + w + mx))), min(img.shape[0], int(round(y + h + my)))
        xs.append(prepare(img[y0:y1, x0:x1], INPUT_SIZE))
        labels.append(r["plate"])
        files.append(str(path))
    x_arr = np.stack(xs) if xs else np.zeros((0, *INPUT_SIZE), np.uint8)
    return PlateSet(x_arr, labels, [(t,) for t in labels], ["boxes"] * len(labels),
                    f"plates-boxes ({len(labels)} crops of {len(set(labels))} plates, MIT / CC BY)", files)


def plates_us_dev(root: Path = SHARED / "plates-us-dev", limit: int | None = None) -> PlateSet | None:
    """Real US crops, MEASURING ONLY (no licence for training)."""
    if not (root / "labels.csv").is_file():
        return None
    rows = read_labels(root)[:limit]
    return load_real(root, rows, "us", f"plates-us-dev ({len(rows)} crops, measuring only)")
