"""Fusing per-frame plate readings into one event per vehicle pass.

Readings are associated with live tracks by position (IoU or centre distance) and text
similarity; each track votes per character, weighted by the classifier's confidence. A track
emits one PlateEvent as soon as its voted text has been stable for a few frames, or at the
latest after a maximum delay (or when it is lost, if it never got that far). The same plate on
the same camera within a repeat window is suppressed. Known plates are matched by edit distance.
"""
from __future__ import annotations

import logging
import re
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from pydantic import Field, field_validator
from rapidfuzz.distance import Levenshtein

from .settings import Settings, Text
from .types import Box, PlateReading

log = logging.getLogger(__name__)

MAX_VOTES = 60


class TrackingConfig(Settings):
    """Fusing frames into one event per vehicle pass (`tracking`)."""
    match_iou: float = Field(0.05, ge=0, le=1)       # a reading joins a track when boxes overlap this much ...
    match_distance: float = Field(1.5, ge=0, le=100)  # ... or centres are within this many plate widths
    match_text: float = Field(0.5, ge=0, le=1)       # ... and the texts are at least this similar (0..1)
    stable_frames: int = Field(3, ge=1, le=1000)     # emit once the voted text held for this many frames
    max_delay_s: float = Field(3.0, gt=0, le=3600)   # emit at the latest this long after first seen
    lost_after_s: float = Field(1.0, gt=0, le=3600)  # a track not seen for this long ends (emitted if good enough)
    min_frames: int = Field(2, ge=1, le=1000)        # fewer observations never make an event
    min_confidence: float = Field(0.6, ge=0, le=1)   # voted plate confidence needed for an event
    repeat_window_s: float = Field(30.0, ge=0, le=86400)  # the same plate on the same camera again: suppressed
    require_format: bool = False                     # voted text must match one of reader.formats


class KnownPlate(Settings):
    """One known plate (`known_plates.plates[]`)."""
    plate: Text = Field(min_length=1)
    name: Text = ""

    def __init__(self, plate: str = "", name: str = "", /, **data):
        # KnownPlate("AB123CD", "Alice") as well as KnownPlate(plate=..., name=...)
        super().__init__(**({"plate": plate} if plate else {}), **({"name": name} if name else {}), **data)

    @field_validator("plate")
    @classmethod
    def _not_blank(cls, plate: str) -> str:
        if not plate.strip():
            raise ValueError("must not be blank")
        return plate


class KnownPlatesConfig(Settings):
    """Known plates (`known_plates`)."""
    max_distance: int = Field(1, ge=0, le=10)        # edit distance still counted as the same plate
    plates: list[KnownPlate] = Field(default_factory=list)


@dataclass
class PlateEvent:
    """One vehicle pass on one camera: the fused reading and where/when it was seen."""
    id: str
    camera: str
    plate: str
    confidence: float
    char_confidences: list[float]
    box: Box
    first_seen: float             # wall-clock capture time of the first frame, seconds
    last_seen: float              # ... of the last frame used
    frames: int
    model_id: str
    reason: str                   # stable | max_delay | lost | shutdown
    format: str | None = None
    layout: str | None = None     # regions whose common layout the plate follows (plate_edge.layouts)
    known: bool = False
    known_name: str | None = None
    known_plate: str | None = None
    crop: np.ndarray | None = field(default=None, repr=False)  # best plate crop (BGR), for snapshots

    def to_json(self) -> dict:
        return {
            "id": self.id, "camera": self.camera, "plate": self.plate,
            "confidence": round(float(self.confidence), 4),
            "char_confidences": [round(float(c), 4) for c in self.char_confidences],
            "box": self.box.as_list(),
            "first_seen": round(self.first_seen, 3), "last_seen": round(self.last_seen, 3),
            "frames": self.frames, "model_id": self.model_id, "format": self.format, "layout": self.layout,
            "known": self.known, "known_name": self.known_name, "known_plate": self.known_plate,
            "reason": self.reason,
        }


def normalize_plate(text: str) -> str:
    return re.sub(r"[^0-9A-Z]", "", text.upper())


edit_distance = Levenshtein.distance   # insertions, deletions, substitutions


def text_similarity(a: str, b: str) -> float:
    return Levenshtein.normalized_similarity(a, b)


class KnownPlates:
    """Optional list of known plates with names, matched with a configurable edit distance."""

    def __init__(self, cfg: KnownPlatesConfig):
        self.max_distance = cfg.max_distance
        self.entries = [(normalize_plate(p.plate), p.plate, p.name) for p in cfg.plates]

    def match(self, text: str) -> tuple[str, str] | None:
        """(listed plate, name) of the closest entry within max_distance, else None."""
        text = normalize_plate(text)
        best = None
        for norm, plate, name in self.entries:
            d = edit_distance(text, norm)
            if d <= self.max_distance and (best is None or d < best[0]):
                best = (d, plate, name)
        return (best[1], best[2]) if best else None


@dataclass
class _Vote:
    text: str
    confidence: float
    char_confidences: list[float]


@dataclass
class _Track:
    first_seen: float
    last_seen: float
    box: Box
    readings: list[PlateReading] = field(default_factory=list)  # the last MAX_VOTES only
    frames: int = 0
    voted: _Vote | None = None
    stable: int = 0
    emitted: bool = False
    best_conf: float = -1.0
    crop: np.ndarray | None = None
    held: float = 0.0             # last time a frame was skipped as unchanged where the track is


def vote(readings: Sequence[PlateReading]) -> _Vote:
    """Per-character vote weighted by confidence, among readings of the most supported length.

    A character's fused confidence is the summed confidence of the readings agreeing with the
    winner divided by the number of readings of that length (disagreement lowers it); the plate's
    confidence is the lowest character confidence.
    """
    by_len: dict[int, list[PlateReading]] = defaultdict(list)
    for r in readings:
        by_len[len(r.text)].append(r)
    length = max(by_len, key=lambda n: (sum(r.confidence for r in by_len[n]), len(by_len[n])))
    group = by_len[length]
    text, confs = [], []
    for i in range(length):
        scores: dict[str, float] = defaultdict(float)
        for r in group:
            c = r.char_confidences[i] if i < len(r.char_confidences) else r.confidence
            scores[r.text[i]] += max(float(c), 1e-6)
        ch = max(scores, key=scores.__getitem__)
        text.append(ch)
        confs.append(scores[ch] / len(group))
    return _Vote("".join(text), min(confs) if confs else 0.0, confs)


class Tracker:
    """Tracks for one camera. Call update() for every processed frame, expire() when idle."""

    def __init__(self, camera: str, cfg: TrackingConfig, known: KnownPlates,
                 formats: Sequence[tuple[str, re.Pattern]] = (), keep_crops: bool = False,
                 new_id: Callable[[], str] = lambda: uuid.uuid4().hex):
        self.camera = camera
        self.cfg = cfg
        self.known = known
        self.formats = list(formats)
        self.keep_crops = keep_crops
        self.new_id = new_id
        self.tracks: list[_Track] = []
        self.recent: dict[str, float] = {}   # plate -> last time emitted or suppressed
        self.suppressed = 0

    def update(self, readings: Sequence[PlateReading], t: float,
               frame: np.ndarray | None = None) -> list[PlateEvent]:
        """Add one frame's readings (captured at wall time t); returns the events now due."""
        for reading in readings:
            track = self._associate(reading)
            if track is None:
                track = _Track(first_seen=t, last_seen=t, box=reading.box)
                self.tracks.append(track)
            self._add(track, reading, t, frame)
        events = [e for tr in self.tracks if (e := self._maybe_emit(tr, t)) is not None]
        return events + self.expire(t)

    def expire(self, t: float) -> list[PlateEvent]:
        """End tracks not seen for lost_after_s; emit those that qualify and never emitted."""
        events: list[PlateEvent] = []
        alive: list[_Track] = []
        for tr in self.tracks:
            if t - max(tr.last_seen, tr.held) < self.cfg.lost_after_s:
                alive.append(tr)
                events.extend(e for e in [self._maybe_emit(tr, t)] if e)
            elif not tr.emitted and (e := self._emit_if_good(tr, "lost")):
                events.append(e)
        self.tracks = alive
        horizon = t - self.cfg.repeat_window_s
        self.recent = {p: ts for p, ts in self.recent.items() if ts >= horizon}
        return events

    def hold(self, t: float, changed: Sequence[Box] | None = None) -> None:
        """Frame at time t was not read where nothing changed (the motion gate): the tracks there
        stay alive as if seen, so a parked car keeps its track (and is not published again when a
        re-check reads it later). `changed`: the regions that did change; tracks overlapping one
        are left to end normally. None: nothing changed anywhere."""
        for tr in self.tracks:
            if not changed or not any(_overlaps(tr.box, r) for r in changed):
                tr.held = max(tr.held, t)

    def settled(self) -> frozenset[str]:
        """The texts of the live tracks that have emitted (published, or suppressed as a repeat):
        a reader need not spend more on a plate that reads one of them again (Reader.read_frame_timed)."""
        return frozenset(tr.voted.text for tr in self.tracks if tr.emitted and tr.voted is not None)

    def flush(self) -> list[PlateEvent]:
        """Shutdown: emit every track that qualifies and has not emitted yet."""
        events = [e for tr in self.tracks if not tr.emitted and (e := self._emit_if_good(tr, "shutdown"))]
        self.tracks = []
        return events

    # ------------------------------------------------------------------ internals

    def _associate(self, reading: PlateReading) -> _Track | None:
        best, best_score = None, 0.0
        for tr in self.tracks:
            iou = tr.box.iou(reading.box)
            dist = _centre_distance(tr.box, reading.box) / max(tr.box.w, reading.box.w, 1)
            if iou < self.cfg.match_iou and dist > self.cfg.match_distance:
                continue
            sim = text_similarity(tr.voted.text if tr.voted else "", reading.text)
            if sim < self.cfg.match_text:
                continue
            score = sim + iou + 1.0 / (1.0 + dist)
            if score > best_score:
                best, best_score = tr, score
        return best

    def _add(self, tr: _Track, reading: PlateReading, t: float, frame: np.ndarray | None) -> None:
        tr.readings.append(reading)
        tr.frames += 1
        del tr.readings[:-MAX_VOTES]   # a parked car must not grow memory
        tr.last_seen, tr.box = t, reading.box
        voted = vote(tr.readings)
        tr.stable = tr.stable + 1 if tr.voted and voted.text == tr.voted.text else 1
        tr.voted = voted
        if self.keep_crops and frame is not None and reading.confidence > tr.best_conf:
            b = reading.box
            tr.crop = frame[max(0, b.y):b.y + b.h, max(0, b.x):b.x + b.w].copy()
        tr.best_conf = max(tr.best_conf, reading.confidence)

    def _maybe_emit(self, tr: _Track, t: float) -> PlateEvent | None:
        if tr.emitted or tr.voted is None:
            return None
        if tr.stable >= self.cfg.stable_frames:
            return self._emit_if_good(tr, "stable")
        if t - tr.first_seen >= self.cfg.max_delay_s:
            return self._emit_if_good(tr, "max_delay")
        return None

    def _emit_if_good(self, tr: _Track, reason: str) -> PlateEvent | None:
        v = tr.voted
        if v is None or tr.frames < self.cfg.min_frames or v.confidence < self.cfg.min_confidence:
            return None
        fmt = next((name for name, rx in self.formats if rx.fullmatch(v.text)), None)
        if self.cfg.require_format and self.formats and fmt is None:
            return None
        tr.emitted = True
        last = self.recent.get(v.text)
        self.recent[v.text] = tr.last_seen
        if last is not None and tr.first_seen - last <= self.cfg.repeat_window_s:
            self.suppressed += 1
            log.debug("camera %s: repeat of %s within %.0f s suppressed", self.camera, v.text,
                      self.cfg.repeat_window_s)
            return None
        known = self.known.match(v.text)
        return PlateEvent(
            id=self.new_id(), camera=self.camera, plate=v.text, confidence=v.confidence,
            char_confidences=v.char_confidences, box=tr.box, first_seen=tr.first_seen,
            last_seen=tr.last_seen, frames=tr.frames, model_id=tr.readings[-1].model_id,
            reason=reason, format=fmt, layout=next((r.layout for r in tr.readings if r.text == v.text), None),
            known=known is not None,
            known_plate=known[0] if known else None, known_name=known[1] if known else None,
            crop=tr.crop)


def _overlaps(a: Box, b: Box) -> bool:
    return a.x < b.x + b.w and b.x < a.x + a.w and a.y < b.y + b.h and b.y < a.y + a.h


def _centre_distance(a: Box, b: Box) -> float:
    (ax, ay), (bx, by) = a.centre, b.centre
    return float(np.hypot(ax - bx, ay - by))
