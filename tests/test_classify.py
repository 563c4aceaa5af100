import shutil

import numpy as np
import pytest

from plate_edge.classify import (
    Classifier,
    ModelError,
    _input_lut,
    _Quant,
    _read_metadata_flatbuffers,
    read_metadata,
    resolve_model_path,
)


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


def test_batches_of_changing_size_give_the_same_answers(model_path):
    clf = Classifier.load(model_path("alnum"))
    rng = np.random.default_rng(1)
    patches = [rng.integers(0, 255, (rng.integers(10, 40), rng.integers(5, 30)), dtype=np.uint8)
               for _ in range(40)]
    singles = np.concatenate([clf.predict([p]) for p in patches])
    start = 0
    for n in (5, 20, 3, 9, 1, 2):   # grows, shrinks and grows again
        np.testing.assert_array_equal(clf.predict(patches[start:start + n]), singles[start:start + n])
        assert clf._interp.get_input_details()[0]["shape"][0] == n   # no padded rows computed
        start += n


def test_input_values_are_normalized_then_quantized_like_the_export():
    quant = _Quant(scale=1 / 255, zero_point=-128, dtype=np.dtype(np.int8))
    pixels = np.arange(256, dtype=np.float32)
    expected = np.clip(np.round(pixels / 255.0 / quant.scale + quant.zero_point), -128, 127).astype(np.int8)
    np.testing.assert_array_equal(_input_lut(0.0, 255.0, quant), expected)
    float_input = _Quant(0.0, 0, np.dtype(np.float32))
    np.testing.assert_array_equal(_input_lut(127.5, 127.5, float_input), (pixels - 127.5) / 127.5)


class FixedBatchInterpreter:
    """A float model with a fixed batch of 4 that outputs each row's mean pixel value and its rest."""

    def __init__(self):
        self.shapes = []
        self._out = None

    def get_input_details(self):
        return [{"index": 0, "shape": np.array([4, 28, 28, 1]), "shape_signature": np.array([4, 28, 28, 1]),
                 "quantization": (0.0, 0), "dtype": np.float32}]

    def get_output_details(self):
        return [{"index": 1, "shape": np.array([4, 2]), "quantization": (0.0, 0), "dtype": np.float32}]

    def set_tensor(self, index, value):
        self.shapes.append(value.shape)
        mean = value.reshape(len(value), -1).mean(axis=1)
        self._out = np.stack([mean, 1 - mean], axis=1).astype(np.float32)

    def invoke(self):
        pass

    def get_tensor(self, index):
        return self._out


def test_a_fixed_batch_model_gets_padded_and_chunked_batches():
    interp = FixedBatchInterpreter()
    clf = Classifier(interp, {"labels": ["ink", "rest"], "input_size": [28, 28]}, "fixed.tflite")
    patches = [np.full((20, 20), 255, np.uint8) if i % 3 == 0 else np.zeros((20, 20), np.uint8) for i in range(10)]
    probs = clf.predict(patches)
    assert interp.shapes == [(4, 28, 28, 1)] * 3
    assert probs.shape == (10, 2)
    ink = probs[:, 0] > 0
    assert ink.tolist() == [i % 3 == 0 for i in range(10)]


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
