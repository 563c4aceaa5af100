"""Per-camera reader settings (`cameras.<name>.reader`): merged over `reader`, one reader per
distinct override, all sharing the model."""
from test_reader import StubClassifier

from plate_edge.config import parse_config
from plate_edge.reader import Reader
from plate_edge.service import Daemon

DOC = {
    "reader": {"min_confidence": 0.5, "layouts": ["all"], "localize": {"max_plates": 3}},
    "cameras": {
        "plain": {"source": "a.mp4"},
        "br1": {"source": "b.mp4", "reader": {"formats": [{"name": "br", "pattern": "^[A-Z]{3}[0-9]{4}$"}],
                                              "layouts": ["br"]}},
        "br2": {"source": "c.mp4", "reader": {"formats": [{"name": "br", "pattern": "^[A-Z]{3}[0-9]{4}$"}],
                                              "layouts": ["br"]}},
        "strict": {"source": "d.mp4", "reader": {"min_confidence": 0.9}},
    },
}


def test_overrides_merge_over_the_reader_section():
    cfg = parse_config(DOC)
    assert cfg.reader_for("plain") == cfg.reader
    br = cfg.reader_for("br1")
    assert [f.name for f in br.formats] == ["br"] and br.layouts == ["br"] and br.min_confidence == 0.5
    assert br.localize.max_plates == 3                         # not overridable: from `reader`
    strict = cfg.reader_for("strict")
    assert strict.min_confidence == 0.9 and strict.layouts == ["all"] and strict.formats == []


def test_the_daemon_uses_one_reader_per_distinct_override_sharing_the_model():
    cfg = parse_config(DOC)
    clf = StubClassifier()
    daemon = Daemon(cfg, lambda c: Reader(c.reader, clf))
    daemon.reader = daemon.reader_factory(cfg)
    readers = {name: daemon._camera_reader(cfg, name) for name in cfg.cameras}
    assert readers["plain"] is daemon.reader
    assert readers["br1"] is readers["br2"] is not daemon.reader
    assert readers["strict"] not in (daemon.reader, readers["br1"])
    assert all(r.classifier is clf for r in readers.values())
    assert readers["br1"].cfg == cfg.reader_for("br1") and readers["strict"].cfg.min_confidence == 0.9


def test_a_reader_without_with_config_is_shared():
    """Test fakes (and other readers) without with_config serve every camera as they are."""
    cfg = parse_config(DOC)
    fake = object()
    daemon = Daemon(cfg, lambda c: fake)
    daemon.reader = fake
    assert all(daemon._camera_reader(cfg, n) is fake for n in cfg.cameras)


def test_with_config_keeps_the_reader_when_nothing_changes():
    reader = Reader(parse_config({}).reader, StubClassifier())
    assert reader.with_config(reader.cfg) is reader
