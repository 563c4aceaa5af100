"""Compare architectures by accuracy per millisecond: train each briefly on the same synthetic
alnum data, export int8 and time one batched invoke with the device runtime.

  python -m convert.compare_archs [--samples 20000] [--epochs 4] [--batch 8]
  python -m convert.compare_archs --epochs 0     # latency and size only (untrained weights)
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from . import archs, export
from .charsynth import ALNUM, make_chars


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m convert.compare_archs", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--archs", nargs="+", default=list(archs.ARCHS))
    p.add_argument("--samples", type=int, default=20000)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--batch", type=int, default=8, help="patches per invoke when timing")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    import keras
    n = args.samples if args.epochs else 600
    x, y = make_chars(n, ALNUM, args.seed)
    xt, yt = make_chars(max(600, n // 10), ALNUM, args.seed + 1)
    xf, xtf = x[..., None] / 255.0, xt[..., None] / 255.0
    rows = []
    for name in args.archs:
        keras.utils.set_random_seed(args.seed)
        model = archs.build(name, (28, 28, 1), len(ALNUM))
        model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
        t = time.time()
        if args.epochs:
            model.fit(xf, y, batch_size=128, epochs=args.epochs, verbose=0)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "m.tflite"
            meta = export.make_metadata(ALNUM, (28, 28), name, name, "int8", "compare")
            path.write_bytes(export.add_metadata(export.convert(model, "int8", x[:300]), meta))
            acc = float((export.tflite_predict(path, xtf).argmax(1) == yt).mean())
            from plate_edge.classify import Classifier
            ms = export.latency(Classifier.load(path), xt, args.batch, 200)
            size = path.stat().st_size
        rows.append({"arch": name, "params": model.count_params(), "size_kb": round(size / 1024, 1),
                     f"ms_per_batch{args.batch}": ms, "int8_acc": round(acc, 4) if args.epochs else None,
                     "train_s": round(time.time() - t, 1)})
        print(json.dumps(rows[-1]), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
