"""Train the plate verifier (plate_edge.verify) and export it as int8 TFLite with its metadata.

  python -m convert.train_verifier [--quick] [--epochs 12] [--seed 1] [--out runs/verifier]
  make verifier-model      # that, installed as the shipped `plate-verifier`

Is what the detector found a plate? The examples are the detector's own: the shipped detector
(plate_edge.detect, at --det-threshold, below the reader's 0.4 so that more of what it mistakes is
seen) runs over the training scenes of ../shared/data/plates-boxes (openimages train, the romania
videos other than the held-out test and validation ones), each scene as it is and --copies times
with 1-3 rendered plates pasted in (convert.detector_data.paste_plate). A detection overlapping a
labelled or pasted plate (IoU >= POSITIVE_IOU) is a plate; one overlapping none (< NEGATIVE_IOU)
from which the shipped `plate` reader reads nothing (Reader.read_found) is not (headlights,
grilles, badges, signs); the rest are left out: the labels miss some plates, and the reader reads
a few textures as plates, and neither can be told apart without looking. Each is cut as the
device cuts it (plate_edge.verify.cut) from its quadrilateral, jittered. Validation: the same on
openimages valid and the romania validation video (plates-dev is never read here). Retrain it
when the shipped detector changes.

The stored threshold keeps --keep of the validation plates (float model). Writes to --out:
model.keras, model.tflite (int8; metadata: kind, input_size, margin, threshold), report.json
(validation sweep, int8-vs-float agreement, size, latency), curves.png, scores.png (histograms)
and worst.png (the validation plates scored lowest beside the non-plates scored highest).
--quick: the whole pipeline in a minute or two (tests), on synthetic scenes when the data is missing.

Credits for the training images: as convert.train_detector's.
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from plate_edge.detect import DetectorConfig, PlateDetector
from plate_edge.reader import Reader, ReaderConfig
from plate_edge.recognise import softmax
from plate_edge.verify import MODEL_KIND, cut

from . import detector_data as dd
from .train_detector import iou, load_data

ARCH = "verifier-cnn-s16"
INPUT_HW = (32, 96)
MARGIN = 0.1          # the cut shows this share of the plate's width and height around it
POSITIVE_IOU = 0.3    # a detection overlapping a labelled plate this much is that plate ...
NEGATIVE_IOU = 0.1    # ... one overlapping every plate less, and reading as none, is no plate
LABEL_SMOOTHING = 0.1  # keeps the scores off 0 and 1, so that a threshold between them means something
JITTER = (0.03, 0.08)  # corner noise (sigma), shares of the detection's width and height


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m convert.train_verifier", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="tiny run end to end, for tests")
    p.add_argument("--epochs", type=int, default=None, help="default 12 (quick: 2)")
    p.add_argument("--copies", type=int, default=None, help="composited copies of each scene (default 2; quick 1)")
    p.add_argument("--jitter", type=int, default=3, help="jittered cuts of each training detection")
    p.add_argument("--det-threshold", type=float, default=0.25, help="detector score threshold for the examples")
    p.add_argument("--keep", type=float, default=0.995, help="share of validation plates the threshold keeps")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", default="runs/verifier")
    p.add_argument("--synthetic-only", action="store_true", help="no shared data (as when it is missing)")
    p.add_argument("--model-id", default=None)
    return p.parse_args(argv)


def build():
    """Four stride-2 stages (to 2x6 cells) and a dense layer over them: where the ink lies counts
    (a row of characters inside a frame), not only what there is. Logits for (other, plate)."""
    import keras
    from keras import layers
    inp = keras.Input((*INPUT_HW, 1))
    x = inp
    for filters, extra in ((16, 0), (32, 1), (48, 1), (64, 0)):
        for stride in (2,) + (1,) * extra:
            x = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False)(x)
            x = layers.BatchNormalization()(x)
            x = layers.ReLU()(x)
    x = layers.Dropout(0.3)(layers.Flatten()(x))
    return keras.Model(inp, layers.Dense(2)(x), name=ARCH)


# ---------------------------------------------------------------------- examples

def _jittered(quad: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    w = float(np.linalg.norm(quad[1] - quad[0]))
    h = float(np.linalg.norm(quad[3] - quad[0]))
    return quad + rng.normal(0, 1, (4, 2)) * (JITTER[0] * w, JITTER[1] * h)


def examples(det: PlateDetector, reader: Reader, scenes: list, pool: list, rng: np.random.Generator,
             copies: int, jitter: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cuts (N, H, W) uint8, labels (1: a plate) and detector scores of the detector's detections
    in each scene and in `copies` composites of it; `jitter` cuts of each (0: one, unjittered).
    A detection overlapping a labelled or pasted plate (IoU >= POSITIVE_IOU) is a plate; one
    overlapping none (< NEGATIVE_IOU) from which the reader reads nothing is not; the rest (a plate
    the labels miss, or a texture the reader reads as one, can't be told apart here) are left out."""
    xs, ys, ss = [], [], []
    for sc in scenes:
        for k in range(copies + 1):
            gray, boxes = sc.gray, [tuple(b) for b in sc.boxes]
            if k:
                gray, taken = gray.copy(), list(boxes)
                H, W = gray.shape
                for _ in range(int(rng.integers(1, 4))):
                    width = math.exp(rng.uniform(math.log(25), math.log(max(30.0, 0.4 * W))))
                    q = dd.paste_plate(gray, pool[int(rng.integers(len(pool)))], rng, width, taken)
                    if q is not None:
                        boxes.append((*q.min(0), *q.max(0)))
            found = det.detect(gray)
            overlap = [max((iou((d.box.x, d.box.y, d.box.x + d.box.w, d.box.y + d.box.h), b) for b in boxes),
                           default=0.0) for d in found]
            unsure = [d for d, o in zip(found, overlap) if o < NEGATIVE_IOU]
            read = {id(d) for d, r in zip(unsure, reader.read_found(gray, unsure)) if r is not None}
            for d, o in zip(found, overlap):
                if NEGATIVE_IOU <= o < POSITIVE_IOU or id(d) in read:
                    continue
                quad = np.asarray(d.quad, np.float64)
                for q in ([_jittered(quad, rng) for _ in range(jitter)] if jitter else [quad]):
                    xs.append(cut(gray, q, INPUT_HW, MARGIN))
                    ys.append(int(o >= POSITIVE_IOU))
                    ss.append(d.score)
    return (np.stack(xs) if xs else np.zeros((0, *INPUT_HW), np.uint8), np.array(ys, np.int64),
            np.array(ss, np.float32))


def augment(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Brightness, contrast, gamma, inversion (light-on-dark plates), blur and noise, per cut."""
    out = x.astype(np.float32) / 255.0
    n = len(out)
    out = out ** np.exp(rng.normal(0, 0.35, (n, 1, 1)))
    mean = out.mean(axis=(1, 2), keepdims=True)
    out = (out - mean) * rng.uniform(0.5, 1.4, (n, 1, 1)) + mean + rng.normal(0, 0.1, (n, 1, 1))
    flip = rng.random(n) < 0.2
    out[flip] = 1.0 - out[flip]
    for i in np.nonzero(rng.random(n) < 0.3)[0]:
        out[i] = cv2.GaussianBlur(out[i], (0, 0), rng.uniform(0.4, 1.2))
    out += rng.normal(0, 1, out.shape) * rng.uniform(0, 0.05, (n, 1, 1))
    return np.clip(out, 0, 1)[..., None]


# ---------------------------------------------------------------------- measuring

def sweep(p: np.ndarray, y: np.ndarray) -> list[dict]:
    """Plates kept and non-plates rejected at thresholds 0.02 .. 0.9."""
    rows = []
    for t in (0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9):
        rows.append({"threshold": t, "plates_kept": round(float((p[y == 1] >= t).mean()), 4),
                     "others_rejected": round(float((p[y == 0] < t).mean()), 4)})
    return rows


def keep_threshold(p_plates: np.ndarray, keep: float) -> float:
    """The highest threshold that keeps `keep` of the plates (scores p_plates)."""
    return float(np.quantile(p_plates, 1.0 - keep)) if len(p_plates) else 0.5


def draw_scores(p: np.ndarray, y: np.ndarray, threshold: float, path: Path) -> None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(figsize=(6, 3.5))
    bins = np.linspace(0, 1, 41)
    ax.hist(p[y == 0], bins, alpha=0.6, label="not a plate")
    ax.hist(p[y == 1], bins, alpha=0.6, label="plate")
    ax.axvline(threshold, color="k", linestyle="--", label=f"threshold {threshold:.3f}")
    ax.set_yscale("log")
    ax.set_xlabel("P(plate), int8, validation detections")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def draw_worst(x: np.ndarray, p: np.ndarray, y: np.ndarray, path: Path, n: int = 24) -> None:
    """Left: the plates scored lowest; right: the non-plates scored highest (score written on each)."""
    def column(idx):
        tiles = []
        for i in idx[:n]:
            t = cv2.cvtColor(cv2.resize(x[i], (INPUT_HW[1] * 2, INPUT_HW[0] * 2)), cv2.COLOR_GRAY2BGR)
            cv2.putText(t, f"{p[i]:.2f}", (2, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 255), 1)
            tiles.append(t)
        tiles += [np.zeros((INPUT_HW[0] * 2, INPUT_HW[1] * 2, 3), np.uint8)] * (n - len(tiles))
        return np.vstack([np.hstack(tiles[i:i + 4]) for i in range(0, n, 4)])
    plates, others = np.nonzero(y == 1)[0], np.nonzero(y == 0)[0]
    left = column(plates[np.argsort(p[plates])])
    right = column(others[np.argsort(-p[others])])
    cv2.imwrite(str(path), np.hstack([left, np.full((left.shape[0], 8, 3), 255, np.uint8), right]))


def main(argv=None) -> int:
    args = parse_args(argv)
    import keras

    from plate_edge.classify import read_metadata
    from plate_edge.verify import PlateVerifier

    from .export import add_metadata, convert, tflite_predict
    from .plots import plot_curves
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    epochs = args.epochs if args.epochs is not None else (2 if args.quick else 12)
    copies = args.copies if args.copies is not None else (1 if args.quick else 2)
    rng = np.random.default_rng(args.seed)
    keras.utils.set_random_seed(args.seed)
    t0 = time.time()
    scenes, _, val, desc = load_data(args, rng, dd.DataConfig())
    if args.quick:
        scenes = scenes[::8]
    pool = dd.plate_pool(rng, 40 if args.quick else 400)
    det = PlateDetector.load(Path(__file__).resolve().parent.parent / "src" / "plate_edge" / "models"
                             / "plate-detector.tflite",
                             cfg=DetectorConfig(score_threshold=args.det_threshold, verifier=""))
    reader = Reader.from_model("plate", ReaderConfig(detector=DetectorConfig(verifier="")))   # the teacher
    x, y, _ = examples(det, reader, scenes, pool, rng, copies, args.jitter)
    vx, vy, vscore = examples(det, reader, val, pool, np.random.default_rng(args.seed + 1), copies, 0)
    print(f"examples: {len(y)} training cuts ({int(y.sum())} plates) from {len(scenes)} scenes x {copies + 1}, "
          f"{len(vy)} validation ({int(vy.sum())} plates) from {len(val)} scenes ({time.time() - t0:.0f} s)",
          flush=True)

    model = build()
    steps = max(1, math.ceil(len(y) / args.batch))
    model.compile(optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(
                      args.lr, epochs * steps, alpha=0.02)),
                  loss=keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=LABEL_SMOOTHING),
                  metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")])
    weight = {0: 0.5 * len(y) / max(1, int((y == 0).sum())), 1: 0.5 * len(y) / max(1, int(y.sum()))}
    aug_rng = np.random.default_rng(args.seed + 2)
    vxf = vx[..., None].astype(np.float32) / 255.0
    history: dict[str, list[float]] = {}
    t1 = time.time()
    for epoch in range(epochs):   # fresh augmentation each epoch
        print(f"epoch {epoch + 1}/{epochs}", flush=True)
        h = model.fit(augment(x, aug_rng), np.eye(2)[y], batch_size=args.batch, epochs=1, class_weight=weight,
                      validation_data=(vxf, np.eye(2)[vy]), verbose=1 if sys.stdout.isatty() else 2).history
        for k, v in h.items():
            history.setdefault(k, []).extend(v)
    train_s = time.time() - t1
    model.save(out / "model.keras")

    p_float = softmax(model.predict(vxf, batch_size=256, verbose=0))[:, 1]
    threshold = round(keep_threshold(p_float[vy == 1], args.keep), 4)
    model_id = args.model_id or f"plate-verifier-int8-{datetime.date.today():%Y%m%d}"
    meta = {"kind": MODEL_KIND, "model_id": model_id, "arch": ARCH, "version": "1",
            "input_size": list(INPUT_HW), "margin": MARGIN, "labels": ["other", "plate"], "output": "logits",
            "normalization": {"mean": 0.0, "std": 255.0}, "threshold": threshold, "quantization": "int8",
            "training_data": desc, "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")}
    tfl = out / "model.tflite"
    calib = x[np.random.default_rng(args.seed + 3).choice(len(x), min(len(x), 500), replace=False)]
    tfl.write_bytes(add_metadata(convert(model, "int8", calib), meta))
    assert read_metadata(tfl.read_bytes()) == meta

    ver = PlateVerifier.load(tfl)
    p_int8 = softmax(tflite_predict(tfl, vxf))[:, 1]
    times = {}
    for n in (1, 3):
        batch = list(vx[:n]) if len(vx) >= n else [vx[0]] * n
        ver.scores(batch)
        ts = []
        for _ in range(200):
            t = time.perf_counter()
            ver.scores(batch)
            ts.append(time.perf_counter() - t)
        times[f"batch{n}"] = round(1000 * float(np.median(ts)), 4)
    kept = p_int8 >= threshold
    report = {"model_id": model_id, "arch": ARCH, "params": int(model.count_params()), "epochs": epochs,
              "copies": copies, "jitter": args.jitter, "det_threshold": args.det_threshold, "seed": args.seed,
              "quick": args.quick, "lr": args.lr, "keep": args.keep, "threshold": threshold,
              "training_data": desc, "train_cuts": int(len(y)), "train_plates": int(y.sum()),
              "val_cuts": int(len(vy)), "val_plates": int(vy.sum()), "train_seconds": round(train_s, 1),
              "val_float": sweep(p_float, vy), "val_int8": sweep(p_int8, vy),
              "val_int8_at_threshold": {
                  "plates_kept": round(float(kept[vy == 1].mean()), 4) if vy.any() else None,
                  "others_rejected": round(float((~kept[vy == 0]).mean()), 4) if (vy == 0).any() else None,
                  # what the reader's 0.4 detector threshold alone would pass of the non-plates
                  "others_rejected_at_detector_0.4": round(float((~kept[(vy == 0) & (vscore >= 0.4)]).mean()), 4)
                  if ((vy == 0) & (vscore >= 0.4)).any() else None},
              "int8_vs_float": {"agreement_at_threshold": round(float(((p_float >= threshold) == kept).mean()), 4),
                                "max_abs_diff": round(float(np.abs(p_float - p_int8).max()), 4)},
              "size_bytes": tfl.stat().st_size, "latency_ms_one_thread": times,
              "total_seconds": round(time.time() - t0, 1),
              "history": {k: [round(float(v), 5) for v in vals] for k, vals in history.items()}}
    (out / "report.json").write_text(json.dumps(report, indent=2))
    plot_curves(history, out / "curves.png")
    draw_scores(p_int8, vy, threshold, out / "scores.png")
    draw_worst(vx, p_int8, vy, out / "worst.png")
    print(json.dumps({k: report[k] for k in ("model_id", "params", "size_bytes", "threshold", "train_cuts",
                                             "val_cuts", "val_int8_at_threshold", "int8_vs_float",
                                             "latency_ms_one_thread", "train_seconds")}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
