"""Train the plate detector and export it as an int8 TFLite model with its metadata.

  python -m convert.train_detector [--quick] [--epochs N] [--seed 1] [--out runs/detector]

A CenterNet-style, anchor-free single-shot detector (see plate_edge.detect for the outputs and
their decoding; every cell of a plate's central region is a positive, FCOS-like: a network this
small cannot pin one centre cell of a big plate, and dense positives train several times faster)
on the grayscale frame letterboxed into 640x352, output stride 4. Trained on
256x320 crops of real scenes (plates-boxes: openimages train split, the romania videos other than
the held-out ones) with rendered plates composited into them (convert.detector_data). Writes to
--out: model.keras, model.tflite (int8, "plate_edge" metadata: kind, input_size, stride,
score_threshold, outputs, model_id), curves.png, sheet.png (int8 detections on held-out scenes)
and report.json. --quick runs the whole pipeline in about two minutes (tests), on synthetic
scenes when the shared data is missing. `--init X.tflite` starts from an int8 export's weights
(dequantized: the shipped detector's Keras weights were not kept); with `--epochs 0` it exports
them again, keeping the export's score threshold.

Credits for the training images (keep them in the model's documentation): "Open Images Dataset
V4+, Google LLC (annotations CC BY 4.0); images CC BY 2.0 by their authors" (via Roboflow
"License Plates v3"); Robert Lucian Chiriac, license-plate-dataset (MIT).
"""
from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from plate_edge.detect import MODEL_KIND, REG_CHANNELS, PlateDetector, decode

from . import detector_data as dd

ARCH = "centernet-gray-s4"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m convert.train_detector", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="tiny run end to end (~2 min), for tests")
    p.add_argument("--epochs", type=int, default=None, help="default 24 (quick: 2); 0: only export the --init weights")
    p.add_argument("--steps", type=int, default=None, help="steps per epoch (default 110; quick: 10)")
    p.add_argument("--batch", type=int, default=None, help="default 16 (quick: 8)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", default="runs/detector")
    p.add_argument("--width", type=float, default=1.0, help="channel multiplier")
    p.add_argument("--score-threshold", type=float, default=None,
                   help="stored in the metadata (default: best F1 on the validation scenes)")
    p.add_argument("--synthetic-only", action="store_true", help="no shared data (as when it is missing)")
    p.add_argument("--model-id", default=None)
    p.add_argument("--init", help="start from the weights of this model.keras (fine-tuning), or of this int8 "
                                  "model.tflite dequantized (convert.dequantize; e.g. to export it again)")
    p.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (cosine decay)")
    p.add_argument("--box-weight", type=float, default=1.0, help="weight of the centre and size losses")
    return p.parse_args(argv)


# ---------------------------------------------------------------------- model

def build(width: float = 1.0, input_hw=(None, None)):
    """(training model: logits + regression concatenated, inference model: sigmoid heat, regression).
    Conv/BN/ReLU, depthwise-separable blocks, a small top-down pathway to stride 4."""
    import keras
    from keras import layers as L

    def ch(c):
        return max(8, int(round(c * width / 4)) * 4)

    def cbr(x, c, k=1, s=1, name=None):
        x = L.Conv2D(c, k, strides=s, padding="same", use_bias=False, name=name)(x)
        return L.ReLU()(L.BatchNormalization()(x))

    def sep(x, c, s=1):
        x = L.DepthwiseConv2D(3, strides=s, padding="same", use_bias=False)(x)
        x = L.ReLU()(L.BatchNormalization()(x))
        return cbr(x, c)

    def block(x, c):   # residual when shapes allow
        y = sep(x, c)
        return L.Add()([x, y]) if x.shape[-1] == c else y

    inp = keras.Input((*input_hw, 1), name="image")
    x = cbr(inp, ch(12), 3, 2)                # /2
    s4 = block(sep(x, ch(20), 2), ch(20))     # /4
    s8 = block(sep(s4, ch(32), 2), ch(32))    # /8
    s16 = block(block(sep(s8, ch(56), 2), ch(56)), ch(56))     # /16
    s32 = block(block(sep(s16, ch(80), 2), ch(80)), ch(80))    # /32
    # top-down: each level gets the coarser one upsampled (big plates need a wide view)
    t = cbr(s32, ch(40))
    t = L.Add()([L.UpSampling2D(2)(t), cbr(s16, ch(40))])
    t = sep(t, ch(40))
    t = L.Add()([L.UpSampling2D(2)(cbr(t, ch(32))), cbr(s8, ch(32))])
    t = sep(t, ch(32))
    t = L.Add()([L.UpSampling2D(2)(cbr(t, ch(24))), cbr(s4, ch(24))])
    t = sep(t, ch(24))
    logit = L.Conv2D(1, 1, name="heat_logit",
                     bias_initializer=keras.initializers.Constant(-2.19))(sep(t, ch(24)))
    reg = L.Conv2D(len(REG_CHANNELS), 1, name="regression")(sep(t, ch(24)))
    heat = L.Activation("sigmoid", name="heatmap")(logit)
    train_model = keras.Model(inp, L.Concatenate(name="train_out")([logit, reg]), name=ARCH)
    infer_model = keras.Model(inp, [heat, reg], name=ARCH + "-infer")
    return train_model, infer_model


def make_loss(box_weight: float = 1.0):
    from keras import ops

    def loss(y_true, y_pred):
        logit, reg = y_pred[..., 0], y_pred[..., 1:13]
        heat, treg, m, qm = y_true[..., 0], y_true[..., 1:13], y_true[..., 13], y_true[..., 14]
        pos = ops.cast(ops.equal(heat, 1.0), "float32")
        p = ops.clip(ops.sigmoid(logit), 1e-4, 1 - 1e-4)
        # CenterNet focal loss (penalty-reduced negatives around each centre)
        lpos = -pos * ops.square(1 - p) * ops.log(p)
        lneg = -(1 - pos) * ops.power(1 - heat, 4) * ops.square(p) * ops.log(1 - p)
        npos = ops.maximum(1.0, ops.sum(pos))
        lheat = (ops.sum(lpos) + ops.sum(lneg)) / npos
        err = ops.abs(reg - treg)
        nm = ops.maximum(1.0, ops.sum(m))
        loff = ops.sum(m[..., None] * err[..., 0:2]) / nm
        lsize = ops.sum(m[..., None] * err[..., 2:4]) / nm
        nq = ops.maximum(1.0, ops.sum(qm))
        lquad = ops.sum(qm[..., None] * err[..., 4:12]) / nq
        return lheat + box_weight * (loff + lsize) + 2.0 * lquad

    return loss


# ---------------------------------------------------------------------- export

def export_tflite(infer_model, calib: np.ndarray, input_hw, width: float = 1.0) -> bytes:
    """int8 full-integer TFLite (int8 input and outputs) with the fixed device input size."""
    import tempfile

    import tensorflow as tf

    from .export import _finish
    _, fixed = build(width, tuple(input_hw))
    fixed.set_weights(infer_model.get_weights())
    with tempfile.TemporaryDirectory() as tmp:
        fixed.export(tmp, format="tf_saved_model", verbose=False)
        conv = tf.lite.TFLiteConverter.from_saved_model(tmp)
        return _finish(conv, "int8", calib, "int8")


def metadata(input_hw, stride, threshold, model_id, training_data, report: dict) -> dict:
    return {"kind": MODEL_KIND, "model_id": model_id, "arch": ARCH, "version": "1",
            "input_size": list(input_hw), "channels": 1, "stride": stride,
            "letterbox": "grayscale frame scaled to fit, top-left, rest zero",
            "normalization": {"mean": 0.0, "std": 255.0}, "score_threshold": round(float(threshold), 3),
            "outputs": {"heatmap": {"channels": 1, "activation": "sigmoid"},
                        "regression": {"channels": list(REG_CHANNELS),
                                       "units": "dx, dy: cell fraction; log_w, log_h: log cells; "
                                                "qNx, qNy: corner minus centre over box w, h"}},
            "quantization": "int8", "training_data": training_data,
            "val_recall": report.get("val_recall"),
            "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")}


# ---------------------------------------------------------------------- measuring

def heat_agreement(infer_model, det: PlateDetector, x: np.ndarray) -> dict:
    """How closely a float model's heatmap follows an int8 export's on letterboxed images x (N, H,
    W, 1) in 0..1: mean and max absolute difference."""
    heat = infer_model.predict(x, batch_size=4, verbose=0)[0][..., 0]
    theirs = np.stack([det.raw(np.round(img[..., 0] * 255).astype(np.uint8))[0] for img in x])
    d = np.abs(heat - theirs)
    return {"mean_abs": round(float(d.mean()), 4), "max_abs": round(float(d.max()), 4)}


def iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    u = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / u if u > 0 else 0.0


def match(dets: list, gts, hit: float = 0.5, fp_iou: float = 0.3) -> tuple[int, int]:
    """(labels found at IoU >= hit, detections matching no label at IoU >= fp_iou)."""
    found = sum(any(iou(d, g) >= hit for d in dets) for g in gts)
    fps = sum(not any(iou(d, g) >= fp_iou for g in gts) for d in dets)
    return found, fps


SWEEP = tuple(round(0.1 + 0.05 * i, 2) for i in range(14))     # score thresholds 0.10 .. 0.75


def sweep(outputs, boxes: list[np.ndarray], stride: int, thresholds=SWEEP) -> list[dict]:
    """Recall and false detections per image at each score threshold."""
    rows = []
    n_gt = sum(len(b) for b in boxes)
    for t in thresholds:
        found = fps = 0
        for (heat, reg), gts in zip(outputs, boxes):
            dets = [b for _, b, _ in decode(heat, reg, stride, float(t))]
            f, p = match(dets, gts)
            found, fps = found + f, fps + p
        rec = found / max(1, n_gt)
        prec = found / max(1, found + fps)
        rows.append({"threshold": round(float(t), 2), "recall": round(rec, 4),
                     "fp_per_image": round(fps / len(boxes), 3),
                     "f1": round(2 * rec * prec / max(1e-9, rec + prec), 4)})
    return rows


def draw_sheet(det: PlateDetector, scenes: list, path: Path, n: int = 12) -> None:
    """Int8 detections (green quads, score) and labels (red boxes) on held-out scenes."""
    tiles = []
    for sc in scenes[:n]:
        img = cv2.cvtColor(sc.gray, cv2.COLOR_GRAY2BGR)
        for b in sc.boxes:
            cv2.rectangle(img, (int(b[0]), int(b[1])), (int(b[2]), int(b[3])), (0, 0, 255), 2)
        for d in det.detect(sc.gray):
            cv2.polylines(img, [np.int32(d.quad)], True, (0, 255, 0), 2, cv2.LINE_AA)
            cv2.putText(img, f"{d.score:.2f}", (d.box.x, max(12, d.box.y - 3)), cv2.FONT_HERSHEY_SIMPLEX,
                        0.5, (0, 255, 0), 1, cv2.LINE_AA)
        s = min(400 / img.shape[1], 240 / img.shape[0])
        img = cv2.resize(img, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        tile = np.zeros((240, 400, 3), np.uint8)
        tile[:img.shape[0], :img.shape[1]] = img
        tiles.append(tile)
    while len(tiles) % 4:
        tiles.append(np.zeros((240, 400, 3), np.uint8))
    cv2.imwrite(str(path), np.vstack([np.hstack(tiles[i:i + 4]) for i in range(0, len(tiles), 4)]))


# ---------------------------------------------------------------------- main

def load_data(args, rng, cfg: dd.DataConfig):
    """(training scenes, their sampling weights, validation scenes, description)."""
    if args.synthetic_only or not dd.have_data():
        if not args.synthetic_only:
            print(f"note: {dd.BOXES} not found: training on synthetic scenes only", file=sys.stderr)
        n = 40 if args.quick else 300
        return (dd.synthetic_scenes(rng, n), None, dd.synthetic_scenes(rng, 12),
                "synthetic scenes (plate_edge.sim.synth)")
    every = 4 if args.quick else 1
    oi = dd.load_openimages("train")
    train_videos = [v for v in dd.romania_videos() if v not in (dd.ROMANIA_TEST, dd.ROMANIA_VALID)]
    ro = dd.load_romania(train_videos, every=every)
    # the romania frames are many near-duplicates: weigh both sources equally
    w = np.concatenate([np.full(len(oi), 1.0 / len(oi)), np.full(len(ro), 1.0 / len(ro))])
    val = dd.load_openimages("valid") + dd.load_romania([dd.ROMANIA_VALID])
    if args.quick:
        val = val[::6]
    desc = (f"plates-boxes openimages train ({len(oi)}; Open Images V4+, Google LLC, CC BY 4.0 / images CC BY 2.0) "
            f"+ romania {','.join(train_videos)} ({len(ro)} frames; R. L. Chiriac, MIT) + rendered plates "
            "composited into them")
    return oi + ro, w, val, desc


def main(argv=None) -> int:
    args = parse_args(argv)
    import keras
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    epochs = args.epochs if args.epochs is not None else (2 if args.quick else 24)
    if epochs == 0 and not args.init:
        raise SystemExit("--epochs 0 exports the weights of --init: give --init runs/<run>/model.keras "
                         "(or model.tflite)")
    steps = args.steps or (10 if args.quick else 110)
    args.batch = args.batch or (8 if args.quick else 16)
    rng = np.random.default_rng(args.seed)
    keras.utils.set_random_seed(args.seed)
    cfg = dd.DataConfig()
    t0 = time.time()
    scenes, weights, val, desc = load_data(args, rng, cfg)
    pool = dd.plate_pool(rng, 60 if args.quick else 500)
    sampler = dd.Sampler(scenes, pool, cfg, weights)
    vx, vy, vboxes = dd.eval_set(val, cfg)
    print(f"data: {len(scenes)} training scenes, {len(pool)} rendered plates, {len(val)} validation scenes "
          f"({time.time() - t0:.0f} s)", flush=True)

    train_model, infer_model = build(args.width)
    init_check = kept_threshold = None
    if args.init and args.init.endswith(".tflite"):    # an export whose Keras weights were not kept
        from . import dequantize
        init_rng = np.random.default_rng(args.seed + 11)      # batch-norm statistics of training images
        x = np.stack([dd.make_sample(init_rng, scenes[i], pool, cfg, out_hw=cfg.input_hw)[0]
                      for i in init_rng.choice(len(scenes), 32, replace=False)])
        dequantize.load_tflite(infer_model, args.init, x[..., None].astype(np.float32) / 255.0, batch_size=4,
                               by_name=True)
        source = PlateDetector.load(args.init)
        kept_threshold = source.meta.get("score_threshold")    # exported again: its own threshold
        init_check = heat_agreement(infer_model, source, vx[:32])
        print(f"dequantized {args.init}: float heatmap vs its int8 one {init_check}", flush=True)
    elif args.init:
        train_model.set_weights(keras.models.load_model(args.init, compile=False).get_weights())
    print(f"{ARCH}: {train_model.count_params():,} parameters", flush=True)
    gen_rng = np.random.default_rng(args.seed + 100)

    def batches():
        while True:
            yield sampler.batch(gen_rng, args.batch)

    total = max(1, epochs * steps)
    sched = keras.optimizers.schedules.CosineDecay(args.lr, total, alpha=0.02, warmup_target=None)
    train_model.compile(optimizer=keras.optimizers.Adam(sched), loss=make_loss(args.box_weight))
    t1 = time.time()
    history: dict = {}
    if epochs:     # --epochs 0: export the --init weights only
        history = train_model.fit(batches(), steps_per_epoch=steps, epochs=epochs, validation_data=(vx, vy),
                                  validation_batch_size=4, verbose=1 if sys.stdout.isatty() else 2).history
    train_s = time.time() - t1
    train_model.save(out / "model.keras")

    # float model on the validation scenes: pick the score threshold (best F1)
    heat, reg = infer_model.predict(vx, batch_size=4, verbose=0)
    sweep_rows = sweep(list(zip(heat[..., 0], reg)), vboxes, cfg.stride)
    best = max(sweep_rows, key=lambda r: (r["f1"], -r["threshold"]))
    threshold = args.score_threshold or (kept_threshold if epochs == 0 else None) or best["threshold"]

    # int8 export, calibrated on letterboxed training scenes with pasted plates
    cal_rng = np.random.default_rng(args.seed + 7)
    calib = []
    for i in cal_rng.choice(len(scenes), 16 if args.quick else 96, replace=False):
        img, *_ = dd.make_sample(cal_rng, scenes[i], pool, cfg, out_hw=cfg.input_hw)
        calib.append(img)
    calib = np.stack(calib)
    model_id = args.model_id or f"plate-detector-int8-{datetime.date.today():%Y%m%d}"
    report = {"arch": ARCH, "init": args.init, "init_heat_vs_float": init_check, "lr": args.lr,
              "box_weight": args.box_weight,
              "params": int(train_model.count_params()), "epochs": epochs, "steps_per_epoch": steps,
              "batch": args.batch, "seed": args.seed, "quick": args.quick, "train_seconds": round(train_s, 1),
              "training_data": desc, "val_scenes": len(val), "val_sweep_float": sweep_rows,
              "val_recall": best["recall"], "score_threshold": threshold,
              "history": {k: [round(float(v), 5) for v in vals] for k, vals in history.items()}}
    from plate_edge.classify import read_metadata

    from .export import add_metadata
    meta = metadata(cfg.input_hw, cfg.stride, threshold, model_id, desc, report)
    tfl = out / "model.tflite"
    tfl.write_bytes(add_metadata(export_tflite(infer_model, calib, cfg.input_hw, args.width), meta))
    assert read_metadata(tfl.read_bytes()) == meta

    # int8 check on the validation scenes, latency on a 1280x720 frame, one thread
    det = PlateDetector.load(tfl, threads=1)
    outs = []
    for sc in val:
        h, r, _ = det.raw(sc.gray)
        outs.append((h, r))
    lb = [sc.boxes * dd.device_scale(sc.gray.shape, cfg.input_hw) for sc in val]
    int8_rows = sweep(outs, lb, cfg.stride)
    frame = cv2.resize(val[0].gray, (1280, 720))
    det.detect(frame)
    times = []
    for _ in range(5 if args.quick else 30):
        t = time.perf_counter()
        det.detect(frame)
        times.append(1000 * (time.perf_counter() - t))
    report.update(model_id=model_id, tflite=str(tfl), size_bytes=tfl.stat().st_size,
                  val_sweep_int8=int8_rows,
                  val_int8_at_threshold=next((r for r in int8_rows if abs(r["threshold"] - threshold) < 1e-6), None),
                  latency_ms_1280x720={"median": round(float(np.median(times)), 2),
                                       "p95": round(float(np.percentile(times, 95)), 2)},
                  total_seconds=round(time.time() - t0, 1))
    (out / "report.json").write_text(json.dumps(report, indent=2))
    from .plots import plot_curves
    plot_curves({"loss": history.get("loss", []), "val_loss": history.get("val_loss", [])}, out / "curves.png")
    draw_sheet(det, val[::max(1, len(val) // 12)], out / "sheet.png")
    summary = {k: report[k] for k in ("model_id", "params", "size_bytes", "train_seconds", "score_threshold",
                                      "val_recall", "val_int8_at_threshold", "latency_ms_1280x720")}
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
