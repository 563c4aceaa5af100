"""Spool: durable FIFO, survives reopening, bounded with a logged drop policy."""
import logging

import pytest

from plate_edge.spool import Spool


def test_fifo_ack_and_reopen(tmp_path):
    path = tmp_path / "s.sqlite3"
    s = Spool(path)
    ids = [s.put(f"t/{i}", f"p{i}".encode()) for i in range(5)]
    assert s.depth() == 5
    s.ack(ids[0])
    s.ack(ids[2])
    assert [m.payload for m in s.pending(10)] == [b"p1", b"p3", b"p4"]
    assert [m.payload for m in s.pending(10, exclude={ids[1]})] == [b"p3", b"p4"]
    s.close()
    s2 = Spool(path)   # e.g. after a crash/restart
    msgs = s2.pending(10)
    assert [(m.topic, m.payload, m.qos, m.retain) for m in msgs] == [
        ("t/1", b"p1", 1, False), ("t/3", b"p3", 1, False), ("t/4", b"p4", 1, False)]
    assert s2.put("t/5", b"p5") > ids[-1]   # ids keep increasing: order survives restarts


@pytest.mark.parametrize("policy,kept", [("oldest", [b"2", b"3", b"4"]), ("newest", [b"0", b"1", b"2"])])
def test_bounded_with_logged_drop_policy(tmp_path, caplog, policy, kept):
    s = Spool(tmp_path / "s.sqlite3", max_messages=3, drop=policy)
    with caplog.at_level(logging.WARNING):
        for i in range(5):
            s.put("t", str(i).encode())
    assert [m.payload for m in s.pending(10)] == kept
    assert s.dropped == 2
    assert f"drop={policy}" in caplog.text


def test_bad_policy_rejected(tmp_path):
    with pytest.raises(ValueError):
        Spool(tmp_path / "s.sqlite3", drop="random")
