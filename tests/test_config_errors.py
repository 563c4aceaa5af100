"""Malformed configurations, through the CLI: exit 2, and a message naming the file and the key path.

Every case is checked with `check-config`; those that are wrong in the file itself also with
`run` (in-process: they stop before anything starts), and those about what the file points at
(TLS files, password file, state folder, model) with `run` in a subprocess.
"""
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from plate_edge.cli import main

# (id, YAML text, key path the message must name, whether the problem is in the file itself)
# {tmp} is the test's folder. Files the cases point at are made by _files().
CASES = [
    ("unknown-key", "model:\n  treads: 2\n", "model.treads", True),
    ("threads-negative", "model:\n  threads: -4\n", "model.threads", True),
    ("threads-text", "model:\n  threads: two\n", "model.threads", True),
    ("threads-bool", "model:\n  threads: true\n", "model.threads", True),
    ("model-not-found", "model:\n  path: resnet9000\n", "model.path", False),
    ("not-a-model", "model:\n  path: notamodel.tflite\n", "model.path", False),
    ("detector-not-found", "model:\n  path: plate\nreader:\n  detector:\n    model: nodetector\n",
     "reader.detector.model", False),
    ("detector-not-a-model", "model:\n  path: plate\nreader:\n  detector:\n    model: {tmp}/notamodel.tflite\n",
     "reader.detector.model", False),
    ("model-is-a-verifier", "model:\n  path: plate-verifier\n", "model.path", False),
    ("verifier-not-found", "model:\n  path: plate\nreader:\n  detector:\n    verifier: noverifier\n",
     "reader.detector.verifier", False),
    ("verifier-is-a-detector", "model:\n  path: plate\nreader:\n  detector:\n    verifier: plate-detector\n",
     "reader.detector.verifier", False),
    ("verify-threshold", "reader:\n  detector:\n    verify_threshold: 1.5\n", "reader.detector.verify_threshold",
     True),
    ("tiles", "reader:\n  detector:\n    tiles: sometimes\n", "reader.detector.tiles", True),
    ("log-level", "log_level: LOUD\n", "log_level", True),
    ("min-confidence", "reader:\n  min_confidence: 1.5\n", "reader.min_confidence", True),
    ("bad-regex", "reader:\n  formats:\n    - {name: x, pattern: '[A-Z'}\n", "reader.formats[0].pattern", True),
    ("no-pattern", "reader:\n  formats:\n    - {name: x}\n", "reader.formats[0].pattern", True),
    ("format-typo", "reader:\n  formats:\n    - {name: br, patern: x}\n", "reader.formats[0].patern", True),
    ("layout", "reader:\n  layouts: [fr, xx]\n", "reader.layouts", True),
    ("max-plates", "reader:\n  localize:\n    max_plates: 0\n", "reader.localize.max_plates", True),
    ("plate-widths", "reader:\n  localize:\n    min_plate_width: 500\n", "reader.localize.min_plate_width", True),
    ("chars", "reader:\n  segment:\n    min_chars: 9\n    max_chars: 3\n", "reader.segment.min_chars", True),
    ("frame-side", "reader:\n  max_frame_side: 10\n", "reader.max_frame_side", True),
    ("section-type", "reader: 3\n", "reader", True),
    ("match-iou", "tracking:\n  match_iou: 7.5\n", "tracking.match_iou", True),
    ("stable-frames", "tracking:\n  stable_frames: 0\n", "tracking.stable_frames", True),
    ("known-empty", "known_plates:\n  plates:\n    - {plate: '', name: x}\n", "known_plates.plates[0].plate", True),
    ("keepalive", "mqtt:\n  keepalive: -1\n", "mqtt.keepalive", True),
    ("port", "mqtt:\n  port: 70000\n", "mqtt.port", True),
    ("qos", "mqtt:\n  qos: 3\n", "mqtt.qos", True),
    ("topic-wildcard", "mqtt:\n  topic_prefix: 'a/#'\n", "mqtt.topic_prefix", True),
    ("both-passwords", "mqtt:\n  password_file: pw\n  password_env: PW\n", "mqtt.password_env", True),
    ("reconnect", "mqtt:\n  reconnect_min_s: 10\n  reconnect_max_s: 5\n", "mqtt.reconnect_min_s", True),
    ("password-file", "mqtt:\n  password_file: {tmp}/no-such-pw\n", "mqtt.password_file", False),
    ("ca-missing", "mqtt:\n  tls: {{enabled: true, ca_file: {tmp}/no-ca.pem}}\n", "mqtt.tls.ca_file", False),
    ("ca-not-pem", "mqtt:\n  tls: {{enabled: true, ca_file: {tmp}/garbage.bin}}\n", "mqtt.tls.ca_file", False),
    ("cert-not-pem", "mqtt:\n  tls: {{enabled: true, cert_file: {tmp}/garbage.bin, key_file: {tmp}/garbage.bin}}\n",
     "mqtt.tls.cert_file", False),
    ("key-missing", "mqtt:\n  tls: {{enabled: true, cert_file: {tmp}/fake.pem, key_file: {tmp}/no-key.pem}}\n",
     "mqtt.tls.key_file", False),
    ("key-without-cert", "mqtt:\n  tls: {{enabled: true, key_file: {tmp}/fake.pem}}\n", "mqtt.tls.cert_file", True),
    ("spool-size", "spool:\n  max_events: 0\n", "spool.max_events", True),
    ("spool-drop", "spool:\n  drop: middle\n", "spool.drop", True),
    ("stats", "stats:\n  interval_s: -1\n", "stats.interval_s", True),
    ("state-dir", "state_dir: {tmp}/garbage.bin/state\n", "state_dir", False),
    ("no-source", "cameras:\n  front: {{enabled: true}}\n", "cameras.front.source", True),
    ("empty-plate", "cameras:\n  front:\n    source: generated\n    generated: {{plates: ['']}}\n",
     "cameras.front.generated.plates[0]", True),
    ("no-plates", "cameras:\n  front:\n    source: generated\n    generated: {{plates: []}}\n",
     "cameras.front.generated.plates", True),
    ("huge-width", "cameras:\n  front:\n    source: generated\n    generated: {{width: 100000}}\n",
     "cameras.front.generated.width", True),
    ("huge-height", "cameras:\n  front:\n    source: generated\n    generated: {{height: 100000}}\n",
     "cameras.front.generated.height", True),
    ("zone", "cameras:\n  front:\n    source: x.mp4\n    zones: [[[0, 0], [1, 1]]]\n", "cameras.front.zones", True),
    ("reopen", "cameras:\n  front:\n    source: x.mp4\n    reopen_min_s: 0\n", "cameras.front.reopen_min_s", True),
    ("max-fps", "cameras:\n  front:\n    source: x.mp4\n    max_fps: -1\n", "cameras.front.max_fps", True),
    ("camera-size", "cameras:\n  front:\n    source: 0\n    width: 100000\n", "cameras.front.width", True),
    ("override-confidence", "cameras:\n  front:\n    source: x.mp4\n    reader: {{min_confidence: 2}}\n",
     "cameras.front.reader.min_confidence", True),
    ("override-layout", "cameras:\n  front:\n    source: x.mp4\n    reader: {{layouts: [xx]}}\n",
     "cameras.front.reader.layouts", True),
    ("override-unknown", "cameras:\n  front:\n    source: x.mp4\n    reader: {{max_plates: 2}}\n",
     "cameras.front.reader.max_plates", True),
    ("motion", "cameras:\n  front:\n    source: x.mp4\n    motion: {{threshold: 0}}\n",
     "cameras.front.motion.threshold", True),
    ("topic-collision", "cameras:\n  cam 1: {{source: a.mp4}}\n  cam_1: {{source: b.mp4}}\n", "cameras.cam_1", True),
    ("duplicate-camera", "cameras:\n  front: {{source: a.mp4}}\n  front: {{source: b.mp4}}\n", "cameras.front", True),
    ("duplicate-nested", "tracking:\n  match_iou: 0.1\n  stable_frames: 2\n  match_iou: 0.2\n",
     "tracking.match_iou", True),
    ("top-level-list", "- model\n", "<top level>", True),
]


def _files(tmp: Path) -> None:
    (tmp / "garbage.bin").write_bytes(b"\x00\x01 random bytes, not PEM \xff")
    (tmp / "notamodel.tflite").write_bytes(b"this is not a model at all")
    (tmp / "fake.pem").write_text("-----BEGIN CERTIFICATE-----\nnot really\n-----END CERTIFICATE-----\n")


def _write(tmp: Path, text: str) -> Path:
    _files(tmp)
    body = text.replace("{tmp}", str(tmp)).replace("{{", "{").replace("}}", "}")
    if "state_dir:" not in body and not body.startswith("-"):
        body += f"state_dir: {tmp}/state\n"       # never the working directory's ./state
    path = tmp / "bad config.yaml"
    path.write_text(body)
    return path


def test_there_are_enough_cases():
    assert len(CASES) >= 30


@pytest.mark.parametrize("text,key,in_file", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_check_config_names_file_and_key(tmp_path, capsys, text, key, in_file):
    path = _write(tmp_path, text)
    assert main(["check-config", str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and key in err, err
    assert not (tmp_path / "state").exists()        # checking creates nothing


@pytest.mark.parametrize("text,key", [c[1:3] for c in CASES if c[3]], ids=[c[0] for c in CASES if c[3]])
def test_run_rejects_the_same_file(tmp_path, capsys, text, key):
    path = _write(tmp_path, text)
    assert main(["run", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and key in err, err


@pytest.mark.parametrize("name", ["model-not-found", "not-a-model", "password-file", "ca-not-pem", "state-dir",
                                  "detector-not-a-model"])
def test_run_fails_on_what_check_config_catches(tmp_path, name):
    """What the file points at: `run` exits 2 naming the file and the key, like check-config."""
    text, key = next(c[1:3] for c in CASES if c[0] == name)
    path = _write(tmp_path, text)
    out = subprocess.run([sys.executable, "-m", "plate_edge", "run", "--config", str(path)], cwd=tmp_path,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2, out.stderr
    assert str(path) in out.stderr and key in out.stderr, out.stderr


def test_model_errors_say_what_is_wrong(tmp_path, capsys):
    path = _write(tmp_path, "model:\n  path: resnet9000\n")
    main(["check-config", str(path)])
    assert "resnet9000: model not found" in capsys.readouterr().err
    path = _write(tmp_path, "model:\n  path: notamodel.tflite\n")
    main(["check-config", str(path)])
    assert "not a TFLite model" in capsys.readouterr().err


def test_duplicate_key_names_its_line(tmp_path, capsys):
    path = _write(tmp_path, "cameras:\n  front: {{source: a.mp4}}\n  back: {{source: c.mp4}}\n"
                            "  front: {{source: b.mp4}}\n")
    assert main(["check-config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "cameras.front" in err and "line 4" in err and "line 2" in err, err


def test_yaml_merge_keys_are_not_duplicates(tmp_path, capsys):
    path = _write(tmp_path, "cameras:\n  a: &base {{source: a.mp4, max_fps: 2}}\n  b:\n    <<: *base\n"
                            "    source: b.mp4\n")
    assert main(["check-config", str(path)]) == 0, capsys.readouterr().err


def test_good_tls_and_password_files_pass(tmp_path, capsys):
    ca = ssl.get_default_verify_paths().cafile
    if not ca or not Path(ca).is_file():
        pytest.skip("no system CA bundle")
    (tmp_path / "pw").write_text("secret\n")
    path = _write(tmp_path, f"mqtt:\n  password_file: {tmp_path}/pw\n  tls: {{enabled: true, ca_file: {ca}}}\n")
    assert main(["check-config", str(path)]) == 0, capsys.readouterr().err


def test_shipped_config_passes_and_schema_prints(capsys):
    assert main(["check-config", str(ROOT / "config.yaml")]) == 0
    capsys.readouterr()
    assert main(["config-schema"]) == 0
    import json
    schema = json.loads(capsys.readouterr().out)
    props = schema["properties"]
    assert {"model", "reader", "cameras", "tracking", "mqtt", "spool"} <= set(props)
    assert schema["additionalProperties"] is False
    camera = schema["$defs"]["CameraConfig"]["properties"]
    assert "reader" in camera and "motion" in camera
