"""Real characters cut from labelled plates (../shared/data/plates-dev), for measuring only.

Each labelled plate box is cut from its photo and run through the reader's segmenter
(plate_edge.segment); plates whose segment count equals the text length give (patch, char) pairs.
Never train on these: the project is judged on a different set of real plates.

  python -m convert.devchars src/plate_edge/models/alnum.tflite [--root ../shared/data/plates-dev] [--dump DIR]
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import cv2
import numpy as np

from plate_edge import charimg

DEFAULT_ROOT = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "plates-dev"
# labels of the dev set that the photo and the country's plate format show to be wrong
DEFAULT_ERRATA = Path(__file__).resolve().parent.parent / "bench" / "plates-dev-errata.csv"


def load_errata(path: Path, labels: dict[str, str]) -> dict[str, str]:
    """image -> corrected text, for the errata (CSV image,label,corrected,reason) whose label is
    the one `labels` (image -> text) gives, so they never apply to another data set."""
    if not Path(path).is_file():
        return {}
    rows = csv.DictReader(Path(path).open(encoding="utf-8"))
    return {e["image"]: e["corrected"].upper() for e in rows
            if labels.get(e["image"], "").upper() == e["label"].upper()}


def segment_plate(gray: np.ndarray, n_chars: int) -> list | None:
    """The segmenter's characters (CharCrop) of a plate crop when it finds exactly n_chars
    (either polarity)."""
    from plate_edge.segment import SegmentConfig, segment
    for crop in (gray, 255 - gray):
        chars = segment(crop, SegmentConfig())
        if len(chars) == n_chars:
            return chars
    return None


def real_chars(root: Path = DEFAULT_ROOT, margin: float = 0.08, groups: list | None = None,
               sources: list | None = None) -> tuple[list[np.ndarray], list[str], dict]:
    """(patches, chars, stats) from every labelled plate the segmenter splits into len(text) parts;
    `groups`, when given, receives each plate's letter/digit groups as indices into patches, and
    `sources` each patch's (image name, position in its plate)."""
    from plate_edge.segment import char_groups
    labels_csv = Path(root) / "labels.csv"
    if not labels_csv.is_file():
        raise FileNotFoundError(f"{labels_csv}: not found")
    patches, chars, used, total = [], [], 0, 0
    for row in csv.DictReader(labels_csv.open()):
        img = cv2.imread(str(Path(root) / row["image"]), cv2.IMREAD_GRAYSCALE)
        if img is None:
            continue
        total += 1
        x, y, w, h = (int(row[k]) for k in "xywh")
        mx, my = int(w * margin / 4), int(h * margin)
        crop = img[max(0, y - my):y + h + my, max(0, x - mx):x + w + mx]
        text = row["plate"].strip().upper()
        got = segment_plate(crop, len(text))
        if got is None:
            continue
        used += 1
        if groups is not None:
            groups += [[len(patches) + i for i in g] for g in char_groups(got)]
        patches += [c.patch for c in got]
        if sources is not None:
            sources += [(row["image"], k) for k in range(len(got))]
        chars += list(text)
    return patches, chars, {"plates": total, "plates_used": used, "chars": len(chars)}


def evaluate(model_path: str, root: Path = DEFAULT_ROOT, dump: Path | None = None,
             errata_path: Path = DEFAULT_ERRATA) -> dict:
    """Per-character accuracy of a .tflite on the real dev characters its labels cover: each
    character alone, and read in its plate's context by the reader's letter/digit group rule;
    both also against the labels as corrected by the errata file, when it lists any."""
    from plate_edge.classify import Classifier
    from plate_edge.formats import settle_group_types
    clf = Classifier.load(model_path)
    groups: list[list[int]] = []
    sources: list[tuple[str, int]] = []
    patches, chars, stats = real_chars(root, groups=groups, sources=sources)
    probs = clf.predict(patches)
    pred = [clf.labels[k] for k in probs.argmax(1)]
    in_context = settle_group_types(probs, clf.labels, groups).text   # groups never span plates
    keep = [i for i, c in enumerate(chars) if c in clf.labels]
    truth = [chars[i] for i in keep]
    errors = [(chars[i], pred[i]) for i in keep if chars[i] != pred[i]]
    if dump:
        _dump(dump, [patches[i] for i in keep], truth, [pred[i] for i in keep], clf.input_size)
    acc = lambda read, label: round(1 - sum(label[i] != read[i] for i in keep) / max(1, len(keep)), 5)
    out = {**stats, "model": str(model_path), "evaluated": len(keep),
           "acc_per_char": acc(pred, chars), "acc_per_char_in_context": acc(in_context, chars)}
    labels = {}
    for (image, _k), c in zip(sources, chars):
        labels[image] = labels.get(image, "") + c
    errata = load_errata(errata_path, labels)
    if errata:
        fixed = [errata[image][k] if image in errata else c for (image, k), c in zip(sources, chars)]
        out.update({"errata": len(errata), "acc_per_char_errata": acc(pred, fixed),
                    "acc_per_char_in_context_errata": acc(in_context, fixed)})
    out["errors"] = sorted({f"{t}->{p}": errors.count((t, p)) for t, p in errors}.items(),
                           key=lambda kv: -kv[1])
    return out


def _dump(folder: Path, patches, truth, pred, size) -> None:
    """A contact sheet of the framed patches, errors marked red, for eyeballing."""
    folder.mkdir(parents=True, exist_ok=True)
    tiles = []
    for p, t, q in zip(patches, truth, pred):
        tile = cv2.cvtColor(cv2.resize(charimg.fit_patch(p, size), (56, 56)), cv2.COLOR_GRAY2BGR)
        cv2.putText(tile, q, (2, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 255, 0) if t == q else (0, 0, 255), 1)
        tiles.append(tile)
    tiles += [np.zeros_like(tiles[0])] * (-len(tiles) % 20)
    rows = [np.hstack(tiles[i:i + 20]) for i in range(0, len(tiles), 20)]
    cv2.imwrite(str(folder / "devchars.png"), np.vstack(rows))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m convert.devchars", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="+")
    p.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    p.add_argument("--dump", type=Path)
    p.add_argument("--errata", type=Path, default=DEFAULT_ERRATA,
                   help="CSV image,label,corrected,reason of wrong dev labels (default %(default)s)")
    args = p.parse_args(argv)
    for m in args.models:
        print(json.dumps(evaluate(m, args.root, args.dump, args.errata), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
