"""A private Mosquitto broker on a free loopback port, for tests, the demo and the bench.

    with Broker() as broker:          # started, accepting connections
        ... broker.port ...
        broker.stop(); broker.start() # an outage, same port

The config is generated in a temp dir. By default nothing is persisted (an outage loses the
broker's queues, which is what the daemon's spool must cope with); persistent=True keeps
subscriptions and queued messages of persistent sessions across stop()/start().

Security (to test the daemon the way a real deployment is set up):
    Broker(tls=True)                          # TLS listener; broker.ca_file verifies it
    Broker(users={"edge": "pw"})              # allow_anonymous false, mosquitto_passwd file
    Broker(tls=True, require_certificate=True)  # clients need a cert signed by the test CA:
                                              # broker.client_cert / broker.client_key
The CA, server (CN and SAN 127.0.0.1, localhost) and client certificates are made in the temp
dir with the `openssl` command; mosquitto_passwd hashes the passwords.
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


def _run(cmd: list[str], cwd: Path) -> None:
    r = subprocess.run(cmd, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    if r.returncode:
        raise RuntimeError(f"{cmd[0]} {cmd[1]} failed ({r.returncode}): {r.stderr.strip()}")


def make_test_pki(folder: Path) -> dict[str, Path]:
    """A throw-away CA plus a server and a client certificate signed by it (EC P-256, 2 days).
    Returns the paths: ca, server_cert, server_key, client_cert, client_key."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise FileNotFoundError("openssl not found (apt install openssl)")
    folder.mkdir(parents=True, exist_ok=True)
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _run([openssl, "req", "-x509", *key, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
          "-subj", "/CN=plate-edge test CA"], folder)
    for name, ext in (("server", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth"),
                      ("client", "extendedKeyUsage=clientAuth")):
        (folder / f"{name}.ext").write_text(ext + "\n")
        _run([openssl, "req", "-new", *key, "-keyout", f"{name}.key", "-out", f"{name}.csr",
              "-subj", f"/CN={'127.0.0.1' if name == 'server' else 'plate-edge-client'}"], folder)
        _run([openssl, "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
              "-CAcreateserial", "-out", f"{name}.crt", "-days", "2", "-extfile", f"{name}.ext"], folder)
    return {"ca": folder / "ca.crt", "server_cert": folder / "server.crt", "server_key": folder / "server.key",
            "client_cert": folder / "client.crt", "client_key": folder / "client.key"}


def write_password_file(path: Path, users: dict[str, str]) -> None:
    """A mosquitto password file (hashed) for these users."""
    exe = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
    path.touch(mode=0o600)
    for user, password in users.items():
        _run([exe, "-b", str(path), user, password], path.parent)


class Broker:
    def __init__(self, port: int | None = None, host: str = "127.0.0.1", persistent: bool = False,
                 extra_config: str = "", tls: bool = False, users: dict[str, str] | None = None,
                 require_certificate: bool = False):
        exe = find_mosquitto()
        if exe is None:
            raise FileNotFoundError("mosquitto not found (apt install mosquitto)")
        self.exe = exe
        self.host = host
        self.port = port or free_port(host)
        self._dir = Path(tempfile.mkdtemp(prefix="plate-edge-mosquitto-"))
        self.conf = self._dir / "mosquitto.conf"
        self.log_file = self._dir / "mosquitto.log"
        self.ca_file = self.client_cert = self.client_key = None
        security = ""
        if tls or require_certificate:
            pki = make_test_pki(self._dir / "pki")
            self.ca_file, self.client_cert, self.client_key = pki["ca"], pki["client_cert"], pki["client_key"]
            security += (f"cafile {pki['ca']}\ncertfile {pki['server_cert']}\nkeyfile {pki['server_key']}\n"
                         f"require_certificate {'true' if require_certificate else 'false'}\n")
        if users:
            write_password_file(self._dir / "passwd", users)
            security += f"password_file {self._dir / 'passwd'}\nallow_anonymous false\n"
        else:
            security += "allow_anonymous true\n"
        self.conf.write_text(
            f"listener {self.port} {self.host}\n"
            + security +
            # run as ourselves (as root, mosquitto would switch to a user that cannot write here)
            f"user {getpass.getuser()}\n"
            + (f"persistence true\npersistence_location {self._dir}/\n" if persistent else "persistence false\n")
            +
            f"log_dest file {self.log_file}\n"
            "log_type error\nlog_type warning\nlog_type notice\n"
            + extra_config)
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 10.0) -> Broker:
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

    def __enter__(self) -> Broker:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()
