"""MQTT beyond one device, Home Assistant discovery and reconnecting, against a REAL Mosquitto:

- discovery payloads (sensor, event, image) checked field by field against Home Assistant's MQTT
  platform documentation, their topics and unique ids, and the plate event as HA's event entity
  reads it;
- two installs with default MQTT settings on one broker: distinct node ids, client ids, topics and
  unique ids; every event of both arrives exactly once, also across a pair of MQTT v5
  shared-subscription consumers;
- a broker that comes back after an outage longer than the backoff is used within ~2 s, no event
  lost; a broker that refuses us keeps the backoff.

Configs go through load_config (YAML), so only what a user writes is set.
"""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion
from test_daemon_fake import ScriptedReader

from plate_edge import __version__
from plate_edge.config import load_config
from plate_edge.publish import Publisher, install_node_id
from plate_edge.service import Daemon
from plate_edge.spool import Spool
from plate_edge.testing.broker import Broker, find_mosquitto
from plate_edge.testing.watch import Watcher

needs_broker = pytest.mark.skipif(find_mosquitto() is None, reason="mosquitto not installed")

# Keys documented for MQTT discovery (home-assistant.io/integrations/{sensor,event,image}.mqtt and
# the MQTT integration page: device and origin blocks). object_id is gone (removed in HA 2026.4).
COMMON_KEYS = {"availability", "availability_mode", "availability_template", "availability_topic",
               "payload_available", "payload_not_available", "default_entity_id", "device",
               "enabled_by_default", "encoding", "entity_category", "entity_picture", "icon",
               "json_attributes_template", "json_attributes_topic", "name", "origin", "unique_id"}
PLATFORM_KEYS = {
    "sensor": COMMON_KEYS | {"state_topic", "value_template", "device_class", "expire_after", "force_update",
                             "last_reset_value_template", "options", "suggested_display_precision",
                             "state_class", "unit_of_measurement", "qos"},
    "event": COMMON_KEYS | {"state_topic", "value_template", "event_types", "device_class", "qos"},
    "image": COMMON_KEYS | {"image_topic", "content_type", "image_encoding", "url_topic", "url_template"},
}
DEVICE_KEYS = {"identifiers", "connections", "manufacturer", "model", "model_id", "name", "hw_version",
               "serial_number", "sw_version", "via_device", "suggested_area", "configuration_url"}
ORIGIN_KEYS = {"name", "sw_version", "support_url"}



def write_config(folder: Path, port: int, plates, mqtt_extra: dict | None = None, **extra) -> Path:
    """A YAML config with default MQTT settings apart from the port (and mqtt_extra)."""
    folder.mkdir(parents=True, exist_ok=True)
    data = {
        "state_dir": str(folder / "state"),
        "cameras": {"gate": {"source": "generated", "generated": {
            "plates": list(plates), "fps": 50, "width": 320, "height": 240, "plate_width": 100,
            "seconds_per_plate": 1, "gap_s": 0.2, "loop": True}}},
        "tracking": {"stable_frames": 3, "lost_after_s": 0.3},
        "stats": {"interval_s": 0.5},
        "mqtt": {"port": port, **(mqtt_extra or {})},
        **extra,
    }
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def start_daemon(cfg_path: Path, plates) -> tuple[Daemon, threading.Thread]:
    d = Daemon(load_config(cfg_path), lambda cfg: ScriptedReader(plates))
    th = threading.Thread(target=d.run, daemon=True)
    th.start()
    return d, th


def stop_daemon(d: Daemon, th: threading.Thread) -> None:
    d.stop()
    th.join(5)


class SharedConsumer:
    """An MQTT v5 client in a shared subscription group: the broker gives each message to one member."""

    def __init__(self, port: int, client_id: str, topic: str):
        self.ids: list[str] = []
        self.granted: list = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=1)
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self._subscribed.wait(10), f"{client_id}: no SUBACK for {topic}"

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties):
        self.granted = list(reason_codes)
        self._subscribed.set()

    def _on_message(self, client, userdata, msg):
        with self._lock:
            self.ids.append(json.loads(msg.payload)["id"])

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


# ---------------------------------------------------------------------------- node id

def test_node_id_is_per_install_and_stable(tmp_path):
    a1 = install_node_id(tmp_path / "a")
    assert install_node_id(tmp_path / "a") == a1                       # stable across restarts
    assert (tmp_path / "a" / "node_id").read_text().strip() == a1
    b = install_node_id(tmp_path / "b")                                # another install: another id
    assert b != a1
    assert all(ch.isalnum() or ch in "-_" for ch in a1 + b)            # one safe topic level


def test_client_id_topics_and_override_follow_the_node_id(tmp_path):
    mqtt_cfg = load_config(write_config(tmp_path, 1883, ["AB123"])).mqtt
    spool = Spool(tmp_path / "spool.sqlite3")
    p = Publisher(mqtt_cfg, spool, ["gate"], node_id="pi-1a2b3c4d")
    assert p.client_id == "plate-edge-pi-1a2b3c4d"
    assert p.status_topic == "plate_edge/pi-1a2b3c4d/status"
    assert p._topic("gate", "plate") == "plate_edge/pi-1a2b3c4d/gate/plate"
    cfg2 = load_config(write_config(tmp_path / "o", 1883, ["AB123"], mqtt_extra={
        "node_id": "east gate", "client_id": "mine", "topic_prefix": "site/{node}/lpr"})).mqtt
    p2 = Publisher(cfg2, spool, ["gate"], node_id="ignored")
    assert p2.client_id == "mine" and p2.status_topic == "site/east_gate/lpr/status"
    # snapshots off: the image config is an empty retained payload (removes an image announced before)
    msgs = dict(p.discovery_messages("gate"))
    assert msgs["homeassistant/image/pi-1a2b3c4d/gate_snapshot/config"] == ""
    spool.close()


# ---------------------------------------------------------------------------- Home Assistant

@needs_broker
def test_home_assistant_discovery_payloads(tmp_path):
    plates = ["AB123", "CD456"]
    with Broker() as broker:
        cfg = write_config(tmp_path, broker.port, plates,
                           mqtt_extra={"snapshots": True, "discovery": {"enabled": True}},
                           known_plates={"max_distance": 1, "plates": [{"plate": "AB-128", "name": "Alice"}]})
        with Watcher("127.0.0.1", broker.port, ["plate_edge/#", "homeassistant/#"]) as w:
            d, th = start_daemon(cfg, plates)
            events = w.wait_for(lambda m: m.topic.endswith("/gate/plate"), 20, count=2)
            assert len(events) == 2
            snaps = w.wait_for(lambda m: m.topic.endswith("/gate/snapshot"), 5)
            node = d.publisher.node
            prefix = f"plate_edge/{node}"
            configs = {m.topic: m for m in w.matching(lambda m: m.topic.startswith("homeassistant/"))}
            with Watcher("127.0.0.1", broker.port, ["homeassistant/#"]) as late:   # HA starting later
                retained = late.wait_for(lambda m: m.retain, 5, count=3)
            stop_daemon(d, th)
    assert set(configs) == {f"homeassistant/{platform}/{node}/gate_{leaf}/config"
                            for platform, leaf in (("sensor", "plate"), ("event", "plate"), ("image", "snapshot"))}
    assert {m.topic: m.payload for m in retained} == {t: m.payload for t, m in configs.items()}
    payloads = {topic.split("/")[1]: m.json() for topic, m in configs.items()}
    for platform, c in payloads.items():
        assert set(c) <= PLATFORM_KEYS[platform], (platform, set(c) - PLATFORM_KEYS[platform])
        assert "object_id" not in c
        assert c["default_entity_id"].startswith(f"{platform}.plate_edge_")
        object_id = c["default_entity_id"].split(".", 1)[1]
        assert object_id == object_id.lower() and object_id.replace("_", "").isalnum()
        assert c["availability_topic"] == f"{prefix}/status"
        assert set(c["device"]) <= DEVICE_KEYS and set(c["origin"]) <= ORIGIN_KEYS
        assert c["device"]["identifiers"] == [f"plate_edge_{node}"] and c["device"]["name"]
        assert c["device"]["manufacturer"] and c["device"]["model"] and c["device"]["sw_version"] == __version__
        assert c["origin"]["name"] == "plate-edge" and c["origin"]["sw_version"] == __version__
        assert node in c["unique_id"]
    assert len({c["unique_id"] for c in payloads.values()}) == 3
    assert len({c["default_entity_id"] for c in payloads.values()}) == 3
    sensor, event, image = payloads["sensor"], payloads["event"], payloads["image"]
    assert sensor["state_topic"] == sensor["json_attributes_topic"] == f"{prefix}/gate/last_plate"
    assert sensor["value_template"] == "{{ value_json.plate }}"
    assert event["state_topic"] == f"{prefix}/gate/plate" and event["event_types"] == ["plate", "known_plate"]
    assert image["image_topic"] == f"{prefix}/gate/snapshot" and image["content_type"] == "image/jpeg"
    assert "url_topic" not in image
    # the plate events as Home Assistant's event entity reads them: not retained, a JSON object
    # whose event_type is one of event_types (the rest become the entity's attributes)
    fired = []
    for m in events:
        attrs = m.json()
        assert not m.retain
        fired.append((attrs.pop("event_type"), attrs["plate"]))
    assert fired == [("known_plate", "AB123"), ("plate", "CD456")]
    assert all(t in event["event_types"] for t, _ in fired)
    assert snaps and snaps[0].payload[:2] == b"\xff\xd8"          # the image entity's JPEG


# ---------------------------------------------------------------------------- several devices

@needs_broker
def test_two_default_installs_share_a_broker_and_a_shared_subscription_pair(tmp_path):
    plates_a = ["AA111", "AA222", "AA333"]
    plates_b = ["BB111", "BB222", "BB333"]
    with Broker() as broker:
        pair = [SharedConsumer(broker.port, f"consumer-{i}", "$share/lpr/plate_edge/+/+/plate") for i in (1, 2)]
        try:
            assert all(not rc.is_failure for c in pair for rc in c.granted)
            with Watcher("127.0.0.1", broker.port, ["plate_edge/#", "homeassistant/#"]) as w:
                cfg_a = write_config(tmp_path / "a", broker.port, plates_a, mqtt_extra={"discovery": {"enabled": True}})
                cfg_b = write_config(tmp_path / "b", broker.port, plates_b, mqtt_extra={"discovery": {"enabled": True}})
                da, tha = start_daemon(cfg_a, plates_a)
                db, thb = start_daemon(cfg_b, plates_b)
                got = w.wait_for(lambda m: m.topic.endswith("/gate/plate"), 30, count=6)
                deadline = time.monotonic() + 10
                while sum(len(c.ids) for c in pair) < 6 and time.monotonic() < deadline:
                    time.sleep(0.05)
                time.sleep(1.0)                         # anything extra (a duplicate) would show now
                pa, pb = da.publisher, db.publisher
                status = {m.topic: m.text for m in w.matching(lambda m: m.topic.endswith("/status"))}
                configs = [m.json() for m in w.matching(lambda m: m.topic.startswith("homeassistant/") and m.payload)]
                stop_daemon(da, tha)
                stop_daemon(db, thb)
        finally:
            for c in pair:
                c.close()
        broker_log = broker.log_file.read_text(errors="replace")
    assert len(got) == 6
    # distinct per install: node, client id, topic tree, unique ids and device identifiers
    assert pa.node != pb.node and pa.client_id != pb.client_id
    assert pa.client_id == f"plate-edge-{pa.node}" and pb.client_id == f"plate-edge-{pb.node}"
    assert pa.prefix == f"plate_edge/{pa.node}" and pb.prefix == f"plate_edge/{pb.node}"
    assert status == {f"{pa.prefix}/status": "online", f"{pb.prefix}/status": "online"}
    assert "already connected" not in broker_log             # no client-id takeover
    unique_ids = [c["unique_id"] for c in configs]
    assert len(unique_ids) == 4 and len(set(unique_ids)) == 4   # sensor + event for each install
    assert len({json.dumps(c["device"]["identifiers"]) for c in configs}) == 2
    # every event of both exactly once, each on its own install's topic
    events = w.matching(lambda m: m.topic.endswith("/gate/plate"))
    by_topic = {t: [m.json()["plate"] for m in events if m.topic == t] for t in {m.topic for m in events}}
    assert by_topic == {f"{pa.prefix}/gate/plate": plates_a, f"{pb.prefix}/gate/plate": plates_b}
    ids = [m.json()["id"] for m in events]
    assert len(set(ids)) == 6
    # ... and across the shared-subscription pair: each event to exactly one of the two
    shared = pair[0].ids + pair[1].ids
    assert sorted(shared) == sorted(ids), (pair[0].ids, pair[1].ids)


# ---------------------------------------------------------------------------- reconnecting

@needs_broker
def test_returning_broker_is_used_within_two_seconds_and_nothing_is_lost(tmp_path):
    """Outage of 8 s with reconnect_min_s 1: paho's backoff alone would next try at 15 s (1+2+4+8),
    7 s after the broker is back; the TCP probe makes it retry at once."""
    broker = Broker(persistent=True).start()
    spool = Spool(tmp_path / "spool.sqlite3")
    mqtt_cfg = load_config(write_config(tmp_path, broker.port, ["AB123"], mqtt_extra={
        "reconnect_min_s": 1, "reconnect_max_s": 60})).mqtt
    p = Publisher(mqtt_cfg, spool, ["gate"], node_id="probe-test")
    try:
        with Watcher("127.0.0.1", broker.port, ["plate_edge/+/+/plate"], client_id="t-fleet-watch",
                     clean_session=False) as w:
            p.start()
            assert p.connected.wait(10)
            sent = []

            def event(i):
                sent.append(f"id-{i}")
                p.publish_event("gate", {"id": f"id-{i}", "camera": "gate", "plate": f"P{i:03d}", "known": False})

            for i in range(3):
                event(i)
            assert len(w.wait_for(lambda m: True, 10, count=3)) == 3
            broker.stop()
            deadline = time.monotonic() + 5
            while p.connected.is_set() and time.monotonic() < deadline:
                time.sleep(0.01)
            assert not p.connected.is_set()
            for i in range(3, 6):                   # during the outage: spooled
                event(i)
            time.sleep(8)
            assert p._backoff_s is not None and p._backoff_s >= 8   # the backoff had grown past the outage
            broker.start()
            t0 = time.monotonic()
            assert p.connected.wait(10)
            took = time.monotonic() - t0
            for i in range(6, 9):
                event(i)
            got = w.wait_for(lambda m: True, 15, count=9, distinct=lambda m: m.json()["id"])
        assert took < 2.0, f"reconnected {took:.2f} s after the broker came back"
        assert [m.json()["id"] for m in got] == sent          # none lost, in order
        deadline = time.monotonic() + 5
        while spool.depth() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert spool.depth() == 0
    finally:
        p.stop()
        spool.close()
        broker.close()


@needs_broker
def test_broker_that_refuses_us_keeps_the_backoff(tmp_path):
    """A wrong password: the broker's port is open, so the probe must not turn the backoff into a
    retry every 0.5 s."""
    with Broker(users={"edge": "right"}) as broker:
        (tmp_path / "pw").write_text("wrong\n")
        mqtt_cfg = load_config(write_config(tmp_path, broker.port, ["AB123"], mqtt_extra={
            "user": "edge", "password_file": str(tmp_path / "pw"), "reconnect_min_s": 1,
            "reconnect_max_s": 60})).mqtt
        spool = Spool(tmp_path / "spool.sqlite3")
        p = Publisher(mqtt_cfg, spool, ["gate"], node_id="refused")
        p.start()
        time.sleep(5.0)                 # attempts at 0, 1, 3 s (then 7): 3, where probes would give ~10
        attempts = p.connect_failures
        p.stop()
        spool.close()
        connections = broker.log_file.read_text(errors="replace").count("New connection from")
    assert 2 <= attempts <= 4, attempts
    assert connections <= attempts + 1, connections      # no probe connections to a broker that is up
    assert not p.connected.is_set() and "refused" in (p.last_error or "")
