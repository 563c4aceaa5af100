"""MQTT output: plate events through the durable spool, status with a last will, camera state,
stats, snapshots and Home Assistant discovery (paho-mqtt >= 2, callback API version 2).

Topics (Frigate-like, under `topic_prefix`; its default `plate_edge/{node}` puts each device in
its own tree, {node} being the node id below):
  <prefix>/status               online | offline, retained; the last will says offline
  <prefix>/<camera>/plate       one JSON event per vehicle pass, QoS from config, via the spool,
                                not retained (a newcomer does not get old passes); its `event_type`
                                (plate | known_plate) makes it a Home Assistant event entity's payload
  <prefix>/<camera>/last_plate  the latest event of the camera, retained, QoS 1: the Home Assistant
                                sensor's state, so it still shows the last plate after a restart
  <prefix>/<camera>/state       camera state JSON (streaming, reconnecting, ended...), retained
  <prefix>/<camera>/snapshot    JPEG of the plate crop (optional), retained
  <prefix>/stats                periodic JSON statistics
  <discovery prefix>/sensor/<node>/<camera>_plate/config      Home Assistant discovery, retained:
  <discovery prefix>/event/<node>/<camera>_plate/config       a sensor (last plate), an event entity
  <discovery prefix>/image/<node>/<camera>_snapshot/config    (plate events), an image (snapshot)

The node id is unique per install and stable across restarts (mqtt.node_id, else made once as
<hostname>-<random hex> and kept in <state_dir>/node_id): it is in the default client id
(plate-edge-<node>), the default topic prefix and the discovery unique ids, so several devices
with default settings share one broker without collisions.

Events are written to the spool first and deleted from it only when the broker's PUBACK for
their message id arrives (on_publish), so outages and restarts lose nothing; spooled messages
are handed to paho in order, a bounded number at a time, by whichever thread holds the send lock:
the one that produced the event when it is free (no hand-off), else the pump thread. last_plate is published by the pump
right after the event it repeats (so it follows the delivery order, also for events spooled by a
previous run) and again on every (re)connect.

Delivery is AT-LEAST-ONCE: an event that was in flight when the connection dropped or the daemon
was killed is sent again, so a subscriber may get it twice. Both copies carry the same `id`
(a UUID per vehicle pass): de-duplicate on it. last_plate is idempotent (same payload, retained).

Connection failures (refused CONNACK such as a wrong password, TLS errors, broker down) are
retried by paho with exponential backoff (reconnect_min_s doubling up to reconnect_max_s); the
reason is logged once per change and kept in `last_error` for stats/status. The password is
never logged. While waiting out the backoff, a TCP connect to the broker's port every 0.5 s
(on paho's thread, never the frame path) notices a broker that was down and is back, and the
retry starts at once: a returning broker is used within about a second, not after up to
reconnect_max_s. A broker that accepts TCP but refuses us (password, TLS) keeps the backoff.
"""
from __future__ import annotations

import collections
import hashlib
import json
import logging
import os
import re
import secrets
import socket
import ssl
import sys
import threading
import time
from importlib import metadata
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import Field, field_validator, model_validator

from . import __version__
from .settings import Settings, Text
from .spool import Spool

log = logging.getLogger(__name__)

NODE_ID_FILE = "node_id"          # in the state directory: this install's node id
PROBE_INTERVAL_S = 0.5            # while disconnected: how often the broker's port is probed
PROBE_TIMEOUT_S = 0.5
EVENT_TYPES = ("plate", "known_plate")   # event_type of plate events (Home Assistant event entity)


def sanitize_topic_part(name: str) -> str:
    """A camera name made safe as one topic level: letters, digits, _ and - only."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", name) or "_"


# --------------------------------------------------------------------------- settings (`mqtt`)

def _topic_safe(value: str) -> str:
    if set(value) & set("+#\0"):
        raise ValueError(f"{value!r} must not contain +, # or NUL")
    return value


class TlsConfig(Settings):
    """`mqtt.tls`; the files are checked (exist, PEM) by `check-config` and before `run` starts."""
    enabled: bool = False
    ca_file: Text = ""               # CA bundle to verify the broker (empty: system CAs)
    cert_file: Text = ""             # client certificate (mutual TLS)
    key_file: Text = ""
    insecure: bool = False           # skip hostname verification (testing only)

    @model_validator(mode="after")
    def _pair(self) -> TlsConfig:
        if self.key_file and not self.cert_file:
            raise ValueError("cert_file: a key_file needs its cert_file")
        return self


class DiscoveryConfig(Settings):
    """`mqtt.discovery`: Home Assistant MQTT discovery."""
    enabled: bool = False
    prefix: Text = Field("homeassistant", min_length=1)
    node_id: Text = ""               # empty: mqtt.node_id (unique per install)

    _topic = field_validator("prefix", "node_id")(_topic_safe)


class MqttConfig(Settings):
    """`mqtt`: the broker connection and topics."""
    enabled: bool = True
    host: Text = Field("127.0.0.1", min_length=1)
    port: int = Field(1883, ge=1, le=65535)
    client_id: Text = ""             # empty: plate-edge-<node id>
    node_id: Text = ""               # empty: <hostname>-<random>, made once, kept in <state_dir>/node_id
    topic_prefix: Text = Field("plate_edge/{node}", min_length=1)  # {node}: the node id (one tree per device)
    user: Text = ""
    password_file: Text = ""         # the password is read from this file ...
    password_env: Text = ""          # ... or from this environment variable; never from the config
    keepalive: int = Field(30, ge=5, le=65535)
    qos: int = Field(1, ge=0, le=2)  # for events (status and discovery are always QoS 1, retained)
    max_inflight: int = Field(20, ge=1, le=65535)
    reconnect_min_s: float = Field(1.0, gt=0, le=3600)
    reconnect_max_s: float = Field(30.0, gt=0, le=3600)
    snapshots: bool = False          # publish <prefix>/<camera>/snapshot (JPEG of the plate crop)
    tls: TlsConfig = Field(default_factory=TlsConfig)
    discovery: DiscoveryConfig = Field(default_factory=DiscoveryConfig)

    _topic = field_validator("topic_prefix", "node_id")(_topic_safe)

    @model_validator(mode="after")
    def _cross(self) -> MqttConfig:
        if self.password_file and self.password_env:
            raise ValueError("password_env: set password_file or password_env, not both")
        if self.reconnect_min_s > self.reconnect_max_s:
            raise ValueError(f"reconnect_min_s: must be <= reconnect_max_s "
                             f"({self.reconnect_min_s} > {self.reconnect_max_s})")
        return self


def _entity_slug(text: str) -> str:
    """Lower-case letters, digits and _ : the object part of a Home Assistant entity id."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "_"


def _machine_id() -> str:
    for path in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        try:
            with open(path, encoding="ascii") as fh:
                value = fh.read().strip()
            if value:
                return value
        except OSError:
            pass
    return socket.gethostname()


def install_node_id(state_dir: str | os.PathLike[str]) -> str:
    """This install's node id: unique per device and install, stable across restarts.
    Made once as <hostname>-<8 random hex digits> and kept in <state_dir>/node_id (a second
    install on the same machine has its own state dir, hence its own id). When the file cannot
    be written, a hash of the machine id and the state dir's path stands in (still stable)."""
    path = Path(state_dir) / NODE_ID_FILE
    try:
        node = sanitize_topic_part(path.read_text(encoding="utf-8").strip())
        if node != "_":
            return node
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.warning("mqtt: cannot read %s (%s); making a new node id", path, exc.strerror)
    host = sanitize_topic_part(socket.gethostname().split(".")[0].lower())[:24].strip("_-") or "edge"
    node = f"{host}-{secrets.token_hex(4)}"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(node + "\n")
        log.info("mqtt: node id %s (kept in %s)", node, path)
    except FileExistsError:           # made meanwhile by another process: use that one
        return install_node_id(state_dir)
    except OSError as exc:
        digest = hashlib.sha256(f"{_machine_id()}:{path.parent.resolve()}".encode()).hexdigest()[:8]
        node = f"{host}-{digest}"
        log.warning("mqtt: cannot keep a node id in %s (%s); using %s from the machine id",
                    path, exc.strerror, node)
    return node


def _support_url() -> str | None:
    """The project's URL from the installed package's metadata (Home-page / Project-URL), if any."""
    try:
        meta = metadata.metadata("plate-edge")
    except metadata.PackageNotFoundError:
        return None
    urls = [u.split(",", 1)[-1].strip() for u in meta.get_all("Project-URL") or []]
    for url in [*(meta.get_all("Home-page") or []), *urls]:
        if url and url.startswith(("http://", "https://")):
            return url
    return None


def read_password(cfg: MqttConfig) -> str | None:
    """The MQTT password from password_file or password_env (None when neither is set).
    Raises ValueError naming the source (never the value) when it cannot be read."""
    if cfg.password_file:
        try:
            with open(cfg.password_file, encoding="utf-8") as fh:
                return fh.read().rstrip("\r\n")
        except OSError as exc:
            raise ValueError(f"mqtt.password_file: cannot read {cfg.password_file}: {exc.strerror}") from exc
    if cfg.password_env:
        value = os.environ.get(cfg.password_env)
        if value is None:
            raise ValueError(f"mqtt.password_env: environment variable {cfg.password_env} is not set")
        return value
    return None


class Publisher:
    """Owns the MQTT connection. Thread-safe: call the publish_* methods from any thread."""

    def __init__(self, cfg: MqttConfig, spool: Spool, cameras: list[str] | None = None,
                 client_factory=mqtt.Client, node_id: str = ""):
        """node_id: this install's id (install_node_id(state_dir)); mqtt.node_id overrides it."""
        self.cfg = cfg
        self.spool = spool
        self.node = sanitize_topic_part(cfg.node_id or node_id or socket.gethostname().split(".")[0])
        self.prefix = cfg.topic_prefix.replace("{node}", self.node).rstrip("/")
        self.cameras = list(cameras or [])
        self.status_topic = f"{self.prefix}/status"
        self.connected = threading.Event()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._acks: collections.deque[int] = collections.deque()
        self._inflight: dict[int, int] = {}           # paho mid -> spool id
        self._send_lock = threading.Lock()            # one sender at a time: keeps spool order
        self._camera_states: dict[str, dict] = {}
        self._last_plates: dict[str, bytes] = {}      # last_plate topic -> payload, republished on connect
        self.last_error: str | None = None            # why the last connection attempt failed
        self.connect_failures = 0                     # consecutive failed attempts
        self._refused = False
        self._state_lock = threading.Lock()
        self.delivered = 0
        self._backoff_s: float | None = None          # the current reconnect backoff
        self._broker_down = False                     # a probe found the broker's port closed
        self._probing = False                         # the last failure looked like "broker down"
        self._closed = threading.Event()              # stop() has called disconnect()
        self.client_id = cfg.client_id or f"plate-edge-{self.node}"
        self.client = client_factory(CallbackAPIVersion.VERSION2, client_id=self.client_id,
                                     protocol=mqtt.MQTTv311, clean_session=True)
        self._configure_client()
        self._pump_thread = threading.Thread(target=self._pump_loop, name="mqtt-pump", daemon=True)

    # ------------------------------------------------------------------ setup

    def _configure_client(self) -> None:
        c, cfg = self.client, self.cfg
        password = read_password(cfg)
        if cfg.user or password:
            c.username_pw_set(cfg.user or None, password)
        if cfg.tls.enabled:
            c.tls_set(ca_certs=cfg.tls.ca_file or None, certfile=cfg.tls.cert_file or None,
                      keyfile=cfg.tls.key_file or None, cert_reqs=ssl.CERT_REQUIRED)
            c.tls_insecure_set(cfg.tls.insecure)
        c.will_set(self.status_topic, "offline", qos=1, retain=True)
        c.reconnect_delay_set(min_delay=max(1, round(cfg.reconnect_min_s)),
                              max_delay=max(1, round(cfg.reconnect_max_s)))
        # paho's loop thread sleeps out the backoff in Client._reconnect_wait (paho 2.x): ours keeps
        # the same exponential backoff and also probes the broker's port (see _reconnect_wait)
        if hasattr(c, "_reconnect_wait"):
            c._reconnect_wait = self._reconnect_wait
        c.max_inflight_messages_set(max(1, cfg.max_inflight))
        c.on_connect = self._on_connect
        c.on_connect_fail = self._on_connect_fail
        c.on_disconnect = self._on_disconnect
        c.on_publish = self._on_publish

    def start(self) -> None:
        """Connect in the background; paho's loop thread reconnects with backoff for ever."""
        log.info("mqtt: connecting to %s:%d%s as %s, client id %s, topics under %s/", self.cfg.host,
                 self.cfg.port, " (TLS)" if self.cfg.tls.enabled else "", self.cfg.user or "anonymous",
                 self.client_id, self.prefix)
        self.client.connect_async(self.cfg.host, self.cfg.port, keepalive=self.cfg.keepalive)
        self.client.loop_start()
        self._pump_thread.start()

    def stop(self, timeout: float = 1.0) -> None:
        """Publish offline, give in-flight events up to `timeout` to be acknowledged, disconnect.
        Whatever is not acknowledged stays in the spool for the next run."""
        deadline = time.monotonic() + timeout
        was_connected = self.connected.is_set()
        if was_connected:
            info = self.client.publish(self.status_topic, "offline", qos=1, retain=True)
            self._wake.set()
            while time.monotonic() < deadline and (self._inflight or not info.is_published()):
                if not self.connected.is_set():
                    break
                time.sleep(0.02)
        self._stop.set()
        self._wake.set()
        self._pump_thread.join(max(0.0, deadline - time.monotonic()) + 0.2)
        with self._send_lock:
            self._process_acks()
        self.connected.clear()          # an intended disconnect: not worth a warning
        self.client.disconnect()
        self._closed.set()              # ends a backoff wait: paho's thread then sees the disconnect
        # paho's loop thread may sit in a connect attempt to an unreachable host for seconds;
        # it is a daemon thread, so do not let it hold up a stop that must finish within 2 s
        stopper = threading.Thread(target=self.client.loop_stop, daemon=True)
        stopper.start()
        # not connected: nothing to flush, and paho may be sleeping in its reconnect backoff
        stopper.join(max(0.3, deadline - time.monotonic() + 0.3) if was_connected else 0.1)

    # ------------------------------------------------------------------ paho callbacks (paho thread)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self._refused = True
            self._probing = False          # it is up and says no: its port is open, probes tell nothing
            self._connect_failed(f"connection refused by the broker: {reason_code}")
            return
        log.info("mqtt: connected to %s:%d", self.cfg.host, self.cfg.port)
        self.last_error, self.connect_failures, self._refused = None, 0, False
        self._backoff_s, self._broker_down, self._probing = None, False, False
        client.publish(self.status_topic, "online", qos=1, retain=True)
        if self.cfg.discovery.enabled:
            for cam in self.cameras:
                self._publish_discovery(cam)
        with self._state_lock:
            states = dict(self._camera_states)
        for cam, state in states.items():
            client.publish(self._topic(cam, "state"), json.dumps(state), qos=1, retain=True)
        with self._state_lock:
            last_plates = list(self._last_plates.items())
        for topic, payload in last_plates:
            client.publish(topic, payload, qos=1, retain=True)
        self.connected.set()
        self._wake.set()

    def _on_connect_fail(self, client, userdata) -> None:
        # paho calls this from inside its `except OSError` around the connect: the error is current
        exc = sys.exc_info()[1]
        self._probing = not isinstance(exc, ssl.SSLError)   # refused, unreachable, timed out: probe
        self._connect_failed(f"cannot connect to {self.cfg.host}:{self.cfg.port}: "
                             + (f"{type(exc).__name__}: {exc}" if exc else "connection failed"))

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        if self.connected.is_set():
            log.warning("mqtt: disconnected (%s); reconnecting with backoff", reason_code)
            self.last_error = f"disconnected: {reason_code}"
            self._probing = True           # the connection was lost: the broker may be down
        elif self._refused:
            self._refused = False          # the refusal was reported already
        elif not self._stop.is_set():
            # e.g. the broker wants a client certificate: the TLS session ends before CONNACK
            self._probing = False
            self._connect_failed(f"connection closed by the broker before it was accepted ({reason_code}); "
                                 "TLS client certificate or broker settings?")
        self.connected.clear()

    def _connect_failed(self, error: str) -> None:
        """Remember why; log it when the reason changes (paho retries with backoff)."""
        self.connect_failures += 1
        level = logging.WARNING if error != self.last_error else logging.DEBUG
        log.log(level, "mqtt: %s; retrying with backoff (attempt %d)", error, self.connect_failures)
        self.last_error = error

    def _reconnect_wait(self) -> None:
        """Between two connection attempts (paho's loop thread, in place of paho's own sleep): wait
        the exponential backoff (reconnect_min_s doubling up to reconnect_max_s, reset by a
        successful connection), and meanwhile try a TCP connect to the broker every
        PROBE_INTERVAL_S. When a probe succeeds after one had failed (the broker was down and is
        back), return at once so paho retries now. Probes are made only after a lost connection
        or a failed TCP connect: a broker that refused us (password, TLS) gets no probe
        connections and keeps the full backoff (a probe there would not fail anyway)."""
        if self._backoff_s is None:
            self._backoff_s = self.cfg.reconnect_min_s
        else:
            self._backoff_s = min(self._backoff_s * 2, self.cfg.reconnect_max_s)
        deadline = time.monotonic() + self._backoff_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or self._closed.wait(min(left, PROBE_INTERVAL_S)):
                return
            if self._stop.is_set() or not self._probing:
                continue                # stopping (disconnect() ends the wait) or nothing to probe
            if not self._probe():
                self._broker_down = True
            elif self._broker_down:
                self._broker_down = False
                log.info("mqtt: %s:%d accepts connections again; reconnecting now",
                         self.cfg.host, self.cfg.port)
                return

    def _probe(self) -> bool:
        """Whether the broker's port accepts a TCP connection (closed again at once)."""
        try:
            with socket.create_connection((self.cfg.host, self.cfg.port), timeout=PROBE_TIMEOUT_S):
                return True
        except OSError:
            return False

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        # paho calls this with its own lock held: only record the ack, the pump thread does the rest
        self._acks.append(mid)
        self._wake.set()

    # ------------------------------------------------------------------ publishing

    def publish_event(self, camera: str, event_json: dict) -> None:
        """Spool the event (durable), then hand it to paho from this thread when nobody else is
        sending (one thread hand-off less per event: under CPU load each costs milliseconds);
        otherwise the pump delivers it. The payload gets `event_type` (plate, or known_plate for a
        plate on the known list): what a Home Assistant event entity needs to fire."""
        payload = {**event_json, "event_type": EVENT_TYPES[1] if event_json.get("known") else EVENT_TYPES[0]}
        self.spool.put(self._topic(camera, "plate"), json.dumps(payload).encode(), qos=self.cfg.qos)
        if self.connected.is_set() and self._send_lock.acquire(blocking=False):
            try:
                self._deliver()
                return
            except Exception:   # e.g. a transient SQLite error: the pump retries
                log.exception("mqtt: delivery error; the pump will retry")
            finally:
                self._send_lock.release()
        self._wake.set()

    def publish_snapshot(self, camera: str, jpeg: bytes) -> None:
        if self.connected.is_set():
            self.client.publish(self._topic(camera, "snapshot"), jpeg, qos=0, retain=True)

    def publish_camera_state(self, camera: str, state: dict) -> None:
        with self._state_lock:
            self._camera_states[camera] = state
        if self.connected.is_set():
            self.client.publish(self._topic(camera, "state"), json.dumps(state), qos=1, retain=True)

    def publish_stats(self, stats: dict) -> None:
        if self.connected.is_set():
            self.client.publish(f"{self.prefix}/stats", json.dumps(stats), qos=0)

    def _topic(self, camera: str, leaf: str) -> str:
        return f"{self.prefix}/{sanitize_topic_part(camera)}/{leaf}"

    def discovery_messages(self, camera: str) -> list[tuple[str, str]]:
        """Home Assistant discovery (topic, JSON payload) for one camera, retained: a sensor (the
        last plate, its event as attributes), an event entity (each plate event) and, with
        snapshots on, an image (the plate crop); with snapshots off an empty payload removes an
        image announced before. Fields as in Home Assistant's MQTT sensor, event and image
        platforms: unique_id, default_entity_id (<domain>.<object id>, replaces object_id), device
        and origin shared by all entities of this install."""
        d = self.cfg.discovery
        cam = sanitize_topic_part(camera)
        node = sanitize_topic_part(d.node_id) if d.node_id else self.node
        base = f"plate_edge_{node}_{cam}"
        entity = f"plate_edge_{_entity_slug(node)}_{_entity_slug(cam)}"
        origin = {"name": "plate-edge", "sw_version": __version__}
        url = _support_url()
        if url:
            origin["support_url"] = url
        common = {
            "availability_topic": self.status_topic, "payload_available": "online",
            "payload_not_available": "offline",
            "device": {"identifiers": [f"plate_edge_{node}"], "name": f"Plate reader {node}",
                       "manufacturer": "plate-edge", "model": "plate-edge licence-plate reader",
                       "sw_version": __version__},
            "origin": origin,
        }
        last_plate = self._topic(camera, "last_plate")     # retained: HA keeps it across restarts
        sensor = {
            "name": f"{camera} plate", "unique_id": f"{base}_plate", "default_entity_id": f"sensor.{entity}_plate",
            "state_topic": last_plate, "value_template": "{{ value_json.plate }}",
            "json_attributes_topic": last_plate, "icon": "mdi:car", "qos": 1, **common,
        }
        event = {
            "name": f"{camera} plate event", "unique_id": f"{base}_event",
            "default_entity_id": f"event.{entity}_plate", "state_topic": self._topic(camera, "plate"),
            "event_types": list(EVENT_TYPES), "icon": "mdi:car-arrow-right", "qos": 1, **common,
        }
        image = {
            "name": f"{camera} snapshot", "unique_id": f"{base}_snapshot",
            "default_entity_id": f"image.{entity}_snapshot", "image_topic": self._topic(camera, "snapshot"),
            "content_type": "image/jpeg", **common,
        }
        return [(f"{d.prefix}/sensor/{node}/{cam}_plate/config", json.dumps(sensor)),
                (f"{d.prefix}/event/{node}/{cam}_plate/config", json.dumps(event)),
                (f"{d.prefix}/image/{node}/{cam}_snapshot/config", json.dumps(image) if self.cfg.snapshots else "")]

    def _publish_discovery(self, camera: str) -> None:
        for topic, payload in self.discovery_messages(camera):
            self.client.publish(topic, payload, qos=1, retain=True)

    # ------------------------------------------------------------------ pump thread

    def _pump_loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(0.5)
            self._wake.clear()
            try:
                with self._send_lock:
                    self._deliver()
            except Exception:   # e.g. a transient SQLite error: keep the pump alive
                log.exception("mqtt: delivery pump error")
                time.sleep(0.5)

    def _deliver(self) -> None:
        """Caller holds _send_lock."""
        self._process_acks()
        if self.connected.is_set():
            self._send_pending()

    def _process_acks(self) -> None:
        while self._acks:
            mid = self._acks.popleft()
            spool_id = self._inflight.pop(mid, None)
            if spool_id is not None:
                self.spool.ack(spool_id)
                self.delivered += 1

    def _send_pending(self) -> None:
        room = max(1, self.cfg.max_inflight) - len(self._inflight)
        if room <= 0:
            return
        for msg in self.spool.pending(room, exclude=set(self._inflight.values())):
            info = self.client.publish(msg.topic, msg.payload, qos=msg.qos, retain=msg.retain)
            if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
                log.warning("mqtt: publish to %s failed (%s); will retry", msg.topic, mqtt.error_string(info.rc))
                break
            if msg.qos == 0:
                self.spool.ack(msg.id)     # no acknowledgement will come for QoS 0
                self.delivered += 1
            else:
                # paho keeps the message and resends it after a reconnect, with the same mid
                self._inflight[info.mid] = msg.id
            state_topic = self._last_plate_topic(msg.topic)
            if state_topic:
                with self._state_lock:
                    self._last_plates[state_topic] = msg.payload
                self.client.publish(state_topic, msg.payload, qos=1, retain=True)

    def _last_plate_topic(self, topic: str) -> str | None:
        """<prefix>/<camera>/last_plate for a <prefix>/<camera>/plate event topic, else None."""
        head, sep, leaf = topic.rpartition("/")
        if leaf != "plate" or not head.startswith(self.prefix + "/") or "/" in head[len(self.prefix) + 1:]:
            return None
        return f"{head}/last_plate"
