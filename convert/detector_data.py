"""Training data for the plate detector (convert.train_detector): real scenes with plate boxes,
synthetic plates composited into them, augmentation, and the CenterNet-style targets.

Real scenes (../shared/data/plates-boxes, see its SOURCE.md for licences and credits):
  openimages/  350 scenes 416x416 (split train/valid/test by the exporter)
  romania/     534 dashcam frames 1280x720 in 4 videos (split BY VIDEO, never by frame)
plates-dev is never read here (it is for measuring only).

Every sample is a crop of a scene scaled around the device's own scale (the scene letterboxed into
the model input, as plate_edge.detect does), with 0-3 rendered plates pasted in free places with
perspective, lighting matched to the background they cover, blur and noise; then flip, brightness,
contrast, gamma, blur, noise and JPEG damage. Targets (h/stride, w/stride, 15): heatmap, the 12
regression channels of plate_edge.detect.REG_CHANNELS, a regression mask (1 on each plate's central
cells) and a quad mask (1 where the corners are known: synthetic plates only; real labels are boxes).
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from plate_edge.detect import REG_CHANNELS, letterbox

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
BOXES = DATA / "plates-boxes"
ROMANIA_TEST = "dayride_type1_002"    # held out for testing (bench/detect_eval.py)
ROMANIA_VALID = "dayride_type1_003"   # held out for validation during training
N_TARGET = 1 + len(REG_CHANNELS) + 2
POSITIVE_LEVEL = 0.5   # heatmap cells with the centre Gaussian at or above this are positives


@dataclass
class Scene:
    name: str
    gray: np.ndarray                       # uint8 (H, W)
    boxes: np.ndarray                      # (N, 4) float x0, y0, x1, y1, frame pixels
    quads: np.ndarray | None = None        # (N, 4, 2) when known (synthetic), else None


@dataclass
class DataConfig:
    input_hw: tuple[int, int] = (352, 640)   # the device input (letterboxed frame)
    crop_hw: tuple[int, int] = (256, 320)    # training crops (the model is fully convolutional)
    stride: int = 4
    scale_range: tuple[float, float] = (0.55, 1.8)   # times the device scale of the scene
    max_plate_w: float = 230.0             # input px: scenes are zoomed out past this
    synth_counts: tuple[float, ...] = (0.3, 0.4, 0.2, 0.1)   # P(0, 1, 2, 3 pasted plates)
    synth_width: tuple[float, float] = (14.0, 210.0)        # input px, log-uniform
    focus_plate: float = 0.7               # P(crop centred near a labelled plate)


# ---------------------------------------------------------------------- real scenes

def _read_gray(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise FileNotFoundError(f"{path}: unreadable image")
    return img


def load_openimages(split: str, root: Path = BOXES) -> list[Scene]:
    """openimages scenes of one split ('train', 'valid', 'test') with their plate boxes."""
    boxes: dict[str, list] = {}
    with open(root / "openimages" / "boxes.csv", newline="") as f:
        for r in csv.DictReader(f):
            if r["split"] != split:
                continue
            lst = boxes.setdefault(r["file"], [])
            if r["class"] == "plate":
                x, y, w, h = (float(r[k]) for k in "xywh")
                lst.append((x, y, x + w, y + h))
    files = sorted(set(boxes) | {f"{split}/{p.name}" for p in (root / "openimages" / split).glob("*.jpg")})
    return [Scene(name, _read_gray(root / "openimages" / name),
                  np.array(boxes.get(name, []), np.float32).reshape(-1, 4))
            for name in files]


def load_romania(videos: list[str] | tuple[str, ...], root: Path = BOXES, every: int = 1) -> list[Scene]:
    """romania frames of the given videos (every n-th frame) with their plate boxes."""
    boxes: dict[str, list] = {}
    with open(root / "romania" / "boxes.csv", newline="") as f:
        for r in csv.DictReader(f):
            if r["video"] not in videos:
                continue
            lst = boxes.setdefault(r["file"], [])
            if r["class"] == "plate":
                x, y, w, h = (float(r[k]) for k in "xywh")
                lst.append((x, y, x + w, y + h))
    names = sorted(boxes)[::max(1, every)]
    return [Scene(n, _read_gray(root / "romania" / n), np.array(boxes[n], np.float32).reshape(-1, 4)) for n in names]


def romania_videos(root: Path = BOXES) -> list[str]:
    return sorted(p.name for p in (root / "romania").iterdir() if p.is_dir())


def have_data(root: Path = BOXES) -> bool:
    return (root / "openimages" / "boxes.csv").is_file() and (root / "romania" / "boxes.csv").is_file()


def synthetic_scenes(rng: np.random.Generator, n: int, size: tuple[int, int] = (640, 360)) -> list[Scene]:
    """Scenes drawn by plate_edge.sim.synth (no shared data needed: tests, --quick without data)."""
    from plate_edge.sim.synth import random_text, render_scene
    out = []
    for i in range(n):
        k = int(rng.integers(0, 4))
        sc = render_scene([random_text(rng) for _ in range(k)], rng, size=size, widths=(40, 300))
        quads = np.array([q for _, q in sc.plates], np.float32).reshape(-1, 4, 2)
        boxes = np.concatenate([quads.min(1), quads.max(1)], 1) if len(quads) else np.zeros((0, 4), np.float32)
        out.append(Scene(f"synth{i}", cv2.cvtColor(sc.image, cv2.COLOR_BGR2GRAY), boxes, quads))
    return out


# ---------------------------------------------------------------------- rendered plates

def _render_one(rng: np.random.Generator, world: float = 0.7) -> np.ndarray:
    """A flat plate, grayscale: from the world renderer (convert.worldplates, clean: no capture
    damage, its 5-10% margin trimmed) with probability `world` when it is there, else
    plate_edge.sim.synth."""
    if rng.random() < world:
        try:
            from . import worldplates
        except ImportError:
            worldplates = None
        if worldplates is not None:
            img = worldplates.sample(rng, clean=True).image
            m = int(round(0.065 * img.shape[0]))
            img = img[m:img.shape[0] - m, m:img.shape[1] - m]
            return cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    from plate_edge.sim.synth import random_text, render_plate
    rows = 2 if rng.random() < 0.12 else 1
    img = render_plate(random_text(rng), rng, rows=rows).image
    return cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)


def plate_pool(rng: np.random.Generator, n: int) -> list[np.ndarray]:
    """n rendered plates (grayscale), reused with random warps and lighting."""
    return [_render_one(rng) for _ in range(n)]


def _free(box, taken: list, pad: float) -> bool:
    x0, y0, x1, y1 = box
    return all(x1 + pad < t[0] or t[2] + pad < x0 or y1 + pad < t[1] or t[3] + pad < y0 for t in taken)


def paste_plate(img: np.ndarray, plate: np.ndarray, rng: np.random.Generator, width: float,
                taken: list) -> np.ndarray | None:
    """Warp a plate into img (in place) at a free place with random perspective and lighting
    matched to what it covers; its quad (4, 2) clockwise from top-left, or None if no room."""
    H, W = img.shape
    ph, pw = plate.shape
    height = width * ph / pw
    for _ in range(12):
        ang = math.radians(rng.normal(0, 5) if rng.random() < 0.8 else rng.uniform(-18, 18))
        q = np.array([[-width / 2, -height / 2], [width / 2, -height / 2],
                      [width / 2, height / 2], [-width / 2, height / 2]], np.float64)
        yaw = rng.uniform(-0.18, 0.18)           # one side shorter (a plate seen from the side)
        q[:, 1] *= 1 + yaw * np.sign(q[:, 0])
        q[:, 0] *= rng.uniform(0.75, 1.0) if rng.random() < 0.3 else 1.0
        q[:, 0] += rng.uniform(-0.12, 0.12) * q[:, 1]
        rot = np.array([[math.cos(ang), -math.sin(ang)], [math.sin(ang), math.cos(ang)]])
        q = q @ rot.T
        lo, hi = q.min(0), q.max(0)
        if hi[0] - lo[0] > W - 4 or hi[1] - lo[1] > H - 4:
            return None
        cx = rng.uniform(-lo[0] + 1, W - hi[0] - 1)
        cy = rng.uniform(-lo[1] + 1, H - hi[1] - 1)
        q += (cx, cy)
        box = (*q.min(0), *q.max(0))
        if not _free(box, taken, pad=0.3 * height + 2):
            continue
        x0, y0 = max(0, int(box[0]) - 2), max(0, int(box[1]) - 2)
        x1, y1 = min(W, int(box[2]) + 3), min(H, int(box[3]) + 3)
        bg = img[y0:y1, x0:x1].astype(np.float32)
        # shrink with area averaging first, so small plates are not aliased
        src = plate
        f = width / pw
        if f < 0.8:
            src = cv2.resize(plate, None, fx=min(1.0, 1.25 * f), fy=min(1.0, 1.25 * f), interpolation=cv2.INTER_AREA)
        sh, sw = src.shape
        m = cv2.getPerspectiveTransform(np.float32([[0, 0], [sw, 0], [sw, sh], [0, sh]]),
                                        (q - (x0, y0)).astype(np.float32))
        warped = cv2.warpPerspective(src, m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
                                     borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
        alpha = cv2.warpPerspective(np.ones((sh, sw), np.float32), m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR)
        # lighting: the plate's level follows the background's (a plate in shade is dark), with
        # its own contrast shrunk at random (haze, night)
        level = float(bg.mean()) * rng.uniform(0.8, 1.6) + rng.uniform(-20, 30)
        contrast = rng.uniform(0.35, 1.0)
        inside = warped[alpha > 0.5]
        mu = float(inside.mean()) if inside.size else 128.0
        warped = np.clip((warped - mu) * contrast + np.clip(level, 40, 225), 0, 255)
        grad = rng.uniform(-0.25, 0.25, 2)
        yy, xx = np.mgrid[0:y1 - y0, 0:x1 - x0].astype(np.float32)
        warped *= 1 + grad[0] * (xx / max(1, x1 - x0) - 0.5) + grad[1] * (yy / max(1, y1 - y0) - 0.5)
        sigma = rng.uniform(0, 0.3 + 0.006 * height)
        if sigma > 0.35:
            warped = cv2.GaussianBlur(warped, (0, 0), sigma)
        out = bg * (1 - alpha) + warped * alpha
        img[y0:y1, x0:x1] = np.clip(out, 0, 255).astype(np.uint8)
        taken.append(box)
        return q.astype(np.float32)
    return None


# ---------------------------------------------------------------------- samples

def device_scale(shape, input_hw) -> float:
    return min(input_hw[1] / shape[1], input_hw[0] / shape[0])


def make_sample(rng: np.random.Generator, scene: Scene, pool: list[np.ndarray], cfg: DataConfig,
                out_hw: tuple[int, int] | None = None, augment: bool = True):
    """One training image (out_hw, uint8) from a scene: (image, boxes (N, 4), quads (N, 4, 2),
    has_quad (N,) bool) in image pixels."""
    oh, ow = out_hw or cfg.crop_hw
    base = device_scale(scene.gray.shape, cfg.input_hw)
    boxes = scene.boxes.astype(np.float64)
    if not augment:
        s, tx, ty = base, 0.0, 0.0
    else:
        s = base * math.exp(rng.uniform(math.log(cfg.scale_range[0]), math.log(cfg.scale_range[1])))
        if len(boxes):
            widest = float((boxes[:, 2] - boxes[:, 0]).max()) * s
            if widest > cfg.max_plate_w:
                s *= cfg.max_plate_w / widest * rng.uniform(0.7, 1.0)
        sh, sw = scene.gray.shape[0] * s, scene.gray.shape[1] * s
        if len(boxes) and rng.random() < cfg.focus_plate:
            b = boxes[rng.integers(len(boxes))] * s
            cx = rng.uniform(b[2] - ow + 8, b[0] - 8) if b[2] - b[0] < ow - 16 else (b[0] + b[2] - ow) / 2
            cy = rng.uniform(b[3] - oh + 8, b[1] - 8) if b[3] - b[1] < oh - 16 else (b[1] + b[3] - oh) / 2
            tx, ty = -cx, -cy
        else:
            tx = -rng.uniform(min(0.0, sw - ow) - 0.1 * ow, max(0.0, sw - ow) + 0.1 * ow)
            ty = -rng.uniform(min(0.0, sh - oh) - 0.1 * oh, max(0.0, sh - oh) + 0.1 * oh)
    m = np.array([[s, 0, tx], [0, s, ty]], np.float64)
    fill = int(rng.integers(0, 256)) if augment and rng.random() < 0.5 else 0
    img = cv2.warpAffine(scene.gray, m, (ow, oh), flags=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=fill)
    if scene.quads is not None and len(scene.quads):
        quads = scene.quads.astype(np.float64) * s + (tx, ty)
        has_quad = np.ones(len(boxes), bool)
    else:
        corners = np.stack([boxes[:, [0, 1]], boxes[:, [2, 1]], boxes[:, [2, 3]], boxes[:, [0, 3]]], 1)
        quads = corners * s + (tx, ty)
        has_quad = np.zeros(len(boxes), bool)
    boxes = boxes * s + (tx, ty, tx, ty)
    # keep plates whose centre is inside and that are mostly visible
    if len(boxes):
        vis = _visible(boxes, ow, oh)
        cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
        keep = (vis >= 0.6) & (cx >= 0) & (cx < ow) & (cy >= 0) & (cy < oh)
        ignore = boxes[~keep & (vis > 0)]
        boxes, quads, has_quad = boxes[keep], quads[keep], has_quad[keep]
        if len(ignore):   # cut-off plates: cover them, so no half-plate is taught as background
            for b in ignore:
                x0, y0, x1, y1 = (int(v) for v in (max(0, b[0]), max(0, b[1]), min(ow, b[2] + 1), min(oh, b[3] + 1)))
                if x1 > x0 and y1 > y0:
                    k = (max(3, (x1 - x0) // 2) | 1, max(3, (y1 - y0) // 2) | 1)
                    img[y0:y1, x0:x1] = cv2.blur(img[y0:y1, x0:x1], k)
    if augment and pool:
        k = int(rng.choice(len(cfg.synth_counts), p=np.array(cfg.synth_counts) / sum(cfg.synth_counts)))
        taken = [tuple(b) for b in boxes]
        new_q = []
        for _ in range(k):
            w = math.exp(rng.uniform(*np.log(cfg.synth_width)))
            q = paste_plate(img, pool[rng.integers(len(pool))], rng, w, taken)
            if q is not None:
                new_q.append(q)
        if new_q:
            nq = np.array(new_q, np.float64)
            quads = np.concatenate([quads.reshape(-1, 4, 2), nq])
            boxes = np.concatenate([boxes.reshape(-1, 4), np.concatenate([nq.min(1), nq.max(1)], 1)])
            has_quad = np.concatenate([has_quad, np.ones(len(nq), bool)])
    if augment:
        img = _photometric(img, rng)
        if rng.random() < 0.5:
            img = np.ascontiguousarray(img[:, ::-1])
            boxes = np.stack([ow - boxes[:, 2], boxes[:, 1], ow - boxes[:, 0], boxes[:, 3]], 1) if len(boxes) else boxes
            if len(quads):
                quads = quads[:, [1, 0, 3, 2]].copy()
                quads[..., 0] = ow - quads[..., 0]
    return img, boxes.reshape(-1, 4).astype(np.float32), quads.reshape(-1, 4, 2).astype(np.float32), has_quad


def _visible(boxes: np.ndarray, w: int, h: int) -> np.ndarray:
    ix = np.clip(np.minimum(boxes[:, 2], w) - np.maximum(boxes[:, 0], 0), 0, None)
    iy = np.clip(np.minimum(boxes[:, 3], h) - np.maximum(boxes[:, 1], 0), 0, None)
    area = np.maximum(1e-6, (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]))
    return ix * iy / area


def _photometric(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    x = img.astype(np.float32)
    if rng.random() < 0.8:
        x = (x - 128) * rng.uniform(0.6, 1.4) + 128 + rng.uniform(-40, 40)
    if rng.random() < 0.3:
        x = 255 * (np.clip(x, 0, 255) / 255) ** rng.uniform(0.6, 1.6)
    if rng.random() < 0.3:
        x = cv2.GaussianBlur(x, (0, 0), rng.uniform(0.5, 1.5))
    if rng.random() < 0.4:
        x = x + rng.normal(0, rng.uniform(2, 9), x.shape).astype(np.float32)
    out = np.clip(x, 0, 255).astype(np.uint8)
    if rng.random() < 0.3:
        ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(20, 85))])
        if ok:
            out = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
    return out


def letterboxed(scene: Scene, cfg: DataConfig) -> tuple[np.ndarray, np.ndarray, float]:
    """The scene as the device sees it (plate_edge.detect.letterbox), boxes in input pixels."""
    img, s = letterbox(scene.gray, cfg.input_hw)
    return img, scene.boxes * s, s


# ---------------------------------------------------------------------- targets

def encode(boxes: np.ndarray, quads: np.ndarray, has_quad: np.ndarray, hw: tuple[int, int],
           stride: int) -> np.ndarray:
    """Targets (h/stride, w/stride, 15): heat, 12 regression channels, reg mask, quad mask."""
    gh, gw = hw[0] // stride, hw[1] // stride
    t = np.zeros((gh, gw, N_TARGET), np.float32)
    heat = t[..., 0]
    ys, xs = np.mgrid[0:gh, 0:gw].astype(np.float32)
    # biggest first, so a small plate's centre is not overwritten by a big one around it
    order = np.argsort(-(boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])) if len(boxes) else []
    for i in order:
        x0, y0, x1, y1 = boxes[i] / stride
        w, h = x1 - x0, y1 - y0
        if w <= 0.25 or h <= 0.1:
            continue
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        ix, iy = int(cx), int(cy)
        if not (0 <= ix < gw and 0 <= iy < gh):
            continue
        sx, sy = max(0.7, 0.16 * w), max(0.6, 0.16 * h)
        g = np.exp(-((xs - cx + 0.5) ** 2 / (2 * sx * sx) + (ys - cy + 0.5) ** 2 / (2 * sy * sy)))
        np.maximum(heat, g, out=heat)
        # dense positives (FCOS-like): every cell of the plate's central region says "plate" and
        # regresses the centre from where it is; a small net cannot pin a big plate's one centre cell
        region = g >= POSITIVE_LEVEL
        region[iy, ix] = True
        heat[region] = 1.0
        rr, cc = np.nonzero(region)
        q = quads[i] / stride
        rel = np.stack([(q[:, 0] - cx) / w, (q[:, 1] - cy) / h], 1).reshape(-1)
        t[rr, cc, 1] = cx - cc
        t[rr, cc, 2] = cy - rr
        t[rr, cc, 3:13] = [math.log(w), math.log(h), *rel]
        t[rr, cc, 13] = 1.0
        t[rr, cc, 14] = float(has_quad[i])
    heat[heat < 1.0] = np.minimum(heat[heat < 1.0], 0.999)
    return t


@dataclass
class Sampler:
    """Draws training batches: scenes weighted by source, fresh augmentation every time."""
    scenes: list[Scene]
    pool: list[np.ndarray]
    cfg: DataConfig = field(default_factory=DataConfig)
    weights: np.ndarray | None = None

    def batch(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        p = None if self.weights is None else self.weights / self.weights.sum()
        xs, ys = [], []
        for i in rng.choice(len(self.scenes), n, p=p):
            img, b, q, hq = make_sample(rng, self.scenes[i], self.pool, self.cfg)
            xs.append(img)
            ys.append(encode(b, q, hq, self.cfg.crop_hw, self.cfg.stride))
        return np.stack(xs)[..., None].astype(np.float32) / 255.0, np.stack(ys)


def eval_set(scenes: list[Scene], cfg: DataConfig) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Letterboxed scenes (N, H, W, 1) in 0..1, their targets, and their boxes in input pixels."""
    xs, ys, bs = [], [], []
    for sc in scenes:
        img, b, s = letterboxed(sc, cfg)
        if sc.quads is not None and len(b):
            q, hq = sc.quads * s, np.ones(len(b), bool)
        else:
            q = np.stack([b[:, [0, 1]], b[:, [2, 1]], b[:, [2, 3]], b[:, [0, 3]]], 1) if len(b) else np.zeros((0, 4, 2))
            hq = np.zeros(len(b), bool)
        xs.append(img)
        ys.append(encode(b, q, hq, cfg.input_hw, cfg.stride))
        bs.append(b)
    return np.stack(xs)[..., None].astype(np.float32) / 255.0, np.stack(ys), bs
