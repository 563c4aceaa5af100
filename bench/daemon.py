"""Daemon benchmark (not a test): the whole service on a 30 fps 1280x720 clip for N minutes.

    python bench/daemon.py --minutes 10 [--cores 1] [--model digits] [--clip generated|real|static]

Clips (written to a temporary folder, never kept):
- generated (default): synthetic plates crossing a plain street (plate_edge.sim.scene.write_clip);
- real: photos of ../shared/data/plates-dev (and openimages test scenes of plates-boxes), each shown
  --seconds-per-photo (1 s) with simulated camera motion: a slow pan and zoom and a small shake;
  the labelled plates published are counted;
- static: one photo, nothing moving but sensor noise, for --minutes (default 2): the CPU share of a
  static scene (target < 10 % of one core). The CPU that decoding the clip alone costs is measured
  too: a real camera costs its decoding (or none, for raw V4L2 frames).
The motion gate (cameras.<name>.motion) is on for real and static, off for generated (--motion).

Renders the clip, starts a private Mosquitto,
runs `plate-edge run` pinned to --cores CPU(s) with the clip as a realtime camera, subscribes to
the events and stats, and prints: processed fps vs the clip's fps, dropped frames, capture-to-
publish latency (median, p99) measured two ways (in the daemon per processed frame, and at the
subscriber per event), CPU use and RSS at start and end, frames the motion gate skipped. Targets:
30 fps on one core, p99 <= 100 ms, RSS <= 150 MB and no growth; static scene < 10 % of one core.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import psutil
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from plate_edge.sim.scene import write_clip  # noqa: E402
from plate_edge.source import GeneratedSourceConfig  # noqa: E402
from plate_edge.testing.broker import Broker  # noqa: E402
from plate_edge.testing.watch import Watcher  # noqa: E402

PREFIX = "bench"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=None, help="default 1 (static: 2)")
    ap.add_argument("--clip", choices=("generated", "real", "static"), default="generated")
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data",
                    help="shared data folder (plates-dev, plates-boxes) for --clip real/static")
    ap.add_argument("--photos", type=int, default=60, help="real: plates-dev photos in the clip")
    ap.add_argument("--openimages", type=int, default=15, help="real: openimages test scenes in the clip")
    ap.add_argument("--seconds-per-photo", type=float, default=1.0)
    ap.add_argument("--motion", choices=("on", "off"), default=None,
                    help="motion gate (default: on for real and static, off for generated)")
    ap.add_argument("--recheck-s", type=float, default=None, help="motion.recheck_s (default: the setting's)")
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--cores", type=int, default=1, help="pin the daemon to this many CPUs (0: no pinning)")
    ap.add_argument("--model", default="digits")
    ap.add_argument("--max-fps", type=float, default=0.0, help="camera max_fps setting (0: every frame)")
    ap.add_argument("--plates", nargs="+", default=["4071358", "926081", "1234567", "580342", "73950", "2468024"])
    args = ap.parse_args()
    if args.minutes is None:
        args.minutes = 2.0 if args.clip == "static" else 1.0
    if args.motion is None:
        args.motion = "off" if args.clip == "generated" else "on"
    w, h = (int(v) for v in args.size.split("x"))
    if args.clip != "generated" and not (args.data / "plates-dev" / "labels.csv").is_file():
        print(f"--clip {args.clip}: skipped (no {args.data / 'plates-dev' / 'labels.csv'})")
        return 0

    with tempfile.TemporaryDirectory(prefix="plate-edge-bench-") as tmp, Broker() as broker:
        clip = Path(tmp) / "clip.mp4"
        args.expected = []
        if args.clip == "real":
            n, args.expected = write_real_clip(args, str(clip), (w, h))
        elif args.clip == "static":
            n = write_static_clip(args, str(clip), (w, h))
        else:
            gen = GeneratedSourceConfig(plates=args.plates, width=w, height=h, fps=args.fps,
                                        seconds_per_plate=2.5, gap_s=0.5, plate_width=max(160, w // 5), seed=4)
            n = write_clip(gen, str(clip))
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"clip ({args.clip}): {clip.name} {w}x{h} @ {args.fps} fps, {n} frames ({n / args.fps:.0f} s, looped); "
              f"load average {load}", flush=True)
        args.decode_cpu = decode_cpu_percent(str(clip), args.fps)
        camera = {"source": str(clip), "loop": True, "realtime": True, "max_fps": args.max_fps,
                  "motion": {"enabled": args.motion == "on"}}
        if args.recheck_s is not None:
            camera["motion"]["recheck_s"] = args.recheck_s
        cfg = {
            "model": {"path": args.model}, "log_level": "WARNING", "state_dir": str(Path(tmp) / "state"),
            "cameras": {"bench": camera},
            "tracking": {"repeat_window_s": 2},
            "mqtt": {"port": broker.port, "topic_prefix": PREFIX},
            "stats": {"interval_s": 10},
        }
        cfg_path = Path(tmp) / "config.yaml"
        cfg_path.write_text(yaml.safe_dump(cfg))
        with Watcher("127.0.0.1", broker.port, [f"{PREFIX}/#"]) as watch:
            proc = subprocess.Popen([sys.executable, "-m", "plate_edge", "run", "--config", str(cfg_path)],
                                    cwd=ROOT)
            ps = psutil.Process(proc.pid)
            if args.cores:
                ps.cpu_affinity(list(range(min(args.cores, psutil.cpu_count()))))
            try:
                return run(args, proc, ps, watch)
            finally:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
                    proc.wait(10)


def _photos(args) -> list[tuple[Path, tuple[int, int, int, int], str]]:
    """(path, a plate box, its text or '') of plates-dev photos (evenly over the set), then openimages
    test scenes (boxes without text)."""
    dev = args.data / "plates-dev"
    first: dict[str, tuple[tuple[int, int, int, int], str]] = {}
    for r in csv.DictReader((dev / "labels.csv").open()):
        box = tuple(int(float(r[k])) for k in ("x", "y", "w", "h"))
        first.setdefault(r["image"], (box, r["plate"]))  # type: ignore[arg-type]
    names = sorted(first)
    step = max(1, len(names) // max(1, args.photos))
    out = [(dev / n, *first[n]) for n in names[::step][:args.photos]]
    oi = args.data / "plates-boxes" / "openimages"
    if args.openimages and (oi / "boxes.csv").is_file():
        seen: dict[str, tuple[int, int, int, int]] = {}
        for r in csv.DictReader((oi / "boxes.csv").open()):
            if r["split"] == "test" and r["class"] == "plate":
                seen.setdefault(r["file"], tuple(int(float(r[k])) for k in ("x", "y", "w", "h")))  # type: ignore
        out += [(oi / f, b, "") for f, b in sorted(seen.items())[:args.openimages]]
    return out


def _as_frame(img: np.ndarray, box, size: tuple[int, int], margin: float) -> np.ndarray:
    """The photo cropped to the frame's aspect ratio around the plate box and resized to size*(1+margin)."""
    tw, th = size
    h, w = img.shape[:2]
    cw, ch = (round(h * tw / th), h) if w / h > tw / th else (w, round(w * th / tw))
    x, y, bw, bh = box
    cx = max(0, min(max((w - cw) // 2, x + bw - cw), x, w - cw))
    cy = max(0, min(max((h - ch) // 2, y + bh - ch), y, h - ch))
    big = (round(tw * (1 + margin)), round(th * (1 + margin)))
    crop = img[cy:cy + ch, cx:cx + cw]
    return cv2.resize(crop, big, interpolation=cv2.INTER_AREA if cw > big[0] else cv2.INTER_CUBIC)


def write_real_clip(args, path: str, size: tuple[int, int]) -> tuple[int, list[str]]:
    """Each photo for seconds_per_photo, seen by a camera that pans and zooms slowly and shakes a little."""
    photos = _photos(args)
    tw, th = size
    writer = cv2.VideoWriter(path, cv2.VideoWriter.fourcc(*"mp4v"), args.fps, size)
    if not writer.isOpened():
        raise RuntimeError(f"cannot write video {path}")
    rng = np.random.default_rng(11)
    per = max(1, round(args.seconds_per_photo * args.fps))
    margin = 0.15
    n = 0
    try:
        for k, (p, box, _) in enumerate(photos):
            img = cv2.imread(str(p), cv2.IMREAD_COLOR)
            if img is None:
                continue
            base = _as_frame(img, box, size, margin)
            bh_, bw_ = base.shape[:2]
            z0, z1 = (1.0, 1.08) if k % 2 else (1.08, 1.0)            # zoom in, then out
            pan = rng.uniform(-1, 1, 2) * np.array([bw_ - tw, bh_ - th]) * 0.35
            for i in range(per):
                a = i / max(1, per - 1)
                z = z0 + (z1 - z0) * a
                shake = rng.normal(0, 1.0, 2)
                cx = bw_ / 2 + pan[0] * (a - 0.5) + shake[0]
                cy = bh_ / 2 + pan[1] * (a - 0.5) + shake[1]
                # frame pixel (u, v) shows base pixel (cx + (u - tw/2) * s, cy + (v - th/2) * s)
                s = 1.0 / z                                            # base pixels per frame pixel
                m = np.array([[s, 0, cx - tw / 2 * s], [0, s, cy - th / 2 * s]], np.float32)
                frame = cv2.warpAffine(base, m, size, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                       borderMode=cv2.BORDER_REFLECT)
                writer.write(frame)
                n += 1
    finally:
        writer.release()
    return n, [t for _, _, t in photos if t]


def write_static_clip(args, path: str, size: tuple[int, int], seconds: float = 10.0) -> int:
    """One photo, nothing moving, a little sensor noise (looped by the camera)."""
    p, box, _ = _photos(args)[0]
    img = cv2.imread(str(p), cv2.IMREAD_COLOR)
    base = _as_frame(img, box, size, 0.0)
    writer = cv2.VideoWriter(path, cv2.VideoWriter.fourcc(*"mp4v"), args.fps, size)
    rng = np.random.default_rng(5)
    noise = [rng.normal(0, 1.5, base.shape).astype(np.int16) for _ in range(4)]
    n = round(seconds * args.fps)
    for i in range(n):
        writer.write(np.clip(base.astype(np.int16) + noise[i % 4], 0, 255).astype(np.uint8))
    writer.release()
    return n


def decode_cpu_percent(path: str, fps: float, frames: int = 150) -> float:
    """CPU share of one core that decoding the clip at its frame rate costs (what any reader of
    this camera pays before the daemon's own work)."""
    cv2.setNumThreads(1)
    cap = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
    c0 = time.process_time()
    got = 0
    while got < frames:
        ok, _ = cap.read()
        if not ok:
            break
        got += 1
    cap.release()
    return round((time.process_time() - c0) / max(1, got) * fps * 100, 1)


def run(args, proc, ps, watch) -> int:
    online = watch.wait_for(lambda m: m.topic == f"{PREFIX}/status" and m.text == "online", 60)
    if not online:
        print("daemon did not come online", file=sys.stderr)
        return 1
    time.sleep(5)                                    # warm-up: model loaded, caches filled
    rss_start = ps.memory_info().rss / 2**20
    cpu_start, t_start = ps.cpu_times(), time.monotonic()
    n_msgs = len(watch.messages)
    end = t_start + args.minutes * 60
    rss_samples = []
    while time.monotonic() < end and proc.poll() is None:
        time.sleep(min(10.0, max(0.1, end - time.monotonic())))
        rss_samples.append(round(ps.memory_info().rss / 2**20, 1))
    elapsed = time.monotonic() - t_start
    cpu_end = ps.cpu_times()
    rss_end = ps.memory_info().rss / 2**20
    msgs = watch.messages[n_msgs:]
    stats = [m.json() for m in msgs if m.topic == f"{PREFIX}/stats"]
    events = [(m, m.json()) for m in msgs if m.topic.endswith("/plate")]
    lat = np.array([1000 * (m.received - e["last_seen"]) for m, e in events if e["reason"] == "stable"])
    last = stats[-1] if stats else {}
    first = stats[0] if stats else {}
    cam_last, cam_first = last.get("cameras", {}).get("bench", {}), first.get("cameras", {}).get("bench", {})
    span = (last.get("time", 0) - first.get("time", 0)) or 1
    fps = (cam_last.get("frames_processed", 0) - cam_first.get("frames_processed", 0)) / span
    fps_cap = (cam_last.get("frames_captured", 0) - cam_first.get("frames_captured", 0)) / span
    cpu = ((cpu_end.user + cpu_end.system) - (cpu_start.user + cpu_start.system)) / elapsed * 100
    skipped = cam_last.get("skipped_static", 0) - cam_first.get("skipped_static", 0)
    processed = cam_last.get("frames_processed", 0) - cam_first.get("frames_processed", 0)
    norm = lambda t: "".join(c for c in t.upper() if c.isalnum())
    published = {norm(e["plate"]) for _, e in events}
    expected = {norm(t) for t in args.expected}
    result = {
        "clip": args.clip, "motion_gate": args.motion,
        "minutes": round(elapsed / 60, 2), "clip_fps": args.fps, "cores": args.cores or psutil.cpu_count(),
        "processed_fps": round(fps, 2), "captured_fps": round(fps_cap, 2),
        "read_fps": round((processed - skipped) / span, 2),
        "skipped_static": skipped, "skipped_share": round(skipped / processed, 3) if processed else None,
        "dropped_frames": (cam_last.get("dropped_frames") or 0) - (cam_first.get("dropped_frames") or 0),
        "daemon_latency_ms": last.get("latency_ms", {}),
        "event_latency_ms": {"n": int(lat.size), "median": round(float(np.median(lat)), 1) if lat.size else None,
                             "p99": round(float(np.percentile(lat, 99)), 1) if lat.size else None},
        "events": len(events), "plates": sorted({e["plate"] for _, e in events})[:40],
        "cpu_percent_of_one_core": round(cpu, 1),
        # CPU time per frame taken from the camera: on a shared, busy machine the daemon may not get
        # its core; this times 30 is the share of one core it would need to keep up with 30 fps.
        "cpu_ms_per_frame": round(cpu * 10 / (fps or 1), 2) if fps else None,
        "decode_only_cpu_percent": args.decode_cpu,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "rss_mb_start": round(rss_start, 1), "rss_mb_end": round(rss_end, 1), "rss_mb_samples": rss_samples,
    }
    if expected:
        result["labelled_plates_published"] = f"{len(expected & published)} of {len(expected)}"
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
