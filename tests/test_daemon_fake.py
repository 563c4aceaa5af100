"""The service loop with a scripted fake reader (no models needed) against a REAL Mosquitto:
event flow, spool delivery after a broker outage, camera retry state, stop publishing offline."""
import threading
import time

import pytest

from plate_edge.config import CameraConfig, Config, GeneratedSourceConfig, MqttConfig, StatsConfig, TrackingConfig
from plate_edge.reader import FrameResult
from plate_edge.service import Daemon
from plate_edge.testing.broker import Broker, find_mosquitto
from plate_edge.testing.watch import Watcher
from plate_edge.types import Box, PlateReading

pytestmark = pytest.mark.skipif(find_mosquitto() is None, reason="mosquitto not installed")


class ScriptedReader:
    """Returns plate k (of `plates`) for every frame of its pass, like the generated source shows it."""

    def __init__(self, plates, frames_per_plate=6, gap=25):
        self.plates, self.per, self.gap, self.n = plates, frames_per_plate, gap, 0
        self.extra_looks, self.settled = set(), set()

    def read_frame_timed(self, image, zones=None, extra_looks=True, settled=()):
        self.extra_looks.add(extra_looks)
        self.settled.update(settled)
        k, pos = divmod(self.n, self.per + self.gap)
        self.n += 1
        if k >= len(self.plates) or pos >= self.per:
            return FrameResult([], {"total": 0.001})
        text = self.plates[k]
        return FrameResult([PlateReading(text, 0.95, [0.95] * len(text), Box(100 + 10 * pos, 100, 120, 30), [], [],
                                         "fake")], {"total": 0.001})


def make_cfg(tmp_path, port, plates, **cam):
    return Config(
        cameras={"gate": CameraConfig(source="generated", generated=GeneratedSourceConfig(
            plates=plates, fps=50, width=320, height=240, plate_width=100, seconds_per_plate=1, gap_s=0.2,
            loop=True),
            **cam)},
        tracking=TrackingConfig(stable_frames=3, lost_after_s=0.3),
        mqtt=MqttConfig(port=port, topic_prefix="t/edge", reconnect_min_s=1, reconnect_max_s=1),
        stats=StatsConfig(interval_s=0.5), state_dir=str(tmp_path / "state"))


def start(daemon):
    result = {}
    th = threading.Thread(target=lambda: result.setdefault("rc", daemon.run()), daemon=True)
    th.start()
    return th, result


def test_events_status_stats_and_clean_stop(tmp_path):
    plates = ["AB123", "CD456", "EF789"]
    with Broker() as broker, Watcher("127.0.0.1", broker.port, ["t/edge/#"]) as w:
        reader = ScriptedReader(plates)
        d = Daemon(make_cfg(tmp_path, broker.port, plates), lambda cfg: reader)
        th, res = start(d)
        events = w.wait_for(lambda m: m.topic == "t/edge/gate/plate", 15, count=3)
        assert [m.json()["plate"] for m in events] == plates
        assert reader.extra_looks == {True}   # no motion gate: whole frames take the detector's extra looks
        deadline = time.monotonic() + 3   # each published plate, while in view, is told the reader
        while reader.settled != set(plates) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert reader.settled == set(plates)
        assert w.wait_for(lambda m: m.topic == "t/edge/status" and m.text == "online", 5)
        stats = w.wait_for(lambda m: m.topic == "t/edge/stats", 5)[0].json()
        assert {"cameras", "latency_ms", "spool_depth", "cpu_percent", "rss_mb"} <= set(stats)
        assert "dropped_frames" in stats["cameras"]["gate"]
        assert stats["mqtt_connected"] and stats["mqtt_error"] is None
        t0 = time.monotonic()
        d.stop()
        th.join(3)
        assert time.monotonic() - t0 < 2.0 and res["rc"] == 0
        assert w.wait_for(lambda m: m.topic == "t/edge/status" and m.text == "offline", 3)
        assert len(w.matching(lambda m: m.topic == "t/edge/gate/plate")) == 3   # exactly once


def test_stop_and_reload_as_signal_handlers_take_no_lock(tmp_path):
    """A signal handler runs in the loop's own thread, maybe while that thread holds frame_ready's
    lock for a moment (inside Event.wait or clear): stop() and reload() must not take it again,
    and the loop still stops."""
    with Broker() as broker:
        d = Daemon(make_cfg(tmp_path, broker.port, ["AB123"]), lambda cfg: ScriptedReader([]))
        th, res = start(d)
        deadline = time.monotonic() + 10
        while not d.cameras and time.monotonic() < deadline:
            time.sleep(0.05)
        asked = threading.Event()

        def as_a_handler_would():
            with d.frame_ready._cond:   # the lock the interrupted Event.wait or clear holds
                d.reload()
                d.stop()
            asked.set()
        threading.Thread(target=as_a_handler_would, daemon=True).start()
        assert asked.wait(2), "stop()/reload() wait for a lock the interrupted loop holds"
        th.join(3)
        assert not th.is_alive() and res["rc"] == 0


def test_broker_outage_events_spooled_and_delivered_in_order(tmp_path):
    plates = [f"P{i:04d}" for i in range(8)]
    broker = Broker(persistent=True).start()
    try:
        # a persistent session subscribed before the outage: the broker queues the events for it
        # however soon the daemon reconnects after the broker is back
        Watcher("127.0.0.1", broker.port, ["t/edge/+/plate"], client_id="outage-watch",
                clean_session=False).start().stop()
        d = Daemon(make_cfg(tmp_path, broker.port, plates), lambda cfg: ScriptedReader(plates))
        broker.stop()                       # down from the start: everything goes to the spool
        th, res = start(d)
        deadline = time.monotonic() + 30
        while (d.spool is None or d.spool.depth() < 8) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert d.spool.depth() == 8
        broker.start()
        with Watcher("127.0.0.1", broker.port, ["t/edge/+/plate"], client_id="outage-watch",
                     clean_session=False) as w:
            got = w.wait_for(lambda m: True, 15, count=8)
        assert [m.json()["plate"] for m in got] == plates
        deadline = time.monotonic() + 5
        while d.spool.depth() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert d.spool.depth() == 0
        d.stop()
        th.join(3)
    finally:
        broker.close()


def test_missing_camera_is_retried_and_reported(tmp_path):
    with Broker() as broker, Watcher("127.0.0.1", broker.port, ["t/edge/#"]) as w:
        cfg = make_cfg(tmp_path, broker.port, ["AB123"])
        cfg.cameras = {"door cam": CameraConfig(source=str(tmp_path / "missing.mp4"), reopen_min_s=0.2,
                                                reopen_max_s=0.4)}
        d = Daemon(cfg, lambda cfg: ScriptedReader([]))
        th, res = start(d)
        states = w.wait_for(lambda m: m.topic == "t/edge/door_cam/state"
                            and m.json()["state"] == "reconnecting", 10, count=3)
        assert len(states) >= 3 and "no such video file" in states[-1].json()["error"]
        assert states[-1].json()["attempt"] >= 2
        assert th.is_alive()
        d.stop()
        th.join(3)
        assert res["rc"] == 0


def test_discovery_snapshot_and_known_plate(tmp_path):
    from plate_edge.config import DiscoveryConfig, KnownPlate, KnownPlatesConfig

    plates = ["AB123"]
    with Broker() as broker, Watcher("127.0.0.1", broker.port, ["t/edge/#", "homeassistant/#"]) as w:
        cfg = make_cfg(tmp_path, broker.port, plates)
        cfg.mqtt.snapshots = True
        cfg.mqtt.discovery = DiscoveryConfig(enabled=True, node_id="pi 1")
        cfg.known_plates = KnownPlatesConfig(max_distance=1, plates=[KnownPlate("AB-128", "Alice")])
        d = Daemon(cfg, lambda cfg: ScriptedReader(plates))
        th, res = start(d)
        disc = w.wait_for(lambda m: m.topic == "homeassistant/sensor/pi_1/gate_plate/config", 10)
        c = disc[0].json()
        assert c["state_topic"] == c["json_attributes_topic"] == "t/edge/gate/last_plate" \
            and c["availability_topic"] == "t/edge/status"
        ev = w.wait_for(lambda m: m.topic == "t/edge/gate/plate", 10)[0].json()
        assert ev["known"] and ev["known_name"] == "Alice" and ev["known_plate"] == "AB-128"
        snap = w.wait_for(lambda m: m.topic == "t/edge/gate/snapshot", 5)
        assert snap and snap[0].payload[:2] == b"\xff\xd8"       # a JPEG
        with Watcher("127.0.0.1", broker.port, ["homeassistant/#"]) as late:   # retained for newcomers
            assert late.wait_for(lambda m: m.retain and m.topic.endswith("gate_plate/config"), 5)
        d.stop()
        th.join(3)


def test_sd_notify_ready_watchdog_stopping(tmp_path):
    import socket

    from plate_edge.notify import SystemdNotifier

    sock_path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(sock_path)
    sock.settimeout(5)
    notifier = SystemdNotifier({"NOTIFY_SOCKET": sock_path, "WATCHDOG_USEC": "200000"})
    assert notifier.watchdog_s == 0.2
    with Broker() as broker:
        d = Daemon(make_cfg(tmp_path, broker.port, ["AB123"]), lambda cfg: ScriptedReader([]), notifier=notifier)
        th, res = start(d)
        got = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not ("READY=1" in " ".join(got) and "WATCHDOG=1" in got):
            got.append(sock.recv(4096).decode())
        d.stop()
        th.join(3)
        while "STOPPING=1" not in got:
            got.append(sock.recv(4096).decode())
    assert any(m.startswith("READY=1") for m in got) and "WATCHDOG=1" in got
    sock.close()


def test_sd_notify_never_blocks_on_a_full_manager_queue(tmp_path):
    """A manager that does not read its socket (its datagram queue full) costs the daemon dropped
    notifications, never a stalled loop: every send returns at once, the later ones False."""
    import socket

    from plate_edge.notify import SystemdNotifier

    sock_path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(sock_path)
    notifier = SystemdNotifier({"NOTIFY_SOCKET": sock_path})
    done = []
    sender = threading.Thread(target=lambda: done.extend(notifier.notify(f"STATUS={i}") for i in range(100)),
                              daemon=True)
    sender.start()
    sender.join(5)
    assert len(done) == 100 and done[0] and not done[-1]
    assert sock.recv(4096).decode() == "STATUS=0"
    assert notifier.notify("STOPPING=1")          # read one: there is room again
    sock.close()


def test_last_plate_retained_for_home_assistant_events_not(tmp_path):
    """A fresh subscriber (HA after a restart) gets the last plate per camera from the retained
    last_plate topic, with the event's id; the events themselves are not retained. After a broker
    restart that lost its retained messages, the daemon publishes last_plate again."""
    plates = ["AB123", "CD456"]
    broker = Broker().start()
    try:
        with Watcher("127.0.0.1", broker.port, ["t/edge/#"]) as w:
            d = Daemon(make_cfg(tmp_path, broker.port, plates), lambda cfg: ScriptedReader(plates, gap=10**6))
            th, res = start(d)
            events = w.wait_for(lambda m: m.topic == "t/edge/gate/plate", 15, count=1)
            assert events and not events[0].retain
            last = events[0].json()
            assert w.wait_for(lambda m: m.topic == "t/edge/gate/last_plate" and m.json()["id"] == last["id"], 10)

        def fresh_last_plate():
            with Watcher("127.0.0.1", broker.port, ["t/edge/+/last_plate", "t/edge/+/plate"]) as fresh:
                got = fresh.wait_for(lambda m: m.topic.endswith("/last_plate"), 10)
                time.sleep(0.5)
                assert not fresh.matching(lambda m: m.topic.endswith("/plate"))   # events: not retained
                return got

        got = fresh_last_plate()
        assert got and got[0].retain and got[0].json() == last and last["plate"] == "AB123"
        broker.stop()                       # not persistent: the retained message is gone ...
        broker.start()
        got = fresh_last_plate()            # ... and the daemon publishes it again on reconnect
        assert got and got[0].json()["id"] == last["id"]
        d.stop()
        th.join(3)
        assert res["rc"] == 0
    finally:
        broker.close()


def test_malloc_tuning_is_harmless():
    from plate_edge import malloc

    malloc.limit_arenas(4)      # glibc: accepted; elsewhere a no-op
    malloc.trim()
