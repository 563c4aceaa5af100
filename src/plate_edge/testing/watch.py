"""A small MQTT subscriber that collects messages: used by the demo, the bench and the tests.

    with Watcher("127.0.0.1", port, ["plate_edge/#"]) as w:
        msg = w.wait_for(lambda m: m.topic.endswith("/plate"), timeout=10)
"""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


@dataclass
class Message:
    topic: str
    payload: bytes
    retain: bool
    received: float               # wall-clock time of arrival

    def json(self):
        return json.loads(self.payload)

    @property
    def text(self) -> str:
        return self.payload.decode(errors="replace")


class Watcher:
    def __init__(self, host: str, port: int, topics: list[str],
                 on_message: Callable[[Message], None] | None = None, client_id: str = "",
                 clean_session: bool = True, username: str | None = None, password: str | None = None,
                 ca_file=None, cert_file=None, key_file=None):
        # clean_session=False with a fixed client_id: a persistent broker queues messages for us
        # while we are disconnected (used to watch across a broker restart)
        self.topics = topics
        self.messages: list[Message] = []
        self._cond = threading.Condition()
        self._subscribed = threading.Event()
        self._callback = on_message
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                                  clean_session=clean_session)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.reconnect_delay_set(1, 2)
        if username:
            self.client.username_pw_set(username, password)
        if ca_file:       # TLS (cert_file/key_file: client certificate, when the broker wants one)
            self.client.tls_set(ca_certs=str(ca_file), certfile=str(cert_file) if cert_file else None,
                                keyfile=str(key_file) if key_file else None)
        self.host, self.port = host, port

    def start(self, timeout: float = 10.0) -> Watcher:
        self.client.connect_async(self.host, self.port, keepalive=10)
        self.client.loop_start()
        if not self._subscribed.wait(timeout):
            raise TimeoutError(f"could not subscribe on {self.host}:{self.port}")
        return self

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def __enter__(self) -> Watcher:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        for t in self.topics:   # again after every reconnect (clean session)
            client.subscribe(t, qos=1)

    def _on_message(self, client, userdata, msg) -> None:
        m = Message(msg.topic, bytes(msg.payload), bool(msg.retain), time.time())
        with self._cond:
            self.messages.append(m)
            self._cond.notify_all()
        if self._callback:
            self._callback(m)

    def matching(self, pred: Callable[[Message], bool]) -> list[Message]:
        with self._cond:
            return [m for m in self.messages if pred(m)]

    def wait_for(self, pred: Callable[[Message], bool], timeout: float, count: int = 1,
                 distinct: Callable[[Message], object] | None = None) -> list[Message]:
        """Wait until at least `count` messages satisfy pred; returns them (possibly fewer on timeout).
        With `distinct` (e.g. lambda m: m.json()["id"]), messages with an already seen key are
        skipped: delivery is at-least-once, so an event may arrive twice with the same id."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [m for m in self.messages if pred(m)]
                if distinct is not None:
                    found = _first_of_each(found, distinct)
                left = deadline - time.monotonic()
                if len(found) >= count or left <= 0:
                    return found
                self._cond.wait(min(left, 0.5))


def _first_of_each(messages: list[Message], key: Callable[[Message], object]) -> list[Message]:
    seen: set = set()
    out = []
    for m in messages:
        k = key(m)
        if k not in seen:
            seen.add(k)
            out.append(m)
    return out
