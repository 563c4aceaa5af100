import shutil

import numpy as np
import pytest

from edge.classify import Classifier, ModelError, _read_metadata_flatbuffers, read_metadata, resolve_model_path


def test_metadata_describes_the_model(model_path):
    clf = Classifier.load(model_path("digits"))
    assert clf.labels == [str(d) for d in range(10)]
    assert len(clf.input_size) == 2 and clf.model_id


def test_both_metadata_readers_agree(model_path):
    data = model_path("alnum").read_bytes()
    meta = read_metadata(data)
    assert meta == _read_metadata_flatbuffers(data, "plate_edge")
    assert len(meta["labels"]) == 36


def test_batch_gives_the_same_answers_as_one_by_one(model_path):
    clf = Classifier.load(model_path("digits"))
    rng = np.random.default_rng(0)
    patches = [rng.integers(0, 255, (rng.integers(10, 40), rng.integers(5, 30)), dtype=np.uint8)
               for _ in range(11)]
    batch = clf.predict(patches)
    singles = np.concatenate([clf.predict([p]) for p in patches])
    assert batch.shape == (11, 10)
    np.testing.assert_allclose(batch, singles, atol=1e-6)
    np.testing.assert_allclose(batch.sum(axis=1), 1.0, atol=0.02)
    assert clf.predict([]).shape == (0, 10)


def test_reads_a_drawn_digit(model_path):
    import cv2
    clf = Classifier.load(model_path("digits"))
    wins = 0
    for digit in range(10):
        img = np.zeros((60, 40), np.uint8)
        cv2.putText(img, str(digit), (4, 52), cv2.FONT_HERSHEY_SIMPLEX, 2.0, 255, 5)
        ys, xs = np.nonzero(img)
        text, conf = clf.decode(clf.predict([img[ys.min():ys.max() + 1, xs.min():xs.max() + 1]]))
        wins += text == str(digit)
    assert wins >= 8


@pytest.mark.parametrize("damage", ["missing", "empty", "text", "truncated", "no_metadata_bytes"])
def test_bad_model_files_name_the_file(tmp_path, model_path, damage):
    good = model_path("digits")
    bad = tmp_path / "bad.tflite"
    if damage == "empty":
        bad.write_bytes(b"")
    elif damage == "text":
        bad.write_text("this is not a model\n" * 10)
    elif damage == "truncated":
        bad.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 3])
    elif damage == "no_metadata_bytes":
        bad.write_bytes(good.read_bytes()[:8] + bytes(200))
    with pytest.raises(ModelError, match=str(bad)):
        Classifier.load(bad)


def test_model_names_and_paths_resolve(tmp_path, model_path):
    good = model_path("digits")
    assert resolve_model_path("digits") == good
    shutil.copy(good, tmp_path / "mine.tflite")
    assert resolve_model_path("mine.tflite", tmp_path) == tmp_path / "mine.tflite"
    with pytest.raises(ModelError, match="nothere"):
        resolve_model_path("nothere")
