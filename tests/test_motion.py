"""The motion gate (plate_edge.motion) and the tracker's hold for frames it skips."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from plate_edge.config import KnownPlatesConfig, TrackingConfig
from plate_edge.motion import MotionConfig, MotionGate, gate_for_camera, resolve_enabled, source_is_live
from plate_edge.track import KnownPlates, Tracker
from plate_edge.types import Box, PlateReading

FPS = 30.0
W, H = 1280, 720


def scene(seed: int = 0) -> np.ndarray:
    """A textured street-like picture: blurred noise, a few bright and dark blocks."""
    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.integers(0, 255, (H, W, 3), dtype=np.uint8), (31, 31), 0)
    img = cv2.normalize(img, None, 40, 200, cv2.NORM_MINMAX)
    for _ in range(12):
        x, y = int(rng.integers(0, W - 200)), int(rng.integers(0, H - 150))
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        cv2.rectangle(img, (x, y), (x + int(rng.integers(40, 200)), y + int(rng.integers(30, 150))), colour, -1)
    return img


_NOISE: list[np.ndarray] = []


def noisy(img: np.ndarray, rng: np.random.Generator, sigma: float = 3.0) -> np.ndarray:
    """Sensor noise: every frame of a static camera differs a little (one of 8 noise patterns)."""
    if not _NOISE:
        gen = np.random.default_rng(99)
        _NOISE.extend(gen.normal(0, sigma, (H, W, 3)).astype(np.int16) for _ in range(8))
    n = _NOISE[int(rng.integers(0, len(_NOISE)))]
    if n.shape[:img.ndim] != img.shape[:2] or img.ndim != 3:
        n = np.resize(n, img.shape)
    return np.clip(img.astype(np.int16) + n, 0, 255).astype(np.uint8)


def draw_plate(img: np.ndarray, x: int, y: int, text: str = "AB 1234") -> Box:
    w, h = 220, 50
    cv2.rectangle(img, (x, y), (x + w, y + h), (235, 235, 235), -1)
    cv2.putText(img, text, (x + 10, y + 38), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (10, 10, 10), 3)
    return Box(x, y, w, h)


def run_clip(gate: MotionGate, frames, fps: float = FPS):
    return [gate.check(f, i / fps) for i, f in enumerate(frames)]


# ---------------------------------------------------------------------------- settings

def test_config_defaults_bounds_and_extra_keys():
    cfg = MotionConfig()
    assert (cfg.enabled, cfg.width, cfg.threshold, cfg.min_area) == (None, 160, 20, 0.002)
    assert (cfg.background_alpha, cfg.recheck_s, cfg.pad) == (0.05, 5.0, 0.15)
    for bad in ({"width": 16}, {"threshold": 0}, {"min_area": 1.5}, {"background_alpha": 0.0},
                {"recheck_s": -1}, {"pad": 2}, {"colour": True}):
        with pytest.raises(ValidationError):
            MotionConfig(**bad)


@pytest.mark.parametrize("source,live", [
    ("0", True), ("/dev/video2", True), ("rtsp://cam/stream", True), ("http://cam/mjpg", True),
    ("picamera2", True), ("generated", False), ("clip.mp4", False), ("/data/frames/", False)])
def test_enabled_by_default_for_live_cameras_only(source, live):
    assert source_is_live(source) is live
    assert resolve_enabled(MotionConfig(), source) is live
    assert resolve_enabled(MotionConfig(enabled=True), source) is True
    assert resolve_enabled(MotionConfig(enabled=False), source) is False


def test_gate_for_camera_reads_settings_defensively():
    class Cam:
        def __init__(self, source, motion=None):
            self.source = source
            if motion is not None:
                self.motion = motion
    assert gate_for_camera(Cam("generated")) is None
    assert isinstance(gate_for_camera(Cam("rtsp://x/y")), MotionGate)          # no `motion` attribute
    gate = gate_for_camera(Cam("clip.mp4", MotionConfig(enabled=True, recheck_s=2)))
    assert gate is not None and gate.cfg.recheck_s == 2
    assert gate_for_camera(Cam("/dev/video0", MotionConfig(enabled=False))) is None


# ---------------------------------------------------------------------------- the gate

def test_static_clip_reaches_the_detector_only_at_the_recheck_interval():
    rng = np.random.default_rng(1)
    base = scene()
    gate = MotionGate(MotionConfig(recheck_s=5.0))
    frames = (noisy(base, rng) for _ in range(int(FPS * 21)))     # 21 s of a static camera
    results = run_clip(gate, frames)
    runs = [i for i, r in enumerate(results) if r.run]
    assert runs == [0, 150, 300, 450, 600]                        # the first frame, then every 5 s
    assert all(results[i].reason == "recheck" and results[i].regions == [Box(0, 0, W, H)] for i in runs)
    assert all(r.reason == "static" and not r.regions for r in results if not r.run)
    assert gate.skipped == len(results) - len(runs)


def test_recheck_zero_reads_every_frame():
    rng = np.random.default_rng(2)
    base = scene()
    gate = MotionGate(MotionConfig(recheck_s=0.0))
    assert all(r.run for r in run_clip(gate, [noisy(base, rng) for _ in range(10)]))


def test_a_moving_plate_triggers_with_a_region_around_it():
    rng = np.random.default_rng(3)
    base = scene()
    gate = MotionGate(MotionConfig())
    for i in range(10):                                            # settle on the empty scene
        gate.check(noisy(base, rng), i / FPS)
    hits = 0
    for k in range(60):                                            # the plate crosses: 10 px a frame
        frame = noisy(base, rng)
        box = draw_plate(frame, 200 + 10 * k, 400)
        r = gate.check(frame, (10 + k) / FPS)
        assert r.run and r.reason == "motion", k
        inside = [g for g in r.regions if g.x <= box.x and g.y <= box.y
                  and g.x + g.w >= box.x + box.w and g.y + g.h >= box.y + box.h]
        hits += bool(inside)
        assert all(g.w * g.h < W * H * 0.6 for g in r.regions)     # a region, not the full frame
    assert hits >= 55                                              # the whole plate is in a region


def test_a_parked_car_stops_triggering_soon_after_it_stops():
    rng = np.random.default_rng(4)
    base = scene()
    gate = MotionGate(MotionConfig(recheck_s=60.0))
    t = 0
    for _ in range(5):
        gate.check(noisy(base, rng), t / FPS)
        t += 1
    parked = base.copy()
    for k in range(30):                                            # arrives ...
        frame = noisy(base, rng)
        cv2.rectangle(frame, (100 + 10 * k, 300), (500 + 10 * k, 550), (30, 30, 160), -1)
        draw_plate(frame, 190 + 10 * k, 470)
        assert gate.check(frame, t / FPS).run
        t += 1
    cv2.rectangle(parked, (390, 300), (790, 550), (30, 30, 160), -1)
    draw_plate(parked, 480, 470)
    after = [gate.check(noisy(parked, rng), (t + i) / FPS).run for i in range(int(FPS * 10))]
    last = max(i for i, run in enumerate(after) if run)
    assert last < FPS * 3                                          # ... parks: static within 3 s
    assert sum(after) < FPS * 3


def test_a_brightness_ramp_does_not_trigger_for_long():
    rng = np.random.default_rng(5)
    base = scene().astype(np.float32)
    gate = MotionGate(MotionConfig(recheck_s=60.0))
    for i in range(10):
        gate.check(noisy(base.astype(np.uint8), rng), i / FPS)
    # Clouds: 3 s of brightening by 1.5 grey levels and 0.5 % gain per frame (about +135 levels at the end).
    runs = 0
    for k in range(int(FPS * 3)):
        frame = np.clip(base * (1 + 0.005 * k) + 1.5 * k, 0, 255).astype(np.uint8)
        runs += gate.check(noisy(frame, rng), (10 + k) / FPS).run
    assert runs <= FPS * 0.5                                       # at most half a second of reads


def test_lights_switched_on_reads_once_then_static():
    rng = np.random.default_rng(6)
    base = scene()
    gate = MotionGate(MotionConfig(recheck_s=60.0))
    for i in range(10):
        gate.check(noisy(base, rng), i / FPS)
    bright = cv2.convertScaleAbs(base, alpha=1.6, beta=30)          # gain and offset at once
    results = [gate.check(noisy(bright, rng), (10 + i) / FPS) for i in range(60)]
    assert sum(r.run for r in results) <= 3
    assert not any(r.run for r in results[10:])


def test_grey_and_odd_sizes_are_accepted():
    gate = MotionGate(MotionConfig(width=64))
    grey = cv2.cvtColor(scene(), cv2.COLOR_BGR2GRAY)[:301, :517]
    assert gate.check(grey, 0.0).run
    assert not gate.check(grey, 0.1).run
    moved = grey.copy()
    moved[100:160, 200:320] = 255
    r = gate.check(moved, 0.2)
    assert r.run and r.regions
    assert all(0 <= g.x and 0 <= g.y and g.x + g.w <= 517 and g.y + g.h <= 301 for g in r.regions)


def test_disabled_gate_reads_every_frame():
    gate = MotionGate(MotionConfig(enabled=False))
    img = scene()
    assert all(gate.check(img, i / FPS).run for i in range(5))


# ---------------------------------------------------------------------------- tracker hold

def reading(text: str, x: int = 100) -> PlateReading:
    return PlateReading(text, 0.95, [0.95] * len(text), Box(x, 100, 120, 30), [], [], "fake")


def test_a_parked_car_keeps_its_track_while_frames_are_skipped():
    tr = Tracker("gate", TrackingConfig(stable_frames=3, lost_after_s=1.0, repeat_window_s=5.0),
                 KnownPlates(KnownPlatesConfig()))
    events = []
    t = 1000.0
    for _ in range(5):                                             # arrives: read and published
        events += tr.update([reading("AB123")], t)
        t += 1 / FPS
    assert [e.plate for e in events] == ["AB123"]
    for minute in range(3):                                        # parked 3 minutes: static frames ...
        for _ in range(int(60 * FPS)):
            tr.hold(t)
            events += tr.expire(t)
            t += 1 / FPS
            if int((t - 1000) * FPS) % int(5 * FPS) == 0:         # ... and a re-check every 5 s
                events += tr.update([reading("AB123")], t)
        assert len(tr.tracks) == 1, minute
    assert len(events) == 1 and tr.suppressed == 0                 # not published again
    events += tr.update([], t + 2.0)                               # leaves: no more holds
    assert not tr.tracks and len(events) == 1


def test_hold_only_covers_tracks_outside_the_changed_regions():
    tr = Tracker("gate", TrackingConfig(stable_frames=2, lost_after_s=0.5), KnownPlates(KnownPlatesConfig()))
    tr.update([reading("AB123", 100), reading("XY789", 800)], 0.0)
    for i in range(1, 40):
        tr.hold(i / FPS, [Box(750, 50, 300, 150)])                 # motion around XY789 only
        tr.expire(i / FPS)
    assert [t.voted.text for t in tr.tracks if t.voted] == ["AB123"]
