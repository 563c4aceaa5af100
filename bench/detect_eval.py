"""Plate finding on real scenes: the learned detector (plate_edge.detect) against the hand-written
localizer (plate_edge.localize), side by side.

  .venv/bin/python bench/detect_eval.py [--model PATH.tflite] [--threshold T] [--config FILE] [--reader-model plate]
                                         [--sets dev,openimages,romania,sizes] [--per-bin N] [--json out.json]

Sets: plates-dev (all 222; one plate labelled per image, so its false detections count other real
plates too: read them with care), openimages test split, and the held-out romania video
(dayride_type1_002, never trained on). Per finder and set: recall (a label counts as found when a
detection overlaps it at IoU >= 0.5), false detections per frame (detections overlapping no label
at IoU >= 0.3), recall over the labels at least MIN_WIDTH (40) px wide in the native frame (the
issue's size range; openimages test frames are 416x416 and most of its misses are plates under
30 px), and median / p95 milliseconds per frame at the native size and resized to 1280x720, one
thread. "verified": the detector's plates the verifier (reader.detector.verifier) keeps, what the
reader reads. "either" is the union of both finders (reader.detector.localizer "beside"); "fallback"
is the detector's plates, or the localizer's in frames where it finds none (the default). "read"
is the whole reader as configured (`--reader-model`, default the learned `plate`): the found
plates that give a reading (the model finds characters with reader.min_confidence), i.e. what
reaches the tracker and MQTT; its times include reading. `sizes`: rendered plates pasted 40-400 px
wide into the held-out scenes, found per width bin by the whole-frame look, with tiles
(reader.detector.tiles), and in a moving car's changed region (size_sweep). Missing data or
model: says so and exits 0.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for p in (ROOT / "src", ROOT):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from convert.train_detector import iou  # noqa: E402
from plate_edge.config import Config, load_config  # noqa: E402
from plate_edge.localize import Localizer  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
ROMANIA_TEST = "dayride_type1_002"
MIN_WIDTH = 40   # the size range starts here: recall is also given over labels this wide (native px)
SIZE_BINS = ((40, 60), (60, 80), (80, 110), (110, 150), (150, 250), (250, 400))   # px of a 1280x720 frame
SIZES_SEED = 11  # the rendered plates and their placements of the `sizes` sweep
REGION_SPAN = (4, 3)  # a moving car's changed region (the daemon's motion gate): plate widths wide, high


def load_sets(names: list[str]) -> dict[str, list[tuple[Path, list[tuple]]]]:
    """name -> [(image path, [x0, y0, x1, y1 label boxes])]; sets whose data is missing are left out."""
    sets = {}
    dev = DATA / "plates-dev" / "labels.csv"
    if "dev" in names and dev.is_file():
        with open(dev, newline="", encoding="utf-8") as f:
            rows = [(DATA / "plates-dev" / r["image"],
                     [(float(r["x"]), float(r["y"]), float(r["x"]) + float(r["w"]), float(r["y"]) + float(r["h"]))])
                    for r in csv.DictReader(f)]
        sets["plates-dev"] = rows
    for name, sub, key, want in (("openimages", "openimages", "split", "test"),
                                 ("romania", "romania", "video", ROMANIA_TEST)):
        path = DATA / "plates-boxes" / sub / "boxes.csv"
        if name not in names or not path.is_file():
            continue
        boxes: dict[str, list] = {}
        with open(path, newline="") as f:
            for r in csv.DictReader(f):
                if r[key] != want:
                    continue
                lst = boxes.setdefault(r["file"], [])
                if r["class"] == "plate":
                    x, y, w, h = (float(r[k]) for k in "xywh")
                    lst.append((x, y, x + w, y + h))
        if name == "openimages":   # scenes without any box are in the folder only
            for p in sorted((DATA / "plates-boxes" / sub / want).glob("*.jpg")):
                boxes.setdefault(f"{want}/{p.name}", [])
        sets[f"{name} {want}"] = [(DATA / "plates-boxes" / sub / k, v) for k, v in sorted(boxes.items())]
    return sets


def run_finder(find, images: list[tuple[Path, list]], resize: bool) -> tuple[list, list[float]]:
    dets, times = [], []
    for path, _gts in images:
        gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        fx = fy = 1.0
        if resize:
            fx, fy = 1280 / gray.shape[1], 720 / gray.shape[0]
            gray = cv2.resize(gray, (1280, 720), interpolation=cv2.INTER_AREA if fx < 1 else cv2.INTER_LINEAR)
        t = time.perf_counter()
        boxes = find(gray)
        times.append(1000 * (time.perf_counter() - t))
        dets.append([(x0 / fx, y0 / fy, x1 / fx, y1 / fy) for x0, y0, x1, y1 in boxes])
    return dets, times


def score(dets: list, images: list) -> dict:
    hits = [(g[2] - g[0] >= MIN_WIDTH, any(iou(d, g) >= 0.5 for d in ds))
            for ds, (_, gts) in zip(dets, images) for g in gts]
    fps = sum(sum(not any(iou(d, g) >= 0.3 for g in gts) for d in ds) for ds, (_, gts) in zip(dets, images))
    n_gt, found = len(hits), sum(hit for _, hit in hits)
    n_big, found_big = sum(big for big, _ in hits), sum(big and hit for big, hit in hits)
    return {"labels": n_gt, "found": found, "recall": round(found / max(1, n_gt), 4),
            f"labels_{MIN_WIDTH}px": n_big, f"found_{MIN_WIDTH}px": found_big,
            f"recall_{MIN_WIDTH}px": round(found_big / max(1, n_big), 4),
            "fp_per_frame": round(fps / max(1, len(images)), 3)}


def size_sweep(dcfg, per_bin: int, reader=None) -> dict:
    """Rendered plates (every region, capture damage and all) pasted 40-400 px wide into the held-out
    1280x720 street scenes, as bench/accuracy's synth-scene pastes them: per width bin, the share
    found (a detection centred on the plate) by the detector on the whole frame, with and without
    tiles, and on the region a moving car of REGION_SPAN plate widths about the plate would
    change (what the daemon reads of a live camera's frame); with a reader, also the share read
    exactly in the whole frame and in that region."""
    sys.path.insert(0, str(ROOT / "bench"))
    from accuracy import paste, street_scenes

    from convert import worldplates
    from plate_edge.detect import PlateDetector
    scenes = street_scenes(DATA)
    if not scenes:
        return {}
    dets = {"whole": PlateDetector.from_config(dcfg.model_copy(update={"tiles": "off"})),
            "tiles": PlateDetector.from_config(dcfg.model_copy(update={"tiles": "always"}))}
    regions = list(worldplates.REGIONS)
    rng = np.random.default_rng(SIZES_SEED)
    out = {}
    for lo, hi in SIZE_BINS:
        found = dict.fromkeys([*dets, "region"] + (["read", "read_region"] if reader else []), 0)
        for _ in range(per_bin):
            s = worldplates.sample(rng, regions[int(rng.integers(len(regions)))])
            crop = s.image if s.image.ndim == 3 else cv2.cvtColor(s.image, cv2.COLOR_GRAY2BGR)
            frame, b = paste(crop, scenes[int(rng.integers(len(scenes)))], int(rng.integers(lo, hi)), rng)
            for name, det in dets.items():
                found[name] += bool(_centred_in(b, det.detect(frame)))
            cx, cy, (sx, sy) = b.x + b.w // 2, b.y + b.h // 2, REGION_SPAN
            x0, y0 = max(0, cx - sx * b.w // 2), max(0, cy - sy * b.w // 2)
            region = frame[y0:cy + sy * b.w // 2, x0:cx + sx * b.w // 2]
            found["region"] += bool(_centred_in(b, dets["whole"].detect(region), x0, y0))
            if reader is not None:
                found["read"] += s.text in [r.text for r in _centred_in(b, reader.read_frame(frame))]
                region_read = reader.read_frame_timed(region, extra_looks=False).plates   # as the daemon reads it
                found["read_region"] += s.text in [r.text for r in _centred_in(b, region_read, x0, y0)]
        out[f"{lo}-{hi}"] = {k: round(v / per_bin, 3) for k, v in found.items()}
    return out


def _centred_in(box, found: list, dx: int = 0, dy: int = 0) -> list:
    """The detections or readings (found in a part of the frame offset by dx, dy) centred in the box."""
    return [f for f in found if box.contains(f.box.centre[0] + dx, f.box.centre[1] + dy)]


def ms(times: list[float]) -> dict:
    return {"median": round(float(np.median(times)), 2), "p95": round(float(np.percentile(times, 95)), 2)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", help="detector .tflite (default: the config's reader.detector.model)")
    ap.add_argument("--threshold", type=float, help="detector score threshold (default: the config's)")
    ap.add_argument("--sets", default="dev,openimages,romania,sizes",
                    help="dev, openimages, romania (real scenes), sizes (rendered plates by width)")
    ap.add_argument("--per-bin", type=int, default=100, help="sizes: rendered plates per width bin")
    ap.add_argument("--config", default=str(ROOT / "config.yaml"),
                    help="the reader section: localizer, detector and reader settings")
    ap.add_argument("--reader-model", default="plate", help="model of the 'read' row ('' to leave it out)")
    ap.add_argument("--limit", type=int, default=0, help="first N frames of each set only")
    ap.add_argument("--json", help="write the figures here too")
    args = ap.parse_args(argv)

    sets = {k: v[:args.limit] if args.limit else v for k, v in load_sets(args.sets.split(",")).items()}
    if not sets and not (DATA / "plates-boxes").is_dir():
        print(f"detect_eval: no data under {DATA} (plates-dev, plates-boxes); skipped")
        return 0
    cfg = load_config(args.config) if Path(args.config).is_file() else Config()
    loc = Localizer(cfg.reader.localize)
    finders = {"localizer": lambda g: [(c.box.x, c.box.y, c.box.x + c.box.w, c.box.y + c.box.h) for c in loc.find(g)]}
    from plate_edge.classify import ModelError
    from plate_edge.detect import PlateDetector
    dcfg = cfg.reader.detector.model_copy(update={k: v for k, v in (("model", args.model),
                                                                    ("score_threshold", args.threshold)) if v})
    try:
        det = PlateDetector.from_config(dcfg)
        finders = {"detector": lambda g: [(d.box.x, d.box.y, d.box.x + d.box.w, d.box.y + d.box.h)
                                          for d in det.detect(g)], **finders}
        print(f"detector: {det.path} ({det.model_id}, threshold {det.threshold}, refining the best "
              f"{dcfg.refine_max} at {dcfg.refine_width} px)")
        if dcfg.verifier:
            from plate_edge.verify import PlateVerifier
            ver = PlateVerifier.from_config(dcfg)
            finders["verified"] = lambda g: [(d.box.x, d.box.y, d.box.x + d.box.w, d.box.y + d.box.h)
                                             for d in ver.keep(g, det.detect(g))]
            print(f"verifier: {ver.path} ({ver.model_id}, threshold {ver.threshold})")
    except ModelError as e:
        print(f"detect_eval: {e} (python -m convert.train_detector); measuring the localizer alone")
    if args.reader_model:
        from plate_edge.reader import Reader
        reader = Reader.from_model(args.reader_model, cfg.reader)
        finders["read"] = lambda g: [(r.box.x, r.box.y, r.box.x + r.box.w, r.box.y + r.box.h)
                                     for r in reader.read_frame(g)]
    results: dict = {}
    for set_name, images in sets.items():
        per = {}
        for fname, find in finders.items():
            dets, t_native = run_finder(find, images, resize=False)
            _, t_720 = run_finder(find, images, resize=True)
            per[fname] = {**score(dets, images), "ms_native": ms(t_native), "ms_1280x720": ms(t_720), "_dets": dets}
        if "detector" in per:
            union = [a + b for a, b in zip(per["detector"]["_dets"], per["localizer"]["_dets"])]
            per["either"] = score(union, images)
            per["fallback"] = score([d or loc for d, loc in zip(per["detector"]["_dets"], per["localizer"]["_dets"])],
                                    images)
        for v in per.values():
            v.pop("_dets", None)
        results[set_name] = {"frames": len(images), **per}

    print(f"\n{'set':<34}{'finder':<11}{'recall':>16}{f'>={MIN_WIDTH} px':>16}{'FP/frame':>10}"
          f"{'ms native med/p95':>20}{'ms 1280x720 med/p95':>22}")
    for set_name, per in results.items():
        for fname in ("detector", "verified", "localizer", "either", "fallback", "read"):
            r = per.get(fname)
            if r is None:
                continue
            rec = f"{r['found']}/{r['labels']} {100 * r['recall']:.1f}%"
            big = f"{r[f'found_{MIN_WIDTH}px']}/{r[f'labels_{MIN_WIDTH}px']} {100 * r[f'recall_{MIN_WIDTH}px']:.1f}%"
            t1 = f"{r['ms_native']['median']:.1f}/{r['ms_native']['p95']:.1f}" if "ms_native" in r else "-"
            t2 = f"{r['ms_1280x720']['median']:.1f}/{r['ms_1280x720']['p95']:.1f}" if "ms_1280x720" in r else "-"
            label = f"{set_name} ({per['frames']})"
            print(f"{label:<34}{fname:<11}{rec:>16}{big:>16}{r['fp_per_frame']:>10.2f}{t1:>20}{t2:>22}")
    if "plates-dev" in results:
        print("\nplates-dev labels one plate per image: its FP/frame also counts other real plates in view.")
    if "sizes" in args.sets.split(",") and "detector" in finders:
        results["sizes"] = size_sweep(dcfg, args.per_bin, reader if args.reader_model else None)
        print(f"\nrendered plates pasted into the held-out scenes, per width ({args.per_bin} per bin): found in "
              f"the whole frame / with tiles / in the changed region of a moving car ({REGION_SPAN[0]}x"
              f"{REGION_SPAN[1]} plate widths); read exactly in the whole frame / in that region")
        for width, r in results["sizes"].items():
            shares = [r[k] for k in ("whole", "tiles", "region", "read", "read_region") if k in r]
            print(f"  {width + ' px':<12}" + "".join(f"{100 * v:>6.0f}%" for v in shares))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
