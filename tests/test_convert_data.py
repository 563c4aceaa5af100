"""Dataset loaders of convert/: MNIST IDX/.npz, class folders, synthetic chars, specs and mixes."""
import gzip
import struct

import cv2
import numpy as np
import pytest

from convert import charsynth, datasets
from convert.datasets import DatasetError
from plate_edge.sim import synth
from plate_edge.types import Box


def write_idx(path, array, gz=True):
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if gz else data)


@pytest.fixture
def mnist_dir(tmp_path):
    rng = np.random.default_rng(0)
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", rng.integers(0, 255, (20, 28, 28)))
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.arange(20) % 10)
    np.savez(tmp_path / "train-5k.npz", x_train=rng.integers(0, 255, (30, 28, 28)).astype(np.uint8),
             y_train=(np.arange(30) % 10).astype(np.uint8))
    return tmp_path


def test_mnist_local_splits(mnist_dir):
    test = datasets.load_mnist(mnist_dir, "test")
    train = datasets.load_mnist(mnist_dir, "train")
    assert test.x.shape == (20, 28, 28) and list(test.y[:3]) == [0, 1, 2]
    assert train.x.shape == (30, 28, 28) and train.labels == [str(d) for d in range(10)]
    assert datasets.load_mnist(mnist_dir / "train-5k.npz").x.shape == (30, 28, 28)


def test_read_idx_plain_file(tmp_path):
    write_idx(tmp_path / "a-idx1-ubyte", np.arange(5), gz=False)
    assert list(datasets.read_idx(tmp_path / "a-idx1-ubyte")) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("content,message", [
    (b"\x00\x00\x09\x01\x00\x00\x00\x01\x00", "magic"),
    (b"\x00\x00\x08\x03\x00\x00", "truncated"),
    (b"\x00\x00\x08\x01\x00\x00\x00\x05\x01\x02", "holds 2"),
    (b"\x1f\x8b garbage", "gzip"),
])
def test_read_idx_malformed(tmp_path, content, message):
    f = tmp_path / "bad-idx"
    f.write_bytes(content)
    with pytest.raises(DatasetError, match=message) as err:
        datasets.read_idx(f)
    assert str(f) in str(err.value)


def test_mnist_bad_paths(tmp_path):
    with pytest.raises(DatasetError, match="no such file"):
        datasets.load_mnist(tmp_path / "missing")
    with pytest.raises(DatasetError, match="no MNIST train data"):
        datasets.load_mnist(tmp_path)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(DatasetError, match="bad.npz"):
        datasets.load_mnist(bad)
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(DatasetError, match="x_train"):
        datasets.load_mnist(tmp_path / "other.npz")


def test_mnist_label_count_mismatch(tmp_path):
    np.savez(tmp_path / "m.npz", x_train=np.zeros((4, 28, 28), np.uint8), y_train=np.zeros(3, np.uint8))
    with pytest.raises(DatasetError, match="do not match"):
        datasets.load_mnist(tmp_path / "m.npz")


def test_folder_dataset_both_polarities(tmp_path):
    for cls, dark in (("A", True), ("7", False)):
        (tmp_path / cls).mkdir()
        img = np.full((40, 24), 220 if dark else 30, np.uint8)
        cv2.putText(img, cls, (3, 32), cv2.FONT_HERSHEY_SIMPLEX, 1.0, 20 if dark else 230, 3)
        cv2.imwrite(str(tmp_path / cls / "x.png"), img)
    (tmp_path / "notes").mkdir()
    (tmp_path / "A" / "readme.txt").write_text("not an image")
    ds = datasets.load_folder(tmp_path, charsynth.ALNUM)
    assert len(ds) == 2 and ds.x.shape == (2, 28, 28)
    assert sorted(charsynth.ALNUM[i] for i in ds.y) == ["7", "A"]
    for patch in ds.x:  # ink bright on black, framed with a black border
        assert patch.max() > 200 and patch[0].max() == 0 and patch[:, 0].max() == 0


def test_folder_errors(tmp_path):
    with pytest.raises(DatasetError, match="not a directory"):
        datasets.load_folder(tmp_path / "nope", charsynth.DIGITS)
    (tmp_path / "zz").mkdir()
    with pytest.raises(DatasetError, match="ignored folders"):
        datasets.load_folder(tmp_path, charsynth.DIGITS)


def test_make_chars_deterministic_and_framed():
    x1, y1 = charsynth.make_chars(40, charsynth.ALNUM, seed=3)
    x2, y2 = charsynth.make_chars(40, charsynth.ALNUM, seed=3)
    assert x1.shape == (40, 28, 28) and x1.dtype == np.uint8
    assert np.array_equal(x1, x2) and np.array_equal(y1, y2)
    assert y1.max() < 36
    assert (x1[:, :3].max(axis=(1, 2)) == 0).mean() > 0.9   # MNIST-style framing: black margins


def test_soil_marks_only_characters_and_is_seeded():
    plate = synth.render_plate("AB1234", np.random.default_rng(2),
                               synth.PlateStyle(border=False, bolts=False, separator=""))
    style = synth.PlateStyle()
    a = charsynth.soil(plate.image, plate.char_boxes, style, np.random.default_rng(5), share=1.0)
    b = charsynth.soil(plate.image, plate.char_boxes, style, np.random.default_rng(5), share=1.0)
    assert np.array_equal(a, b) and not np.array_equal(a, plate.image)
    changed = np.argwhere((a != plate.image).any(axis=2))
    near = lambda y, x: any(bx.x - 0.3 * bx.h <= x <= bx.x + bx.w + 0.3 * bx.h and
                            bx.y <= y <= bx.y + 1.3 * bx.h for bx in plate.char_boxes)
    assert all(near(y, x) for y, x in changed)
    clean = charsynth.soil(plate.image, plate.char_boxes, style, np.random.default_rng(5), share=0.0)
    assert clean is plate.image


def _ring(thickness: int) -> np.ndarray:
    img = np.zeros((40, 28), np.uint8)
    cv2.ellipse(img, (14, 20), (10, 17), 0, 0, 360, 255, thickness, cv2.LINE_AA)
    return np.pad(img, 10)


def test_counters_tell_a_crushed_glyph():
    """A 0's ring has one counter, also blurred; crushed into a bar by blur it has none and gets
    no label, while a glyph without counters (a 1) always keeps its label."""
    ring, bar = _ring(4), np.full((40, 10), 255, np.uint8)
    assert charsynth.counters(ring) == 1 and charsynth.counters(bar) == 0
    light_blur = cv2.GaussianBlur(ring, (0, 0), 1.5)
    crushed = cv2.GaussianBlur(_ring(9), (0, 0), 6)
    assert charsynth.readable(light_blur, ring)
    assert not charsynth.readable(crushed, ring)
    assert charsynth.readable(cv2.GaussianBlur(bar, (0, 0), 6), bar)


def test_half_a_character_is_not_a_match():
    true = Box(10, 5, 20, 40)
    assert charsynth._same_char(Box(9, 4, 22, 42), true)
    assert not charsynth._same_char(Box(16, 5, 10, 40), true)    # its right half only
    assert not charsynth._same_char(Box(40, 5, 20, 40), true)    # the neighbour


def test_digit_weight_sets_the_class_prior():
    _, balanced = charsynth.make_chars(600, charsynth.ALNUM, seed=4)
    ds, _ = datasets.load_spec("synth:600,digits=3", charsynth.ALNUM, 4)
    digit_share = lambda y: float((y < 10).mean())
    assert digit_share(balanced) < 0.4 < 0.5 < digit_share(ds.y)   # 10/36 = 0.28 vs 30/56 = 0.54


def test_specs_and_mix(mnist_dir):
    assert datasets.parse_spec("synth:100@2") == ("synth", "100", 2.0)
    assert datasets.parse_spec("mnist") == ("mnist", "", 1.0)
    assert datasets.parse_spec("folder=/a/b") == ("folder", "/a/b", 1.0)
    with pytest.raises(DatasetError, match="weight"):
        datasets.parse_spec("synth:10@x")
    with pytest.raises(DatasetError, match="unknown data kind"):
        datasets.load_spec("foo", charsynth.DIGITS, 0)
    with pytest.raises(DatasetError, match="synth:N"):
        datasets.load_spec("synth:many", charsynth.DIGITS, 0)
    with pytest.raises(DatasetError, match="unknown option"):
        datasets.load_spec("synth:20,letters=2", charsynth.DIGITS, 0)
    mn, w = datasets.load_spec(f"mnist={mnist_dir}@2", charsynth.ALNUM, 0)
    assert w == 2.0 and mn.labels == charsynth.ALNUM
    syn, _ = datasets.load_spec("synth:20", charsynth.ALNUM, 0)
    mixed = datasets.mix([(mn, 2.0), (syn, 0.5)], np.random.default_rng(0))
    assert len(mixed) == 60 + 10
    train, held = datasets.split(mixed, 0.1, np.random.default_rng(0))
    assert len(train) == 63 and len(held) == 7


def test_devchars_on_a_generated_labelled_folder(tmp_path, model_path):
    """convert.devchars cuts characters from labelled photos and scores them alone and in context."""
    from convert import devchars
    from plate_edge.sim import synth
    rng = np.random.default_rng(5)
    rows = ["image,x,y,w,h,plate"]
    for i, text in enumerate(["ABC 1234", "XYZ 9087", "KLM 5610"]):
        style = synth.PlateStyle(font=(synth.find_fonts() or (None,))[0], border=False, separator="")
        plate = synth.render_plate(text, rng, style)
        photo = cv2.copyMakeBorder(plate.image, 40, 40, 60, 60, cv2.BORDER_CONSTANT, value=(90, 90, 90))
        cv2.imwrite(str(tmp_path / f"p{i}.png"), photo)
        h, w = plate.image.shape[:2]
        rows.append(f"p{i}.png,60,40,{w},{h},{text.replace(' ', '')}")
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    report = devchars.evaluate(str(model_path("alnum")), tmp_path)
    assert report["plates"] == 3 and report["plates_used"] >= 2
    assert report["chars"] == 7 * report["plates_used"] == report["evaluated"]
    assert report["acc_per_char_in_context"] >= report["acc_per_char"] - 1 / report["chars"]
    assert report["acc_per_char_in_context"] > 0.8
    with pytest.raises(FileNotFoundError, match="labels.csv"):
        devchars.real_chars(tmp_path / "missing")


def test_labelled_plates_boxes_texts_are_plates_of_the_training_parts_only():
    """convert/plates-boxes-texts.csv: every row a plate box of plates-boxes (when it is here), never
    of the detector's test parts (openimages test/, the romania test video), its text 0-9 A-Z."""
    import csv

    from convert import detector_data, reader_data
    from convert.reader_model import LABELS
    rows = list(csv.DictReader(reader_data.BOXES_TEXTS.open(newline="")))
    assert len(rows) > 100
    for r in rows:
        assert set(r["plate"]) <= set(LABELS) and r["labelled"] in ("track", "eye"), r
        assert not r["file"].startswith(("openimages/test/", f"romania/{detector_data.ROMANIA_TEST}/")), r
    root = reader_data.SHARED / "plates-boxes"
    if not root.is_dir():
        pytest.skip("no ../shared/data/plates-boxes")
    boxes = {(f"{sub}/{b['file']}", b["x"], b["y"], b["w"], b["h"])
             for sub in ("romania", "openimages")
             for b in csv.DictReader((root / sub / "boxes.csv").open(newline="")) if b["class"] == "plate"}
    assert all((r["file"], r["x"], r["y"], r["w"], r["h"]) in boxes for r in rows)


def test_plates_boxes_cuts_each_labelled_box_from_its_scene(tmp_path):
    from convert import reader_data
    scene = np.zeros((200, 400, 3), np.uint8)
    scene[80:120, 100:300] = 255                      # the plate: a white box in a black scene
    (tmp_path / "romania" / "v").mkdir(parents=True)
    cv2.imwrite(str(tmp_path / "romania" / "v" / "a.png"), scene)
    texts = tmp_path / "texts.csv"
    texts.write_text("file,x,y,w,h,plate,labelled\n"
                     "romania/v/a.png,100,80,200,40,AB123CD,track\n"
                     "romania/v/missing.png,0,0,10,10,XY1,eye\n")
    got = reader_data.plates_boxes(tmp_path, texts)
    assert got.texts == ["AB123CD"] and got.x.shape == (1, 48, 160) and got.row_texts == [("AB123CD",)]
    # the box and a margin of BOX_MARGIN of its width (twice that of its height) around it
    margin_x = reader_data.BOX_MARGIN * 200 / (200 * (1 + 2 * reader_data.BOX_MARGIN))
    assert got.x[0, 24, 80] > 200 and got.x[0, 24, 1] < 60
    assert abs(float((got.x[0, 24] > 127).mean()) - (1 - 2 * margin_x)) < 0.03
    assert reader_data.plates_boxes(tmp_path / "absent", texts) is None
