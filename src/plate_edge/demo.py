"""End-to-end demo: a private Mosquitto, the daemon on the generated camera, readings printed live.

    python -m plate_edge.demo [--plates 4071358 926081 ...] [--model digits] [--timeout 60]

Starts Mosquitto on a free loopback port, writes a configuration for one generated camera into a
temp dir, runs `plate-edge run` as a child process, subscribes to <prefix>/# with paho and prints
each plate event as it arrives, then stops the daemon with SIGTERM (it publishes offline) and the
broker. Exit status 0 when every generated plate was received with the right text.
"""
from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from .testing.broker import Broker
from .testing.watch import Message, Watcher

PREFIX = "plate_edge_demo"


def demo_config(port: int, plates: list[str], model: str, state_dir: str) -> dict:
    return {
        "model": {"path": model},
        "log_level": "INFO",
        "state_dir": state_dir,
        "cameras": {"street": {"source": "generated", "generated": {
            "plates": plates, "width": 960, "height": 540, "fps": 15, "seconds_per_plate": 2.0,
            "gap_s": 0.6, "plate_width": 240, "seed": 0}}},
        "tracking": {"repeat_window_s": 30},
        "mqtt": {"host": "127.0.0.1", "port": port, "topic_prefix": PREFIX},
        "stats": {"interval_s": 5},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m plate_edge.demo", description=__doc__.split("\n")[0])
    ap.add_argument("--plates", nargs="+", default=["4071358", "926081", "1234567", "580342"])
    ap.add_argument("--model", default="digits", help="model name or .tflite path (default: digits)")
    ap.add_argument("--timeout", type=float, default=60.0, help="give up after this many seconds")
    ap.add_argument("--quiet-daemon", action="store_true", help="hide the daemon's own log")
    args = ap.parse_args(argv)

    received: dict[str, dict] = {}

    def show(m: Message) -> None:
        if m.topic.endswith("/plate"):
            ev = m.json()
            received.setdefault(ev["plate"], ev)
            print(f"[mqtt] {m.topic}: plate={ev['plate']} confidence={ev['confidence']:.2f} "
                  f"frames={ev['frames']} latency={1000 * (m.received - ev['last_seen']):.0f} ms "
                  f"({ev['reason']})", flush=True)
        elif m.topic.endswith("/status"):
            print(f"[mqtt] {m.topic}: {m.text}", flush=True)
        elif m.topic.endswith("/stats"):
            s = m.json()
            cams = ", ".join(f"{n}: {c['fps_processed']} fps, {c['dropped_frames']} dropped"
                             for n, c in s["cameras"].items())
            print(f"[mqtt] stats: {cams}; cpu {s['cpu_percent']}%, rss {s['rss_mb']} MB", flush=True)

    with tempfile.TemporaryDirectory(prefix="plate-edge-demo-") as tmp, Broker() as broker:
        cfg_path = Path(tmp) / "config.yaml"
        model = args.model if "/" not in args.model else str(Path(args.model).resolve())
        cfg_path.write_text(yaml.safe_dump(demo_config(broker.port, args.plates, model, str(Path(tmp) / "state"))))
        print(f"mosquitto on 127.0.0.1:{broker.port}; config {cfg_path}; expecting {args.plates}", flush=True)
        with Watcher("127.0.0.1", broker.port, [f"{PREFIX}/#"], on_message=show):
            daemon = subprocess.Popen(
                [sys.executable, "-m", "plate_edge", "run", "--config", str(cfg_path)],
                stderr=subprocess.DEVNULL if args.quiet_daemon else None)
            deadline = time.monotonic() + args.timeout
            try:
                while time.monotonic() < deadline and daemon.poll() is None:
                    if set(args.plates) <= set(received):
                        break
                    time.sleep(0.2)
                time.sleep(0.5)
            finally:
                if daemon.poll() is None:
                    t0 = time.monotonic()
                    daemon.send_signal(signal.SIGTERM)
                    try:
                        rc = daemon.wait(5)
                    except subprocess.TimeoutExpired:
                        daemon.kill()
                        rc = daemon.wait()
                    print(f"daemon stopped (exit {rc}) {time.monotonic() - t0:.2f} s after SIGTERM", flush=True)
                else:
                    print(f"daemon exited early with status {daemon.returncode}", flush=True)
            time.sleep(0.3)
    missing = [p for p in args.plates if p not in received]
    extra = [p for p in received if p not in args.plates]
    print(f"received {len(received)} plate(s): {sorted(received)}; missing {missing}; unexpected {extra}")
    return 0 if not missing else 1


if __name__ == "__main__":
    sys.exit(main())
