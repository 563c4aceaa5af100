"""Daemon benchmark (not a test): the whole service on a 30 fps 1280x720 clip for N minutes.

    python bench/daemon.py --minutes 10 [--cores 1] [--model digits]

Renders a looping clip of synthetic plates (plate_edge.sim.scene.write_clip), starts a private Mosquitto,
runs `plate-edge run` pinned to --cores CPU(s) with the clip as a realtime camera, subscribes to
the events and stats, and prints: processed fps vs the clip's fps, dropped frames, capture-to-
publish latency (median, p99) measured two ways (in the daemon per processed frame, and at the
subscriber per event), CPU use and RSS at start and end. Targets: 30 fps on one core,
p99 <= 100 ms, RSS <= 150 MB and no growth.
"""
from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from plate_edge.config import GeneratedSourceConfig  # noqa: E402
from plate_edge.sim.scene import write_clip  # noqa: E402
from plate_edge.testing.broker import Broker  # noqa: E402
from plate_edge.testing.watch import Watcher  # noqa: E402

PREFIX = "bench"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=1.0)
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--cores", type=int, default=1, help="pin the daemon to this many CPUs (0: no pinning)")
    ap.add_argument("--model", default="digits")
    ap.add_argument("--max-fps", type=float, default=0.0, help="camera max_fps setting (0: every frame)")
    ap.add_argument("--plates", nargs="+", default=["4071358", "926081", "1234567", "580342", "73950", "2468024"])
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))

    with tempfile.TemporaryDirectory(prefix="plate-edge-bench-") as tmp, Broker() as broker:
        clip = Path(tmp) / "clip.mp4"
        gen = GeneratedSourceConfig(plates=args.plates, width=w, height=h, fps=args.fps,
                                    seconds_per_plate=2.5, gap_s=0.5, plate_width=max(160, w // 5), seed=4)
        n = write_clip(gen, str(clip))
        print(f"clip: {clip.name} {w}x{h} @ {args.fps} fps, {n} frames ({n / args.fps:.0f} s, looped)", flush=True)
        cfg = {
            "model": {"path": args.model}, "log_level": "WARNING", "state_dir": str(Path(tmp) / "state"),
            "cameras": {"bench": {"source": str(clip), "loop": True, "realtime": True,
                                  "max_fps": args.max_fps}},
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
    result = {
        "minutes": round(elapsed / 60, 2), "clip_fps": args.fps, "cores": args.cores or psutil.cpu_count(),
        "processed_fps": round(fps, 2), "captured_fps": round(fps_cap, 2),
        "dropped_frames": cam_last.get("dropped_frames"),
        "daemon_latency_ms": last.get("latency_ms", {}),
        "event_latency_ms": {"n": int(lat.size), "median": round(float(np.median(lat)), 1) if lat.size else None,
                             "p99": round(float(np.percentile(lat, 99)), 1) if lat.size else None},
        "events": len(events), "plates": sorted({e["plate"] for _, e in events}),
        "cpu_percent_of_one_core": round(cpu, 1),
        "rss_mb_start": round(rss_start, 1), "rss_mb_end": round(rss_end, 1), "rss_mb_samples": rss_samples,
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
