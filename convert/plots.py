"""PNG plots of a training run: learning curves and a confusion matrix.
Uses matplotlib when installed, else draws with OpenCV (no extra dependency)."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n: int) -> np.ndarray:
    cm = np.zeros((n, n), np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    return cm


def plot_curves(history: dict[str, list[float]], path: str | Path) -> None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return _cv_curves(history, path)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key in zip(axes, ("loss", "accuracy")):
        for k in (key, f"val_{key}"):
            if k in history:
                ax.plot(range(1, len(history[k]) + 1), history[k], label=k)
        ax.set_xlabel("epoch")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _cv_curves(history: dict[str, list[float]], path) -> None:
    panels = []
    for key in ("loss", "accuracy"):
        img = np.full((300, 420, 3), 255, np.uint8)
        series = [(k, history[k]) for k in (key, f"val_{key}") if history.get(k)]
        values = np.concatenate([v for _, v in series]) if series else np.zeros(1)
        lo, hi = float(values.min()), float(values.max()) + 1e-9
        for (k, v), colour in zip(series, ((200, 80, 0), (0, 120, 230))):
            xs = 40 + np.arange(len(v)) * 360 / max(1, len(v) - 1)
            ys = 260 - (np.asarray(v) - lo) / (hi - lo) * 220
            cv2.polylines(img, [np.int32(np.stack([xs, ys], 1))], False, colour, 2, cv2.LINE_AA)
            cv2.putText(img, k, (50 + 150 * (k.startswith("val")), 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                        colour, 1, cv2.LINE_AA)
        cv2.putText(img, f"{hi:.4f}", (2, 44), cv2.FONT_HERSHEY_SIMPLEX, 0.35, 0, 1)
        cv2.putText(img, f"{lo:.4f}", (2, 262), cv2.FONT_HERSHEY_SIMPLEX, 0.35, 0, 1)
        cv2.putText(img, "epoch", (190, 290), cv2.FONT_HERSHEY_SIMPLEX, 0.45, 0, 1)
        panels.append(img)
    cv2.imwrite(str(path), np.hstack(panels))


def plot_confusion(cm: np.ndarray, labels: list[str], path: str | Path) -> None:
    """Row-normalised confusion matrix, counts written in the off-diagonal cells."""
    n = len(labels)
    cell = 22
    img = np.full((cell * (n + 1), cell * (n + 1), 3), 255, np.uint8)
    norm = cm / np.maximum(1, cm.sum(1, keepdims=True))
    for i in range(n):
        for j in range(n):
            v = norm[i, j]
            colour = (255 * (1 - v), 255 * (1 - v), 255) if i != j else (255 * (1 - v), 255, 255 * (1 - v))
            x, y = cell * (j + 1), cell * (i + 1)
            cv2.rectangle(img, (x, y), (x + cell - 1, y + cell - 1), [int(c) for c in colour], -1)
            if i != j and cm[i, j]:
                cv2.putText(img, str(cm[i, j]), (x + 2, y + 15), cv2.FONT_HERSHEY_SIMPLEX, 0.3, 0, 1)
    for k, lab in enumerate(labels):
        cv2.putText(img, lab, (cell * (k + 1) + 6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, 0, 1)
        cv2.putText(img, lab, (6, cell * (k + 1) + 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, 0, 1)
    cv2.imwrite(str(path), img)
