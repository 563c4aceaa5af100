"""Per-stage reading time on generated scenes, one thread: localize, segment, classify, total.

`cpu` is the CPU time of the whole read_frame (thread time): on a shared, busy machine it is the
better estimate of the wall time on an idle device. The load average is printed for context.

  .venv/bin/python bench/speed.py [--model digits|alnum|PATH] [--frames N] [--keras PATH.keras] [--config F]

Frames of 640x480, 1280x720 and 1920x1080 with two plates each come from plate_edge.sim.synth. When
TensorFlow and a Keras model (models/*.keras or --keras) are available, the naive way - Keras
model.predict() once per character - is timed on the same characters, as a ratio.

Real photos: the scenes of ../shared/data/plates-dev (or --real-data) are timed at their native size
and as 1280x720 and 1920x1080 camera frames (cropped to 16:9 around the labelled plate, then resized):
per stage median and p95, candidates (plates the finder proposes) and readings per frame. Skipped
when the data is not there; --real-frames limits the scenes per size. The motion gate
(plate_edge.motion) is timed per 1280x720 frame too. --config reads the reader section of a
configuration file (e.g. reader.detector.localizer: beside); the defaults otherwise.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from plate_edge import load_config  # noqa: E402
from plate_edge.charimg import to_batch  # noqa: E402
from plate_edge.classify import Classifier  # noqa: E402
from plate_edge.motion import MotionConfig, MotionGate  # noqa: E402
from plate_edge.reader import Reader, to_gray  # noqa: E402
from plate_edge.segment import segment  # noqa: E402
from plate_edge.sim.synth import random_text, render_scene  # noqa: E402

SIZES = [(640, 480), (1280, 720), (1920, 1080)]


# the CPU features int8 inference speed hangs on (XNNPACK's fastest int8 kernels need a dot-product
# instruction): the same code reads a plate several times faster with them than with AVX2 alone
INT8_FEATURES = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8", "asimddp", "i8mm")


def host(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The CPU model, core count and int8-relevant features, for comparing figures across machines."""
    try:
        lines = cpuinfo.read_text().splitlines()
    except OSError:
        return "unknown"
    field = {k.strip(): v.strip() for k, _, v in (ln.partition(":") for ln in lines) if v}
    model = field.get("model name") or field.get("Model") or "unknown CPU"
    flags = set((field.get("flags") or field.get("Features") or "").split())
    have = [f for f in INT8_FEATURES if f in flags]
    return f"{model}, {os.cpu_count()} cores, int8-relevant features: {' '.join(have) or 'none'}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="alnum", help="model name or .tflite path (default alnum)")
    ap.add_argument("--frames", type=int, default=30, help="frames per size (default 30)")
    ap.add_argument("--keras", help="Keras model for the naive per-character comparison")
    ap.add_argument("--real-data", type=Path, default=ROOT.parent / "shared" / "data" / "plates-dev",
                    help="plates-dev folder (labels.csv) for the real-photo timings")
    ap.add_argument("--real-frames", type=int, default=0, help="real scenes per size (0: all)")
    ap.add_argument("--no-synthetic", action="store_true", help="only the real photos and the motion gate")
    ap.add_argument("--config", help="configuration file for the reader section (default: the defaults)")
    args = ap.parse_args(argv)
    cv2.setNumThreads(1)
    reader = Reader.from_model(args.model, load_config(args.config).reader, threads=1)
    clf = reader.model
    rng = np.random.default_rng(7)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "-"
    print(f"model {clf.model_id}; one thread; median (p90) ms over {args.frames} frames, 2 plates each; "
          f"load average {load}")
    print(f"host: {host()}")
    _motion()
    _real(args, reader)
    if args.no_synthetic:
        return 0
    # the stages the reader reports (localize/segment/classify, or find/recognise/decode)
    stages = [k for k in reader.read_frame_timed(np.zeros((64, 64), np.uint8)).timings_s if k != "total"]
    per_plate_stage = "classify" if "classify" in stages else stages[-2] if len(stages) > 1 else stages[-1]
    print(f"{'size':>10} " + " ".join(f"{k:>14}" for k in [*stages, "total", "cpu"])
          + f" {'cls/plate':>9} {'plates':>6}")
    all_patches = []
    for w, h in SIZES:
        frames = [render_scene([random_text(rng), random_text(rng)], rng, size=(w, h)).image
                  for _ in range(args.frames)]
        reader.read_frame(frames[0])  # warm-up
        t: dict[str, list[float]] = {k: [] for k in [*stages, "total", "cpu"]}
        per_plate, plates = [], 0
        for f in frames:
            c0 = time.thread_time()
            result = reader.read_frame_timed(f)
            readings = result.plates
            t["cpu"].append((time.thread_time() - c0) * 1000)
            for k in [*stages, "total"]:
                t[k].append(result.timings_s.get(k, 0.0) * 1000)
            chars, n_plates = _segmented(reader, f)
            all_patches.append(chars)
            if n_plates:
                per_plate.append(result.timings_s.get(per_plate_stage, 0.0) * 1000 / n_plates)
            plates += len(readings)
        cells = " ".join(f"{statistics.median(v):6.2f} ({np.percentile(v, 90):5.2f})" for v in t.values())
        pp = f"{statistics.median(per_plate):9.3f}" if per_plate else "        -"
        print(f"{w:>5}x{h:<4} {cells} {pp} {plates / len(frames):6.2f}")
    if isinstance(clf, Classifier):
        _naive(args, clf, [p for ps in all_patches for p in ps])
    return 0


def _load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "-"


def _motion(frames: int = 300) -> None:
    """The motion gate's cost per 1280x720 frame (a plate-sized block moving over a textured scene)."""
    rng = np.random.default_rng(3)
    base = cv2.GaussianBlur(rng.integers(0, 255, (720, 1280, 3), dtype=np.uint8), (21, 21), 0)
    gate = MotionGate(MotionConfig())
    times = []
    for i in range(frames):
        f = base.copy()
        f[400:450, 100 + 3 * i:320 + 3 * i] = 230
        t0 = time.perf_counter()
        gate.check(f, i / 30.0)
        times.append((time.perf_counter() - t0) * 1000)
    print(f"motion gate, 1280x720: median {statistics.median(times):.3f} ms, p95 {np.percentile(times, 95):.3f} ms "
          f"per frame ({frames} frames; load average {_load()})")


def _frame_of(img: np.ndarray, box: tuple[int, int, int, int], size: tuple[int, int] | None) -> np.ndarray:
    """The photo as a camera frame of `size`: the largest window of that aspect ratio that keeps the
    labelled plate inside (centred on the photo where it can be), resized. None: the photo as it is."""
    if size is None:
        return img
    tw, th = size
    h, w = img.shape[:2]
    if w / h > tw / th:
        cw, ch = round(h * tw / th), h
    else:
        cw, ch = w, round(w * th / tw)
    x, y, bw, bh = box
    cx = min(max((w - cw) // 2, x + bw - cw), x, w - cw)
    cy = min(max((h - ch) // 2, y + bh - ch), y, h - ch)
    cx, cy = max(0, cx), max(0, cy)
    crop = img[cy:cy + ch, cx:cx + cw]
    interp = cv2.INTER_AREA if cw > tw else cv2.INTER_LINEAR
    return cv2.resize(crop, (tw, th), interpolation=interp)


def _real(args, reader: Reader) -> None:
    """Per-stage times on real photos (plates-dev) at native size, 1280x720 and 1920x1080."""
    labels = args.real_data / "labels.csv"
    if not labels.is_file():
        print(f"real photos: skipped (no {labels})")
        return
    import csv

    rows = list(csv.DictReader(labels.open()))
    scenes: dict[str, tuple[int, int, int, int]] = {}
    for r in rows:                       # one box per photo is enough to keep a plate in the frame
        scenes.setdefault(r["image"], (int(float(r["x"])), int(float(r["y"])), int(float(r["w"])),
                                       int(float(r["h"]))))
    names = sorted(scenes)[:args.real_frames or None]
    photos = [(cv2.imread(str(args.real_data / n), cv2.IMREAD_COLOR), scenes[n]) for n in names]
    photos = [(img, box) for img, box in photos if img is not None]
    # candidates per frame: count the plates the find stage hands to the recogniser
    counts: list[int] = []
    stage = reader.recogniser
    recognise = stage.recognise

    def counting(image, gray, plates, *a, **k):
        counts.append(len(plates))
        return recognise(image, gray, plates, *a, **k)
    stage.recognise = counting  # type: ignore[method-assign]
    print(f"\nreal photos: {len(photos)} plates-dev scenes per size; one thread; median / p95 ms; "
          f"load average {_load()}")
    # the stages are whatever the reader reports (localize/segment/classify, or find/recognise/decode)
    stages = [k for k in reader.read_frame_timed(photos[0][0]).timings_s if k != "total"] + ["total", "cpu"]
    print(f"{'frame':>10} " + " ".join(f"{k:>15}" for k in stages) + f" {'cands':>6} {'reads':>6}")
    try:
        for label, size in (("native", None), ("1280x720", (1280, 720)), ("1920x1080", (1920, 1080))):
            frames = [_frame_of(img, box, size) for img, box in photos]
            reader.read_frame(frames[0])                      # warm-up
            counts.clear()
            t: dict[str, list[float]] = {k: [] for k in stages}
            reads = 0
            for f in frames:
                c0 = time.thread_time()
                result = reader.read_frame_timed(f)
                t["cpu"].append((time.thread_time() - c0) * 1000)
                for k in stages[:-1]:
                    t[k].append(result.timings_s.get(k, 0.0) * 1000)
                reads += len(result.plates)
            cells = " ".join(f"{statistics.median(v):6.1f} / {np.percentile(v, 95):6.1f}" for v in t.values())
            cands = f"{sum(counts) / len(frames):6.2f}" if counts else "     -"
            print(f"{label:>10} {cells} {cands} {reads / len(frames):6.2f}", flush=True)
    finally:
        del stage.recognise
    print()


def _segmented(reader: Reader, frame) -> tuple[list, int]:
    """The character patches the reader classifies for a frame, and how many plates they are from."""
    gray, _ = to_gray(frame, reader.cfg.max_frame_side)
    per_plate = [segment(p.crop, reader.cfg.segment, reader.cfg.localize.crop_char_height)
                 for p in reader.localizer.find(gray)]
    return [c.patch for cs in per_plate for c in cs], sum(1 for cs in per_plate if cs)


def _naive(args, clf: Classifier, patches: list) -> None:
    keras_path = Path(args.keras) if args.keras else next(iter(sorted((ROOT / "models").glob("*.keras"))), None)
    if keras_path is None or not keras_path.is_file():
        print("naive Keras comparison: skipped (no .keras model in models/ and no --keras)")
        return
    try:
        import tensorflow as tf
    except ImportError:
        print("naive Keras comparison: skipped (TensorFlow not installed)")
        return
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    model = tf.keras.models.load_model(keras_path)
    norm = clf.meta.get("normalization", {})
    mean, std = float(norm.get("mean", 0.0)), float(norm.get("std", 255.0))
    patches = patches[:200]
    if not patches:
        print("naive Keras comparison: skipped (no characters found)")
        return
    singles = [(to_batch([p], clf.input_size).astype(np.float32) - mean) / std for p in patches]
    model.predict(singles[0], verbose=0)
    t0 = time.perf_counter()
    for s in singles:
        model.predict(s, verbose=0)
    naive = (time.perf_counter() - t0) / len(singles)
    t0 = time.perf_counter()
    reps = 20
    for _ in range(reps):
        clf.predict(patches)
    batched = (time.perf_counter() - t0) / reps / len(patches)
    print(f"naive Keras predict per character ({keras_path.name}): {naive * 1000:.2f} ms/char; "
          f"batched TFLite: {batched * 1000:.4f} ms/char; ratio {naive / batched:.0f}x")


if __name__ == "__main__":
    sys.exit(main())
