"""Train the learned plate reader (CTC over two rows), export it int8 and measure it.

  python -m convert.train_reader [--samples N] [--epochs E] [--quick] [--seed 1] [--out runs/reader] [--ship]

The shipped model (src/plate_edge/models/plate.tflite) is `make reader-model`: this command with
the defaults (--out runs/reader), then seven more stages, each from the last one's weights on
freshly rendered plates (`--init ... --seed 2..8 --epochs 2|3|3|2|3|3|3 --lr 5e-4`), then
`--epochs 0 --average` (a uniform soup of the last four stages' weights), then four short stages
from that soup (`--seed 12|15|18|19 --epochs 2 --lr 1.5e-4`) averaged the same way and exported,
then three short stages from that export's int8 weights (`--init .../model.tflite --seed 20|21|22`:
convert.dequantize), averaged the same way (session 18's model), then two longer stages from that
(`--seed 30|31 --epochs 3 --lr 3e-4 --boxes-repeat 3`) averaged with it, and that average's int8
weights averaged with session 18's (both dequantized), with --ship (session 26; the Makefile).

Data: N plates rendered once (convert.worldplates, else a stand-in on plate_edge.sim.synth; cached
in runs/reader_cache/), plus the plates-ar training part (labels.csv index % 5 != 0, repeated
--ar-repeat times); validation: plates rendered from seed 900000 + --seed, never used in training.
plates-ar index % 5 == 0 and plates-us-dev are measured, never trained on.

Writes to --out: model.keras (best epoch by synthetic validation exact text), model.tflite (int8,
full-integer, logits out, `plate_edge` metadata with `"decoder": "ctc"`), report.json, history.csv,
curves.png (CTC loss, exact-text accuracy), confusion.png (characters on the synthetic validation
set, aligned by edit distance; `_` = missing/extra), misreads.png (the most confident real misreads).
The real crops are measured as the device reads them (greedy, one cut, smoothed by
reader.learned.input_blur), and once more unsmoothed (`exact_int8_unsmoothed`).
`--quick` runs the whole pipeline on tiny data in about two minutes (for tests).
Any Keras backend trains it (KERAS_BACKEND=jax on a GPU machine without TensorFlow:
scripts/gpu-train.sh); with one other than TensorFlow, model.keras and float figures are written
and report.json names the command that exports the model where TensorFlow is.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from plate_edge.reader import LearnedConfig
from plate_edge.recognise import PlateRecogniser, ctc_greedy, smooth, softmax

from . import plots, reader_data
from . import reader_model as rm

VAL_SEED_OFFSET = 900_000
SHIPPED = Path(__file__).resolve().parent.parent / "src" / "plate_edge" / "models"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m convert.train_reader", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--samples", type=int, default=80_000, help="rendered training plates")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--quick", action="store_true", help="tiny data, one epoch: checks the pipeline")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", default="runs/reader")
    p.add_argument("--init", help="start from the weights of this model.keras, or of this int8 model.tflite "
                                  "dequantized (convert.dequantize; same --arch)")
    p.add_argument("--average", default="",
                   help="comma-separated model.keras files (same --arch, same lineage): after training, "
                        "the weights are averaged with theirs, uniformly (a model soup); with --epochs 0 "
                        "nothing is trained and --init's weights are averaged")
    p.add_argument("--ship", action="store_true",
                   help="install the result as the shipped model src/plate_edge/models/plate.tflite")
    p.add_argument("--arch", choices=sorted(rm.ARCHS), default=rm.DEFAULT_ARCH)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3, help="peak Adam rate (cosine decay to 1%%)")
    p.add_argument("--val-samples", type=int, default=3000)
    p.add_argument("--ar-repeat", type=int, default=10, help="times the plates-ar training part is repeated")
    p.add_argument("--boxes-repeat", type=int, default=0,
                   help="times the labelled plates-boxes crops (reader_data.plates_boxes) are repeated")
    p.add_argument("--us-limit", type=int, default=None, help="measure only the first N plates-us-dev crops")
    p.add_argument("--workers", type=int, default=2, help="rendering processes")
    p.add_argument("--threads", type=int, default=0, help="TensorFlow threads (0: all cores)")
    p.add_argument("--no-augment", action="store_true", help="no random shift/zoom jitter")
    p.add_argument("--max-minutes", type=float, default=0,
                   help="stop training after this many minutes (the best epoch so far is kept; 0: never), "
                        "e.g. within a GPU machine's command limit")
    p.add_argument("--cache", default=str(reader_data.CACHE), help="render cache folder ('' for none)")
    args = p.parse_args(argv)
    if args.epochs < 0 or (args.epochs == 0 and not args.init):
        p.error("--epochs 0 (no training) needs --init: the model to export, or to average with --average")
    if args.quick:
        args.samples, args.val_samples = min(args.samples, 1200), min(args.val_samples, 200)
        args.epochs = min(args.epochs, 1)
        args.ar_repeat = min(args.ar_repeat, 2)
        args.boxes_repeat = min(args.boxes_repeat, 1)
        args.us_limit = args.us_limit or 60
    return args


# --------------------------------------------------------------------------- decoding helpers

def decode(probs: np.ndarray) -> list:
    """Greedy CTC readings for a batch of per-frame probabilities (N, 80, K)."""
    return [ctc_greedy(p, rm.LABELS, rm.BLANK, rm.ROWS) for p in probs]


def keras_probs(model, x: np.ndarray) -> np.ndarray:
    return softmax(model.predict(x[..., None].astype(np.float32) / 255.0, batch_size=256, verbose=0))


def exact(readings, texts) -> float:
    return float(np.mean([r.text == t for r, t in zip(readings, texts)])) if len(texts) else float("nan")


def align(true: str, pred: str) -> list[tuple[str, str]]:
    """Edit-distance alignment: (true, pred) pairs, '_' for a missing or extra character."""
    n, m = len(true), len(pred)
    d = np.zeros((n + 1, m + 1), np.int32)
    d[:, 0], d[0, :] = np.arange(n + 1), np.arange(m + 1)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            d[i, j] = min(d[i - 1, j] + 1, d[i, j - 1] + 1, d[i - 1, j - 1] + (true[i - 1] != pred[j - 1]))
    pairs, i, j = [], n, m
    while i or j:
        if i and j and d[i, j] == d[i - 1, j - 1] + (true[i - 1] != pred[j - 1]):
            pairs.append((true[i - 1], pred[j - 1]))
            i, j = i - 1, j - 1
        elif i and d[i, j] == d[i - 1, j] + 1:
            pairs.append((true[i - 1], "_"))
            i -= 1
        else:
            pairs.append(("_", pred[j - 1]))
            j -= 1
    return pairs[::-1]


def char_confusion(texts, readings) -> tuple[np.ndarray, list[str]]:
    labels = list(rm.LABELS) + ["_"]
    index = {c: k for k, c in enumerate(labels)}
    cm = np.zeros((len(labels), len(labels)), np.int64)
    for t, r in zip(texts, readings):
        for a, b in align(t, r.text):
            cm[index[a], index[b]] += 1
    return cm, labels


def error_kinds(texts, readings) -> dict:
    wrong = [(t, r.text) for t, r in zip(texts, readings) if t != r.text]
    return {"wrong_count": sum(len(t) != len(p) and p != "" for t, p in wrong),
            "substitution": sum(len(t) == len(p) for t, p in wrong),
            "no_reading": sum(p == "" for _, p in wrong)}


# --------------------------------------------------------------------------- training

def make_pipeline(x: np.ndarray, y: np.ndarray, batch: int, seed: int, shuffle: bool):
    """Batches of (x with a channel axis, uint8 as rendered, y), reshuffled each epoch when
    `shuffle`: a Keras PyDataset, so that every Keras backend reads it (training_model scales)."""
    import keras

    class Batches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.rng = np.random.default_rng(seed)
            self.order = self.rng.permutation(len(x)) if shuffle else np.arange(len(x))

        def __len__(self):
            return -(-len(x) // batch)

        def __getitem__(self, i):
            idx = np.sort(self.order[i * batch:(i + 1) * batch])
            return x[idx][..., None], y[idx]

        def on_epoch_end(self):
            if shuffle:
                self.order = self.rng.permutation(len(x))

    return Batches()


def training_model(model, seed: int, augment: bool):
    """`model` as it is trained: on uint8 batches (make_pipeline) scaled to 0..1 on the backend's
    device, with `augment` behind crop-margin jitter (a few percent shift, small zoom; the
    renderer varies the rest) that acts in training only; `model`'s own weights are trained."""
    import keras
    inp = keras.Input(model.input_shape[1:], dtype="uint8")
    x = keras.layers.Rescaling(1.0 / 255.0)(inp)
    if augment:
        x = keras.layers.RandomTranslation(0.05, 0.03, fill_mode="nearest", seed=seed)(x)
        x = keras.layers.RandomZoom((-0.08, 0.08), (-0.06, 0.06), fill_mode="nearest", seed=seed + 1)(x)
    return keras.Model(inp, model(x), name=model.name + "-training")


def make_callbacks(model, val, train_probe, epochs: int, steps: int, batch_size: int, t_start: float,
                   save_to: Path | None = None, max_minutes: float = 0):
    import keras

    class Progress(keras.callbacks.Callback):
        """Exact-text accuracy on a train probe and on the validation set after each epoch (kept in
        the history as accuracy / val_accuracy), the best epoch's weights (saved to `save_to` too, so a
        run cut short keeps them), an overall ETA, and a stop after `max_minutes` of training."""

        def __init__(self):
            super().__init__()
            self.best, self.best_weights, self.best_epoch = -1.0, None, -1
            self.t_epoch0 = self.t_train0 = None
            self.epochs_done = 0
            self.steps_done = 0   # batches trained, all epochs (fewer than planned when cut short)

        def on_epoch_begin(self, epoch, logs=None):
            self.t_epoch0 = time.time()

        def on_train_batch_end(self, batch, logs=None):
            done = self.steps_done = self.epochs_done * steps + batch + 1
            if max_minutes and time.time() - self.t_train0 > 60 * max_minutes and not self.model.stop_training:
                print(f"\n[train] --max-minutes {max_minutes:g} reached at step {done}: stopping", flush=True)
                self.model.stop_training = True
            if batch + 1 in (20, 100) or (batch + 1) % max(1, steps // 5) == 0:
                el = time.time() - self.t_train0
                rate = el / done
                left = rate * (epochs * steps - done)
                print(f"\n[train] step {done}/{epochs * steps}, {1000 * rate / batch_size:.2f} ms/sample, "
                      f"training ETA {left / 60:.1f} min (elapsed {el / 60:.1f} min)", flush=True)

        def on_train_begin(self, logs=None):
            self.t_train0 = time.time()

        def on_epoch_end(self, epoch, logs=None):
            self.epochs_done = epoch + 1
            logs = logs if logs is not None else {}
            logs["accuracy"] = exact(decode(keras_probs(model, train_probe.x)), train_probe.texts)
            logs["val_accuracy"] = exact(decode(keras_probs(model, val.x)), val.texts)
            if logs["val_accuracy"] > self.best:
                self.best, self.best_epoch = logs["val_accuracy"], epoch
                self.best_weights = model.get_weights()
                if save_to is not None:
                    model.save(save_to)
            print(f"\n[epoch {epoch + 1}/{epochs}] loss {logs.get('loss', float('nan')):.3f} "
                  f"val_loss {logs.get('val_loss', float('nan')):.3f} exact train-probe "
                  f"{logs['accuracy']:.4f} val {logs['val_accuracy']:.4f} "
                  f"({time.time() - self.t_epoch0:.0f}s this epoch, {(time.time() - t_start) / 60:.1f} min "
                  "since start)", flush=True)

    return Progress()


# --------------------------------------------------------------------------- export and measurement

def export_int8(model, calib: np.ndarray, out: Path, model_id: str, arch: str, training_data: str) -> dict:
    from . import export
    meta = export.make_metadata(list(rm.LABELS), rm.INPUT_SIZE, model_id, arch, "int8", training_data)
    meta.update({"output": "logits", "decoder": "ctc", "blank_index": rm.BLANK, "num_classes": rm.NUM_CLASSES,
                 "rows": rm.ROWS, "timesteps_per_row": rm.timesteps_per_row(model), "color": "gray",
                 "resize": "to input_size, aspect ratio not kept (INTER_AREA when shrinking, else INTER_LINEAR)",
                 "labels_note": "labels are the non-blank classes in order; class blank_index is the CTC blank"})
    out.write_bytes(export.add_metadata(export.convert(model, "int8", calib), meta))
    return meta


def recogniser_probs(rec: PlateRecogniser, x: np.ndarray, chunk: int = 256) -> np.ndarray:
    return np.concatenate([rec.frame_probs(list(x[i:i + chunk])) for i in range(0, len(x), chunk)]) \
        if len(x) else np.zeros((0, rm.ROWS * rec.timesteps, rm.NUM_CLASSES), np.float32)


def latency_ms(path: Path, crops: list[np.ndarray], repeats: int = 200) -> dict:
    rec = PlateRecogniser.load(path, threads=1)
    for c in crops[:5]:
        rec.recognise([c])
    full, invoke = [], []
    for k in range(repeats):
        c = crops[k % len(crops)]
        t = time.perf_counter()
        rec.recognise([c])
        full.append(time.perf_counter() - t)
        t = time.perf_counter()
        rec._interp.invoke()
        invoke.append(time.perf_counter() - t)
    return {"recognise_one_plate_ms": round(1000 * float(np.median(full)), 3),
            "invoke_only_ms": round(1000 * float(np.median(invoke)), 3), "threads": 1,
            "runtime": type(rec._interp).__module__}


def misread_sheet(items: list[tuple[str, str, str, float, str]], path: Path, limit: int = 48) -> None:
    """Tiles of the most confident misreads: (file, truth, read, confidence, set)."""
    tiles = []
    for file, truth, read, conf, name in items[:limit]:
        img = cv2.imread(file)
        if img is None:
            continue
        img = cv2.resize(img, (240, 80), interpolation=cv2.INTER_AREA)
        tile = np.full((118, 248, 3), 255, np.uint8)
        tile[4:84, 4:244] = img
        cv2.putText(tile, f"{name}: {truth}", (4, 98), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 120, 0), 1, cv2.LINE_AA)
        cv2.putText(tile, f"read {read or '-'}  p={conf:.2f}", (4, 113), cv2.FONT_HERSHEY_SIMPLEX, 0.42,
                    (0, 0, 200), 1, cv2.LINE_AA)
        tiles.append(tile)
    if not tiles:
        tiles = [np.full((118, 248, 3), 255, np.uint8)]
        cv2.putText(tiles[0], "no misreads", (40, 60), cv2.FONT_HERSHEY_SIMPLEX, 0.6, 0, 1)
    cols = 4
    while len(tiles) % cols:
        tiles.append(np.full_like(tiles[0], 255))
    sheet = np.vstack([np.hstack(tiles[i:i + cols]) for i in range(0, len(tiles), cols)])
    cv2.imwrite(str(path), sheet)


def plate_conf(r) -> float:
    return float(np.prod(r.char_probs)) if r.char_probs else 0.0


# --------------------------------------------------------------------------- main

def main(argv=None) -> int:
    args = parse_args(argv)
    t0 = time.time()
    if args.threads:
        os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cache = Path(args.cache) if args.cache else None
    source = reader_data.renderer_source()
    print(f"renderer: {source}; rendering {args.samples} training + {args.val_samples} validation plates "
          f"({args.workers} processes)", flush=True)
    train_syn = reader_data.render(args.samples, args.seed, args.workers, cache)
    val = reader_data.render(args.val_samples, VAL_SEED_OFFSET + args.seed, args.workers, cache)
    t_render = time.time() - t0
    ar_train, ar_held = reader_data.plates_ar("train"), reader_data.plates_ar("heldout")
    us = reader_data.plates_us_dev(limit=args.us_limit)
    boxes = reader_data.plates_boxes() if args.boxes_repeat else None
    real = [(s, n) for s, n in ((ar_train, args.ar_repeat), (boxes, args.boxes_repeat)) if s is not None and n]
    train = reader_data.concat([train_syn] + [s for s, n in real for _ in range(n)], " + ".join(
        [train_syn.description] + [f"{s.description} x{n}" for s, n in real]))
    print(f"training data: {len(train)} plates = {train.description} ({t_render:.0f}s to render/load)", flush=True)

    import keras
    if args.threads and keras.backend.backend() == "tensorflow":
        import tensorflow as tf
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    keras.utils.set_random_seed(args.seed)
    model = rm.build(args.arch)
    if args.init and args.init.endswith(".tflite"):   # an export whose Keras weights were not kept
        from . import dequantize
        dequantize.load_tflite(model, args.init, train_syn.x[:2000, ..., None].astype(np.float32) / 255.0)
    elif args.init:     # continue from an earlier run (a second stage on freshly rendered plates)
        model.set_weights(keras.models.load_model(args.init, compile=False).get_weights())
    steps = -(-len(train) // args.batch_size)
    sched = keras.optimizers.schedules.CosineDecay(args.lr, max(1, steps * args.epochs), alpha=0.01)
    trained = training_model(model, args.seed, not args.no_augment)
    trained.compile(optimizer=keras.optimizers.Adam(sched, clipnorm=5.0), loss=rm.ctc_rows_loss)
    rng = np.random.default_rng(args.seed)
    probe = train_syn.take(rng.permutation(len(train_syn))[:min(1000, len(train_syn))])
    val_probe = val.take(np.arange(min(1000, len(val))))   # per-epoch exact text; the whole set at the end
    progress = make_callbacks(model, val_probe, probe, args.epochs, steps, args.batch_size, t0,
                              out / "model.keras", args.max_minutes)
    print(f"model {model.name}: {model.count_params():,} params, {rm.count_macs(model) / 1e6:.0f} M MAC per plate; "
          f"{args.epochs} epochs x {steps} steps of {args.batch_size}", flush=True)
    t_fit = time.time()
    history: dict[str, list[float]] = {}
    if args.epochs > 0:
        hist = trained.fit(make_pipeline(train.x, train.labels(), args.batch_size, args.seed, True),
                           validation_data=make_pipeline(val.x, val.labels(), 256, args.seed, False),
                           epochs=args.epochs,
                           callbacks=[progress, keras.callbacks.CSVLogger(str(out / "history.csv"))],
                           verbose=1 if sys.stdout.isatty() else 2)
        history = {k: [float(v) for v in vs] for k, vs in hist.history.items()}
    t_fit = time.time() - t_fit
    if progress.best_weights is not None:
        model.set_weights(progress.best_weights)
    averaged = [a for a in args.average.split(",") if a]
    if averaged:
        model.set_weights(average_weights([model.get_weights()] + [
            keras.models.load_model(a, compile=False).get_weights() for a in averaged]))
        print(f"weights averaged with {', '.join(averaged)}", flush=True)
    model.save(out / "model.keras")
    val_f = decode(keras_probs(model, val.x))   # float on the synthetic validation set
    if keras.backend.backend() != "tensorflow":   # e.g. JAX on a GPU machine: no TFLite converter there
        return float_report(args, model, val, val_f, history, out, time.time() - t0)

    # ---- the int8 export
    calib = train_syn.x[rng.permutation(len(train_syn))[:min(500, len(train_syn))]]
    model_id = f"reader-{args.arch}-int8-{datetime.date.today():%Y%m%d}"
    tfl = out / "model.tflite"
    t_exp = time.time()
    trained_on = train.description           # a soup: what its ingredients were trained on
    if args.epochs == 0:
        trained_on = "the average of " + lineage([args.init or ""] + averaged)
    elif averaged:
        trained_on += ", averaged with " + lineage(averaged)
    meta = export_int8(model, calib, tfl, model_id, args.arch, trained_on)
    rec = PlateRecogniser.load(tfl, threads=1)
    val_q = decode(recogniser_probs(rec, val.x))
    t_exp = time.time() - t_exp

    report = {"model_id": model_id, "arch": args.arch, "params": model.count_params(),
              "mac_per_plate": rm.count_macs(model), "tflite_bytes": tfl.stat().st_size,
              "renderer": source, "train_plates": len(train) if args.epochs > 0 else 0,
              "training_data": trained_on, "calibration_data": train_syn.description,
              "epochs": args.epochs, "best_epoch": progress.best_epoch + 1, "seed": args.seed,
              "init": args.init, "averaged_with": averaged,
              "batch_size": args.batch_size, "lr": args.lr, "augment": not args.no_augment,
              "seconds": {"render_or_load": round(t_render, 1), "train": round(t_fit, 1),
                          "export": round(t_exp, 1)},
              "train_ms_per_sample_epoch": round(1000 * t_fit / max(1, progress.steps_done * args.batch_size), 3),
              "train_steps": progress.steps_done,
              "metadata": meta}
    syn = {"plates": len(val), "exact_float": round(exact(val_f, val.texts), 5),
           "exact_int8": round(exact(val_q, val.texts), 5),
           "int8_float_agreement": round(float(np.mean([a.text == b.text for a, b in zip(val_f, val_q)])), 5),
           "per_group_int8": per_group(val_q, val), "errors_int8": error_kinds(val.texts, val_q)}
    two = [i for i, r in enumerate(val.row_texts) if len(r) > 1]
    if two:
        syn["two_row_exact_int8"] = round(exact([val_q[i] for i in two], [val.texts[i] for i in two]), 5)
        syn["two_row_plates"] = len(two)
    report["synthetic_val"] = syn

    misreads = []
    blur = LearnedConfig().input_blur   # the real crops as the device's reader smooths them
    for name, ds in (("plates-ar heldout", ar_held), ("plates-us-dev", us)):
        if ds is None or not len(ds):
            continue
        x = np.stack([smooth(c, blur) for c in ds.x])
        q = decode(recogniser_probs(rec, x))
        f = decode(keras_probs(model, x))
        report[name] = {"plates": len(ds), "input_blur": blur, "exact_int8": round(exact(q, ds.texts), 5),
                        "exact_float": round(exact(f, ds.texts), 5),
                        "exact_int8_O=0": round(float(np.mean([r.text.replace("O", "0") == t.replace("O", "0")
                                                               for r, t in zip(q, ds.texts)])), 5),
                        "exact_int8_unsmoothed": round(exact(decode(recogniser_probs(rec, ds.x)), ds.texts), 5),
                        "errors_int8": error_kinds(ds.texts, q)}
        if name == "plates-us-dev" and args.us_limit:
            report[name]["note"] = f"first {args.us_limit} crops only"
        misreads += [(ds.files[i], ds.texts[i], r.text, plate_conf(r), name.split()[0])
                     for i, r in enumerate(q) if r.text != ds.texts[i]]
    misreads.sort(key=lambda m: -m[3])
    misread_sheet(misreads, out / "misreads.png")
    crops = [cv2.imread(f) for f in (ar_held.files[:20] if ar_held is not None else [])] or \
        [cv2.cvtColor(v, cv2.COLOR_GRAY2BGR) for v in val.x[:20]]
    report["latency"] = latency_ms(tfl, crops, repeats=50 if args.quick else 300)

    cm, cm_labels = char_confusion(val.texts, val_q)
    plots.plot_confusion(cm, cm_labels, out / "confusion.png")
    if history:
        plots.plot_curves(history, out / "curves.png")
    report["history"] = {k: [round(v, 5) for v in vs] for k, vs in history.items()}
    report["seconds"]["total"] = round(time.time() - t0, 1)
    (out / "report.json").write_text(json.dumps(report, indent=2))
    show = {k: report[k] for k in ("synthetic_val", "plates-ar heldout", "plates-us-dev", "latency",
                                   "tflite_bytes", "train_ms_per_sample_epoch", "seconds") if k in report}
    print(json.dumps(show, indent=2))
    print(f"done in {(time.time() - t0) / 60:.1f} min -> {out}")
    if args.ship:
        ship(tfl, out / "report.json")
    return 0


def per_group(readings, val) -> dict:
    """Exact text per region group of the synthetic validation set: {group: {plates, exact}}."""
    out = {}
    for g in sorted(set(val.groups)):
        idx = [i for i, gg in enumerate(val.groups) if gg == g]
        out[g] = {"plates": len(idx), "exact": round(exact([readings[i] for i in idx], [val.texts[i] for i in idx]), 5)}
    return out


def float_report(args, model, val, val_f, history: dict, out: Path, seconds: float) -> int:
    """The report of a run on a Keras backend other than TensorFlow (nothing exported): exact text in
    float on the synthetic validation set, per group, curves. Export it where TensorFlow is with
    `--init <out>/model.keras --epochs 0`."""
    import keras
    report = {"backend": keras.backend.backend(), "arch": args.arch, "params": model.count_params(),
              "epochs": args.epochs, "seed": args.seed, "init": args.init, "lr": args.lr,
              "batch_size": args.batch_size, "train_plates": args.samples, "seconds": round(seconds, 1),
              "synthetic_val": {"plates": len(val), "exact_float": round(exact(val_f, val.texts), 5),
                                "per_group_float": per_group(val_f, val)},
              "history": {k: [round(v, 5) for v in vs] for k, vs in history.items()},
              "export": f"python -m convert.train_reader --arch {args.arch} --init {out / 'model.keras'} "
                        f"--epochs 0 --samples 2000 --out {out}-int8"}
    if history:
        plots.plot_curves(history, out / "curves.png")
    (out / "report.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report["synthetic_val"], indent=2))
    print(f"done in {seconds / 60:.1f} min -> {out} (not exported: {keras.backend.backend()} backend; "
          f"export with: {report['export']})")
    return 0


def lineage(models: list[str]) -> str:
    """What models were trained on, from the report beside each model: NAME.report.json (a shipped
    or kept export), else the report.json of its run folder."""
    parts = []
    for m in models:
        own = Path(m).with_suffix(".report.json") if m else None
        rep = own if own and own.is_file() else Path(m).parent / "report.json"
        data = json.loads(rep.read_text()).get("training_data", "?") if m and rep.is_file() else "?"
        parts.append(f"{m} ({data})")
    return "; ".join(parts)


def average_weights(weight_lists: list[list[np.ndarray]]) -> list[np.ndarray]:
    """The element-wise mean of several models' weights (same architecture)."""
    if len({len(w) for w in weight_lists}) != 1:
        raise ValueError("models to average differ in their number of weight tensors (another --arch?)")
    return [np.mean(np.stack(ws), axis=0).astype(ws[0].dtype) for ws in zip(*weight_lists)]


def ship(model: Path, report: Path) -> None:
    """Install an exported reader as the package's shipped `plate` model (with its report)."""
    import shutil
    shutil.copyfile(model, SHIPPED / "plate.tflite")
    shutil.copyfile(report, SHIPPED / "plate.report.json")
    print(f"shipped -> {SHIPPED / 'plate.tflite'}")


if __name__ == "__main__":
    sys.exit(main())
