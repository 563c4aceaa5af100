"""The plate-edge command as a user runs it: JSON lines out, clear errors, exit codes."""
import json
import subprocess
import sys

import cv2
import numpy as np
from conftest import ROOT


def plate_edge(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "plate_edge", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_read_crops_prints_one_json_line_per_image(tmp_path, model_path):
    from plate_edge.sim.synth import PlateStyle, render_plate
    model_path("digits")
    rng = np.random.default_rng(7)
    texts = ["4071", "823956", "15349"]
    paths = []
    for i, text in enumerate(texts):
        plate = render_plate(text, rng, style=PlateStyle())
        paths.append(tmp_path / f"p{i}.png")
        cv2.imwrite(str(paths[i]), plate.image)
    out = plate_edge("read", "--crop", *map(str, paths))
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert [line["image"] for line in lines] == list(map(str, paths))
    read = [line["plates"][0]["text"] if line["plates"] else "" for line in lines]
    assert sum(r == t for r, t in zip(read, texts)) >= 2, read


def test_unreadable_image_is_reported_and_others_still_read(tmp_path, model_path):
    model_path("digits")
    good = tmp_path / "good.png"
    cv2.imwrite(str(good), np.full((120, 200, 3), 128, np.uint8))
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff not really a jpeg")
    out = plate_edge("read", str(broken), str(tmp_path / "missing.png"), str(good))
    assert out.returncode == 1
    assert "broken.jpg" in out.stderr and "missing.png" in out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert [line["image"] for line in lines] == [str(good)] and lines[0]["plates"] == []


def test_check_config_exit_codes(tmp_path, model_path):
    model_path("digits")
    assert plate_edge("check-config", str(ROOT / "config.yaml")).returncode == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  path: digits\n  thread: 2\n")
    out = plate_edge("check-config", str(bad))
    assert out.returncode == 2
    assert "model.thread" in out.stderr and str(bad) in out.stderr


def test_missing_model_is_named(tmp_path):
    out = plate_edge("read", "--model", str(tmp_path / "none.tflite"), str(tmp_path / "x.png"))
    assert out.returncode == 2 and "none.tflite" in out.stderr
