"""A private Mosquitto broker on a free loopback port, for tests, the demo and the bench.

    with Broker() as broker:          # started, accepting connections
        ... broker.port ...
        broker.stop(); broker.start() # an outage, same port

The config is generated in a temp dir. By default nothing is persisted (an outage loses the
broker's queues, which is what the daemon's spool must cope with); persistent=True keeps
subscriptions and queued messages of persistent sessions across stop()/start().
"""
from __future__ import annotations

import getpass
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

MOSQUITTO_PATHS = ("mosquitto", "/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto")


def find_mosquitto() -> str | None:
    for name in MOSQUITTO_PATHS:
        path = shutil.which(name)
        if path:
            return path
    return None


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class Broker:
    def __init__(self, port: int | None = None, host: str = "127.0.0.1", persistent: bool = False,
                 extra_config: str = ""):
        exe = find_mosquitto()
        if exe is None:
            raise FileNotFoundError("mosquitto not found (apt install mosquitto)")
        self.exe = exe
        self.host = host
        self.port = port or free_port(host)
        self._dir = Path(tempfile.mkdtemp(prefix="plate-edge-mosquitto-"))
        self.conf = self._dir / "mosquitto.conf"
        self.log_file = self._dir / "mosquitto.log"
        self.conf.write_text(
            f"listener {self.port} {self.host}\n"
            "allow_anonymous true\n"
            # run as ourselves (as root, mosquitto would switch to a user that cannot write here)
            f"user {getpass.getuser()}\n"
            + (f"persistence true\npersistence_location {self._dir}/\n" if persistent else "persistence false\n")
            +
            f"log_dest file {self.log_file}\n"
            "log_type error\nlog_type warning\nlog_type notice\n"
            + extra_config)
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 10.0) -> "Broker":
        if self.running:
            return self
        self.proc = subprocess.Popen([self.exe, "-c", str(self.conf)], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                raise RuntimeError(f"mosquitto exited with {self.proc.returncode}: {err.strip()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"mosquitto did not accept connections on {self.host}:{self.port}")

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 5.0) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stderr:
            self.proc.stderr.close()
        self.proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> "Broker":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()
