"""Configuration: typed dataclasses loaded from YAML, with errors that name the key and the file.

Every section is a plain dataclass; the loader walks the type hints, so adding a setting means
adding a field with a default here and documenting it in config.yaml.
"""
from __future__ import annotations

import dataclasses
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

import yaml

from .layouts import LAYOUTS


class ConfigError(ValueError):
    """A configuration problem; the message names the key path and the file."""


# --------------------------------------------------------------------------- sections

@dataclass
class ModelConfig:
    path: str = "digits"          # a shipped model name (digits, alnum) or a path to a .tflite
    threads: int = 1


@dataclass
class PlateFormat:
    name: str = ""
    pattern: str = ""             # e.g. ^[A-Z]{3}[0-9]{4}$

    def validate(self) -> None:
        try:
            re.compile(self.pattern)
        except re.error as exc:
            raise ValueError(f"pattern {self.pattern!r} is not a valid regex: {exc}") from None
        if not self.pattern:
            raise ValueError("pattern must not be empty")


@dataclass
class LocalizeConfig:
    min_plate_width: int = 60
    max_plate_width: int = 400
    max_tilt_deg: float = 15.0
    max_plates: int = 8
    proposal_width: float = 36.0    # px a plate of min width spans in the downscaled proposal image
    min_line_chars: int = 3         # character-like blobs in a row for a region to count as text
    crop_char_height: int = 32      # plate crops are scaled so characters are this tall
    crop_work_height: int = 160     # read_crop: larger plate images are downscaled to find the text
    polarity_doubt: float = 0.5     # other polarity's text with this share of the ink: polarity in doubt
                                    # (see config.yaml)
    pad_x: float = 0.5              # plate outline left/right of the characters, in character heights
    pad_y: float = 0.35             # plate outline above/below the characters, in character heights
    crop_pad_x: float = 3.0         # crop for the segmenter: wider, so characters missed here are kept
    crop_pad_y: float = 0.5
    min_edge_contrast: float = 0.03  # frames: drop text with no plate outline near it (0: keep all)

    def validate(self) -> None:
        if not 8 <= self.min_plate_width <= self.max_plate_width:
            raise ValueError("need 8 <= min_plate_width <= max_plate_width")
        if not 0 <= self.max_tilt_deg <= 45:
            raise ValueError("max_tilt_deg must be between 0 and 45")


@dataclass
class SegmentConfig:
    min_chars: int = 4
    max_chars: int = 10
    max_tilt_deg: float = 5.0       # residual tilt allowed inside a (deskewed) crop
    max_gap: float = 1.6            # largest gap between neighbouring characters, in char heights
    height_ratio: float = 1.35      # neighbouring characters differ in height by less than this


@dataclass
class ReaderConfig:
    min_confidence: float = 0.5   # plate readings below this are dropped
    min_char_confidence: float = 0.0
    formats: list[PlateFormat] = field(default_factory=list)
    reject_unmatched: bool = False  # with formats: drop readings that match none
    layouts: list[str] = field(default_factory=lambda: ["all"])  # regions of plate_edge.layouts (or all)
    max_frame_side: int = 4096      # larger frames are downscaled to this (longer side, px) first
    localize: LocalizeConfig = field(default_factory=LocalizeConfig)
    segment: SegmentConfig = field(default_factory=SegmentConfig)

    def validate(self) -> None:
        unknown = [r for r in self.layouts if r != "all" and r not in LAYOUTS]
        if unknown:
            raise ValueError(f"layouts: unknown region(s) {', '.join(map(repr, unknown))}; "
                             f"known: all, {', '.join(sorted(LAYOUTS))}")


# ---- daemon sections (daemon helper): cameras, tracking, known plates, MQTT, spool, stats

_TOPIC_FORBIDDEN = set("+#/\0")


@dataclass
class GeneratedSourceConfig:
    """The `generated` camera source: synthetic plates moving across a scene (demo, tests, bench)."""
    plates: list[str] = field(default_factory=lambda: ["4071358", "926081", "1234567"])
    width: int = 960
    height: int = 540
    fps: float = 15.0
    seconds_per_plate: float = 2.0   # time a plate takes to cross the scene
    gap_s: float = 0.5               # empty scene between two plates
    plate_width: int = 220           # rendered plate width in pixels
    seed: int = 0
    loop: bool = False               # start over after the last plate (else the source ends)

    def validate(self) -> None:
        if self.fps <= 0 or self.width < 64 or self.height < 64:
            raise ValueError("fps must be > 0 and width/height >= 64")
        if not self.plates:
            raise ValueError("plates must not be empty")


@dataclass
class CameraConfig:
    # /dev/videoN | N | rtsp://.. | http://.. | file.mp4 | folder/ | picamera2 | generated
    source: str = ""
    enabled: bool = True
    max_fps: float = 0.0             # process at most this many frames per second (0: every new frame)
    loop: bool = False               # video files and folders: start over at the end
    realtime: bool = True            # files and folders: deliver at the clip's frame rate
    fps: float = 0.0                 # folders (and files without a rate): frames per second; 0 = 10
    width: int = 0                   # requested capture size for V4L2 / picamera2 (0: driver default)
    height: int = 0
    zones: list[list[list[float]]] = field(default_factory=list)  # detection polygons [[x,y],...]
    reopen_min_s: float = 1.0        # first retry delay after a failure; doubles up to reopen_max_s
    reopen_max_s: float = 30.0
    generated: GeneratedSourceConfig = field(default_factory=GeneratedSourceConfig)

    def validate(self) -> None:
        if not self.source:
            raise ValueError("source is required")
        if self.max_fps < 0 or self.fps < 0:
            raise ValueError("max_fps and fps must be >= 0")
        if not 0 < self.reopen_min_s <= self.reopen_max_s:
            raise ValueError("need 0 < reopen_min_s <= reopen_max_s")
        for i, zone in enumerate(self.zones):
            if len(zone) < 3 or any(len(pt) != 2 for pt in zone):
                raise ValueError(f"zones[{i}] must be a polygon of at least 3 [x, y] points")


@dataclass
class TrackingConfig:
    match_iou: float = 0.05          # a reading joins a track when boxes overlap this much ...
    match_distance: float = 1.5      # ... or centres are within this many plate widths
    match_text: float = 0.5          # ... and the texts are at least this similar (0..1)
    stable_frames: int = 3           # emit once the voted text held for this many frames
    max_delay_s: float = 3.0         # emit at the latest this long after first seen
    lost_after_s: float = 1.0        # a track not seen for this long ends (emitted if good enough)
    min_frames: int = 2              # fewer observations never make an event
    min_confidence: float = 0.6      # voted plate confidence needed for an event
    repeat_window_s: float = 30.0    # the same plate on the same camera again within this: suppressed
    require_format: bool = False     # voted text must match one of reader.formats

    def validate(self) -> None:
        if self.stable_frames < 1 or self.min_frames < 1:
            raise ValueError("stable_frames and min_frames must be >= 1")
        if self.max_delay_s <= 0 or self.lost_after_s <= 0 or self.repeat_window_s < 0:
            raise ValueError("max_delay_s and lost_after_s must be > 0, repeat_window_s >= 0")
        if not 0 <= self.match_text <= 1 or not 0 <= self.min_confidence <= 1:
            raise ValueError("match_text and min_confidence must be within 0..1")


@dataclass
class KnownPlate:
    plate: str = ""
    name: str = ""


@dataclass
class KnownPlatesConfig:
    max_distance: int = 1            # edit distance still counted as the same plate
    plates: list[KnownPlate] = field(default_factory=list)

    def validate(self) -> None:
        if self.max_distance < 0:
            raise ValueError("max_distance must be >= 0")
        for i, p in enumerate(self.plates):
            if not p.plate:
                raise ValueError(f"plates[{i}].plate is empty")


@dataclass
class TlsConfig:
    enabled: bool = False
    ca_file: str = ""                # CA bundle to verify the broker (empty: system CAs)
    cert_file: str = ""              # client certificate (mutual TLS)
    key_file: str = ""
    insecure: bool = False           # skip hostname verification (testing only)


@dataclass
class DiscoveryConfig:
    enabled: bool = False            # Home Assistant MQTT discovery
    prefix: str = "homeassistant"
    node_id: str = "plate_edge"


@dataclass
class MqttConfig:
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 1883
    client_id: str = ""              # empty: plate-edge-<hostname>
    topic_prefix: str = "plate_edge"
    user: str = ""
    password_file: str = ""          # the password is read from this file ...
    password_env: str = ""           # ... or from this environment variable; never from the config
    keepalive: int = 30
    qos: int = 1                     # for events (status and discovery are always QoS 1, retained)
    max_inflight: int = 20
    reconnect_min_s: float = 1.0
    reconnect_max_s: float = 30.0
    snapshots: bool = False          # publish <prefix>/<camera>/snapshot (JPEG of the plate crop)
    tls: TlsConfig = field(default_factory=TlsConfig)
    discovery: DiscoveryConfig = field(default_factory=DiscoveryConfig)

    def validate(self) -> None:
        if not 0 < self.port < 65536:
            raise ValueError("port must be 1..65535")
        if self.qos not in (0, 1, 2):
            raise ValueError("qos must be 0, 1 or 2")
        if not self.topic_prefix or set(self.topic_prefix) & _TOPIC_FORBIDDEN - {"/"}:
            raise ValueError("topic_prefix must be non-empty without + # or NUL")
        if self.password_file and self.password_env:
            raise ValueError("set password_file or password_env, not both")
        if not 0 < self.reconnect_min_s <= self.reconnect_max_s:
            raise ValueError("need 0 < reconnect_min_s <= reconnect_max_s")


@dataclass
class SpoolConfig:
    path: str = ""                   # empty: <state_dir>/spool.sqlite3
    max_events: int = 10000          # bound on undelivered events kept on disk
    drop: Literal["oldest", "newest"] = "oldest"  # which event is dropped (and logged) when full

    def validate(self) -> None:
        if self.max_events < 1:
            raise ValueError("max_events must be >= 1")


@dataclass
class StatsConfig:
    interval_s: float = 30.0         # publish <prefix>/stats this often (0: never)

    def validate(self) -> None:
        if self.interval_s < 0:
            raise ValueError("interval_s must be >= 0")


@dataclass
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    reader: ReaderConfig = field(default_factory=ReaderConfig)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    cameras: dict[str, CameraConfig] = field(default_factory=dict)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    known_plates: KnownPlatesConfig = field(default_factory=KnownPlatesConfig)
    mqtt: MqttConfig = field(default_factory=MqttConfig)
    spool: SpoolConfig = field(default_factory=SpoolConfig)
    stats: StatsConfig = field(default_factory=StatsConfig)
    state_dir: str = ""           # empty: $STATE_DIRECTORY (systemd) or ./state
    source_file: str = ""         # set by the loader: which file this came from


# --------------------------------------------------------------------------- loading

def load_config(path: str | Path | None) -> Config:
    """Load and validate a YAML file; None gives the defaults."""
    if path is None:
        return Config()
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read configuration: {exc.strerror or exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    cfg = parse_config(data if data is not None else {}, str(path))
    cfg.source_file = str(path)
    return cfg


def parse_config(data: Any, source: str = "<config>") -> Config:
    return _build(Config, data, "", source)


def _build(cls, data: Any, keypath: str, source: str):
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: '{keypath or '<top level>'}' must be a mapping, got {_kind(data)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name != "source_file"}
    kwargs = {}
    for key, value in data.items():
        sub = f"{keypath}.{key}" if keypath else str(key)
        if key not in fields:
            known = ", ".join(sorted(fields))
            raise ConfigError(f"{source}: unknown key '{sub}' (known keys here: {known})")
        kwargs[key] = _convert(hints[key], value, sub, source)
    obj = cls(**kwargs)
    check = getattr(obj, "validate", None)
    if check is not None:
        try:
            check()
        except ValueError as exc:
            raise ConfigError(f"{source}: '{keypath}': {exc}") from exc
    return obj


def _convert(tp, value: Any, keypath: str, source: str):
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, keypath, source)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _convert(arg, value, keypath, source)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[-1])
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{source}: '{keypath}' must be one of {list(args)}, got {value!r}")
        return value
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{source}: '{keypath}' must be a list, got {_kind(value)}")
        return [_convert(args[0], v, f"{keypath}[{i}]", source) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: '{keypath}' must be a mapping, got {_kind(value)}")
        return {str(k): _convert(args[1], v, f"{keypath}.{k}", source) for k, v in value.items()}
    if tp is Any:
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{source}: '{keypath}' must be a number, got {_kind(value)}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{source}: '{keypath}' must be an integer, got {_kind(value)}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{source}: '{keypath}' must be true or false, got {_kind(value)}")
        return value
    if tp is str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise ConfigError(f"{source}: '{keypath}' must be a string, got {_kind(value)}")
        return str(value)
    raise ConfigError(f"{source}: '{keypath}': unsupported setting type {tp!r}")


def _kind(value: Any) -> str:
    return f"{type(value).__name__} {value!r}" if not isinstance(value, (dict, list)) else type(value).__name__
