"""What the layout prior (plate_edge.layouts) does on generated plates: exact reads with and without it,
for plates that follow a listed layout, digits-only plates and plates that follow no layout.

  .venv/bin/python bench/layouts.py [--model alnum] [--per-kind 200] [--seed 0]

Texts are drawn with look-alikes (0 O 1 I 2 Z 5 S 6 G 8 B) three times as often as other
characters, rendered in random styles, degraded like a camera and read as crops. The same
images are read by both readers, so the difference is the prior's alone. This is a check on
generated data, independent of any labelled photo set.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from plate_edge.classify import Classifier, resolve_model_path  # noqa: E402
from plate_edge.formats import expansions, parse_pattern  # noqa: E402
from plate_edge.layouts import LAYOUTS, layout_regex  # noqa: E402
from plate_edge.reader import Reader, ReaderConfig  # noqa: E402
from plate_edge.sim.synth import degrade, render_plate  # noqa: E402

LOOK_ALIKES = "0O1I2Z5S6G8B"
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
DIGITS = "0123456789"


def draw(rng: np.random.Generator, allowed: str) -> str:
    weights = np.array([3.0 if c in LOOK_ALIKES else 1.0 for c in allowed])
    return allowed[rng.choice(len(allowed), p=weights / weights.sum())]


# every listed layout but digits-only, as its spellings of 5-8 characters, and its vehicles
LISTED = [([e for n in range(5, 9) for e in expansions(parse_pattern(layout_regex(layout)), n)], weight)
          for name, rows in LAYOUTS.items() if name != "digits" for layout, weight in rows]
LISTED_P = np.array([w for _, w in LISTED]) / sum(w for _, w in LISTED)


def listed_text(rng: np.random.Generator) -> str:
    """A text in a listed layout, the region drawn by its vehicles."""
    options = LISTED[rng.choice(len(LISTED), p=LISTED_P)][0]
    sets = options[rng.integers(len(options))]
    return "".join(draw(rng, "".join(sorted(s))) for s in sets)


def digits_text(rng: np.random.Generator) -> str:
    return "".join(draw(rng, DIGITS) for _ in range(int(rng.integers(5, 8))))


def unlisted_text(rng: np.random.Generator) -> str:
    """Letters and digits in no particular order (vanity, foreign, special plates)."""
    return "".join(draw(rng, LETTERS + DIGITS) for _ in range(int(rng.integers(5, 8))))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="alnum")
    ap.add_argument("--per-kind", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--verbose", action="store_true", help="print every reading the prior changed")
    args = ap.parse_args(argv)
    cv2.setNumThreads(1)
    clf = Classifier.load(resolve_model_path(args.model), threads=1)
    readers = {"without": Reader(ReaderConfig(layouts=[]), clf), "with": Reader(ReaderConfig(), clf)}
    rng = np.random.default_rng(args.seed)
    print(f"model {clf.model_id}; {args.per_kind} plates per kind; exact reads of crops")
    print(f"{'kind':10} {'without':>8} {'with':>8}  changed: fixed / broken")
    for kind, make in (("listed", listed_text), ("digits", digits_text), ("unlisted", unlisted_text)):
        exact = {name: 0 for name in readers}
        fixed = broken = 0
        for _ in range(args.per_kind):
            text = make(rng)
            image = degrade(render_plate(text, rng).image, rng, strength=0.8)
            got = {}
            for name, reader in readers.items():
                reading = reader.read_crop(image)
                got[name] = reading.text if reading else ""
                exact[name] += got[name] == text
            fixed += got["with"] == text != got["without"]
            broken += got["without"] == text != got["with"]
            if args.verbose and got["with"] != got["without"]:
                print(f"  {kind}: {text} without {got['without'] or '-'} with {got['with'] or '-'}")
        n = args.per_kind
        print(f"{kind:10} {100 * exact['without'] / n:7.1f}% {100 * exact['with'] / n:7.1f}%  {fixed} / {broken}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
