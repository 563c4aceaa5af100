"""Reader: one batched classification per frame, sane output on garbage, end-to-end reading."""
import cv2
import numpy as np
import pytest

from edge.classify import Classifier
from edge.config import PlateFormat, ReaderConfig
from edge.reader import Reader
from edge.synth import PlateStyle, random_text, render_plate, render_scene
from edge.types import Box


class StubClassifier:
    """Says every character is '7' with probability 0.9; records how it was called."""
    labels = list("0123456789")
    model_id = "stub"
    input_size = (28, 28)

    def __init__(self):
        self.calls = []

    def predict(self, patches):
        self.calls.append(len(patches))
        p = np.full((len(patches), 10), 0.1 / 9, np.float32)
        p[:, 7] = 0.9
        return p


def _scene(seed=1, n=3, size=(1280, 720)):
    rng = np.random.default_rng(seed)
    return render_scene([random_text(rng, "DDDDDD") for _ in range(n)], rng, size=size, two_row_prob=0.0)


def test_all_characters_of_a_frame_go_in_one_predict_call():
    clf = StubClassifier()
    reader = Reader(ReaderConfig(), clf)
    scene = _scene()
    readings = reader.read_frame(scene.image)
    assert len(clf.calls) == 1
    assert len(readings) >= 2
    assert clf.calls[0] >= sum(len(r.text) for r in readings)
    assert set(reader.last_timings) == {"localize", "segment", "classify", "total"}


def test_reading_geometry_is_in_frame_coordinates():
    reader = Reader(ReaderConfig(), StubClassifier())
    scene = _scene(seed=2)
    for r in reader.read_frame(scene.image):
        assert set(r.text) == {"7"} and r.confidence == pytest.approx(0.9, abs=1e-3)
        assert len(r.char_boxes) == len(r.text) == len(r.char_confidences)
        for b in r.char_boxes:  # characters lie inside the plate box (a little slack for rounding)
            cx, cy = b.x + b.w / 2, b.y + b.h / 2
            assert r.box.x - 2 <= cx <= r.box.x + r.box.w + 2 and r.box.y - 2 <= cy <= r.box.y + r.box.h + 2
        assert r.to_json()["text"] == r.text


def test_gray_bgra_and_bgr_agree():
    reader = Reader(ReaderConfig(), StubClassifier())
    img = _scene(seed=3).image
    texts = lambda rs: sorted((r.box.x, r.text) for r in rs)
    ref = texts(reader.read_frame(img))
    assert texts(reader.read_frame(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY))) == ref
    assert texts(reader.read_frame(cv2.cvtColor(img, cv2.COLOR_BGR2BGRA))) == ref


@pytest.mark.parametrize("img", [np.zeros((0, 0, 3), np.uint8), np.zeros((1, 1, 3), np.uint8),
                                 np.zeros((480, 640, 3), np.uint8), np.zeros((5, 5000), np.uint8),
                                 np.random.default_rng(0).integers(0, 256, (720, 1280, 3), dtype=np.uint8),
                                 np.zeros((480, 640), np.float32), np.zeros((480, 640, 4), np.uint16)])
def test_garbage_never_crashes(img):
    reader = Reader(ReaderConfig(), StubClassifier())
    assert isinstance(reader.read_frame(img), list)
    assert reader.read_crop(img) is None or reader.read_crop(img).text


def test_huge_frame_is_downscaled_and_mapped_back():
    reader = Reader(ReaderConfig(max_frame_side=1000), StubClassifier())
    scene = _scene(seed=4, n=2, size=(1000, 600))
    big = cv2.resize(scene.image, (2000, 1200), interpolation=cv2.INTER_LINEAR)
    boxes = [r.box for r in reader.read_frame(big)]
    for _, poly in scene.plates:
        p = np.asarray(poly) * 2   # the plate in big-frame coordinates
        (x0, y0), (x1, y1) = p.min(0), p.max(0)
        truth = Box(int(x0), int(y0), int(x1 - x0), int(y1 - y0))
        assert max(b.iou(truth) for b in boxes) >= 0.4


@pytest.mark.parametrize("bad", [None, "image.jpg", np.zeros((4, 4, 4, 4), np.uint8), np.zeros((50, 50, 2), np.uint8)])
def test_non_images_are_a_clear_error(bad):
    with pytest.raises(ValueError, match="image"):
        Reader(ReaderConfig(), StubClassifier()).read_frame(bad)


def test_formats_reject_impossible_readings():
    cfg = ReaderConfig(formats=[PlateFormat("four", "^[0-9]{4}$")], reject_unmatched=True)
    readings = Reader(cfg, StubClassifier()).read_frame(_scene(seed=5).image)
    assert readings == []   # six-digit plates cannot match a four-digit format


# ------------------------------------------------------------------ end to end with a real model

@pytest.mark.parametrize("name,pattern", [("digits", "DDDDDD"), ("alnum", None)])
def test_generated_scenes_are_read(model_path, name, pattern):
    clf = Classifier.load(model_path(name))
    reader = Reader(ReaderConfig(), clf)
    rng = np.random.default_rng(31)
    exact = total = 0
    for _ in range(12):
        texts = [random_text(rng, pattern) for _ in range(2)]
        scene = render_scene(texts, rng, size=(1280, 720), degrade_strength=0.4)
        got = {r.text for r in reader.read_frame(scene.image)}
        for text, _ in scene.plates:
            total += 1
            exact += text in got
    assert exact >= 0.6 * total, (exact, total)


@pytest.mark.parametrize("dark", [True, False])
def test_read_crop_reads_a_plate_image(model_path, dark):
    clf = Classifier.load(model_path("digits"))
    reader = Reader(ReaderConfig(), clf)
    rng = np.random.default_rng(12)
    ok = 0
    for _ in range(10):
        text = random_text(rng, "DDDDDDD")
        style = PlateStyle(dark_on_light=dark, paper=(225, 225, 225) if dark else (35, 35, 35),
                           ink=(25, 25, 25) if dark else (230, 230, 230), char_height=int(rng.integers(24, 60)))
        r = reader.read_crop(render_plate(text, rng, style=style).image)
        ok += r is not None and r.text == text
    assert ok >= 7, ok
