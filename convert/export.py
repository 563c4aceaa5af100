"""Export a trained Keras model to TFLite with its "plate_edge" metadata, then verify it.

  python -m convert.export runs/digits/model.keras --quantize int8 --calibration runs/digits/calib.npz \
      --heldout runs/digits/heldout.npz --out src/plate_edge/models/digits.tflite

int8 is full-integer quantization calibrated on a representative sample; the batch dimension
stays dynamic. The verification report (float vs quantized accuracy on held-out data, agreement,
size, per-batch latency with the device runtime) is printed and saved next to the model as
<name>.verify.json; the exit status is 1 when the accuracy drop exceeds --max-drop points.
"""
from __future__ import annotations

import argparse
import datetime
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from plate_edge.classify import METADATA_NAME, Classifier, read_metadata

from . import datasets
from .train import LABEL_SETS


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m convert.export", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="a .keras model written by convert.train")
    p.add_argument("--quantize", choices=("int8", "float16", "dynamic", "none"), default="int8")
    p.add_argument("--io", choices=("int8", "uint8"), default="int8", help="int8 model input/output type")
    p.add_argument("--calibration", help=".npz with x (uint8 N,H,W) or a data spec; default: calib.npz "
                                         "next to the model")
    p.add_argument("--heldout", help=".npz with x,y or a data spec; default: heldout.npz next to the model")
    p.add_argument("--labels", choices=sorted(LABEL_SETS), help="default: from report.json next to the model")
    p.add_argument("--model-id", help="default: <labels>-<quantize>-<date>")
    p.add_argument("--training-data", help="description stored in the metadata (default: report.json)")
    p.add_argument("--out", help="output .tflite (default: model path with .tflite)")
    p.add_argument("--max-drop", type=float, default=0.5, help="max accuracy drop, percentage points")
    p.add_argument("--seed", type=int, default=1)
    return p.parse_args(argv)


# --------------------------------------------------------------------------- conversion

def convert(model, quantize: str, calib: np.ndarray | None, io: str = "int8") -> bytes:
    """Keras model -> TFLite flatbuffer with a dynamic batch dimension."""
    import tensorflow as tf
    with tempfile.TemporaryDirectory() as tmp:  # a SavedModel keeps the batch dimension dynamic
        model.export(tmp, format="tf_saved_model", verbose=False)
        conv = tf.lite.TFLiteConverter.from_saved_model(tmp)
        return _finish(conv, quantize, calib, io)


def _finish(conv, quantize: str, calib: np.ndarray | None, io: str) -> bytes:
    import tensorflow as tf
    if quantize != "none":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
        conv.target_spec.supported_types = [tf.float16]
    elif quantize == "int8":
        if calib is None or len(calib) == 0:
            raise ValueError("int8 quantization needs calibration samples")
        samples = calib[..., None].astype(np.float32) / 255.0
        conv.representative_dataset = lambda: ([samples[i:i + 1]] for i in range(len(samples)))
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = conv.inference_output_type = tf.int8 if io == "int8" else tf.uint8
    return conv.convert()


def add_metadata(tflite: bytes, meta: dict, name: str = METADATA_NAME) -> bytes:
    """Append a named metadata entry (UTF-8 JSON in its own buffer) to a flatbuffer."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils
    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(tflite))
    model.metadata = [m for m in (model.metadata or []) if m.name != name.encode()]
    buf = schema.BufferT()
    buf.data = np.frombuffer(json.dumps(meta).encode("utf-8"), np.uint8)
    model.buffers.append(buf)
    entry = schema.MetadataT()
    entry.name = name
    entry.buffer = len(model.buffers) - 1
    model.metadata.append(entry)
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def make_metadata(labels, input_size, model_id, arch, quantize, training_data) -> dict:
    return {"labels": list(labels), "input_size": list(input_size),
            "normalization": {"mean": 0.0, "std": 255.0}, "model_id": model_id, "arch": arch,
            "quantization": quantize, "training_data": training_data, "version": "1",
            "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")}


# --------------------------------------------------------------------------- verification

def verify(keras_model, tflite_path: Path, x: np.ndarray, y: np.ndarray, batch: int = 8,
           repeats: int = 50) -> dict:
    """Float (Keras) vs exported accuracy on held-out patches, agreement, size, latency.
    The patches are already framed, so both models get exactly the same input tensor."""
    xf = x[..., None].astype(np.float32) / 255.0
    float_probs = keras_model.predict(xf, batch_size=512, verbose=0)
    q_probs = tflite_predict(tflite_path, xf)
    fp, qp = float_probs.argmax(1), q_probs.argmax(1)
    acc_f, acc_q = float((fp == y).mean()), float((qp == y).mean())
    clf = Classifier.load(tflite_path)
    return {"file": str(tflite_path), "size_bytes": tflite_path.stat().st_size, "samples": int(len(y)),
            "acc_float": round(acc_f, 5), "acc_exported": round(acc_q, 5),
            "drop_points": round(100 * (acc_f - acc_q), 3), "agreement": round(float((fp == qp).mean()), 5),
            "max_prob_diff": round(float(np.abs(float_probs - q_probs).max()), 4),
            f"latency_ms_batch{batch}": latency(clf, x, batch, repeats),
            "runtime": type(clf._interp).__module__}


def tflite_predict(path: Path, xf: np.ndarray, chunk: int = 256) -> np.ndarray:
    """Probabilities of a .tflite for a float batch (N,H,W,1) in 0..1, (de)quantizing like the device."""
    from plate_edge.classify import load_interpreter_class
    interp = load_interpreter_class()(model_path=str(path), num_threads=1)
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    probs = []
    for i in range(0, len(xf), chunk):
        part = xf[i:i + chunk]
        interp.resize_tensor_input(inp["index"], list(part.shape))
        interp.allocate_tensors()
        scale, zero = inp["quantization"]
        if inp["dtype"] != np.float32:
            info = np.iinfo(inp["dtype"])
            part = np.clip(np.round(part / scale + zero), info.min, info.max).astype(inp["dtype"])
        interp.set_tensor(inp["index"], part)
        interp.invoke()
        o = interp.get_tensor(out["index"])
        oscale, ozero = out["quantization"]
        probs.append((o.astype(np.float32) - ozero) * oscale if out["dtype"] != np.float32 else o)
    return np.concatenate(probs)


def latency(clf: Classifier, x: np.ndarray, batch: int, repeats: int) -> float:
    """Median milliseconds for one Classifier.predict() of `batch` patches (one invoke, 1 thread),
    including the patch framing the device does."""
    patches = list(x[:batch])
    clf.predict(patches)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        clf.predict(patches)
        times.append(time.perf_counter() - t)
    return round(1000 * float(np.median(times)), 3)


def load_samples(arg: str | None, default: Path, labels, seed: int, size) -> tuple[np.ndarray, np.ndarray | None]:
    path = Path(arg) if arg else default
    if path.suffix == ".npz" and path.is_file():
        with np.load(path) as d:
            return d["x"], (d["y"] if "y" in d.files else None)
    if arg is None:
        raise datasets.DatasetError(f"{path}: not found; pass --calibration/--heldout explicitly")
    ds, _ = datasets.load_spec(arg, labels, seed, size)
    return ds.x, ds.y


def main(argv=None) -> int:
    args = parse_args(argv)
    import keras
    src = Path(args.model)
    report_path = src.parent / "report.json"
    train_report = json.loads(report_path.read_text()) if report_path.is_file() else {}
    try:
        model = keras.models.load_model(src)
    except Exception as exc:
        print(f"error: {src}: cannot load Keras model: {exc}", file=sys.stderr)
        return 2
    labels = LABEL_SETS[args.labels] if args.labels else train_report.get("labels")
    if not labels or len(labels) != model.output_shape[-1]:
        print(f"error: {src}: labels unknown or do not match the model's {model.output_shape[-1]} outputs; "
              "pass --labels", file=sys.stderr)
        return 2
    size = tuple(model.input_shape[1:3])
    try:
        calib, _ = load_samples(args.calibration, src.parent / "calib.npz", labels, args.seed, size)
        hx, hy = load_samples(args.heldout, src.parent / "heldout.npz", labels, args.seed + 1, size)
    except datasets.DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    name = "digits" if len(labels) == 10 else "alnum"
    model_id = args.model_id or f"{name}-{args.quantize}-{datetime.date.today():%Y%m%d}"
    meta = make_metadata(labels, size, model_id, train_report.get("arch", model.name), args.quantize,
                         args.training_data or train_report.get("training_data", "unknown"))
    out = Path(args.out) if args.out else src.with_suffix(".tflite")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(add_metadata(convert(model, args.quantize, calib, args.io), meta))
    assert read_metadata(out.read_bytes()) == meta
    report = verify(model, out, hx, hy)
    report.update(model_id=model_id, quantization=args.quantize, max_drop_points=args.max_drop)
    out.with_suffix(".verify.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    if report["drop_points"] > args.max_drop:
        print(f"FAIL: accuracy drop {report['drop_points']} points > {args.max_drop}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
