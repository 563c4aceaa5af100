"""Tracker: association, per-character voting, emission rules, repeats, known plates."""
import re

from plate_edge.config import KnownPlate, KnownPlatesConfig, TrackingConfig
from plate_edge.track import KnownPlates, Tracker, edit_distance, vote
from plate_edge.types import Box, PlateReading


def reading(text, x=100, conf=0.9, char_conf=None, y=100, w=120):
    cc = char_conf or [conf] * len(text)
    return PlateReading(text=text, confidence=conf, char_confidences=cc, box=Box(x, y, w, 30),
                        polygon=[], char_boxes=[], model_id="m1")


def tracker(known=(), **kw):
    cfg = TrackingConfig(**kw)
    kp = KnownPlates(KnownPlatesConfig(max_distance=1, plates=[KnownPlate(p, n) for p, n in known]))
    ids = iter(range(1000))
    return Tracker("gate", cfg, kp, new_id=lambda: f"e{next(ids)}")


def test_edit_distance():
    assert edit_distance("ABC123", "ABC123") == 0
    assert edit_distance("ABC123", "A8C123") == 1
    assert edit_distance("ABC123", "ABC12") == 1
    assert edit_distance("", "AB") == 2


def test_vote_weights_characters_by_confidence():
    v = vote([reading("AB123", char_conf=[.9, .9, .9, .9, .9]),
              reading("A8123", char_conf=[.9, .3, .9, .9, .9]),
              reading("AB123", char_conf=[.9, .8, .9, .9, .9])])
    assert v.text == "AB123"
    assert 0.5 < v.char_confidences[1] < 0.9
    assert v.confidence == min(v.char_confidences)


def test_vote_prefers_the_best_supported_length():
    v = vote([reading("AB123"), reading("AB1234", conf=0.3), reading("AB123")])
    assert v.text == "AB123"


def test_one_event_per_pass_when_stable():
    tr = tracker(stable_frames=3)
    events = []
    for i, text in enumerate(["AB123", "A8123", "AB123", "AB123", "AB123", "AB123"]):
        events += tr.update([reading(text, x=100 + 20 * i)], t=i * 0.1)
    events += tr.expire(10.0)
    assert [e.plate for e in events] == ["AB123"]
    e = events[0]
    assert e.reason == "stable" and e.camera == "gate" and e.first_seen == 0.0
    assert e.frames >= 3 and e.model_id == "m1"
    assert set(e.to_json()) >= {"id", "camera", "plate", "confidence", "char_confidences", "box",
                                "first_seen", "last_seen", "frames", "model_id", "known_name"}


def test_settled_texts_are_the_published_plates_still_in_view():
    tr = tracker(stable_frames=3, lost_after_s=1.0)
    settled = []
    for i in range(5):
        tr.update([reading("AB123", x=100 + 20 * i), reading("XY999", x=600, conf=0.3)], t=i * 0.1)
        settled.append(tr.settled())
    assert settled[:2] == [frozenset()] * 2 and settled[2:] == [frozenset({"AB123"})] * 3   # XY999: never emitted
    tr.expire(10.0)
    assert tr.settled() == frozenset()


def test_max_delay_emits_an_unstable_reading():
    tr = tracker(stable_frames=50, max_delay_s=0.5, min_confidence=0.1)
    events = []
    for i, text in enumerate(["AB123", "AB128", "AB123", "AB128", "AB123", "AB128", "AB123"]):
        events += tr.update([reading(text)], t=i * 0.1)
    assert len(events) == 1 and events[0].reason == "max_delay" and events[0].plate == "AB123"


def test_lost_track_emits_if_good_enough_and_single_frames_do_not():
    tr = tracker(stable_frames=10, min_frames=2)
    assert tr.update([reading("AB123")], t=0) == []
    assert tr.update([reading("XY999", x=600)], t=0.1) == []
    assert tr.update([reading("AB123")], t=0.2) == []
    events = tr.expire(5.0)
    assert [(e.plate, e.reason) for e in events] == [("AB123", "lost")]


def test_two_plates_in_one_frame_are_two_tracks():
    tr = tracker(stable_frames=2)
    events = []
    for i in range(3):
        events += tr.update([reading("AB123", x=50), reading("XY789", x=500)], t=i * 0.1)
    assert sorted(e.plate for e in events) == ["AB123", "XY789"]


def test_repeat_within_window_is_suppressed_then_allowed_after():
    tr = tracker(stable_frames=2, repeat_window_s=10, lost_after_s=0.5)
    events = []
    for start in (0.0, 3.0, 20.0):
        for i in range(3):
            events += tr.update([reading("AB123")], t=start + i * 0.1)
        events += tr.expire(start + 2.0)
    assert len(events) == 2 and tr.suppressed == 1


def test_min_confidence_and_format_rules():
    tr = tracker(stable_frames=2, min_confidence=0.8)
    for i in range(4):
        assert tr.update([reading("AB123", conf=0.5)], t=i * 0.1) == []
    tr = tracker(stable_frames=2, require_format=True)
    tr.formats = [("two-three", re.compile(r"[A-Z]{2}[0-9]{3}"))]
    ev = []
    for i in range(3):
        ev += tr.update([reading("ABC12", x=50), reading("XY789", x=500)], t=i * 0.1)
    assert [(e.plate, e.format) for e in ev] == [("XY789", "two-three")]


def test_the_event_names_the_layout_of_its_voted_text():
    tr = tracker(stable_frames=3)
    ev = []
    for i, (text, layout) in enumerate([("ABC1234", "br,de,gr,uy"), ("ABC12B4", None),
                                        ("ABC1234", "br,de,gr,uy"), ("ABC1234", "br,de,gr,uy")]):
        r = reading(text)
        r.layout = layout
        ev += tr.update([r], t=i * 0.1)
    assert [(e.plate, e.layout, e.to_json()["layout"]) for e in ev] == [("ABC1234", "br,de,gr,uy", "br,de,gr,uy")]


def test_known_plate_fuzzy_match_names_the_event():
    tr = tracker(known=[("AB-123", "Alice")], stable_frames=2)
    ev = []
    for i in range(3):
        ev += tr.update([reading("A8123")], t=i * 0.1)
    assert ev[0].known and ev[0].known_name == "Alice" and ev[0].known_plate == "AB-123"
    tr = tracker(known=[("AB123", "Alice")], stable_frames=2)
    ev = []
    for i in range(3):
        ev += tr.update([reading("XY999")], t=i * 0.1)
    assert not ev[0].known and ev[0].known_name is None


def test_parked_car_does_not_grow_memory():
    tr = tracker(stable_frames=2)
    for i in range(500):
        tr.update([reading("AB123")], t=i * 0.03)
    assert len(tr.tracks) == 1 and len(tr.tracks[0].readings) <= 60 and tr.tracks[0].frames == 500
