"""Character classification: one batched TFLite invoke for all the characters of a frame.

The model file carries its own labels, input size and normalization (metadata entry
"plate_edge", written by convert.export), so no side files are needed.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from .charimg import to_batch
from .settings import Settings, Text

METADATA_NAME = "plate_edge"


class ModelError(RuntimeError):
    """A model file that cannot be used; the message names the file, `key` the setting naming it."""

    def __init__(self, message: str, key: str = "model.path"):
        super().__init__(message)
        self.key = key


class ModelConfig(Settings):
    """The character classifier (`model`)."""
    path: Text = Field("digits", min_length=1)   # a shipped model name (digits, alnum) or a .tflite path
    threads: int = Field(1, ge=1, le=64)          # TFLite interpreter threads


def load_interpreter_class():
    """The TFLite Interpreter class: ai-edge-litert, else tflite_runtime, else tensorflow.lite."""
    try:
        from ai_edge_litert.interpreter import Interpreter
        return Interpreter
    except ImportError:
        pass
    try:
        from tflite_runtime.interpreter import Interpreter
        return Interpreter
    except ImportError:
        pass
    try:
        import tensorflow as tf
        return tf.lite.Interpreter
    except ImportError:
        raise ModelError("no TFLite runtime found: pip install ai-edge-litert "
                         "(or tflite-runtime on old/32-bit systems)") from None


def read_metadata(model_bytes: bytes, name: str = METADATA_NAME) -> dict | None:
    """Return the JSON metadata entry `name` of a TFLite flatbuffer, or None when absent."""
    try:
        from ai_edge_litert import schema_py_generated as schema
    except ImportError:
        return _read_metadata_flatbuffers(model_bytes, name)
    model = schema.Model.GetRootAs(model_bytes, 0)
    for i in range(model.MetadataLength()):
        entry = model.Metadata(i)
        if entry.Name() and entry.Name().decode() == name:
            return json.loads(model.Buffers(entry.Buffer()).DataAsNumpy().tobytes().decode("utf-8"))
    return None


def _read_metadata_flatbuffers(buf: bytes, name: str) -> dict | None:
    """Same as read_metadata with the plain flatbuffers package (for runtimes without the schema).

    Field slots from the TFLite schema: Model.buffers = slot 4, Model.metadata = slot 6,
    Metadata.name = slot 0, Metadata.buffer = slot 1, Buffer.data = slot 0.
    """
    import flatbuffers
    from flatbuffers.table import Table

    data = bytearray(buf)
    root = Table(data, flatbuffers.encode.Get(flatbuffers.packer.uoffset, data, 0))

    def vector(table: Table, slot: int) -> list[Table]:
        off = table.Offset(4 + 2 * slot)
        if not off:
            return []
        start = table.Vector(off)
        return [Table(table.Bytes, table.Indirect(start + 4 * i)) for i in range(table.VectorLen(off))]

    for entry in vector(root, 6):
        off = entry.Offset(4)
        if off and entry.String(off + entry.Pos).decode() == name:
            idx = entry.Get(flatbuffers.number_types.Uint32Flags, entry.Pos + entry.Offset(6))
            buffer = vector(root, 4)[idx]
            doff = buffer.Offset(4)
            start, length = buffer.Vector(doff), buffer.VectorLen(doff)
            return json.loads(bytes(buffer.Bytes[start:start + length]).decode("utf-8"))
    return None


def open_model(path: str | Path, threads: int, fits: Callable[[dict], bool], needs: str,
               export: str) -> tuple[Any, dict]:
    """A TFLite model file's interpreter (tensors allocated) and `plate_edge` metadata, or a
    ModelError naming the file: unreadable, not TFLite, damaged, without the metadata `fits`
    accepts (`needs` says what is missing, `export` which command writes such a model), or
    refused by the runtime."""
    path = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ModelError(f"{path}: cannot read model file: {exc.strerror or exc}") from exc
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ModelError(f"{path}: not a TFLite model (no TFL3 identifier; truncated or wrong file)")
    try:
        meta = read_metadata(data)
    except Exception as exc:  # a damaged flatbuffer fails in many ways
        raise ModelError(f"{path}: damaged TFLite model: {exc}") from exc
    if not meta or not fits(meta):
        raise ModelError(f"{path}: TFLite model has no '{METADATA_NAME}' metadata with {needs}; "
                         f"export it with `{export}`")
    try:
        interp = load_interpreter_class()(model_content=data, num_threads=max(1, int(threads)))
        interp.allocate_tensors()
    except Exception as exc:
        raise ModelError(f"{path}: the TFLite runtime cannot load this model: {exc}") from exc
    return interp, meta


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@dataclass
class _Quant:
    scale: float
    zero_point: int
    dtype: np.dtype

    def quantize(self, x: np.ndarray) -> np.ndarray:
        if self.scale == 0:
            return x.astype(self.dtype)
        info = np.iinfo(self.dtype)
        return np.clip(np.round(x / self.scale + self.zero_point), info.min, info.max).astype(self.dtype)

    def dequantize(self, q: np.ndarray) -> np.ndarray:
        if self.scale == 0:
            return q.astype(np.float32)
        return (q.astype(np.float32) - self.zero_point) * self.scale


def _quant(details: dict) -> _Quant:
    """The (scale, zero point) quantization and dtype of an interpreter tensor's details."""
    scale, zero_point = details["quantization"]
    return _Quant(float(scale), int(zero_point), np.dtype(details["dtype"]))


def _input_lut(mean: float, std: float, quant: _Quant) -> np.ndarray:
    """The input tensor's value for each pixel value 0..255: normalized, then quantized."""
    values = (np.arange(256, dtype=np.float32) - mean) / std
    return values if quant.dtype == np.float32 else quant.quantize(values)


class Classifier:
    """A TFLite character classifier that takes a whole batch of patches in one invoke."""

    def __init__(self, interpreter, meta: dict, path: str):
        self.path = path
        self.meta = meta
        self.labels: list[str] = [str(x) for x in meta["labels"]]
        height, width = (int(v) for v in meta["input_size"])
        self.input_size: tuple[int, int] = (height, width)
        norm = meta.get("normalization", {})
        self._mean = float(norm.get("mean", 0.0))
        self._std = float(norm.get("std", 255.0))
        self.model_id: str = str(meta.get("model_id", Path(path).stem))
        # "logits": the model ends before its softmax, which we apply in float; an int8 softmax
        # output rounds every runner-up below 1/256 to zero, and plate formats need runners-up.
        self._logits = meta.get("output", "probabilities") == "logits"
        self._interp = interpreter
        inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
        self._in_index, self._out_index = inp["index"], out["index"]
        self._in_shape = tuple(int(v) for v in inp["shape"][1:])
        self._in_lut = _input_lut(self._mean, self._std, _quant(inp))
        self._out_q = _quant(out)
        self._dynamic_batch = inp["shape_signature"][0] == -1
        self._batch = int(inp["shape"][0])
        if out["shape"][-1] != len(self.labels):
            raise ModelError(f"{path}: model has {out['shape'][-1]} outputs but "
                             f"{len(self.labels)} labels in its metadata")

    @classmethod
    def load(cls, path: str | Path, threads: int = 1) -> Classifier:
        interp, meta = open_model(path, threads, lambda m: "labels" in m and "input_size" in m,
                                  "labels and input_size", "python -m convert.export")
        return cls(interp, meta, str(path))

    def predict(self, patches: list[np.ndarray]) -> np.ndarray:
        """Probabilities (N, len(labels)) for uint8 ink-on-black patches, in one invoke (in
        chunks of its batch for a model whose batch is fixed)."""
        n = len(patches)
        if n == 0:
            return np.zeros((0, len(self.labels)), np.float32)
        batch = np.take(self._in_lut, to_batch(patches, self.input_size))
        rows = self._rows_per_invoke(n)
        out = np.concatenate([self._invoke(batch[i:i + rows]) for i in range(0, n, rows)])
        out = self._out_q.dequantize(out)
        return _softmax(out) if self._logits else out

    def _rows_per_invoke(self, n: int) -> int:
        """n for a model with a dynamic batch, else its fixed batch. Resizing to the exact batch
        costs about one or two padded rows (alnum, one thread: 15-30 us against 18 us a row), so
        it beats a fixed capacity, where most frames pay for rows they do not use."""
        if self._dynamic_batch and self._batch != n:
            self._interp.resize_tensor_input(self._in_index, [n, *self._in_shape])
            self._interp.allocate_tensors()
            self._batch = n
        return self._batch

    def _invoke(self, batch: np.ndarray) -> np.ndarray:
        n = len(batch)
        if n < self._batch:   # a fixed-batch model: pad, and ignore the padded rows' outputs
            batch = np.concatenate([batch, np.zeros((self._batch - n,) + batch.shape[1:], batch.dtype)])
        self._interp.set_tensor(self._in_index, batch)
        self._interp.invoke()
        return self._interp.get_tensor(self._out_index)[:n]

    def decode(self, probs: np.ndarray) -> tuple[str, list[float]]:
        """Best label per row and its probability."""
        idx = probs.argmax(axis=1)
        return "".join(self.labels[i] for i in idx), [float(probs[r, i]) for r, i in enumerate(idx)]


def resolve_model_path(name_or_path: str, base_dir: str | Path | None = None) -> Path:
    """Find a model: the name of a shipped model (`digits`, `alnum`: package data of
    plate_edge.models), or a path (relative to the config file's folder, then the working
    directory)."""
    p = Path(name_or_path).expanduser()
    candidates: list[Path] = []
    if p.is_absolute():
        candidates.append(p)
    else:
        if base_dir is not None:
            candidates.append(Path(base_dir) / p)
        candidates.append(Path.cwd() / p)
    if "/" not in name_or_path and not name_or_path.endswith(".tflite"):
        packaged = shipped_model(name_or_path)
        if packaged is not None:
            candidates.append(packaged)
    for c in candidates:
        if c.is_file():
            return c
    raise ModelError(f"{name_or_path}: model not found (looked in: {', '.join(str(c) for c in candidates)}; "
                     f"shipped models: {', '.join(shipped_models()) or 'none'})")


def shipped_model(name: str) -> Path | None:
    """The packaged model file `name`.tflite (None when there is no such model)."""
    res = resources.files("plate_edge").joinpath("models", f"{name}.tflite")
    return Path(str(res)) if res.is_file() else None


def shipped_models() -> list[str]:
    """Names of the models shipped as package data."""
    folder = resources.files("plate_edge").joinpath("models")
    if not folder.is_dir():
        return []
    return sorted(e.name[:-len(".tflite")] for e in folder.iterdir() if e.name.endswith(".tflite"))
