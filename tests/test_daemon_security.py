"""MQTT security against a REAL Mosquitto (never mocked): TLS with username/password from a file or
the environment, a wrong password retried with backoff while the daemon keeps running, and TLS
client certificates. The password must never appear in a log line, a status text or a payload."""
from __future__ import annotations

import logging
import re
import socket
import time

import pytest
from test_daemon import PREFIX, config, daemons, needs_model  # noqa: F401 (daemons: a fixture)
from test_daemon_fake import ScriptedReader, make_cfg, start

from plate_edge.service import Daemon as ServiceDaemon
from plate_edge.testing.broker import Broker, find_mosquitto
from plate_edge.testing.watch import Watcher

pytestmark = pytest.mark.skipif(find_mosquitto() is None, reason="mosquitto not installed")

USER = "edge-cam"
PASSWORD = "Pw-9f3c1e77-do-not-log"


def secure_config(tmp_path, broker: Broker, plates=(), **mqtt):
    return config(tmp_path, broker.port, plates, log_level="DEBUG", mqtt={
        "user": USER, "tls": {"enabled": True, "ca_file": str(broker.ca_file)}, **mqtt})


def watcher(broker: Broker, topics) -> Watcher:
    return Watcher("127.0.0.1", broker.port, topics, username=USER, password=PASSWORD,
                   ca_file=broker.ca_file, cert_file=broker.client_cert, key_file=broker.client_key)


@needs_model
@pytest.mark.parametrize("source", ["file", "env"])
def test_tls_with_password_from_file_or_environment(tmp_path, daemons, source):
    with Broker(tls=True, users={USER: PASSWORD}) as broker, \
            watcher(broker, [f"{PREFIX}/#"]) as w:
        if source == "file":
            (tmp_path / "mqtt.pw").write_text(PASSWORD + "\n")
            cfg, env = secure_config(tmp_path, broker, ["4071358"], password_file=str(tmp_path / "mqtt.pw")), {}
        else:
            cfg, env = secure_config(tmp_path, broker, ["4071358"], password_env="PE_MQTT_PW"), \
                {"PE_MQTT_PW": PASSWORD}
        d = daemons(cfg, env)
        got = w.wait_for(lambda m: m.topic == f"{PREFIX}/gate/plate", 60)
        assert got and got[0].json()["plate"] == "4071358", d.text()
        assert w.wait_for(lambda m: m.topic == f"{PREFIX}/stats", 10)
        assert "(TLS)" in d.text() and USER in d.text()
        rc, _ = d.terminate()
        assert rc == 0
        assert w.wait_for(lambda m: m.topic == f"{PREFIX}/status" and m.text == "offline", 5)
        assert PASSWORD not in d.text()
        assert not [m.topic for m in w.messages if PASSWORD.encode() in m.payload]


@needs_model
def test_wrong_password_is_retried_with_backoff_and_reported_without_the_password(tmp_path, daemons):
    notify_path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(notify_path)
    sock.settimeout(1)
    wrong = "Wrong-" + PASSWORD
    try:
        with Broker(tls=True, users={USER: PASSWORD}) as broker:
            cfg = secure_config(tmp_path, broker, ["4071358"], password_env="PE_MQTT_PW",
                                reconnect_min_s=1, reconnect_max_s=2)
            d = daemons(cfg, {"PE_MQTT_PW": wrong, "NOTIFY_SOCKET": notify_path})
            statuses: list[str] = []
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and "attempt 3" not in d.text():
                try:
                    statuses.append(sock.recv(4096).decode())
                except TimeoutError:
                    pass
            log = d.text()
            assert "attempt 3" in log and d.proc.poll() is None, log
            assert re.search(r"WARNING plate_edge.publish: mqtt: connection refused by the broker: "
                             r"Not authori[sz]ed", log)
            # backoff: attempts are at least reconnect_min_s apart
            times = [_log_time(line) for line in log.splitlines() if "retrying with backoff (attempt" in line]
            assert all(b - a >= 0.9 for a, b in zip(times, times[1:])), log
            while time.monotonic() < deadline and not any("mqtt: connection refused" in s for s in statuses):
                try:
                    statuses.append(sock.recv(4096).decode())
                except TimeoutError:
                    pass
            assert any("STATUS=" in s and "Not authori" in s for s in statuses), statuses
            assert d.proc.poll() is None
            rc, took = d.terminate()
            assert rc == 0 and took < 2.0
            for text in (d.text(), *statuses):
                assert PASSWORD not in text and wrong not in text
    finally:
        sock.close()


def _log_time(line: str) -> float:
    m = re.match(r"\d{4}-\d\d-\d\d (\d\d):(\d\d):(\d\d),(\d{3})", line)
    h, mi, s, ms = (int(v) for v in m.groups())
    return h * 3600 + mi * 60 + s + ms / 1000


def test_client_certificate_required(tmp_path, monkeypatch, caplog):
    """require_certificate: with the client certificate events flow; without it the daemon keeps
    retrying and says why."""
    caplog.set_level(logging.DEBUG, logger="plate_edge")
    monkeypatch.setenv("PE_MQTT_PW", PASSWORD)
    with Broker(tls=True, users={USER: PASSWORD}, require_certificate=True) as broker, \
            watcher(broker, ["t/edge/#"]) as w:
        def secure(with_cert: bool):
            cfg = make_cfg(tmp_path / str(with_cert), broker.port, ["AB123"])
            cfg.mqtt.user, cfg.mqtt.password_env = USER, "PE_MQTT_PW"
            cfg.mqtt.tls.enabled, cfg.mqtt.tls.ca_file = True, str(broker.ca_file)
            if with_cert:
                cfg.mqtt.tls.cert_file, cfg.mqtt.tls.key_file = str(broker.client_cert), str(broker.client_key)
            return cfg

        d = ServiceDaemon(secure(True), lambda cfg: ScriptedReader(["AB123"]))
        th, res = start(d)
        try:
            assert w.wait_for(lambda m: m.topic == "t/edge/gate/plate", 20)
        finally:
            d.stop()
            th.join(3)
        assert res["rc"] == 0

        d = ServiceDaemon(secure(False), lambda cfg: ScriptedReader([]))
        th, res = start(d)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and (d.publisher is None or d.publisher.connect_failures < 2):
                time.sleep(0.1)
            assert d.publisher.connect_failures >= 2 and th.is_alive()
            assert not d.publisher.connected.is_set()
            assert d.stats()["mqtt_error"]
        finally:
            d.stop()
            th.join(3)
        assert res["rc"] == 0
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "retrying with backoff" in text and PASSWORD not in text
