"""The daemon end to end: `plate-edge run` as a child process with the real reader and models on a
generated clip, against a REAL Mosquitto started on a free loopback port (never mocked).

Covered: every plate exactly once with the right text; broker stopped and restarted mid-run;
SIGKILL and restart (spool); SIGTERM publishes offline and exits fast; a missing camera is
retried while its state is published; SIGHUP reload (invalid rejected); bad config exits 2.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from plate_edge.spool import Spool
from plate_edge.testing.broker import Broker, find_mosquitto
from plate_edge.testing.watch import Watcher

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "src" / "plate_edge" / "models" / "digits.tflite"
PREFIX = "t"

needs_broker = pytest.mark.skipif(find_mosquitto() is None, reason="mosquitto not installed")
needs_model = pytest.mark.skipif(not MODEL.is_file(), reason=f"{MODEL} not built (make models)")


def config(tmp_path: Path, port: int, plates=(), camera: dict | None = None, **extra) -> Path:
    cam = camera or {"source": "generated", "generated": {
        "plates": list(plates), "width": 640, "height": 360, "fps": 12, "seconds_per_plate": 1.6,
        "gap_s": 0.5, "plate_width": 200, "seed": 0}}
    cfg = {
        "model": {"path": str(MODEL)},
        "state_dir": str(tmp_path / "state"),
        "cameras": {"gate": cam},
        "tracking": {"lost_after_s": 0.6},
        "mqtt": {"port": port, "topic_prefix": PREFIX, "reconnect_min_s": 1, "reconnect_max_s": 2},
        "stats": {"interval_s": 1},
    }
    for key, value in extra.items():
        cfg.setdefault(key, {}).update(value) if isinstance(value, dict) else cfg.__setitem__(key, value)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


class Daemon:
    """`python -m plate_edge.cli run --config F` with its stderr in a file."""

    def __init__(self, cfg: Path, env: dict | None = None):
        self.log = cfg.parent / f"daemon-{time.monotonic_ns()}.log"
        self._fh = open(self.log, "wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "plate_edge", "run", "--config", str(cfg)],
                                     cwd=ROOT, stderr=self._fh, stdout=subprocess.DEVNULL,
                                     env={**os.environ, **(env or {})})

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_log(self, text: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while text not in self.text():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                return False
            time.sleep(0.1)
        return True

    def terminate(self, timeout: float = 5.0) -> tuple[int, float]:
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout)
        return rc, time.monotonic() - t0

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._fh.close()


@pytest.fixture
def broker():
    b = Broker(persistent=True)
    b.start()
    yield b
    b.close()


@pytest.fixture
def daemons():
    started: list[Daemon] = []

    def start(cfg: Path, env: dict | None = None) -> Daemon:
        d = Daemon(cfg, env)
        started.append(d)
        return d
    yield start
    for d in started:
        d.kill()


def plate_msgs(w: Watcher):
    return w.matching(lambda m: m.topic == f"{PREFIX}/gate/plate")


def event_id(m):
    return m.json()["id"]


def wait_state(w: Watcher, state: str, timeout: float, count: int = 1):
    return w.wait_for(lambda m: m.topic == f"{PREFIX}/gate/state" and m.json()["state"] == state,
                      timeout, count)


@needs_broker
@needs_model
def test_every_generated_plate_arrives_exactly_once(tmp_path, broker, daemons):
    plates = ["4071358", "926081", "1234567", "580342"]
    with Watcher("127.0.0.1", broker.port, [f"{PREFIX}/#"]) as w:
        d = daemons(config(tmp_path, broker.port, plates))
        assert wait_state(w, "ended", 60), d.text()
        got = w.wait_for(lambda m: m.topic == f"{PREFIX}/gate/plate", 5, count=len(plates))
        time.sleep(1.0)
        events = [m.json() for m in plate_msgs(w)]
        assert [e["plate"] for e in events] == plates, d.text()
        e = events[0]
        assert e["camera"] == "gate" and e["frames"] >= 2 and 0 < e["confidence"] <= 1
        assert len(e["char_confidences"]) == len(e["plate"]) and len(e["box"]) == 4
        assert e["first_seen"] <= e["last_seen"] and e["model_id"]
        assert len({ev["id"] for ev in events}) == len(events)
        assert sum("plate " in line and "camera=gate" in line for line in d.text().splitlines()) == len(plates)
        rc, took = d.terminate()
        assert rc == 0 and took < 2.0
    assert got


@needs_broker
@needs_model
def test_broker_restart_mid_run_delivers_everything(tmp_path, broker, daemons):
    plates = ["4071358", "926081", "1234567", "580342", "73950", "2468024"]
    with Watcher("127.0.0.1", broker.port, [f"{PREFIX}/gate/plate"], client_id="t-watch",
                 clean_session=False) as w:
        d = daemons(config(tmp_path, broker.port, plates))
        assert w.wait_for(lambda m: m.topic.endswith("/plate"), 60), d.text()
        broker.stop()                                # outage while plates keep passing
        time.sleep(6)
        assert d.proc.poll() is None
        broker.start()
        w.wait_for(lambda m: False, 0)               # (the watcher reconnects by itself)
        got = w.wait_for(lambda m: m.topic.endswith("/plate"), 60, count=len(plates), distinct=event_id)
        time.sleep(1.0)
        events = [m.json() for m in plate_msgs(w)]
        # at-least-once: a message in flight when the broker died may come twice, with the same id
        unique = list(dict.fromkeys((e["id"], e["plate"]) for e in events))
        assert [p for _, p in unique] == plates, d.text()
        assert "mqtt: disconnected" in d.text()
        assert d.terminate()[0] == 0
    assert got


@needs_broker
@needs_model
def test_sigkill_and_restart_delivers_the_spool_in_order(tmp_path, broker, daemons):
    plates = ["4071358", "926081", "1234567"]
    broker.stop()                                    # nothing can be delivered: all goes to the spool
    cfg = config(tmp_path, broker.port, plates)
    d = daemons(cfg)
    spool_path = tmp_path / "state" / "spool.sqlite3"
    deadline = time.monotonic() + 60
    depth = 0
    while time.monotonic() < deadline:
        if spool_path.exists():
            depth = Spool(spool_path).depth()
            if depth >= len(plates):
                break
        time.sleep(0.3)
    assert depth == len(plates), d.text()
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait()
    broker.start()
    # restart with a camera that gives nothing new: whatever arrives comes from the spool
    cfg2 = config(tmp_path, broker.port, camera={"source": str(tmp_path / "none.mp4")})
    with Watcher("127.0.0.1", broker.port, [f"{PREFIX}/gate/plate"]) as w:
        d2 = daemons(cfg2)
        got = w.wait_for(lambda m: True, 30, count=len(plates), distinct=event_id)
        assert [m.json()["plate"] for m in got] == plates, d2.text()
        deadline = time.monotonic() + 5
        while Spool(spool_path).depth() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert Spool(spool_path).depth() == 0
        with Watcher("127.0.0.1", broker.port, [f"{PREFIX}/gate/last_plate"]) as late:   # HA's state
            last = late.wait_for(lambda m: m.retain, 10)
            assert last and last[-1].json()["id"] == got[-1].json()["id"]
        assert d2.terminate()[0] == 0


@needs_broker
@needs_model
def test_missing_camera_retried_sighup_reload_and_sigterm_offline(tmp_path, broker, daemons):
    cam = {"source": str(tmp_path / "not-there.mp4"), "reopen_min_s": 0.2, "reopen_max_s": 0.8}
    cfg = config(tmp_path, broker.port, camera=cam)
    with Watcher("127.0.0.1", broker.port, [f"{PREFIX}/#"]) as w:
        d = daemons(cfg)
        states = wait_state(w, "reconnecting", 30, count=3)
        assert len(states) >= 3, d.text()
        s = [m.json() for m in states]
        assert "not-there.mp4" in s[-1]["error"] and s[-1]["attempt"] > s[0]["attempt"]
        assert s[-1]["retry_in_s"] >= s[0]["retry_in_s"]
        stats = w.wait_for(lambda m: m.topic == f"{PREFIX}/stats", 10)[-1].json()
        assert stats["cameras"]["gate"]["state"] == "reconnecting"
        assert d.proc.poll() is None
        # SIGHUP with an invalid file: rejected, old config kept, still running
        good = cfg.read_text()
        cfg.write_text(good.replace("stats:", "stats:\n  bogus_key: 1\n", 1))
        d.proc.send_signal(signal.SIGHUP)
        assert d.wait_log("reload rejected", 15) and "stats.bogus_key" in d.text()
        assert d.proc.poll() is None
        # SIGHUP with a valid change: a second camera appears
        data = yaml.safe_load(good)
        data["cameras"]["yard cam"] = dict(cam)
        cfg.write_text(yaml.safe_dump(data))
        d.proc.send_signal(signal.SIGHUP)
        assert w.wait_for(lambda m: m.topic == f"{PREFIX}/yard_cam/state", 10), d.text()
        assert d.wait_log("configuration reloaded", 15), d.text()
        rc, took = d.terminate()
        assert rc == 0 and took < 2.0, d.text()
        assert w.wait_for(lambda m: m.topic == f"{PREFIX}/status" and m.text == "offline", 5)
    with Watcher("127.0.0.1", broker.port, [f"{PREFIX}/status"]) as w2:   # retained for newcomers
        assert w2.wait_for(lambda m: m.retain and m.text == "offline", 5)


@pytest.mark.parametrize("yaml_text,key", [
    ("cameras:\n  gate:\n    sorce: x.mp4\n", "cameras.gate.sorce"),
    ("cameras:\n  gate:\n    source: x.mp4\n    max_fps: fast\n", "cameras.gate.max_fps"),
    ("tracking:\n  stable_frames: 0\n", "tracking"),
    ("mqtt:\n  port: 70000\n", "mqtt"),
    ("spool:\n  drop: random\n", "spool.drop"),
])
def test_bad_config_exits_2_naming_the_key(tmp_path, yaml_text, key):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml_text)
    for cmd in (["run", "--config", str(path)], ["check-config", str(path)]):
        r = subprocess.run([sys.executable, "-m", "plate_edge", *cmd], cwd=ROOT, capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 2, r.stderr
        assert key in r.stderr and "bad.yaml" in r.stderr


def test_password_is_never_logged(tmp_path):
    """Password from the environment reaches paho but no log line (unit-level: no broker needed)."""
    from plate_edge.config import MqttConfig
    from plate_edge.publish import read_password

    os.environ["PE_TEST_PW"] = "s3cr3t-value"
    try:
        assert read_password(MqttConfig(password_env="PE_TEST_PW")) == "s3cr3t-value"
        (tmp_path / "pw").write_text("from-file\n")
        assert read_password(MqttConfig(password_file=str(tmp_path / "pw"))) == "from-file"
        with pytest.raises(ValueError, match="NOPE_NOT_SET") as exc:
            read_password(MqttConfig(password_env="NOPE_NOT_SET"))
        assert "s3cr3t" not in str(exc.value)
    finally:
        del os.environ["PE_TEST_PW"]
