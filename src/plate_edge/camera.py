"""Camera capture: frame sources and one capture thread per camera that keeps only the newest frame.

Sources: V4L2 devices (/dev/videoN or an index), RTSP/HTTP URLs, video files (optionally looped),
folders of images, the Raspberry Pi camera (picamera2, when installed) and `generated`
(synthetic plates crossing a scene, see plate_edge.sim.scene). A failing or vanished source is reopened
with exponential backoff and its state reported through a callback; a camera never stops the
daemon.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from pydantic import Field, field_validator, model_validator

from .motion import MotionConfig
from .reader import ReaderOverride
from .settings import Settings, Text
from .source import MAX_HEIGHT, MAX_WIDTH, CameraError, EndOfStream, FrameSource, GeneratedSourceConfig

__all__ = ["CameraConfig", "CameraError", "CameraWorker", "EndOfStream", "Frame", "FrameSource", "open_source"]

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


class CameraConfig(Settings):
    """One camera (`cameras.<name>`)."""
    # /dev/videoN | N | rtsp://.. | http://.. | file.mp4 | folder/ | picamera2 | generated
    source: Text = Field(min_length=1)
    enabled: bool = True
    max_fps: float = Field(0.0, ge=0, le=1000)  # process at most this many frames per second (0: every new frame)
    loop: bool = False               # video files and folders: start over at the end
    realtime: bool = True            # files and folders: deliver at the clip's frame rate
    fps: float = Field(0.0, ge=0, le=1000)  # folders (and files without a rate): frames per second; 0 = 10
    width: int = Field(0, ge=0, le=MAX_WIDTH)    # requested capture size for V4L2 / picamera2 (0: driver default)
    height: int = Field(0, ge=0, le=MAX_HEIGHT)
    zones: list[list[list[float]]] = Field(default_factory=list)  # detection polygons [[x,y],...]
    reopen_min_s: float = Field(1.0, gt=0, le=3600)  # first retry delay after a failure; doubles up to reopen_max_s
    reopen_max_s: float = Field(30.0, gt=0, le=3600)
    generated: GeneratedSourceConfig = Field(default_factory=GeneratedSourceConfig)
    motion: MotionConfig = Field(default_factory=MotionConfig)   # the motion gate (plate_edge.motion)
    reader: ReaderOverride | None = None   # this camera's formats, layouts, min_confidence (else `reader`)

    @field_validator("zones")
    @classmethod
    def _polygons(cls, zones: list[list[list[float]]]) -> list[list[list[float]]]:
        for i, zone in enumerate(zones):
            if len(zone) < 3 or any(len(pt) != 2 for pt in zone):
                raise ValueError(f"zones[{i}] must be a polygon of at least 3 [x, y] points")
        return zones

    @model_validator(mode="after")
    def _backoff(self) -> CameraConfig:
        if self.reopen_min_s > self.reopen_max_s:
            raise ValueError(f"reopen_min_s: must be <= reopen_max_s ({self.reopen_min_s} > {self.reopen_max_s})")
        return self


@dataclass
class Frame:
    camera: str
    image: np.ndarray             # BGR uint8
    index: int                    # sequence number since the worker started
    t: float                      # wall-clock capture time, seconds


# --------------------------------------------------------------------------- sources

class CaptureSource:
    """OpenCV VideoCapture: V4L2 devices, RTSP/HTTP streams and video files."""

    def __init__(self, cfg: CameraConfig):
        src = cfg.source
        self.is_file = not (src.isdigit() or src.startswith("/dev/video") or "://" in src)
        self.loop = cfg.loop
        if src.isdigit():
            cap = cv2.VideoCapture(int(src), cv2.CAP_V4L2)
        elif src.startswith("/dev/video"):
            cap = cv2.VideoCapture(src, cv2.CAP_V4L2)
        else:
            if self.is_file and not Path(src).is_file():
                raise CameraError(f"no such video file: {src}")
            cap = cv2.VideoCapture(src, cv2.CAP_FFMPEG)
        if not cap.isOpened():
            cap.release()
            raise CameraError(f"cannot open {_redact(src)}")
        if cfg.width and cfg.height and not self.is_file:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, cfg.width)
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, cfg.height)
        if "://" in src:
            cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)   # live streams: do not queue stale frames
        self.cap = cap
        native = cap.get(cv2.CAP_PROP_FPS) or 0.0
        self.pace_fps = (cfg.fps or native or 10.0) if self.is_file and cfg.realtime else None

    def read(self) -> np.ndarray:
        ok, img = self.cap.read()
        if ok and img is not None:
            return img
        if not self.is_file:
            raise CameraError("no frame from the device/stream")
        if not self.loop:
            raise EndOfStream()
        self.cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
        ok, img = self.cap.read()
        if not ok:
            raise CameraError("cannot rewind the video file")
        return img

    def close(self) -> None:
        self.cap.release()


class FolderSource:
    """Images of a folder in name order, at `fps` (default 10), optionally looped.

    A file that cannot be read as an image (empty, damaged, not an image, removed) is skipped
    with one warning naming it, and the folder goes on with the next file; only a folder that
    has gone away (or holds no readable image at all) is a CameraError, which the worker answers
    by reopening with backoff."""

    def __init__(self, cfg: CameraConfig):
        self.folder = Path(cfg.source)
        if not self.folder.is_dir():
            raise CameraError(f"no such folder: {self.folder}")
        try:
            self.files = sorted(p for p in self.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        except OSError as exc:
            raise CameraError(f"cannot list folder {self.folder}: {exc.strerror or exc}") from exc
        if not self.files:
            raise CameraError(f"no images in folder {self.folder}")
        self.loop = cfg.loop
        self.pos = 0
        self.skipped: list[Path] = []
        self.pace_fps = (cfg.fps or 10.0) if cfg.realtime else None

    def read(self) -> np.ndarray:
        while True:
            if self.pos >= len(self.files):
                if not self.files:
                    raise CameraError(f"no readable images in folder {self.folder}")
                if not self.loop:
                    raise EndOfStream()
                self.pos = 0
            path = self.files[self.pos]
            img = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if img is not None and img.size:
                self.pos += 1
                return img
            if not self.folder.is_dir():
                raise CameraError(f"folder {self.folder} has gone away")
            log.warning("folder %s: skipping %s: cannot read it as an image (empty, damaged, not an "
                        "image, or removed)", self.folder, path.name)
            self.skipped.append(path)
            del self.files[self.pos]        # not read again when the folder loops

    def close(self) -> None:
        pass


class PiCameraSource:
    """The Raspberry Pi camera through picamera2 (only when that package is installed)."""

    def __init__(self, cfg: CameraConfig):
        try:
            from picamera2 import Picamera2
        except ImportError as exc:
            raise CameraError("source 'picamera2' needs the picamera2 package "
                              "(apt install python3-picamera2)") from exc
        self.cam = Picamera2()
        size = (cfg.width or 1280, cfg.height or 720)
        self.cam.configure(self.cam.create_video_configuration(main={"size": size, "format": "RGB888"}))
        self.cam.start()
        self.pace_fps = None

    def read(self) -> np.ndarray:
        # picamera2's "RGB888" is laid out B,G,R in memory, i.e. what OpenCV calls BGR.
        return self.cam.capture_array()

    def close(self) -> None:
        self.cam.stop()
        self.cam.close()


def open_source(cfg: CameraConfig) -> FrameSource:
    """Open the source named by cfg.source; raises CameraError when it is not available now."""
    src = cfg.source
    if src == "generated":
        return _generated_source(cfg)
    if src == "picamera2":
        return PiCameraSource(cfg)
    path = Path(src)
    if path.is_dir():
        return FolderSource(cfg)
    local = not (src.isdigit() or src.startswith("/dev/") or "://" in src)
    if local and not path.exists() and (src.endswith(("/", os.sep)) or not path.suffix):
        raise CameraError(f"no such folder: {src}")   # a folder (no file extension) that is not there
    return CaptureSource(cfg)


def _generated_source(cfg: CameraConfig) -> FrameSource:
    """The synthetic camera lives in plate_edge.sim, whose Pillow is an optional extra: imported
    only when such a camera is opened (not per frame)."""
    try:
        import PIL  # noqa: F401  (the sim extra)

        from .sim.scene import GeneratedSource
    except ImportError as exc:
        raise CameraError("source 'generated' needs the sim extra: pip install 'plate-edge[sim]' "
                          f"({exc})") from exc
    return GeneratedSource(cfg.generated)


def _redact(src: str) -> str:
    """Stream URLs may carry credentials (rtsp://user:pass@host): never log them."""
    if "://" in src and "@" in src:
        scheme, rest = src.split("://", 1)
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return src


# --------------------------------------------------------------------------- capture thread

StateCallback = Callable[[str, dict], None]


class CameraWorker:
    """Captures from one source in a thread and keeps only the newest frame.

    `frame_ready` (shared by all workers) is set whenever a new frame is stored, so a single
    processing loop can wait for any camera. Frames overwritten before being taken count as
    dropped.
    """

    def __init__(self, name: str, cfg: CameraConfig, frame_ready: threading.Event,
                 on_state: StateCallback, opener: Callable[[CameraConfig], FrameSource] = open_source):
        self.name = name
        self.cfg = cfg
        self.frame_ready = frame_ready
        self.on_state = on_state
        self.opener = opener
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._latest: Frame | None = None
        self._taken_index = -1
        self.captured = 0
        self.dropped = 0
        self.reopens = 0
        self.state: dict = {"state": "starting"}
        self._thread = threading.Thread(target=self._run, name=f"camera-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def request_stop(self) -> None:
        self._stop.set()

    def stop(self, timeout: float = 0.5) -> None:
        """Ask the thread to end; a source blocked in a driver call is abandoned (daemon thread)."""
        self._stop.set()
        self._thread.join(timeout)

    def take(self) -> Frame | None:
        """The newest frame not yet taken, or None."""
        with self._lock:
            f = self._latest
            if f is None or f.index <= self._taken_index:
                return None
            self._taken_index = f.index
            self._latest = None   # let the image be freed early
            return f

    # ------------------------------------------------------------------ thread

    def _set_state(self, state: str, **info) -> None:
        self.state = {"state": state, "since": round(time.time(), 3), **info}
        try:
            self.on_state(self.name, dict(self.state))
        except Exception:  # a reporting failure must not kill capture
            log.exception("camera %s: state callback failed", self.name)

    def _run(self) -> None:
        failures = 0
        index = 0
        while not self._stop.is_set():
            try:
                source = self.opener(self.cfg)
            except Exception as exc:   # any driver/library error: retry, never crash
                failures += 1
                self._backoff(failures, f"open failed: {exc}")
                continue
            log.info("camera %s: streaming from %s", self.name, _redact(self.cfg.source))
            self._set_state("streaming")
            next_t = time.monotonic()
            try:
                while not self._stop.is_set():
                    img = source.read()
                    now = time.time()
                    failures = 0
                    index += 1
                    self._store(Frame(self.name, img, index, now))
                    if source.pace_fps:
                        next_t += 1.0 / source.pace_fps
                        delay = next_t - time.monotonic()
                        if delay > 0:
                            self._stop.wait(delay)
                        elif delay < -1.0:
                            next_t = time.monotonic()   # fell far behind: do not burst
            except EndOfStream:
                log.info("camera %s: end of stream", self.name)
                self._set_state("ended")
                source.close()
                return
            except Exception as exc:
                failures += 1
                source.close()
                self.reopens += 1
                self._backoff(failures, f"read failed: {exc}")
                continue
            source.close()
        self._set_state("stopped")

    def _backoff(self, failures: int, error: str) -> None:
        delay = min(self.cfg.reopen_max_s, self.cfg.reopen_min_s * 2 ** (failures - 1))
        log.warning("camera %s: %s; retry %d in %.1f s", self.name, error, failures, delay)
        self._set_state("reconnecting", error=error, attempt=failures, retry_in_s=delay)
        self._stop.wait(delay)

    def _store(self, frame: Frame) -> None:
        with self._lock:
            if self._latest is not None:
                self.dropped += 1
            self._latest = frame
            self.captured += 1
        self.frame_ready.set()
