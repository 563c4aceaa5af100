"""Folder sources: an unreadable file is skipped with one warning; only a vanished folder reopens."""
import logging
import shutil
import threading
import time

import cv2
import numpy as np
import pytest

from plate_edge.camera import CameraConfig, CameraError, CameraWorker, EndOfStream, FolderSource, open_source


def _folder(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, name in enumerate(["a.png", "b.jpg", "c.jpg", "d.png"]):
        path = folder / name
        if name == "b.jpg":
            path.write_bytes(b"")                                   # empty
        elif name == "c.jpg":
            path.write_bytes(np.random.default_rng(1).bytes(500))   # random bytes
        else:
            cv2.imwrite(str(path), np.full((40, 60, 3), 50 * (i + 1), np.uint8))
    return folder


def test_unreadable_files_are_skipped_with_one_warning_each(tmp_path, caplog):
    folder = _folder(tmp_path)
    src = FolderSource(CameraConfig(source=str(folder), loop=True, realtime=False))
    with caplog.at_level(logging.WARNING, logger="plate_edge.camera"):
        levels = [int(src.read()[0, 0, 0]) for _ in range(6)]     # three passes over the two good files
    assert levels == [50, 200] * 3
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 2 and "b.jpg" in warned[0] and "c.jpg" in warned[1], warned


def test_the_folder_goes_on_to_the_end_without_reopening(tmp_path):
    folder = _folder(tmp_path)
    ready, states = threading.Event(), []
    worker = CameraWorker("f", CameraConfig(source=str(folder), realtime=False, reopen_min_s=0.05),
                          ready, lambda name, st: states.append(st["state"]))
    seen = []
    worker.start()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and "ended" not in states:
        frame = worker.take()
        if frame is not None:
            seen.append(frame.index)
        time.sleep(0.005)
    worker.stop()
    assert "ended" in states and "reconnecting" not in states, states
    assert worker.reopens == 0 and worker.captured == 2


def test_a_folder_of_only_unreadable_files_is_an_error(tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "x.jpg").write_bytes(b"nope")
    src = FolderSource(CameraConfig(source=str(folder), loop=True))
    with pytest.raises(CameraError, match="no readable images"):
        src.read()


def test_a_folder_that_went_away_is_a_camera_error(tmp_path):
    folder = _folder(tmp_path)
    src = FolderSource(CameraConfig(source=str(folder), loop=True))
    src.read()
    shutil.rmtree(folder)
    with pytest.raises(CameraError, match="gone away"):
        src.read()


@pytest.mark.parametrize("name", ["frames/", "frames"])
def test_a_missing_folder_is_reported_as_a_folder(tmp_path, name):
    with pytest.raises(CameraError, match="no such folder") as exc:
        open_source(CameraConfig(source=str(tmp_path / name)))
    assert "video file" not in str(exc.value)


def test_a_missing_video_file_is_still_a_video_file(tmp_path):
    with pytest.raises(CameraError, match="no such video file"):
        open_source(CameraConfig(source=str(tmp_path / "clip.mp4")))


def test_non_looping_folder_ends(tmp_path):
    folder = _folder(tmp_path)
    src = FolderSource(CameraConfig(source=str(folder)))
    src.read(), src.read()
    with pytest.raises(EndOfStream):
        src.read()
