"""Accuracy on labelled real photos (default ../shared/data/plates-dev): plate found, exact read
on full scenes, exact read on the labelled crops, per-character accuracy, split by subfolder.

  .venv/bin/python bench/accuracy.py [--data DIR] [--model alnum|PATH] [--limit N] [--config F]
                                     [--format br=^[A-Z]{3}[0-9]{4}$ ...]

Without the data folder it says so and exits 0. Without the model it measures localization and
segmentation only (found, character count right).

Exact reads are scored against the labels as given; when an errata file lists a label that is
visibly wrong (the photo and the country's plate format disagree with it), the same reads are
also scored against the corrected text and reported on a second line, so both stay visible.
"""
from __future__ import annotations

import argparse
import collections
import csv
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402

from convert.devchars import DEFAULT_ERRATA, load_errata  # noqa: E402
from plate_edge.classify import Classifier, ModelError, resolve_model_path  # noqa: E402
from plate_edge.config import PlateFormat, load_config  # noqa: E402
from plate_edge.localize import Localizer  # noqa: E402
from plate_edge.reader import Reader, to_gray  # noqa: E402
from plate_edge.segment import segment  # noqa: E402
from plate_edge.types import Box  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "plates-dev"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA), help="folder with labels.csv (image,x,y,w,h,plate)")
    ap.add_argument("--model", default="alnum", help="model name or .tflite path (default alnum)")
    ap.add_argument("--limit", type=int, default=0, help="use only the first N labelled images")
    ap.add_argument("--config", help="configuration file for the reader section")
    ap.add_argument("--format", action="append", default=[], metavar="SPLIT=REGEX",
                    help="plate format applied to one split (subfolder), e.g. br=^[A-Z]{3}[0-9]{4}$; repeatable")
    ap.add_argument("--margin", type=float, default=0.05,
                    help="crop margin around the label box, fraction of its width/height (default 0.05)")
    ap.add_argument("--errata", default=str(DEFAULT_ERRATA),
                    help="CSV image,label,corrected,reason of wrong labels (default bench/plates-dev-errata.csv)")
    ap.add_argument("--verbose", action="store_true", help="print every miss")
    args = ap.parse_args(argv)

    data = Path(args.data)
    labels = data / "labels.csv"
    if not labels.is_file():
        print(f"accuracy: no labelled data at {data} (labels.csv missing); skipped")
        return 0
    rows = list(csv.DictReader(labels.open(encoding="utf-8")))
    if args.limit:
        rows = rows[:args.limit]
    errata = load_errata(Path(args.errata), {r["image"]: r["plate"] for r in rows})
    cv2.setNumThreads(1)
    cfg = load_config(args.config)
    try:
        clf = Classifier.load(resolve_model_path(args.model), threads=1)
    except ModelError as exc:
        print(f"accuracy: {exc}\naccuracy: no model - measuring localization and segmentation only")
        clf = None
    formats = collections.defaultdict(list)   # split -> patterns (repeat --format for several)
    for f in args.format:
        split, pattern = f.split("=", 1)
        formats[split].append(pattern)
    readers = {}

    def reader_for(split: str) -> Reader:
        if split not in readers:
            rcfg = load_config(args.config).reader
            if split in formats:
                rcfg.formats = [PlateFormat(name=f"{split}{i}", pattern=p) for i, p in enumerate(formats[split])]
            readers[split] = Reader(rcfg, clf)
        return readers[split]

    localizer = Localizer(cfg.reader.localize)
    stats: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    confusions: collections.Counter = collections.Counter()
    times: dict[str, list[float]] = collections.defaultdict(list)
    for row in rows:
        split = row["image"].split("/")[0] if "/" in row["image"] else "all"
        st = stats[split]
        image = cv2.imread(str(data / row["image"]), cv2.IMREAD_COLOR)
        if image is None:
            print(f"accuracy: cannot read {row['image']}", file=sys.stderr)
            continue
        truth = row["plate"].upper()
        label = Box(int(row["x"]), int(row["y"]), int(row["w"]), int(row["h"]))
        crop = _crop(image, label, args.margin)
        st["images"] += 1
        st["chars"] += len(truth)

        gray, _ = to_gray(image, cfg.reader.max_frame_side)
        cands = localizer.find(gray)
        best = max(cands, key=lambda c: c.box.iou(label), default=None)
        found = best is not None and best.box.iou(label) >= 0.4
        st["found"] += found
        if found:
            st["scene_count_ok"] += len(segment(best.crop, cfg.reader.segment,
                                                cfg.reader.localize.crop_char_height)) == len(truth)
        plate = localizer.from_crop(cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY))
        st["crop_count_ok"] += plate is not None and len(
            segment(plate.crop, cfg.reader.segment, cfg.reader.localize.crop_char_height)) == len(truth)
        if clf is None:
            continue

        reader = reader_for(split)
        t0 = time.perf_counter()
        readings = reader.read_frame(image)
        times[split].append(time.perf_counter() - t0)
        match = max(readings, key=lambda r: r.box.iou(label), default=None)
        scene_text = match.text if match is not None and match.box.iou(label) >= 0.4 else ""
        st["scene_exact"] += scene_text == truth
        reading = reader.read_crop(crop)
        text = reading.text if reading else ""
        st["crop_exact"] += text == truth
        corrected = errata.get(row["image"], truth)
        st["scene_exact_errata"] += scene_text == corrected
        st["crop_exact_errata"] += text == corrected
        if len(text) == len(truth):
            for t, p in zip(truth, text):
                st["char_ok"] += t == p
                if t != p:
                    confusions[t, p] += 1
        if args.verbose and (text != truth or scene_text != truth):
            print(f"  {row['image']}: truth {truth} crop {text or '-'} scene {scene_text or '-'}")

    _report(stats, times, confusions, clf, errata)
    return 0


def _crop(image, box: Box, margin: float):
    h, w = image.shape[:2]
    mx, my = int(round(margin * box.w)), int(round(2 * margin * box.h))
    x0, y0 = max(0, box.x - mx), max(0, box.y - my)
    x1, y1 = min(w, box.x + box.w + mx), min(h, box.y + box.h + my)
    return image[y0:y1, x0:x1]


def _report(stats, times, confusions, clf, errata) -> None:
    pct = lambda a, b: f"{100.0 * a / b:5.1f}%" if b else "    -"
    total = collections.Counter()
    for st in stats.values():
        total.update(st)
    splits = sorted(stats) + (["all"] if len(stats) > 1 else [])
    head = f"{'split':6} {'images':>6} {'found':>7} {'n-ok scn':>8} {'n-ok crp':>8}"
    if clf is not None:
        head += f" {'scene':>7} {'crop':>7} {'char':>7} {'ms/img':>7}"
    print(f"model: {clf.model_id if clf else 'none'} ({clf.path if clf else '-'})")
    print(head)
    for name in splits:
        st = total if name == "all" else stats[name]
        n = st["images"]
        line = (f"{name:6} {n:6d} {pct(st['found'], n):>7} {pct(st['scene_count_ok'], n):>8} "
                f"{pct(st['crop_count_ok'], n):>8}")
        if clf is not None:
            t = [x for v in times.values() for x in v] if name == "all" else times[name]
            ms = f"{1000 * statistics.median(t):7.1f}" if t else "      -"
            line += (f" {pct(st['scene_exact'], n):>7} {pct(st['crop_exact'], n):>7} "
                     f"{pct(st['char_ok'], st['chars']):>7} {ms}")
        print(line)
    if clf is not None and errata:
        print(f"against the labels corrected by {len(errata)} errata (exact scene / crop): " + ", ".join(
            f"{name} {pct(st['scene_exact_errata'], st['images']).strip()} / "
            f"{pct(st['crop_exact_errata'], st['images']).strip()}"
            for name, st in ((n, total if n == "all" else stats[n]) for n in splits)))
    print("found: a plate box with IoU >= 0.4; n-ok: segmented character count equals the label "
          "length (scene / crop);\nscene, crop: exact text; char: per-character accuracy on crops "
          "(wrong-length readings count as all wrong); ms/img: median read_frame time")
    if confusions:
        print("most frequent confusions (truth -> read, count): " +
              ", ".join(f"{t}->{p} {n}" for (t, p), n in confusions.most_common(20)))


if __name__ == "__main__":
    sys.exit(main())
