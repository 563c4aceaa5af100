"""The long-running service: cameras -> reader -> tracker -> spool/MQTT, until SIGTERM.

One processing loop takes the newest frame of each camera (capture threads drop the rest), reads
plates, fuses them into events, and hands events to the publisher (durable spool first).
Signals: SIGTERM/SIGINT stop (offline published, spool flushed, exit within 2 s); SIGHUP reloads
the configuration file (an invalid one is logged and the running one kept). Talks to systemd
through sd_notify: READY, STATUS, WATCHDOG, RELOADING, STOPPING.
"""
from __future__ import annotations

import collections
import dataclasses
import logging
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np
import psutil

from . import malloc
from .camera import CameraWorker, Frame
from .classify import ModelError
from .config import CameraConfig, Config, ConfigError, check_resources, load_config, model_error
from .logs import setup_logging
from .motion import MotionGate, gate_for_camera
from .notify import SystemdNotifier
from .publish import Publisher, install_node_id, sanitize_topic_part
from .reader import FrameResult, Zone, load_reader
from .spool import Spool
from .track import KnownPlates, PlateEvent, Tracker
from .types import Box, PlateReading

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2
STOP_PUBLISH_TIMEOUT_S = 1.0
LATENCY_WINDOW = 1000          # samples kept per latency series (stats report p50/p99 of these)
TRIM_EVERY_S = 10.0            # hand freed heap pages back to the system this often (plate_edge.malloc)
LOOP_WAIT_S = 0.1              # the loop looks at stop and reload requests at least this often

class FrameReader(Protocol):
    """What the daemon needs of a reader (plate_edge.reader.Reader; tests inject fakes)."""

    def read_frame_timed(self, image: np.ndarray, zones: list[Zone] | None = None,
                         extra_looks: bool = True, settled: Collection[str] = ()) -> FrameResult:
        ...


ReaderFactory = Callable[[Config], FrameReader]


def default_reader_factory(cfg: Config) -> FrameReader:
    """The real reader with the configured model and detector; a model that cannot be loaded is a
    ConfigError naming its key (`model.path`, `reader.detector.model`) and the file."""
    try:
        return load_reader(cfg)
    except ModelError as exc:
        raise model_error(cfg, exc) from exc


def state_dir(cfg: Config) -> Path:
    """cfg.state_dir (relative to the config file), else systemd's $STATE_DIRECTORY, else ./state."""
    return cfg.state_path()


def _relative_to_config(cfg: Config, path: str) -> Path:
    return cfg.resolve(path)


def resolve_camera(cfg: Config, cam: CameraConfig) -> CameraConfig:
    """Relative file/folder sources are taken relative to the config file when they exist there."""
    src = cam.source
    if src in ("generated", "picamera2") or src.isdigit() or "://" in src or Path(src).is_absolute():
        return cam
    candidate = _relative_to_config(cfg, src)
    return cam.model_copy(update={"source": str(candidate)}) if candidate.exists() else cam


def check_camera_names(cfg: Config) -> None:
    seen: dict[str, str] = {}
    for name in cfg.cameras:
        topic = sanitize_topic_part(name)
        if topic in seen:
            raise ConfigError(f"{cfg.source_file}: 'cameras.{name}': topic name {topic!r} "
                              f"collides with camera {seen[topic]!r}")
        seen[topic] = name


class Latencies:
    """Rolling windows of per-stage durations, reported as milliseconds."""

    def __init__(self):
        self.series: dict[str, collections.deque] = collections.defaultdict(
            lambda: collections.deque(maxlen=LATENCY_WINDOW))

    def add(self, stage: str, seconds: float) -> None:
        self.series[stage].append(seconds)

    def summary(self) -> dict:
        out = {}
        for stage, values in self.series.items():
            if values:
                arr = np.fromiter(values, float) * 1000.0
                out[stage] = {"p50": round(float(np.percentile(arr, 50)), 2),
                              "p99": round(float(np.percentile(arr, 99)), 2),
                              "max": round(float(arr.max()), 2)}
        return out


class Daemon:
    """Runs until stop() is requested; see module docstring."""

    def __init__(self, cfg: Config, reader_factory: ReaderFactory = default_reader_factory,
                 notifier: SystemdNotifier | None = None):
        self.cfg = cfg
        self.reader_factory = reader_factory
        self.notifier = notifier or SystemdNotifier()
        self.frame_ready = threading.Event()
        self._stop_asked = False     # plain flags, not Events: set by signal handlers (stop, reload)
        self._reload_asked = False
        self.reader: FrameReader | None = None
        self._readers: dict[str, FrameReader] = {}   # per camera: self.reader, or one with its overrides
        self._derived: dict[str, FrameReader] = {}   # readers with overrides, by their settings
        self.spool: Spool | None = None
        self.publisher: Publisher | None = None
        self.cameras: dict[str, CameraWorker] = {}
        self.trackers: dict[str, Tracker] = {}
        self._zones: dict[str, list | None] = {}
        self._gates: dict[str, MotionGate | None] = {}    # per camera; None: every frame is read
        self._skipped: dict[str, int] = collections.Counter()   # frames not read: no motion
        self.latencies = Latencies()
        self.process = psutil.Process()
        self.process.cpu_percent(None)   # the first call only starts the measurement
        self.started = time.time()
        self.events = 0
        self._processed: dict[str, int] = collections.Counter()
        self._last_processed_t: dict[str, float] = {}
        self._stats_mark: tuple[float, dict[str, int], dict[str, int]] = (time.monotonic(), {}, {})
        self._reader_errors = 0

    # ------------------------------------------------------------------ control (signal-safe)

    def stop(self) -> None:
        """Ask the loop to stop; it looks within LOOP_WAIT_S. Signal-safe: a handler runs in the
        loop's own thread, maybe while that thread holds frame_ready's lock (inside its wait or
        clear), so this takes no lock: setting the Event there would wait for ever."""
        self._stop_asked = True

    def reload(self) -> None:
        """Ask the loop to reload the configuration file; signal-safe, as stop()."""
        self._reload_asked = True

    # ------------------------------------------------------------------ lifecycle

    def run(self) -> int:
        try:
            check_camera_names(self.cfg)
            check_resources(self.cfg, model=False, environment=True)   # the model: the reader factory
            self.reader = self.reader_factory(self.cfg)
            self._open_output(self.cfg)
        except (ConfigError, ValueError, OSError) as exc:
            log.error("cannot start: %s", exc)
            return EXIT_CONFIG
        except Exception as exc:  # e.g. the model cannot be loaded
            log.error("cannot start: %s: %s", type(exc).__name__, exc)
            return EXIT_CONFIG
        self._start_cameras(self.cfg, self.cfg.cameras)
        if not self.cfg.cameras:
            log.warning("no cameras configured; waiting for a configuration reload (SIGHUP)")
        self.notifier.ready(f"running {len(self.cameras)} camera(s)")
        log.info("plate-edge running: %d camera(s), state in %s", len(self.cameras), state_dir(self.cfg))
        try:
            self._loop()
        finally:
            self._shutdown()
        return EXIT_OK

    def _open_output(self, cfg: Config) -> None:
        sdir = state_dir(cfg)
        sdir.mkdir(parents=True, exist_ok=True)
        spool_path = _relative_to_config(cfg, cfg.spool.path) if cfg.spool.path else sdir / "spool.sqlite3"
        spool = Spool(spool_path, cfg.spool.max_events, cfg.spool.drop)
        if spool.depth():
            log.info("spool: %d undelivered message(s) from a previous run will be sent first", spool.depth())
        publisher = None
        if cfg.mqtt.enabled:
            publisher = Publisher(cfg.mqtt, spool, cameras=list(cfg.cameras), node_id=install_node_id(sdir))
            publisher.start()
        self.spool, self.publisher = spool, publisher

    def _close_output(self) -> None:
        if self.publisher:
            self.publisher.stop(STOP_PUBLISH_TIMEOUT_S)
        if self.spool:
            self.spool.close()
        self.publisher = self.spool = None

    def _start_cameras(self, cfg: Config, names) -> None:
        known = KnownPlates(cfg.known_plates)
        for name in names:
            cam_cfg = cfg.cameras[name]
            if not cam_cfg.enabled:
                log.info("camera %s: disabled", name)
                continue
            self._readers[name] = self._camera_reader(cfg, name)
            formats = [(f.name, re.compile(f.pattern)) for f in cfg.reader_for(name).formats if f.pattern]
            self.trackers[name] = Tracker(name, cfg.tracking, known, formats,
                                          keep_crops=cfg.mqtt.snapshots)
            worker = CameraWorker(name, resolve_camera(cfg, cam_cfg), self.frame_ready, self._camera_state)
            self.cameras[name] = worker
            self._zones[name] = [[(float(x), float(y)) for x, y in z] for z in cam_cfg.zones] or None
            self._gates[name] = gate_for_camera(cam_cfg)
            worker.start()

    def _camera_reader(self, cfg: Config, name: str) -> FrameReader:
        """The reader for one camera: the shared one, or - when the camera overrides reader settings
        (`cameras.<name>.reader`) - one per distinct override, sharing the model (Reader.with_config).
        A reader without with_config (a test's fake) is used as it is."""
        assert self.reader is not None
        settings = cfg.reader_for(name)
        derive = getattr(self.reader, "with_config", None)
        if settings == cfg.reader or derive is None:
            return self.reader
        key = settings.model_dump_json()
        if key not in self._derived:
            self._derived[key] = derive(settings)
        return self._derived[key]

    def _stop_cameras(self, names) -> None:
        workers = [self.cameras.pop(n) for n in list(names) if n in self.cameras]
        for w in workers:
            w.request_stop()
        for w in workers:
            w.stop(timeout=0.3)
        for n in names:
            self._gates.pop(n, None)
            self._readers.pop(n, None)
            tracker = self.trackers.pop(n, None)
            if tracker:
                self._emit(tracker.flush())

    def _camera_state(self, name: str, state: dict) -> None:
        if self.publisher:
            self.publisher.publish_camera_state(name, state)

    def _shutdown(self) -> None:
        self.notifier.stopping()
        log.info("stopping")
        self._stop_cameras(list(self.cameras))
        self._close_output()
        log.info("stopped")

    # ------------------------------------------------------------------ main loop

    def _loop(self) -> None:
        watchdog_every = self.notifier.watchdog_s / 2 if self.notifier.watchdog_s else 0.0
        next_watchdog = next_stats = next_trim = time.monotonic()
        if self.cfg.stats.interval_s:
            next_stats += self.cfg.stats.interval_s
        while not self._stop_asked:
            self.frame_ready.wait(LOOP_WAIT_S)
            self.frame_ready.clear()
            if self._stop_asked:
                break
            if self._reload_asked:
                self._reload_asked = False
                self._apply_reload()
            for name, worker in list(self.cameras.items()):
                self._maybe_process(name, worker)
            now_wall, now = time.time(), time.monotonic()
            for tracker in self.trackers.values():
                self._emit(tracker.expire(now_wall))
            if watchdog_every and now >= next_watchdog:
                self.notifier.watchdog()
                next_watchdog = now + watchdog_every
            if self.cfg.stats.interval_s and now >= next_stats:
                self._publish_stats()
                next_stats = now + self.cfg.stats.interval_s
            if now >= next_trim:           # a few ms; keeps freed frame buffers from adding up
                malloc.trim()
                next_trim = now + TRIM_EVERY_S

    def _maybe_process(self, name: str, worker: CameraWorker) -> None:
        max_fps = worker.cfg.max_fps
        if max_fps and time.monotonic() - self._last_processed_t.get(name, 0.0) < 1.0 / max_fps:
            return
        frame = worker.take()
        if frame is None:
            return
        self._last_processed_t[name] = time.monotonic()
        self._process(name, worker.cfg, frame)

    def _process(self, name: str, cam_cfg: CameraConfig, frame: Frame) -> None:
        tracker = self.trackers.get(name)
        gate = self._gates.get(name)
        regions: list[Box] | None = None
        if gate is not None:
            t0 = time.perf_counter()
            motion = gate.check(frame.image, time.monotonic())
            self.latencies.add("motion", time.perf_counter() - t0)
            if not motion.run:
                # Nothing changed: not read. The tracks stay alive (a parked car is not lost).
                self._processed[name] += 1
                self._skipped[name] += 1
                if tracker is not None:
                    tracker.hold(frame.t)
                return
            if motion.reason == "motion":
                h, w = frame.image.shape[:2]
                if not (len(motion.regions) == 1 and motion.regions[0] == Box(0, 0, w, h)):
                    regions = motion.regions
        try:
            assert self.reader is not None   # set in run() before any camera starts
            result = self._read(name, frame.image, regions)
        except Exception:
            self._reader_errors += 1
            if self._reader_errors <= 5 or self._reader_errors % 1000 == 0:
                log.exception("camera %s: reader failed on a frame (%d so far)", name, self._reader_errors)
            return
        for stage, seconds in result.timings_s.items():
            self.latencies.add(stage, seconds)
        self._processed[name] += 1
        if tracker is not None:
            if regions is not None:
                tracker.hold(frame.t, regions)   # tracks outside the changed regions were not looked at
            self._emit(tracker.update(result.plates, frame.t, frame.image))
        self.latencies.add("capture_to_publish", time.time() - frame.t)

    def _read(self, name: str, image: np.ndarray, regions: list[Box] | None) -> FrameResult:
        """The reader on the whole frame, or only on the regions that changed (each read as a crop,
        its plates moved back to frame coordinates). The detector's extra looks (Reader.read_frame_timed)
        are for cameras without a motion gate (files and folders by default), whose frames are all
        read whole: a gated camera's regions are zoomed on what moves already, and it reads in real
        time. The plates the camera's tracker has published and still sees are read once per frame,
        not from every view (Tracker.settled)."""
        reader = self._readers.get(name) or self.reader
        assert reader is not None
        zones = self._zones.get(name)
        tracker = self.trackers.get(name)
        settled = tracker.settled() if tracker is not None else frozenset()   # published, still in view
        if regions is None:
            return reader.read_frame_timed(image, zones, extra_looks=self._gates.get(name) is None, settled=settled)
        plates: list[PlateReading] = []
        timings: dict[str, float] = collections.defaultdict(float)
        for r in regions:
            crop = image[r.y:r.y + r.h, r.x:r.x + r.w]
            local: list[Zone] | None = [[(x - r.x, y - r.y) for x, y in z] for z in zones] if zones else None
            res = reader.read_frame_timed(crop, local, extra_looks=False, settled=settled)
            for stage, seconds in res.timings_s.items():
                timings[stage] += seconds
            plates.extend(_shifted(p, r.x, r.y) for p in res.plates)
        plates.sort(key=lambda p: -p.confidence)
        return FrameResult(plates, dict(timings))

    def _emit(self, events: list[PlateEvent]) -> None:
        for ev in events:
            self.events += 1
            known = f" known={ev.known_name or ev.known_plate}" if ev.known else ""
            log.info("plate %s camera=%s confidence=%.2f frames=%d reason=%s%s id=%s",
                     ev.plate, ev.camera, ev.confidence, ev.frames, ev.reason, known, ev.id)
            if self.publisher is None:
                continue
            self.publisher.publish_event(ev.camera, ev.to_json())
            if self.cfg.mqtt.snapshots and ev.crop is not None and ev.crop.size:
                ok, jpeg = cv2.imencode(".jpg", ev.crop, [cv2.IMWRITE_JPEG_QUALITY, 85])
                if ok:
                    self.publisher.publish_snapshot(ev.camera, jpeg.tobytes())

    # ------------------------------------------------------------------ stats

    def stats(self) -> dict:
        now = time.monotonic()
        t0, processed0, captured0 = self._stats_mark
        dt = max(1e-6, now - t0)
        cams, captured = {}, {}
        for name, w in self.cameras.items():
            captured[name] = w.captured
            cams[name] = {
                "state": w.state.get("state"),
                "fps_captured": round((w.captured - captured0.get(name, 0)) / dt, 2),
                "fps_processed": round((self._processed[name] - processed0.get(name, 0)) / dt, 2),
                "frames_captured": w.captured, "frames_processed": self._processed[name],
                "dropped_frames": w.dropped, "reopens": w.reopens,
                "skipped_static": self._skipped[name],
            }
            if "error" in w.state:
                cams[name]["error"] = w.state["error"]
        self._stats_mark = (now, dict(self._processed), captured)
        mem = self.process.memory_info()
        return {
            "time": round(time.time(), 3), "uptime_s": round(time.time() - self.started, 1),
            "cameras": cams, "latency_ms": self.latencies.summary(),
            "events": self.events, "reader_errors": self._reader_errors,
            "suppressed_repeats": sum(t.suppressed for t in self.trackers.values()),
            "spool_depth": self.spool.depth() if self.spool else 0,
            "spool_dropped": self.spool.dropped if self.spool else 0,
            "mqtt_connected": bool(self.publisher and self.publisher.connected.is_set()),
            "mqtt_error": self.publisher.last_error if self.publisher else None,   # never the password
            "cpu_percent": round(self.process.cpu_percent(None), 1),
            "rss_mb": round(mem.rss / 2**20, 1),
        }

    def _publish_stats(self) -> None:
        stats = self.stats()
        if self.publisher:
            self.publisher.publish_stats(stats)
        mqtt = f"; mqtt: {stats['mqtt_error']}" if stats["mqtt_error"] and not stats["mqtt_connected"] else ""
        self.notifier.status(f"{self.events} events; spool {stats['spool_depth']}; "
                             + ", ".join(f"{n} {c['state']} {c['fps_processed']} fps"
                                         for n, c in stats["cameras"].items())
                             + mqtt)

    # ------------------------------------------------------------------ reload

    def _apply_reload(self) -> None:
        self.notifier.reloading()
        old = self.cfg
        try:
            new = load_config(old.source_file)
            check_camera_names(new)
            check_resources(new, model=False, environment=True)
            reader = self.reader
            if (new.model, new.reader) != (old.model, old.reader):
                reader = self.reader_factory(new)
        except Exception as exc:
            log.error("reload rejected, keeping the running configuration: %s", exc)
            self.notifier.ready("reload rejected")
            return
        output_changed = (new.mqtt, new.spool, state_dir(new)) != (old.mqtt, old.spool, state_dir(old))
        shared_changed = (new.tracking, new.known_plates, new.reader.formats, new.mqtt.snapshots) != \
                         (old.tracking, old.known_plates, old.reader.formats, old.mqtt.snapshots)
        changed = {n for n in set(old.cameras) | set(new.cameras)
                   if shared_changed or old.cameras.get(n) != new.cameras.get(n)}
        self._stop_cameras(changed)
        if output_changed:
            self._close_output()
            try:
                self._open_output(new)
            except (ValueError, OSError) as exc:
                log.error("reload: new MQTT/spool settings unusable (%s); keeping the old ones", exc)
                self._open_output(old)
                new = new.model_copy(update={"mqtt": old.mqtt, "spool": old.spool, "state_dir": old.state_dir})
        if reader is not self.reader:
            self._derived.clear()
        self.reader, self.cfg = reader, new
        self._start_cameras(new, [n for n in new.cameras if n in changed])
        for n in self.cameras:            # the others keep their tracks; their reader may have changed
            self._readers[n] = self._camera_reader(new, n)
        if self.publisher:
            self.publisher.cameras = list(new.cameras)
        log.info("configuration reloaded from %s (%d camera(s) restarted)", new.source_file, len(changed))
        self.notifier.ready("configuration reloaded")


def _shifted(p: PlateReading, dx: int, dy: int) -> PlateReading:
    """A reading made on a crop whose top-left corner is (dx, dy) of the frame, in frame coordinates."""
    if not dx and not dy:
        return p
    move = lambda b: Box(b.x + dx, b.y + dy, b.w, b.h)
    return dataclasses.replace(p, box=move(p.box), char_boxes=[move(b) for b in p.char_boxes],
                               polygon=[(x + dx, y + dy) for x, y in p.polygon])


def run_daemon(cfg: Config, reader_factory: ReaderFactory = default_reader_factory) -> int:
    """Run the service until SIGTERM/SIGINT; returns the process exit code (0 ok, 2 bad setup)."""
    if not logging.getLogger().handlers:
        setup_logging(cfg.log_level)
    # Under systemd the unit sets MALLOC_ARENA_MAX (glibc reads it at start-up); run from a shell
    # or a container there is no unit, so the same limit is set here (plate_edge.malloc).
    if "MALLOC_ARENA_MAX" not in os.environ:
        malloc.limit_arenas(malloc.DEFAULT_ARENAS)
    # The capture, MQTT pump and paho threads each need the GIL for a moment per frame/event; while
    # the reader runs Python code they wait up to the switch interval (5 ms default) per hand-off,
    # which added tens of ms to an event's delivery. 1 ms: measured p99 50 -> 15 ms, same CPU.
    sys.setswitchinterval(0.001)
    daemon = Daemon(cfg, reader_factory)
    previous: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():
        handlers = {signal.SIGTERM: lambda *_: daemon.stop(), signal.SIGINT: lambda *_: daemon.stop(),
                    signal.SIGHUP: lambda *_: daemon.reload()}
        for sig, handler in handlers.items():
            previous[sig] = signal.signal(sig, handler)
    try:
        return daemon.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
