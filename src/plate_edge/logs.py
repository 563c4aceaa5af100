"""Log format: timestamps on a terminal, sd-daemon priorities under systemd.

When stderr is connected to the journal (systemd sets JOURNAL_STREAM to the device and inode of
that stream, see systemd.exec(5)), every line starts with its syslog priority, `<3>` for errors,
`<4>` warnings, `<6>` info, `<7>` debug (sd-daemon(3)), so `journalctl -p warning` filters them;
the journal adds its own timestamp, so none is written. Elsewhere lines carry a timestamp.
"""
from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from typing import IO

TERMINAL_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
JOURNAL_FORMAT = "%(name)s: %(message)s"


def syslog_priority(levelno: int) -> int:
    """sd-daemon priority of a logging level: 2 crit, 3 err, 4 warning, 6 info, 7 debug."""
    if levelno >= logging.CRITICAL:
        return 2
    if levelno >= logging.ERROR:
        return 3
    if levelno >= logging.WARNING:
        return 4
    if levelno >= logging.INFO:
        return 6
    return 7


class JournalFormatter(logging.Formatter):
    """`<N>name: message`; each line of a multi-line record (a traceback) gets the prefix, so it
    stays with its priority in the journal."""

    def __init__(self) -> None:
        super().__init__(JOURNAL_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{syslog_priority(record.levelno)}>"
        return "\n".join(prefix + line for line in super().format(record).split("\n"))


def stream_is_journal(stream: IO[str], environ: Mapping[str, str] | None = None) -> bool:
    """Whether `stream` is the journal stream systemd connected (JOURNAL_STREAM=<dev>:<inode>)."""
    env = os.environ if environ is None else environ
    value = env.get("JOURNAL_STREAM", "")
    dev, _, ino = value.partition(":")
    if not (dev.isdigit() and ino.isdigit()):
        return False
    try:
        st = os.fstat(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return False
    return (st.st_dev, st.st_ino) == (int(dev), int(ino))


def make_formatter(stream: IO[str], environ: Mapping[str, str] | None = None) -> logging.Formatter:
    return JournalFormatter() if stream_is_journal(stream, environ) else logging.Formatter(TERMINAL_FORMAT)


def setup_logging(level: int | str = logging.INFO, stream: IO[str] | None = None,
                  environ: Mapping[str, str] | None = None, force: bool = False) -> logging.Handler | None:
    """Log to stderr (or `stream`) in the format for where it goes. Like logging.basicConfig, does
    nothing but set the level when the root logger already has a handler, unless `force`."""
    root = logging.getLogger()
    root.setLevel(level)
    if root.handlers and not force:
        return None
    for old in list(root.handlers):
        root.removeHandler(old)
    stream = sys.stderr if stream is None else stream
    handler = logging.StreamHandler(stream)
    handler.setFormatter(make_formatter(stream, environ))
    root.addHandler(handler)
    return handler
