"""systemd integration: log format for the journal, the RELOADING notification, the unit's settings."""
import io
import logging
import os
import re
import socket
import subprocess
import sys
import time

import cv2
import numpy as np
from conftest import ROOT

from plate_edge import service
from plate_edge.logs import JournalFormatter, make_formatter, setup_logging, stream_is_journal
from plate_edge.notify import SystemdNotifier, reloading_message


def _record(level, msg="hello"):
    return logging.LogRecord("plate_edge.x", level, __file__, 1, msg, None, None)


def test_journal_stream_gets_priorities_and_no_timestamp(tmp_path):
    with open(tmp_path / "log", "w") as fh:
        st = os.fstat(fh.fileno())
        env = {"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}
        assert stream_is_journal(fh, env)
        fmt = make_formatter(fh, env)
        assert isinstance(fmt, JournalFormatter)
        assert fmt.format(_record(logging.ERROR)) == "<3>plate_edge.x: hello"
        assert fmt.format(_record(logging.WARNING)).startswith("<4>")
        assert fmt.format(_record(logging.INFO)).startswith("<6>")
        assert fmt.format(_record(logging.DEBUG)).startswith("<7>")
        assert fmt.format(_record(logging.ERROR, "two\nlines")) == "<3>plate_edge.x: two\n<3>lines"


def test_terminal_keeps_timestamps(tmp_path):
    with open(tmp_path / "log", "w") as fh:
        st = os.fstat(fh.fileno())
        for env in ({}, {"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino + 1}"}, {"JOURNAL_STREAM": "junk"}):
            fmt = make_formatter(fh, env)
            assert not isinstance(fmt, JournalFormatter)
            assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ WARNING plate_edge.x: hello$",
                            fmt.format(_record(logging.WARNING)))
    assert not stream_is_journal(io.StringIO(), {"JOURNAL_STREAM": "1:2"})   # no file descriptor


def test_the_daemon_logs_with_priorities_under_systemd(tmp_path):
    """The real process: stderr is the 'journal' stream systemd named in JOURNAL_STREAM."""
    code = ("import os, sys; st = os.fstat(2); os.environ['JOURNAL_STREAM'] = f'{st.st_dev}:{st.st_ino}';"
            "from plate_edge.cli import main; sys.exit(main(sys.argv[1:]))")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"mqtt:\n  password_file: {tmp_path}/missing\nstate_dir: {tmp_path}/s\n")
    with open(tmp_path / "err", "w") as err:
        rc = subprocess.run([sys.executable, "-c", code, "run", "--config", str(cfg)], stderr=err,
                            stdout=subprocess.DEVNULL, timeout=60).returncode
    lines = (tmp_path / "err").read_text().splitlines()
    assert rc == 2
    errors = [line for line in lines if "cannot start" in line]
    assert errors and errors[0].startswith("<3>plate_edge.service: cannot start:"), lines


def test_setup_logging_like_basicconfig_keeps_existing_handlers():
    root = logging.getLogger()
    before = list(root.handlers)
    level = root.level
    try:
        if before:
            assert setup_logging(logging.INFO) is None and root.handlers == before
        stream = io.StringIO()
        handler = setup_logging(logging.INFO, stream=stream, force=True)
        assert handler is not None and root.handlers == [handler]
    finally:
        for h in list(root.handlers):
            root.removeHandler(h)
        for h in before:
            root.addHandler(h)
        root.setLevel(level)


def test_reloading_carries_monotonic_usec(tmp_path):
    assert reloading_message(5_123_456_789) == "RELOADING=1\nMONOTONIC_USEC=5123456"
    path = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(path)
        before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        SystemdNotifier({"NOTIFY_SOCKET": path}).reloading()
        after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        msg = sock.recv(1024).decode()
    fields = dict(line.split("=", 1) for line in msg.splitlines())
    assert fields["RELOADING"] == "1" and before <= int(fields["MONOTONIC_USEC"]) <= after


def test_unit_sets_malloc_arena_max_and_the_code_defers_to_it(monkeypatch):
    unit = (ROOT / "systemd" / "plate-edge.service").read_text()
    assert re.search(r"^Environment=MALLOC_ARENA_MAX=2$", unit, re.M)
    calls = []
    monkeypatch.setattr(service.malloc, "limit_arenas", lambda n=2: calls.append(n) or True)
    monkeypatch.setattr(service, "Daemon", lambda cfg, factory: type("D", (), {"run": lambda self: 0})())
    switch = sys.getswitchinterval()
    try:
        monkeypatch.setenv("MALLOC_ARENA_MAX", "2")
        service.run_daemon(service.Config())
        assert calls == []                       # systemd's setting: not applied twice
        monkeypatch.delenv("MALLOC_ARENA_MAX")
        service.run_daemon(service.Config())
        assert calls == [2]                      # run from a shell: the same limit, from code
    finally:
        sys.setswitchinterval(switch)


def test_read_annotate_into_missing_folder_exits_1(tmp_path, model_path):
    model_path("digits")
    img = tmp_path / "img.png"
    cv2.imwrite(str(img), np.full((60, 100, 3), 128, np.uint8))
    out = subprocess.run([sys.executable, "-m", "plate_edge", "read", str(img), "--annotate",
                          str(tmp_path / "no" / "such" / "out.jpg")], capture_output=True, text=True, timeout=120)
    assert out.returncode == 1, out.stderr
    assert "cannot write annotated image" in out.stderr and "no such folder" in out.stderr
    ok = subprocess.run([sys.executable, "-m", "plate_edge", "read", str(img), "--annotate",
                         str(tmp_path / "out.jpg")], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and (tmp_path / "out.jpg").is_file(), ok.stderr
