"""Configuration: the stages' settings composed into the file's layout, loaded from YAML.

Each stage owns its settings model beside its code (pydantic v2, plate_edge.settings.Settings:
unknown keys forbidden, strict types, bounds on every number): ModelConfig in classify.py,
ReaderConfig in reader.py (with LocalizeConfig, SegmentConfig and PlateFormat of localize.py,
segment.py and formats.py), CameraConfig in camera.py (GeneratedSourceConfig in source.py,
MotionConfig in motion.py), TrackingConfig in track.py, MqttConfig in publish.py, SpoolConfig in
spool.py. This module only composes them, loads YAML (a duplicate key anywhere is an error) and
turns every problem into a ConfigError naming the file, the key path and what is wrong. Only
what loads configuration imports it (cli, service, plate_edge.load_config).

Adding a setting: a field with a default and bounds in the stage's model, documented in
config.yaml. `plate-edge config-schema` prints the JSON Schema of the whole file.
"""
from __future__ import annotations

import os
import re
import ssl
import types
import typing
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, PrivateAttr, ValidationError

from .camera import CameraConfig
from .classify import ModelConfig, ModelError
from .formats import PlateFormat
from .localize import LocalizeConfig
from .motion import MotionConfig
from .publish import DiscoveryConfig, MqttConfig, TlsConfig, sanitize_topic_part
from .reader import ReaderConfig, ReaderOverride, load_reader
from .segment import SegmentConfig
from .settings import Settings, Text
from .source import GeneratedSourceConfig
from .spool import SpoolConfig
from .track import KnownPlate, KnownPlatesConfig, TrackingConfig

__all__ = ["CameraConfig", "Config", "ConfigError", "DiscoveryConfig", "GeneratedSourceConfig", "KnownPlate",
           "KnownPlatesConfig", "LocalizeConfig", "ModelConfig", "MotionConfig", "MqttConfig", "PlateFormat",
           "ReaderConfig", "ReaderOverride", "SegmentConfig", "SpoolConfig", "StatsConfig", "TlsConfig",
           "TrackingConfig", "check_resources", "config_schema", "load_config", "parse_config"]


class ConfigError(ValueError):
    """A configuration problem; the message names the file, the key path and what is wrong."""


class StatsConfig(Settings):
    """`stats`: the periodic statistics message."""
    interval_s: float = Field(30.0, ge=0, le=86400)   # publish <prefix>/stats this often (0: never)


class Config(Settings):
    """The whole configuration file. The reader's section is `reader` (reader.ReaderConfig); a
    camera may override part of it (`cameras.<name>.reader`)."""
    model: ModelConfig = Field(default_factory=ModelConfig)
    reader: ReaderConfig = Field(default_factory=ReaderConfig)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    cameras: dict[Text, CameraConfig] = Field(default_factory=dict)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
    known_plates: KnownPlatesConfig = Field(default_factory=KnownPlatesConfig)
    mqtt: MqttConfig = Field(default_factory=MqttConfig)
    spool: SpoolConfig = Field(default_factory=SpoolConfig)
    stats: StatsConfig = Field(default_factory=StatsConfig)
    state_dir: Text = ""          # empty: $STATE_DIRECTORY (systemd) or ./state

    _source_file: str = PrivateAttr("")

    @property
    def source_file(self) -> str:
        """The file this was loaded from ("" for defaults); relative paths in it are relative to it."""
        return self._source_file

    @source_file.setter
    def source_file(self, value: str) -> None:
        self._source_file = value

    def resolve(self, path: str) -> Path:
        """A path from the file: relative ones are taken relative to the file's folder."""
        p = Path(path).expanduser()
        if p.is_absolute() or not self.source_file:
            return p
        return Path(self.source_file).parent / p

    def state_path(self) -> Path:
        """state_dir (relative to the file), else systemd's $STATE_DIRECTORY, else ./state."""
        if self.state_dir:
            return self.resolve(self.state_dir)
        env = os.environ.get("STATE_DIRECTORY", "")
        return Path(env.split(":")[0]) if env else Path("state")

    def spool_path(self) -> Path:
        return self.resolve(self.spool.path) if self.spool.path else self.state_path() / "spool.sqlite3"

    def reader_for(self, camera: str) -> ReaderConfig:
        """The reader settings of one camera: `reader` with the camera's overrides."""
        cam = self.cameras.get(camera)
        return self.reader.with_override(cam.reader if cam else None)


# --------------------------------------------------------------------------- loading

def load_config(path: str | Path | None) -> Config:
    """Load and validate a YAML file; None gives the defaults. Raises ConfigError."""
    if path is None:
        return Config()
    path = Path(path)
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(f"{source}: cannot read configuration: {reason}") from exc
    data = load_yaml(text, source)
    cfg = parse_config(data if data is not None else {}, source)
    cfg.source_file = source
    return cfg


def parse_config(data: Any, source: str = "<config>") -> Config:
    """Validate a parsed document (a mapping) into a Config; raises ConfigError."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: <top level>: must be a mapping of sections, got {_kind(data)}")
    try:
        cfg = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_errors(exc, source)) from None
    _check_camera_names(cfg, source)
    return cfg


class UniqueKeyLoader(yaml.SafeLoader):
    """yaml.SafeLoader that rejects a key given twice in one mapping (PyYAML keeps the last one
    silently: a camera defined twice would lose its first definition)."""

    source = "<config>"

    def check_duplicates(self, node: yaml.Node, path: str = "", seen_nodes: set[int] | None = None) -> None:
        seen_nodes = set() if seen_nodes is None else seen_nodes
        if id(node) in seen_nodes:          # an alias: checked where it was defined
            return
        seen_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first: dict[tuple[str, str], int] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":   # `<<: *base`: overriding is its purpose
                    continue
                key = str(key_node.value)
                sub = f"{path}.{key}" if path else key
                line = key_node.start_mark.line + 1
                ident = (key_node.tag, key)
                if ident in first:
                    raise ConfigError(f"{self.source}: {sub}: duplicate key at line {line} "
                                      f"(first at line {first[ident]}); a key may be given only once")
                first[ident] = line
                self.check_duplicates(value_node, sub, seen_nodes)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self.check_duplicates(item, f"{path}[{i}]", seen_nodes)


def load_yaml(text: str, source: str = "<config>") -> Any:
    """Parse YAML safely; a duplicate key anywhere is a ConfigError naming it and its line."""
    loader = UniqueKeyLoader(text)
    loader.source = source
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        loader.check_duplicates(node)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        where = str(exc).replace('"<unicode string>"', f'"{source}"')
        raise ConfigError(f"{source}: not valid YAML: {where}") from exc
    finally:
        loader.dispose()


def _check_camera_names(cfg: Config, source: str) -> None:
    """Camera names become topic levels: two that sanitise alike would share their topics."""
    seen: dict[str, str] = {}
    for name in cfg.cameras:
        topic = sanitize_topic_part(name)
        if topic in seen:
            raise ConfigError(f"{source}: cameras.{name}: its topic name {topic!r} collides with camera "
                              f"{seen[topic]!r} (names differing only in characters other than letters, "
                              "digits, _ and - are the same in MQTT topics)")
        seen[topic] = name


# --------------------------------------------------------------------------- error messages

def format_errors(exc: ValidationError, source: str, limit: int = 20) -> str:
    """One line per problem: `<file>: <key.path>: <what is wrong>`."""
    lines = []
    for err in exc.errors(include_url=False)[:limit]:
        loc: list[str | int] = list(err["loc"])
        msg, kind, value = err["msg"], err["type"], err.get("input")
        got = ""
        if kind == "value_error":
            msg = msg.removeprefix("Value error, ")
            m = re.match(r"([a-z_]+): (.*)", msg, re.S)   # a cross-field check names its field first
            if m and m[1] in _fields_at(loc):
                loc.append(m[1])
                msg = m[2]
        elif kind == "extra_forbidden":
            msg = f"unknown key (known keys here: {', '.join(_fields_at(loc[:-1]))})"
        elif kind == "missing":
            msg = "required key is missing"
        elif kind in ("model_type", "dict_type"):
            msg = "must be a mapping"
            got = f", got {_kind(value)}"
        else:
            got = f" (got {_kind(value)})"
        lines.append(f"{source}: {_keypath(loc)}: {msg}{got}")
    more = len(exc.errors()) - limit
    if more > 0:
        lines.append(f"{source}: ... and {more} more problem(s)")
    return "\n".join(lines)


def _keypath(loc: list[str | int]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "<top level>"


def _type_at(loc: list[str | int]) -> Any:
    """The annotation of the setting at a key path (None when the path leaves the models)."""
    tp: Any = Config
    for part in loc:
        tp = _unwrap(tp)
        origin = typing.get_origin(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = tp.model_fields.get(str(part))
            if field is None:
                return None
            tp = field.annotation
        elif origin is list:
            tp = typing.get_args(tp)[0]
        elif origin is dict:
            tp = typing.get_args(tp)[1]
        else:
            return None
    return _unwrap(tp)


def _unwrap(tp: Any) -> Any:
    """X | None -> X; Annotated[X, ...] -> X."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            tp = args[0] if len(args) == 1 else tp
            if len(args) != 1:
                return tp
        else:
            return tp


def _fields_at(loc: list[str | int]) -> list[str]:
    tp = _type_at(loc)
    return sorted(tp.model_fields) if isinstance(tp, type) and issubclass(tp, BaseModel) else []


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


# --------------------------------------------------------------------------- what `run` needs besides the file

def check_resources(cfg: Config, *, model: bool = True, environment: bool = False) -> None:
    """What `run` would fail on besides the file itself: TLS files (exist, PEM, loadable), the MQTT
    password file, the state folder and spool (creatable), and with `model` the model (found, a
    TFLite model) and, with a learned reader, its plate detector.
    `environment`: also the MQTT password variable (`run` only: `check-config` is often run from
    a shell without the service's environment). Raises ConfigError listing every problem, each
    with the file and the key."""
    src = cfg.source_file or "<config>"
    problems: list[str] = []
    if cfg.mqtt.enabled:
        problems += _mqtt_problems(cfg.mqtt, environment)
    for key, path in (("state_dir", cfg.state_path()), ("spool.path", cfg.spool_path().parent)):
        why = _not_creatable(path)
        if why:
            problems.append(f"{key}: {path}: {why}")
            break
    if cfg.spool_path().is_dir():
        problems.append(f"spool.path: {cfg.spool_path()} is a folder, not a file")
    if model:
        try:
            load_reader(cfg)
        except ModelError as exc:
            problems.append(f"{exc.key}: {exc}")
    if problems:
        raise ConfigError("\n".join(f"{src}: {p}" for p in problems))


def model_error(cfg: Config, exc: ModelError) -> ConfigError:
    """A model that cannot be loaded, as a configuration error naming the key and the file."""
    return ConfigError(f"{cfg.source_file or '<config>'}: {exc.key}: {exc}")


def _mqtt_problems(m: MqttConfig, environment: bool) -> list[str]:
    problems = []
    if m.password_file:
        try:
            with open(m.password_file, encoding="utf-8") as fh:
                fh.readline()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            problems.append(f"mqtt.password_file: cannot read {m.password_file}: {reason}")
    if environment and m.password_env and m.password_env not in os.environ:
        problems.append(f"mqtt.password_env: environment variable {m.password_env} is not set")
    if not m.tls.enabled:
        return problems
    tls_files = {"ca_file": m.tls.ca_file, "cert_file": m.tls.cert_file, "key_file": m.tls.key_file}
    bad = False
    for key, path in tls_files.items():
        why = _pem_problem(path) if path else None
        if why:
            problems.append(f"mqtt.tls.{key}: {path}: {why}")
            bad = True
    if bad:
        return problems
    # What paho's tls_set() does at start-up: load them into an SSL context.
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if m.tls.ca_file:
        try:
            ctx.load_verify_locations(cafile=m.tls.ca_file)
        except (ssl.SSLError, OSError) as exc:
            problems.append(f"mqtt.tls.ca_file: {m.tls.ca_file}: not a usable CA certificate: {exc}")
    if m.tls.cert_file:
        try:
            ctx.load_cert_chain(m.tls.cert_file, m.tls.key_file or None, password=lambda: b"")
        except (ssl.SSLError, OSError) as exc:
            key = "mqtt.tls.key_file" if m.tls.key_file else "mqtt.tls.cert_file"
            problems.append(f"{key}: cannot load the client certificate and key "
                            f"({m.tls.cert_file}, {m.tls.key_file or 'key in the same file'}): {exc}")
    return problems


def _pem_problem(path: str) -> str | None:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return f"cannot read it: {exc.strerror or exc}"
    if b"-----BEGIN " not in data:
        return "not a PEM file (no -----BEGIN line)"
    return None


def _not_creatable(path: Path) -> str | None:
    """Why a folder cannot be used or created (None: it can), without creating anything."""
    if path.exists():
        if not path.is_dir():
            return "exists and is not a folder"
        return None if os.access(path, os.W_OK | os.X_OK) else "folder is not writable"
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        return f"cannot be created: {parent} is not a folder"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"cannot be created: {parent} is not writable"
    return None


def config_schema() -> dict[str, Any]:
    """The JSON Schema of the configuration file (for editors: yaml-language-server)."""
    schema = Config.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "plate-edge configuration"
    return schema
