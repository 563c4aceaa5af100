"""Train a character classifier (Keras 3), keras.io style: load data, build, fit, evaluate, report.

  python -m convert.train --labels digits --data mnist=../shared/data/mnist --data synth:40000 \
      --arch plate-cnn --out runs/digits --seed 1

Writes to --out: model.keras (best epoch), calib.npz (samples for int8 calibration),
heldout.npz (validation split), report.json, curves.png, confusion.png, history.csv.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from . import datasets, plots
from .charsynth import ALNUM, DIGITS

LABEL_SETS = {"digits": DIGITS, "alnum": ALNUM}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m convert.train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", action="append", required=True,
                   help="data spec, repeatable: mnist[=DIR], synth:N, folder=DIR, each with optional @WEIGHT")
    p.add_argument("--labels", choices=sorted(LABEL_SETS), default="digits")
    p.add_argument("--arch", default="plate-cnn")
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--patience", type=int, default=5)
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--size", type=int, nargs=2, default=(28, 28), metavar=("H", "W"))
    p.add_argument("--lr-schedule", choices=("plateau", "cosine"), default="plateau",
                   help="plateau: cut the rate when validation stalls; cosine: decay to 1%% over --epochs")
    p.add_argument("--label-smoothing", type=float, default=0.0,
                   help="e.g. 0.1: softer targets for look-alikes (0/O, 1/I) that some fonts draw alike")
    p.add_argument("--no-augment", action="store_true", help="no random affine augmentation")
    p.add_argument("--eval", action="append", default=[],
                   help="extra test set NAME=SPEC, e.g. mnist-test=mnist-test:DIR (never trained on)")
    return p.parse_args(argv)


def load_data(args, labels):
    """Each spec split into train/held-out; train parts mixed with their weights."""
    rng = np.random.default_rng(args.seed)
    train_parts, held = [], []
    for k, spec in enumerate(args.data):
        ds, weight = datasets.load_spec(spec, labels, args.seed * 1000 + k, tuple(args.size))
        tr, va = datasets.split(ds, args.val_fraction, rng)
        train_parts.append((tr, weight))
        held.append((spec, va))
        print(f"data {spec}: {len(tr)} train, {len(va)} held out ({ds.description})", flush=True)
    val = datasets.Dataset(np.concatenate([v.x for _, v in held]), np.concatenate([v.y for _, v in held]),
                           labels, "held-out split")
    return datasets.mix(train_parts, rng), val, held


def load_eval(spec: str, labels, size) -> datasets.Dataset:
    name, _, rest = spec.partition("=")
    kind, _, arg = rest.partition(":")
    if kind == "mnist-test":
        return datasets.load_mnist(arg or None, "test")
    ds, _ = datasets.load_spec(rest, labels, 999_983, size)
    return ds


def make_pipeline(ds: datasets.Dataset, batch: int, seed: int, augment: bool, shuffle: bool):
    import keras
    import tensorflow as tf
    x = ds.x[..., None].astype(np.float32) / 255.0
    y = np.eye(len(ds.labels), dtype=np.float32)[ds.y]  # one-hot, so label smoothing applies
    pipe = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle:
        pipe = pipe.shuffle(len(ds.y), seed=seed, reshuffle_each_iteration=True)
    pipe = pipe.batch(batch)
    if augment:
        aug = keras.Sequential([keras.layers.RandomRotation(0.03, fill_value=0.0, seed=seed),
                                keras.layers.RandomZoom((-0.1, 0.1), fill_value=0.0, seed=seed + 1),
                                keras.layers.RandomTranslation(0.08, 0.08, fill_value=0.0, seed=seed + 2)])
        pipe = pipe.map(lambda a, b: (aug(a, training=True), b), num_parallel_calls=1)
    return pipe.prefetch(2)


def predict(model, x: np.ndarray) -> np.ndarray:
    return model.predict(x[..., None].astype(np.float32) / 255.0, batch_size=512, verbose=0)


def main(argv=None) -> int:
    args = parse_args(argv)
    import keras

    from . import archs
    keras.utils.set_random_seed(args.seed)
    labels = LABEL_SETS[args.labels]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    try:
        train, val, held = load_data(args, labels)
        evals = {s.partition("=")[0]: load_eval(s, labels, tuple(args.size)) for s in args.eval}
    except datasets.DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"training on {len(train)} samples: {train.description} ({time.time() - t0:.0f}s to load)", flush=True)

    model = archs.build(args.arch, (*args.size, 1), len(labels))
    lr = 1e-3
    if args.lr_schedule == "cosine":
        steps = args.epochs * -(-len(train) // args.batch_size)
        lr = keras.optimizers.schedules.CosineDecay(1e-3, steps, alpha=0.01)
    model.compile(optimizer=keras.optimizers.Adam(lr),
                  loss=keras.losses.CategoricalCrossentropy(label_smoothing=args.label_smoothing),
                  metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")])
    callbacks = [
        keras.callbacks.EarlyStopping(patience=args.patience, restore_best_weights=True),
        keras.callbacks.ModelCheckpoint(str(out / "model.keras"), save_best_only=True),
        keras.callbacks.CSVLogger(str(out / "history.csv")),
    ]
    if args.lr_schedule == "plateau":
        callbacks.append(keras.callbacks.ReduceLROnPlateau(factor=0.3, patience=2, min_lr=1e-5))
    hist = model.fit(make_pipeline(train, args.batch_size, args.seed, not args.no_augment, True),
                     validation_data=make_pipeline(val, 512, args.seed, False, False),
                     epochs=args.epochs, callbacks=callbacks, verbose=2)
    model = keras.models.load_model(out / "model.keras")

    report = evaluate(model, labels, held, evals, out)
    report.update(arch=args.arch, params=model.count_params(), labels=labels, input_size=list(args.size),
                  seed=args.seed, data=args.data, label_smoothing=args.label_smoothing,
                  lr_schedule=args.lr_schedule, training_data=train.description, train_samples=len(train),
                  epochs_run=len(hist.history["loss"]), seconds=round(time.time() - t0, 1),
                  history={k: [round(float(v), 5) for v in vs] for k, vs in hist.history.items()})
    rng = np.random.default_rng(args.seed)
    np.savez_compressed(out / "calib.npz", x=train.x[rng.permutation(len(train))[:1000]],
                        description=train.description)
    np.savez_compressed(out / "heldout.npz", x=val.x, y=val.y)
    (out / "report.json").write_text(json.dumps(report, indent=2))
    plots.plot_curves(hist.history, out / "curves.png")
    print(json.dumps({k: v for k, v in report.items() if k.startswith("acc")}, indent=2))
    print(f"done in {time.time() - t0:.0f}s -> {out}")
    return 0


def evaluate(model, labels, held, evals, out: Path) -> dict:
    """Accuracy on each held-out part and extra test set; confusion matrix of the whole held-out split."""
    report = {}
    all_true, all_pred = [], []
    for spec, ds in held:
        pred = predict(model, ds.x).argmax(1)
        report[f"acc_heldout[{spec}]"] = round(float((pred == ds.y).mean()), 5)
        all_true.append(ds.y)
        all_pred.append(pred)
    for name, ds in evals.items():
        pred = predict(model, ds.x).argmax(1)
        report[f"acc_{name}"] = round(float((pred == ds.y).mean()), 5)
    y, p = np.concatenate(all_true), np.concatenate(all_pred)
    report["acc_heldout"] = round(float((y == p).mean()), 5)
    cm = plots.confusion_matrix(y, p, len(labels))
    report["confusion"] = cm.tolist()
    plots.plot_confusion(cm, labels, out / "confusion.png")
    return report


if __name__ == "__main__":
    sys.exit(main())
