"""Reading accuracy on every real set we have, and on rendered plates, for one or more readers
side by side (`--models alnum,plate`: the segmenting reader and the learned one, in one run).

  .venv/bin/python bench/accuracy.py [--models plate,alnum] [--sets dev,loose,us,us-scene,ar,as-frame,synth,synth-scene]
                                     [--limit N] [--config F] [--synth-per-region N] [--verbose]

Sets (each skipped with a message when its folder is absent):
- dev-scene / dev-crop: ../shared/data/plates-dev (EU and BR photos, one labelled plate each),
  read as full scenes (the reading whose box overlaps the label box, IoU >= 0.4) and as crops
  (the label box with a 5% margin); split eu / br. Also scored against the errata labels.
- dev-loose-2x, dev-loose-3x (`--sets loose`): the plates-dev plates cut loose, 2 and 3 times
  as wide as the label box (3 and 5 times as high), read with `read_crop`: a crop from a vehicle
  detector or of a car's rear, not cut to the plate.
- us: ../shared/data/plates-us-dev crops (measure only); split `us-ny` (New York's, taxis and
  police included: 1,796 of 2,011) and `us-other` (New Jersey, Pennsylvania and 18 more states),
  so that the many-state figure is not hidden by New York's. `us-errata`: the whole set against
  bench/plates-us-dev-errata.csv, the labels that their crops plainly contradict (found by looking
  at misread crops only: other wrong labels may remain).
- us-scene: the same crops pasted into real 1280x720 street scenes (plates-boxes: openimages test,
  the held-out romania video), 90-260 px wide, clear of the scenes' own labelled plates, and read
  as full frames: the reading whose centre
  lies in the pasted crop (the best overlap). Finding and cutting US plate designs (state names,
  emblems between groups, frames) in a frame, which no real US scene set here measures.
- ar: ../shared/data/plates-ar crops; `ar-held` is the part the learned reader never trained on
  (every fifth crop, convert.reader_data's split), `ar` all of them.
- ro-scene / ro-crop: the held-out romania video of plates-boxes (dashcam, 1280x720, 38 frames, 45
  plates of 12 vehicles; the detector and the reader never trained on it), texts in
  bench/romania-test-texts.csv (proposed by the reader, agreed over the frames, checked by eye),
  read as dev-scene and dev-crop read plates-dev.
- us-as-frame, ar-as-frame: the US and Argentine crops handed to `read()` as frames (not
  `read_crop`), as a user passing a crop would: the best reading of the frame.
- synth-<group>: plates rendered by convert.worldplates from a seed never used in training.
- synth-scene-<group> (`--sets synth-scene`): the same rendered crops pasted into the scenes as
  us-scene pastes the US crops, and read as frames: how much finding and cutting cost, on data
  the reader's settings may be chosen on (the real sets are for measuring only).
- synth-clean-<group> (`--sets synth-clean`): the same kind of plates without capture damage
  (`worldplates.sample(clean=True)`: 40 px characters, square on, no blur, noise, glare or dirt):
  what the designs themselves leave unread (O and 0 drawn alike, vanity words), apart from the
  camera.
- demo-digits: digits-only plates of the demo's generator (plate_edge.sim), for the digits
  default: `--sets demo --models digits,plate:digits,plate`.

For each set and reader: exact; exact when O and 0 count as one (the US and many other plates
draw them the same); and the misses split into wrong character count, substitutions (right
count, wrong characters) and no reading; median ms per image.
"""
from __future__ import annotations

import argparse
import collections
import csv
import functools
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from convert.devchars import DEFAULT_ERRATA, load_errata  # noqa: E402
from plate_edge import PlateReader, load_config  # noqa: E402
from plate_edge.formats import PlateFormat  # noqa: E402
from plate_edge.types import Box  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
SYNTH_SEED = 424242          # never a training or validation seed of convert.train_reader
AR_HELD_EVERY = 5            # convert.reader_data keeps every fifth plates-ar crop out of training
SCENE_IOU = 0.4
PASTE_SEED = 7           # placement of the pasted crops in the scenes (synth-scene: with its group)
PASTE_WIDTH = (90, 260)  # pasted crop width, px of the 1280x720 frame
PASTE_TRIES = 50         # placements tried for one clear of the scene's own plates
LOOSE_WIDTHS = (2, 3)    # `loose`: dev crops this many times as wide as the plate (and 3, 5 times as high)
US_ERRATA = ROOT / "bench" / "plates-us-dev-errata.csv"   # labels that the crops contradict
ROMANIA_TEXTS = ROOT / "bench" / "romania-test-texts.csv"   # the held-out romania video's plate texts
# sets scored in parts and printed whole as well
SPLITS = {"dev-scene": ("dev-scene-eu", "dev-scene-br"), "dev-crop": ("dev-crop-eu", "dev-crop-br"),
          "us": ("us-ny", "us-other")}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="plate,alnum",
                    help="comma-separated model names or .tflite paths; NAME:digits decodes 0-9 only")
    ap.add_argument("--sets", default="dev,loose,us,us-scene,ar,ro,as-frame,synth,synth-scene",
                    help="comma-separated: dev, loose, us, us-scene, ar, ro, as-frame, synth, synth-clean, "
                         "synth-scene, demo")
    ap.add_argument("--limit", type=int, default=0, help="at most N items per set")
    ap.add_argument("--config", help="configuration file for the reader section")
    ap.add_argument("--data", default=str(DATA), help="folder holding plates-dev, plates-us-dev, plates-ar")
    ap.add_argument("--synth-per-region", type=int, default=200, help="rendered plates per region group")
    ap.add_argument("--margin", type=float, default=0.05, help="dev crops: margin around the label box")
    ap.add_argument("--verbose", action="store_true", help="print every miss")
    args = ap.parse_args(argv)
    cv2.setNumThreads(1)
    rcfg = load_config(args.config).reader
    readers = {m: _reader(m, rcfg) for m in args.models.split(",")}
    data = Path(args.data)
    scores: dict[tuple[str, str], collections.Counter] = collections.defaultdict(collections.Counter)
    times: dict[tuple[str, str], list[float]] = collections.defaultdict(list)
    confusions: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)

    def score(set_name: str, model: str, truth: str, text: str, seconds: float, item: str) -> None:
        st = scores[set_name, model]
        st["n"] += 1
        st["exact"] += text == truth
        st["o0"] += text.replace("O", "0") == truth.replace("O", "0")
        if not text:
            st["none"] += 1
        elif len(text) != len(truth):
            st["count"] += 1
        elif text != truth:
            st["subst"] += 1
            if not set_name.endswith("-errata"):   # the same readings once more
                confusions[model].update((t, p) for t, p in zip(truth, text) if t != p)
        times[set_name, model].append(seconds)
        if args.verbose and text != truth:
            print(f"  {set_name} {model} {item}: truth {truth} read {text or '-'}")

    def crops(set_name: str | Callable[[str], str], items,
              errata: tuple[str, dict[str, str]] | None = None, as_frame: bool = False) -> None:
        """Read each crop (`as_frame`: as a frame, its best reading) and score it in set_name (or
        set_name(file)); with errata (set, file -> corrected text), score the same reading once
        more in that set against the corrections."""
        for name, image, truth in items:
            for m, reader in readers.items():
                t0 = time.perf_counter()
                r = next(iter(reader.read_frame(image)), None) if as_frame else reader.read_crop(image)
                seconds = time.perf_counter() - t0
                split = set_name(name) if callable(set_name) else set_name
                score(split, m, truth, r.text if r else "", seconds, name)
                if errata is not None:
                    errata_set, fixed = errata
                    score(errata_set, m, fixed.get(name, truth), r.text if r else "", seconds, name)

    sets = args.sets.split(",")
    if "dev" in sets or "loose" in sets:
        _dev(data / "plates-dev", readers, args, score, "dev" in sets, "loose" in sets)
    if "us" in sets:
        items = list(_labelled_crops(data / "plates-us-dev", args.limit))
        crops(lambda name: "us-ny" if name.startswith("newyork") else "us-other", items,
              ("us-errata", load_errata(US_ERRATA, {name: truth for name, _, truth in items})))
    if "us-scene" in sets:
        _pasted_scenes("us-scene", _labelled_crops(data / "plates-us-dev", args.limit), data, readers, score,
                       PASTE_SEED)
    if "ar" in sets:
        items = list(_labelled_crops(data / "plates-ar", 0))
        crops("ar-held", [it for i, it in enumerate(items) if i % AR_HELD_EVERY == 0][:args.limit or None])
        crops("ar", items[:args.limit or None])
    if "ro" in sets:
        _romania(data / "plates-boxes" / "romania", readers, args, score)
    if "as-frame" in sets:
        crops("us-as-frame", _labelled_crops(data / "plates-us-dev", args.limit), as_frame=True)
        crops("ar-as-frame", _labelled_crops(data / "plates-ar", args.limit), as_frame=True)
    if "demo" in sets:
        crops("demo-digits", _demo_digits(args.limit or 300))
    for kind in ("synth", "synth-clean", "synth-scene"):
        if kind in sets:
            for gi, (group, items) in enumerate(_synthetic(args.synth_per_region, kind == "synth-clean").items()):
                if kind == "synth-scene":
                    _pasted_scenes(f"{kind}-{group}", items, data, readers, score, [PASTE_SEED, gi + 1])
                else:
                    crops(f"{kind}-{group}", items)
    _report(scores, times, confusions, list(readers))
    return 0


def _reader(spec: str, rcfg) -> PlateReader:
    """A reader for a model spec: NAME or PATH, with `:digits` for decoding restricted to 0-9 (a
    digits-only plate format)."""
    name, _, restrict = spec.partition(":")
    if restrict == "digits":
        rcfg = rcfg.model_copy(update={"formats": [PlateFormat(name="digits", pattern="^[0-9]{2,10}$")],
                                       "reject_unmatched": True})
    return PlateReader.from_model(name, config=rcfg, threads=1)


def _demo_digits(n: int):
    """Digits-only plate crops from the demo's scene generator (plate_edge.sim): 4-8 digits, one
    or two rows, warped and damaged as in the generated camera."""
    try:
        from plate_edge.sim.synth import degrade, random_text, render_plate
    except ImportError as exc:
        print(f"accuracy: no scene generator ({exc}); demo set skipped")
        return
    rng = np.random.default_rng(SYNTH_SEED)
    for i in range(n):
        text = random_text(rng, "D" * int(rng.integers(4, 9)))
        plate = render_plate(text, rng, rows=2 if rng.random() < 0.15 else 1)
        image = degrade(plate.image, rng, 0.7)
        pad = int(0.1 * image.shape[0])
        image = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        yield f"demo-{i}", image if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR), text


def _labelled_crops(folder: Path, limit: int):
    """(file, image, text) of a crops/ + labels.csv set, or nothing (with a note) when absent."""
    labels = folder / "labels.csv"
    if not labels.is_file():
        print(f"accuracy: no {folder} (labels.csv missing); skipped")
        return
    rows = list(csv.DictReader(labels.open(encoding="utf-8")))
    for row in rows[:limit or None]:
        image = cv2.imread(str(folder / "crops" / row["file"]), cv2.IMREAD_COLOR)
        if image is None:
            print(f"accuracy: cannot read {row['file']}", file=sys.stderr)
            continue
        yield row["file"], image, row["plate"].upper()


def _dev(folder: Path, readers: dict, args, score, dev: bool = True, loose: bool = False) -> None:
    """plates-dev: full scenes and label-box crops, per split (eu, br), labels as given and errata
    (`dev`); crops LOOSE_WIDTHS times as wide as the label box (`loose`)."""
    labels = folder / "labels.csv"
    if not labels.is_file():
        print(f"accuracy: no {folder} (labels.csv missing); skipped")
        return
    rows = list(csv.DictReader(labels.open(encoding="utf-8")))[:args.limit or None]
    errata = load_errata(DEFAULT_ERRATA, {r["image"]: r["plate"] for r in rows})
    for row in rows:
        image = cv2.imread(str(folder / row["image"]), cv2.IMREAD_COLOR)
        if image is None:
            print(f"accuracy: cannot read {row['image']}", file=sys.stderr)
            continue
        split = row["image"].split("/")[0]
        truth = row["plate"].upper()
        fixed = errata.get(row["image"], truth)
        label = Box(int(row["x"]), int(row["y"]), int(row["w"]), int(row["h"]))
        crop = _crop(image, label, args.margin)
        loose_crops = [(wide, _crop(image, label, (wide - 1) / 2)) for wide in (LOOSE_WIDTHS if loose else ())]
        for m, reader in readers.items():
            for times_wide, loose_crop in loose_crops:
                t0 = time.perf_counter()
                r = reader.read_crop(loose_crop)
                score(f"dev-loose-{times_wide}x", m, truth, r.text if r else "", time.perf_counter() - t0,
                      row["image"])
            if not dev:
                continue
            (scene, t_scene), (text, t_crop) = _scene_and_crop(reader, image, label, crop)
            score(f"dev-scene-{split}", m, truth, scene, t_scene, row["image"])
            score(f"dev-crop-{split}", m, truth, text, t_crop, row["image"])
            score("dev-scene-errata", m, fixed, scene, t_scene, row["image"])
            score("dev-crop-errata", m, fixed, text, t_crop, row["image"])


def _scene_and_crop(reader: PlateReader, image: np.ndarray, label: Box,
                    crop: np.ndarray) -> tuple[tuple[str, float], tuple[str, float]]:
    """(text, seconds) of the labelled plate read in its whole frame (the reading overlapping the
    label box most, IoU >= SCENE_IOU) and read from its crop."""
    t0 = time.perf_counter()
    found = [r for r in reader.read_frame(image) if r.box.iou(label) >= SCENE_IOU]
    scene = max(found, key=lambda r: r.box.iou(label)).text if found else ""
    t1 = time.perf_counter()
    r = reader.read_crop(crop)
    return (scene, t1 - t0), (r.text if r else "", time.perf_counter() - t1)


def _romania(folder: Path, readers: dict, args, score) -> None:
    """The held-out romania video (ROMANIA_TEXTS): each labelled plate read in its frame and from
    its crop."""
    if not folder.is_dir():
        print(f"accuracy: no {folder}; skipped")
        return
    rows = list(csv.DictReader(ROMANIA_TEXTS.open(encoding="utf-8")))[:args.limit or None]
    for row in rows:
        image = cv2.imread(str(folder / row["file"]), cv2.IMREAD_COLOR)
        if image is None:
            print(f"accuracy: cannot read {row['file']}", file=sys.stderr)
            continue
        label = Box(*(int(round(float(row[k]))) for k in "xywh"))
        for m, reader in readers.items():
            (scene, t_scene), (text, t_crop) = _scene_and_crop(reader, image, label,
                                                               _crop(image, label, args.margin))
            score("ro-scene", m, row["plate"], scene, t_scene, row["file"])
            score("ro-crop", m, row["plate"], text, t_crop, row["file"])


@functools.cache
def street_scenes(data: Path) -> list[tuple[np.ndarray, list[Box]]]:
    """The held-out street scenes (openimages test, the romania test video) at 1280x720, each with
    its own labelled plates grown 1.5 times: read from disk once for every pasted set."""
    own = _scene_plates(data / "plates-boxes")
    out = []
    for path in sorted((data / "plates-boxes" / "openimages" / "test").glob("*.jpg")) + \
            sorted((data / "plates-boxes" / "romania" / "dayride_type1_002").glob("*.jpg")):
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        fx, fy = 1280 / image.shape[1], 720 / image.shape[0]
        keep_off = [_grown(Box(int(b.x * fx), int(b.y * fy), int(b.w * fx), int(b.h * fy)), 1.5)
                    for b in own.get(path.name, [])]
        out.append((cv2.resize(image, (1280, 720)), keep_off))
    return out


def _pasted_scenes(set_name: str, items, data: Path, readers: dict, score, seed) -> None:
    """Crops pasted into real scenes (see the module docstring: us-scene, synth-scene), read as frames."""
    scenes = street_scenes(data)
    if not scenes:
        print(f"accuracy: no plates-boxes scenes; {set_name} skipped")
        return
    rng = np.random.default_rng(seed)
    for i, (name, crop, truth) in enumerate(items):
        frame, pasted = paste(crop, scenes[i % len(scenes)], int(rng.integers(*PASTE_WIDTH)), rng)
        for m, reader in readers.items():
            t0 = time.perf_counter()
            inside = [r for r in reader.read_frame(frame)
                      if pasted.contains(*r.box.centre)]
            text = max(inside, key=lambda r: r.box.iou(pasted)).text if inside else ""
            score(set_name, m, truth, text, time.perf_counter() - t0, name)


def paste(crop: np.ndarray, scene: tuple[np.ndarray, list[Box]], width: int,
          rng: np.random.Generator) -> tuple[np.ndarray, Box]:
    """A copy of a 1280x720 street scene (street_scenes) with the crop resized to `width` px
    pasted in its lower part, clear of the scene's own plates as a real plate is, and where."""
    background, keep_off = scene
    h = max(8, int(round(crop.shape[0] * width / crop.shape[1])))
    for _ in range(PASTE_TRIES):
        x, y = int(rng.integers(0, 1280 - width)), int(rng.integers(250, 720 - h))
        pasted = Box(x, y, width, h)
        if not any(pasted.iou(p) > 0 for p in keep_off):
            break
    frame = background.copy()
    frame[y:y + h, x:x + width] = cv2.resize(crop, (width, h), interpolation=cv2.INTER_AREA)
    return frame, pasted


def _scene_plates(folder: Path) -> dict[str, list[Box]]:
    """The labelled plate boxes of plates-boxes' scenes (openimages, romania), by file name."""
    out: dict[str, list[Box]] = collections.defaultdict(list)
    for part in ("openimages", "romania"):
        labels = folder / part / "boxes.csv"
        if labels.is_file():
            for row in csv.DictReader(labels.open(encoding="utf-8")):
                if row["class"] == "plate":
                    box = [int(round(float(row[k]))) for k in ("x", "y", "w", "h")]
                    out[Path(row["file"]).name].append(Box(*box))
    return out


def _grown(box: Box, f: float) -> Box:
    """The box grown f times about its centre."""
    return Box(int(box.x - box.w * (f - 1) / 2), int(box.y - box.h * (f - 1) / 2), int(box.w * f), int(box.h * f))


def _synthetic(per_group: int, clean: bool = False) -> dict[str, list]:
    """Rendered crops per region group, from a seed never used in training (`clean`: without
    capture damage)."""
    try:
        from convert import worldplates
    except ImportError as exc:   # Pillow (the sim extra) missing
        print(f"accuracy: no renderer ({exc}); synthetic sets skipped")
        return {}
    groups = sorted({worldplates.region_group(r) for r in worldplates.REGIONS})
    regions = {g: [r for r in worldplates.REGIONS if worldplates.region_group(r) == g] for g in groups}
    out: dict[str, list] = {}
    for gi, g in enumerate(groups):
        rng = np.random.default_rng([SYNTH_SEED, gi])
        items = []
        for i in range(per_group):
            region = regions[g][int(rng.integers(len(regions[g])))]
            s = worldplates.sample(rng, region, clean=clean)
            items.append((f"{region}-{i}", s.image, s.text))
        out[g] = items
    return out


def _crop(image, box: Box, margin: float):
    h, w = image.shape[:2]
    mx, my = int(round(margin * box.w)), int(round(2 * margin * box.h))
    x0, y0 = max(0, box.x - mx), max(0, box.y - my)
    x1, y1 = min(w, box.x + box.w + mx), min(h, box.y + box.h + my)
    return image[y0:y1, x0:x1]


def _report(scores, times, confusions, models: list[str]) -> None:
    def pct(a: int, b: int) -> str:
        return f"{100.0 * a / b:5.1f}" if b else "    -"

    # the splits summed into their sets
    for whole, splits in SPLITS.items():
        for m in models:
            total = collections.Counter()
            for split in splits:
                total.update(scores.get((split, m), collections.Counter()))
                times[whole, m] += times.get((split, m), [])
            if total:
                scores[whole, m] = total
    names = sorted({s for s, _ in scores}, key=lambda s: (not s.startswith("dev"), s))
    print("exact, O=0: % of the set; count / subst / none: % of the set read with a wrong character "
          "count, with the right count but wrong characters, not at all; ms: median per image")
    head = f"{'set':18} {'n':>5}" + "".join(
        f" | {m[:14]:>14} exact   O=0 count subst  none    ms" for m in models)
    print(head)
    for name in names:
        n = scores[name, models[0]]["n"]
        line = f"{name:18} {n:5d}"
        for m in models:
            st, t = scores[name, m], times[name, m]
            ms = f"{1000 * statistics.median(t):5.1f}" if t else "    -"
            line += (f" | {'':>14} {pct(st['exact'], n)} {pct(st['o0'], n)} {pct(st['count'], n)} "
                     f"{pct(st['subst'], n)} {pct(st['none'], n)} {ms}")
        print(line)
    for m in models:
        if confusions[m]:
            print(f"{m}: most frequent substitutions (truth->read count): " +
                  ", ".join(f"{t}->{p} {k}" for (t, p), k in confusions[m].most_common(15)))


if __name__ == "__main__":
    sys.exit(main())
