"""MQTT output: plate events through the durable spool, status with a last will, camera state,
stats, snapshots and Home Assistant discovery (paho-mqtt >= 2, callback API version 2).

Topics (Frigate-like, under `topic_prefix`):
  <prefix>/status               online | offline, retained; the last will says offline
  <prefix>/<camera>/plate       one JSON event per vehicle pass, QoS from config, via the spool,
                                not retained (a newcomer does not get old passes)
  <prefix>/<camera>/last_plate  the latest event of the camera, retained, QoS 1: the Home Assistant
                                sensor's state, so it still shows the last plate after a restart
  <prefix>/<camera>/state       camera state JSON (streaming, reconnecting, ended...), retained
  <prefix>/<camera>/snapshot    JPEG of the plate crop (optional), retained
  <prefix>/stats                periodic JSON statistics
  <discovery prefix>/sensor/<node_id>/<camera>_plate/config   Home Assistant discovery, retained

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
never logged.
"""
from __future__ import annotations

import collections
import json
import logging
import os
import re
import socket
import ssl
import sys
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from .config import MqttConfig
from .spool import Spool

log = logging.getLogger(__name__)


def sanitize_topic_part(name: str) -> str:
    """A camera name made safe as one topic level: letters, digits, _ and - only."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", name) or "_"


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
                 client_factory=mqtt.Client):
        self.cfg = cfg
        self.spool = spool
        self.prefix = cfg.topic_prefix.rstrip("/")
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
        client_id = cfg.client_id or f"plate-edge-{socket.gethostname()}"
        self.client = client_factory(CallbackAPIVersion.VERSION2, client_id=client_id,
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
        c.max_inflight_messages_set(max(1, cfg.max_inflight))
        c.on_connect = self._on_connect
        c.on_connect_fail = self._on_connect_fail
        c.on_disconnect = self._on_disconnect
        c.on_publish = self._on_publish

    def start(self) -> None:
        """Connect in the background; paho's loop thread reconnects with backoff for ever."""
        log.info("mqtt: connecting to %s:%d%s as %s", self.cfg.host, self.cfg.port,
                 " (TLS)" if self.cfg.tls.enabled else "", self.cfg.user or "anonymous")
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
            self._connect_failed(f"connection refused by the broker: {reason_code}")
            return
        log.info("mqtt: connected to %s:%d", self.cfg.host, self.cfg.port)
        self.last_error, self.connect_failures, self._refused = None, 0, False
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
        self._connect_failed(f"cannot connect to {self.cfg.host}:{self.cfg.port}: "
                             + (f"{type(exc).__name__}: {exc}" if exc else "connection failed"))

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        if self.connected.is_set():
            log.warning("mqtt: disconnected (%s); reconnecting with backoff", reason_code)
            self.last_error = f"disconnected: {reason_code}"
        elif self._refused:
            self._refused = False          # the refusal was reported already
        elif not self._stop.is_set():
            # e.g. the broker wants a client certificate: the TLS session ends before CONNACK
            self._connect_failed(f"connection closed by the broker before it was accepted ({reason_code}); "
                                 "TLS client certificate or broker settings?")
        self.connected.clear()

    def _connect_failed(self, error: str) -> None:
        """Remember why; log it when the reason changes (paho retries with backoff)."""
        self.connect_failures += 1
        level = logging.WARNING if error != self.last_error else logging.DEBUG
        log.log(level, "mqtt: %s; retrying with backoff (attempt %d)", error, self.connect_failures)
        self.last_error = error

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        # paho calls this with its own lock held: only record the ack, the pump thread does the rest
        self._acks.append(mid)
        self._wake.set()

    # ------------------------------------------------------------------ publishing

    def publish_event(self, camera: str, event_json: dict) -> None:
        """Spool the event (durable), then hand it to paho from this thread when nobody else is
        sending (one thread hand-off less per event: under CPU load each costs milliseconds);
        otherwise the pump delivers it."""
        self.spool.put(self._topic(camera, "plate"), json.dumps(event_json).encode(), qos=self.cfg.qos)
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

    def _publish_discovery(self, camera: str) -> None:
        d = self.cfg.discovery
        cam = sanitize_topic_part(camera)
        node = sanitize_topic_part(d.node_id)
        state_topic = self._topic(camera, "last_plate")     # retained: HA keeps it across restarts
        payload = {
            "name": f"{camera} plate", "unique_id": f"{node}_{cam}_plate", "object_id": f"{node}_{cam}_plate",
            "state_topic": state_topic, "value_template": "{{ value_json.plate }}",
            "json_attributes_topic": state_topic, "icon": "mdi:car",
            "availability_topic": self.status_topic, "payload_available": "online",
            "payload_not_available": "offline",
            "device": {"identifiers": [node], "name": f"Plate reader {d.node_id}",
                       "model": "plate-edge", "manufacturer": "plate-edge"},
        }
        self.client.publish(f"{d.prefix}/sensor/{node}/{cam}_plate/config", json.dumps(payload),
                            qos=1, retain=True)

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
