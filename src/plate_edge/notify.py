"""systemd notification protocol (sd_notify): readiness, status text, watchdog pings.

A no-op outside systemd (no NOTIFY_SOCKET). Kept dependency-free: it is one datagram, sent
without waiting: when the manager's queue is full (it holds net.unix.max_dgram_qlen datagrams,
10 by default, until read) the message is dropped rather than the daemon stalled.
"""
from __future__ import annotations

import os
import socket
import time


class SystemdNotifier:
    def __init__(self, environ: dict[str, str] | None = None):
        env = os.environ if environ is None else environ
        self.address = env.get("NOTIFY_SOCKET", "")
        if self.address.startswith("@"):          # abstract namespace socket
            self.address = "\0" + self.address[1:]
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        ours = not pid or pid == str(os.getpid())
        self.watchdog_s = int(usec) / 1e6 if usec.isdigit() and ours else 0.0

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    def notify(self, message: str) -> bool:
        if not self.address:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.setblocking(False)
                sock.connect(self.address)
                sock.send(message.encode())
            return True
        except OSError:      # no manager listening, or its queue full (BlockingIOError)
            return False

    def ready(self, status: str = "") -> None:
        self.notify("READY=1" + (f"\nSTATUS={status}" if status else ""))

    def status(self, text: str) -> None:
        self.notify(f"STATUS={text}")

    def watchdog(self) -> None:
        self.notify("WATCHDOG=1")

    def reloading(self) -> None:
        # sd_notify(3): RELOADING=1 must carry MONOTONIC_USEC, the CLOCK_MONOTONIC time in
        # microseconds, so the manager can tell this reload from an earlier one.
        self.notify(reloading_message())

    def stopping(self) -> None:
        self.notify("STOPPING=1")


def reloading_message(monotonic_ns: int | None = None) -> str:
    """`RELOADING=1` with `MONOTONIC_USEC=<CLOCK_MONOTONIC in µs>` (sd_notify(3))."""
    ns = time.clock_gettime_ns(time.CLOCK_MONOTONIC) if monotonic_ns is None else monotonic_ns
    return f"RELOADING=1\nMONOTONIC_USEC={ns // 1000}"
