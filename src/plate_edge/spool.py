"""Durable outbox: MQTT messages kept in SQLite until the broker acknowledged them.

An event is written here before it is handed to the MQTT client and deleted only when the
broker's PUBACK arrives, so a broker outage or a daemon crash loses nothing: the rest is
delivered in insertion order on the next connection. The size is bounded; when full, the
configured policy drops the oldest or the newest message and says so in the log.
"""
from __future__ import annotations

import logging
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field

from .settings import Settings, Text

log = logging.getLogger(__name__)


class SpoolConfig(Settings):
    """The durable outbox (`spool`)."""
    path: Text = ""                        # empty: <state_dir>/spool.sqlite3
    max_events: int = Field(10000, ge=1, le=10_000_000)  # bound on undelivered events kept on disk
    drop: Literal["oldest", "newest"] = "oldest"  # which event is dropped (and logged) when full


@dataclass
class SpooledMessage:
    id: int
    topic: str
    payload: bytes
    qos: int
    retain: bool


class Spool:
    """A bounded FIFO of messages in one SQLite file; safe to use from several threads."""

    def __init__(self, path: str | Path, max_messages: int = 10000, drop: str = "oldest"):
        if drop not in ("oldest", "newest"):
            raise ValueError(f"drop must be 'oldest' or 'newest', got {drop!r}")
        self.path = Path(path)
        self.max_messages = max_messages
        self.drop = drop
        self.dropped = 0
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        # WAL + synchronous=NORMAL: durable across a process crash, cheap enough per event.
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT,"
            " topic TEXT NOT NULL, payload BLOB NOT NULL, qos INTEGER NOT NULL,"
            " retain INTEGER NOT NULL, created REAL NOT NULL DEFAULT ((julianday('now') - 2440587.5) * 86400.0))")

    def put(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> int | None:
        """Store a message; returns its id, or None when the policy dropped this very message."""
        with self._lock:
            depth = self._count()
            if depth >= self.max_messages:
                self.dropped += 1
                if self.drop == "newest":
                    log.warning("spool full (%d messages): dropping the new message for %s "
                                "(policy drop=newest, %d dropped so far)", depth, topic, self.dropped)
                    return None
                row = self._db.execute("SELECT id, topic FROM outbox ORDER BY id LIMIT 1").fetchone()
                self._db.execute("DELETE FROM outbox WHERE id = ?", (row[0],))
                log.warning("spool full (%d messages): dropped the oldest message (id %d, %s) "
                            "(policy drop=oldest, %d dropped so far)", depth, row[0], row[1], self.dropped)
            cur = self._db.execute("INSERT INTO outbox (topic, payload, qos, retain) VALUES (?, ?, ?, ?)",
                                   (topic, bytes(payload), int(qos), int(retain)))
            assert cur.lastrowid is not None
            return int(cur.lastrowid)

    def pending(self, limit: int = 100, exclude: set[int] | frozenset[int] = frozenset()) -> list[SpooledMessage]:
        """The oldest undelivered messages, in order, skipping the ids in `exclude`."""
        with self._lock:
            rows = self._db.execute("SELECT id, topic, payload, qos, retain FROM outbox ORDER BY id LIMIT ?",
                                    (limit + len(exclude),)).fetchall()
        out = [SpooledMessage(r[0], r[1], bytes(r[2]), r[3], bool(r[4])) for r in rows if r[0] not in exclude]
        return out[:limit]

    def ack(self, message_id: int) -> None:
        with self._lock:
            self._db.execute("DELETE FROM outbox WHERE id = ?", (message_id,))

    def depth(self) -> int:
        with self._lock:
            return self._count()

    def _count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
