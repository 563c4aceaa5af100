"""Character datasets: MNIST (online or local IDX/.npz), folders of crops, synthetic plate characters,
and weighted mixes of them. Every dataset is uint8 (N, H, W) ink bright on black plus class indices.

Data specs used on the command line (`--data`, repeatable, optional `@WEIGHT` suffix):
  mnist            keras.datasets.mnist (needs internet the first time)
  mnist=DIR        local files: an .npz with x_train/y_train and/or IDX files (.gz or not)
  synth:N          N synthetic plate characters (seeded from --seed), classes balanced
  synth:N,digits=W the same, each digit class W times as frequent as each letter class
  folder=DIR       one sub-folder per class (0..9, A..Z), any image format OpenCV reads
"""
from __future__ import annotations

import gzip
import re
import struct
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from plate_edge import charimg

from .charsynth import make_chars


class DatasetError(ValueError):
    """A dataset that cannot be loaded; the message names the path."""


@dataclass
class Dataset:
    x: np.ndarray            # uint8 (N, H, W)
    y: np.ndarray            # int64 (N,) indices into labels
    labels: list[str]
    description: str

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, idx: np.ndarray, note: str = "") -> Dataset:
        return Dataset(self.x[idx], self.y[idx], self.labels, self.description + note)


# --------------------------------------------------------------------------- MNIST

def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (MNIST format), gzipped or not."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise DatasetError(f"{path}: damaged gzip file: {exc}") from exc
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DatasetError(f"{path}: not an IDX file of unsigned bytes (bad magic number)")
    ndim = raw[3]
    if ndim < 1 or len(raw) < 4 + 4 * ndim:
        raise DatasetError(f"{path}: truncated IDX header")
    dims = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    count = int(np.prod(dims))
    body = raw[4 + 4 * ndim:]
    if len(body) != count:
        raise DatasetError(f"{path}: IDX header says {dims} ({count} bytes) but the file holds {len(body)}")
    return np.frombuffer(body, np.uint8).reshape(dims)


def load_mnist(path: str | Path | None = None, split: str = "train") -> Dataset:
    """MNIST `train` or `test` split: from keras (online) or from a local folder/.npz file."""
    if split not in ("train", "test"):
        raise DatasetError(f"unknown MNIST split {split!r} (train or test)")
    if path is None:
        import keras
        (xtr, ytr), (xte, yte) = keras.datasets.mnist.load_data()
        x, y = (xtr, ytr) if split == "train" else (xte, yte)
        return Dataset(x, y.astype(np.int64), [str(d) for d in range(10)], f"MNIST {split} ({len(y)})")
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"{path}: no such file or directory (expected MNIST IDX/.npz files)")
    x, y = _mnist_from_npz(path, split) if path.is_file() else _mnist_from_dir(path, split)
    if x.ndim != 3 or len(x) != len(y):
        raise DatasetError(f"{path}: MNIST {split} images {x.shape} and labels {y.shape} do not match")
    if y.size and (y.min() < 0 or y.max() > 9):
        raise DatasetError(f"{path}: MNIST labels must be 0..9")
    return Dataset(x.astype(np.uint8), y.astype(np.int64), [str(d) for d in range(10)],
                   f"MNIST {split} ({len(y)}, {path.name})")


def _mnist_from_npz(path: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        with np.load(path) as data:
            kx, ky = f"x_{split}", f"y_{split}"
            if kx not in data or ky not in data:
                raise DatasetError(f"{path}: no arrays {kx}/{ky} in this .npz (has {sorted(data.files)})")
            return data[kx], data[ky]
    except (OSError, ValueError) as exc:
        if isinstance(exc, DatasetError):
            raise
        raise DatasetError(f"{path}: not a readable .npz file: {exc}") from exc


def _mnist_from_dir(path: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    prefix = "train" if split == "train" else "t10k"
    images = sorted(path.glob(f"{prefix}-images*idx3-ubyte*"))
    labels = sorted(path.glob(f"{prefix}-labels*idx1-ubyte*"))
    if images and labels:
        return read_idx(images[0]), read_idx(labels[0])
    for npz in sorted(path.glob("*.npz")):
        with np.load(npz) as data:
            if f"x_{split}" in data.files:
                return _mnist_from_npz(npz, split)
    raise DatasetError(f"{path}: no MNIST {split} data ({prefix}-images-idx3-ubyte[.gz] + "
                       f"{prefix}-labels-idx1-ubyte[.gz], or an .npz with x_{split}/y_{split})")


# --------------------------------------------------------------------------- folders

def load_folder(path: str | Path, labels: list[str], size: tuple[int, int] = (28, 28)) -> Dataset:
    """Crops in one sub-folder per class (named like the label, case-insensitive). Dark-on-light
    or light-on-dark crops are both accepted; each is cut to its ink and framed like the segmenter's."""
    path = Path(path)
    if not path.is_dir():
        raise DatasetError(f"{path}: not a directory (expected one sub-folder per class)")
    index = {lab.upper(): i for i, lab in enumerate(labels)}
    xs, ys, skipped = [], [], []
    for sub in sorted(p for p in path.iterdir() if p.is_dir()):
        cls = index.get(sub.name.upper())
        if cls is None:
            skipped.append(sub.name)
            continue
        for f in sorted(sub.iterdir()):
            gray = cv2.imread(str(f), cv2.IMREAD_GRAYSCALE) if f.is_file() else None
            if gray is None or gray.size == 0:
                continue
            xs.append(charimg.fit_patch(crop_to_ink(folder_patch(gray)), size))
            ys.append(cls)
    if not xs:
        raise DatasetError(f"{path}: no readable images in sub-folders named like the labels "
                           f"({', '.join(labels)})" + (f"; ignored folders: {skipped}" if skipped else ""))
    return Dataset(np.stack(xs), np.array(ys, np.int64), labels, f"folder {path.name} ({len(ys)})")


def folder_patch(gray: np.ndarray) -> np.ndarray:
    """ink_patch with the polarity guessed from the border (a bright border means dark ink)."""
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]]).astype(np.float32)
    return charimg.ink_patch(gray, dark_ink=border.mean() > gray.mean())


def crop_to_ink(patch: np.ndarray, thresh: int = 100) -> np.ndarray:
    ys, xs = np.nonzero(patch > thresh)
    if len(xs) == 0:
        return patch
    return patch[ys.min():ys.max() + 1, xs.min():xs.max() + 1]


# --------------------------------------------------------------------------- specs and mixes

def parse_spec(spec: str) -> tuple[str, str, float]:
    """'kind[=path|:count][@weight]' -> (kind, argument, weight)."""
    weight = 1.0
    if "@" in spec:
        spec, w = spec.rsplit("@", 1)
        try:
            weight = float(w)
        except ValueError:
            raise DatasetError(f"bad weight in data spec {spec}@{w!r}") from None
    m = re.match(r"([\w-]+)[=:](.*)$", spec)   # the kind ends at the first = or :
    return (m.group(1), m.group(2), weight) if m else (spec, "", weight)


def load_spec(spec: str, labels: list[str], seed: int, size: tuple[int, int] = (28, 28)) -> tuple[Dataset, float]:
    kind, arg, weight = parse_spec(spec)
    if kind == "mnist":
        ds = load_mnist(arg or None, "train")
        if size != (28, 28):
            ds = Dataset(np.stack([cv2.resize(im, size[::-1], interpolation=cv2.INTER_AREA) for im in ds.x]),
                         ds.y, ds.labels, ds.description)
    elif kind == "synth":
        n, digit_weight = _synth_args(arg, spec)
        x, y = make_chars(n, labels, seed, size, digit_weight=digit_weight)
        ds = Dataset(x, y, labels, f"synthetic plate chars ({n}, digit weight {digit_weight}, seed {seed})")
    elif kind == "folder":
        ds = load_folder(arg, labels, size)
    else:
        raise DatasetError(f"unknown data kind {kind!r} in {spec!r} (mnist, synth, folder)")
    if ds.labels != labels:  # MNIST digits map onto the first ten labels of any set
        if ds.labels != labels[:len(ds.labels)]:
            raise DatasetError(f"{spec}: labels {ds.labels} do not fit model labels {labels}")
        ds = Dataset(ds.x, ds.y, labels, ds.description)
    return ds, weight


def _synth_args(arg: str, spec: str) -> tuple[int, float]:
    """'N[,digits=W]' -> (N, W)."""
    count, _, option = (arg or "20000").partition(",")
    try:
        n = int(count)
        weight = float(option.removeprefix("digits=")) if option.startswith("digits=") else 1.0
    except ValueError:
        raise DatasetError(f"data spec {spec!r}: expected synth:N or synth:N,digits=W") from None
    if option and not option.startswith("digits="):
        raise DatasetError(f"data spec {spec!r}: unknown option {option!r} (digits=W)")
    return n, weight


def mix(parts: list[tuple[Dataset, float]], rng: np.random.Generator) -> Dataset:
    """Concatenate datasets, each resampled to weight x its size (with replacement above 1)."""
    xs, ys, notes = [], [], []
    for ds, w in parts:
        n = int(round(len(ds) * w))
        idx = rng.permutation(len(ds))[:n] if w <= 1 else rng.integers(0, len(ds), n)
        xs.append(ds.x[idx])
        ys.append(ds.y[idx])
        notes.append(f"{ds.description} x{w:g}")
    order = rng.permutation(sum(len(y) for y in ys))
    return Dataset(np.concatenate(xs)[order], np.concatenate(ys)[order], parts[0][0].labels, " + ".join(notes))


def split(ds: Dataset, fraction: float, rng: np.random.Generator) -> tuple[Dataset, Dataset]:
    """(train, held-out) with `fraction` of the samples held out."""
    order = rng.permutation(len(ds))
    k = int(round(len(ds) * fraction))
    return ds.subset(order[k:]), ds.subset(order[:k], " [held-out]")
