"""Contact sheets: a grid of rendered world plates and/or real plate crops, to compare by eye.

    python -m convert.contact_sheet --seed 0 --n 96 --out runs/sheets/world.png [--boxes] [--region us-ny]
    python -m convert.contact_sheet --real ../shared/data/plates-us-dev --n 96 --out runs/sheets/us-real.png
    python -m convert.contact_sheet --seed 0 --real ../shared/data/plates-us-dev --side-by-side \
        --n 48 --out runs/sheets/side.png

`--real` takes a folder of images (searched recursively) or a labels.csv (file column, and plate or
text column as the label). Real crops are only shown, never written anywhere but the sheet.
"""
from __future__ import annotations

import argparse
import csv
from pathlib import Path

import cv2
import numpy as np

CELL_W, CELL_H, LABEL_H = 220, 120, 16
IMAGE_EXT = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


def _cell(image: np.ndarray, label: str, boxes=None) -> np.ndarray:
    """One grid cell: the image fitted into CELL_W x CELL_H (never enlarged beyond 2x), label below."""
    img = image if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if boxes:
        img = img.copy()
        for x, y, w, h in boxes:
            cv2.rectangle(img, (int(x), int(y)), (int(x + w - 1), int(y + h - 1)), (0, 0, 255), 1)
    h, w = img.shape[:2]
    s = min(CELL_W / w, CELL_H / h, 2.0)
    img = cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))),
                     interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_NEAREST)
    cell = np.full((CELL_H + LABEL_H, CELL_W, 3), 40, np.uint8)
    cell[:img.shape[0], :img.shape[1]] = img
    cv2.putText(cell, label[:32], (2, CELL_H + LABEL_H - 4), cv2.FONT_HERSHEY_PLAIN, 0.9,
                (255, 255, 255), 1, cv2.LINE_AA)
    return cell


def grid(cells: list[np.ndarray], cols: int) -> np.ndarray:
    rows = max(1, -(-len(cells) // cols))
    ch, cw = CELL_H + LABEL_H, CELL_W
    out = np.full((rows * (ch + 4), cols * (cw + 4), 3), 15, np.uint8)
    for i, c in enumerate(cells):
        r, k = divmod(i, cols)
        out[r * (ch + 4):r * (ch + 4) + ch, k * (cw + 4):k * (cw + 4) + cw] = c
    return out


def synthetic_cells(seed: int, n: int, region: str | None = None, boxes: bool = False) -> list[np.ndarray]:
    from convert.worldplates import sample
    rng = np.random.default_rng(seed)
    cells = []
    for _ in range(n):
        s = sample(rng, region)
        cells.append(_cell(s.image, f"{s.text} {s.region}", s.boxes if boxes else None))
    return cells


def _real_items(path: Path) -> list[tuple[Path, str]]:
    if path.is_file() and path.suffix == ".csv":
        root = path.parent
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        items = []
        for r in rows:
            p = root / r["file"]
            if not p.exists():
                p = root / "crops" / r["file"]
            label = " ".join(v for k, v in r.items() if k in ("plate", "text", "region") and v)
            items.append((p, label))
        return items
    if (path / "labels.csv").exists():
        return _real_items(path / "labels.csv")
    return [(p, p.stem) for p in sorted(path.rglob("*")) if p.suffix.lower() in IMAGE_EXT]


def real_cells(path: str, n: int, seed: int = 0) -> list[np.ndarray]:
    items = _real_items(Path(path))
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(items))[:n]
    cells = []
    for i in sorted(idx):
        p, label = items[i]
        img = cv2.imread(str(p))
        if img is not None:
            cells.append(_cell(img, label))
    return cells


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n", type=int, default=96)
    ap.add_argument("--cols", type=int, default=0, help="columns (default: 8, or 4 per side)")
    ap.add_argument("--region", default=None, help="render only this region")
    ap.add_argument("--boxes", action="store_true", help="draw the character boxes")
    ap.add_argument("--real", default=None, help="folder of real crops or a labels.csv")
    ap.add_argument("--side-by-side", action="store_true", help="synthetic left, real right")
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if a.side_by_side:
        if not a.real:
            ap.error("--side-by-side needs --real")
        cols = a.cols or 4
        left = grid(synthetic_cells(a.seed, a.n, a.region, a.boxes), cols)
        right = grid(real_cells(a.real, a.n, a.seed), cols)
        h = max(left.shape[0], right.shape[0])
        pad = lambda g: np.vstack([g, np.full((h - g.shape[0], g.shape[1], 3), 15, np.uint8)])
        sheet = np.hstack([pad(left), np.full((h, 12, 3), (0, 200, 255), np.uint8), pad(right)])
    elif a.real:
        sheet = grid(real_cells(a.real, a.n, a.seed), a.cols or 8)
    else:
        sheet = grid(synthetic_cells(a.seed, a.n, a.region, a.boxes), a.cols or 8)
    cv2.imwrite(str(out), sheet)
    print(f"wrote {out} ({sheet.shape[1]}x{sheet.shape[0]})")


if __name__ == "__main__":
    main()
