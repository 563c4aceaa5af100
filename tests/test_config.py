from pathlib import Path

import pytest

from plate_edge.config import Config, ConfigError, load_config, parse_config

ROOT = Path(__file__).resolve().parent.parent


def test_shipped_config_documents_the_defaults():
    """config.yaml spells out every default; only its example camera is not a default."""
    cfg = load_config(ROOT / "config.yaml")
    cfg.source_file = ""
    assert cfg.cameras, "config.yaml should ship a working example camera"
    cfg.cameras = {}
    assert cfg == Config()


def test_unknown_key_names_path_and_file(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("model:\n  treads: 2\n")
    with pytest.raises(ConfigError) as exc:
        load_config(f)
    assert "model.treads" in str(exc.value) and str(f) in str(exc.value)


@pytest.mark.parametrize("text,key", [
    ("model:\n  threads: two\n", "model.threads"),
    ("model:\n  threads: true\n", "model.threads"),
    ("log_level: LOUD\n", "log_level"),
    ("reader:\n  formats:\n    - {name: br, patern: x}\n", "reader.formats[0].patern"),
    ("reader: 3\n", "reader"),
    ("reader:\n  layouts: [fr, xx]\n", "layouts: unknown region.*'xx'"),
])
def test_wrong_values_name_the_key(tmp_path, text, key):
    f = tmp_path / "c.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError, match=key.replace("[", r"\[").replace("]", r"\]")):
        load_config(f)


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


def test_empty_file_gives_defaults(tmp_path):
    f = tmp_path / "empty.yaml"
    f.write_text("")
    assert load_config(f).model == Config().model


def test_numbers_are_converted():
    cfg = parse_config({"model": {"threads": 3}, "reader": {"min_confidence": 1}})
    assert cfg.model.threads == 3 and isinstance(cfg.reader.min_confidence, float)


def test_a_bare_off_is_the_localizer_setting_off(tmp_path):
    """YAML reads `localizer: off` as false; the setting still means "off" (quoted or not), and any
    other wrong value names the key."""
    f = tmp_path / "c.yaml"
    for text in ("off", '"off"'):
        f.write_text(f"reader:\n  detector:\n    localizer: {text}\n")
        assert load_config(f).reader.detector.localizer == "off"
    f.write_text("reader:\n  detector:\n    localizer: on\n")
    with pytest.raises(ConfigError, match="reader.detector.localizer"):
        load_config(f)


def test_tiles_take_off_on_and_their_names(tmp_path):
    """reader.detector.tiles: YAML's bare off/false is "off", on/true is "always"; the names as
    written; anything else names the key."""
    f = tmp_path / "c.yaml"
    for text, want in (("off", "off"), ("false", "off"), ("on", "always"), ("true", "always"),
                       ("unread", "unread"), ("always", "always")):
        f.write_text(f"reader:\n  detector:\n    tiles: {text}\n")
        assert load_config(f).reader.detector.tiles == want, text
    f.write_text("reader:\n  detector:\n    tiles: sometimes\n")
    with pytest.raises(ConfigError, match="reader.detector.tiles"):
        load_config(f)


def test_a_relative_detector_path_is_taken_from_the_config_files_folder(tmp_path, monkeypatch, model_path):
    """reader.detector.model as a path relative to the file finds the model beside the file, as
    model.path does, whatever the working directory (systemd starts the daemon elsewhere); a name
    or a path not there is left as written (shipped models, the working directory)."""
    import shutil

    from plate_edge.config import check_resources
    from plate_edge.reader import load_reader
    folder = tmp_path / "etc"
    (folder / "models").mkdir(parents=True)
    shutil.copy(model_path("plate-detector"), folder / "models" / "det.tflite")
    f = folder / "c.yaml"
    f.write_text("model:\n  path: plate\nreader:\n  detector:\n    model: models/det.tflite\n")
    monkeypatch.chdir(tmp_path)
    cfg = load_config(f)
    check_resources(cfg)
    reader = load_reader(cfg)
    assert reader.detector is not None and Path(reader.detector.path) == folder / "models" / "det.tflite"
    f.write_text("reader:\n  detector:\n    model: plate-detector\n")
    assert load_config(f).reader.detector.model == "plate-detector"
