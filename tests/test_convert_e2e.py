"""Tiny end-to-end run of convert/: train one epoch, export int8 with metadata, load with the
device classifier and check it agrees with the Keras model."""
import json

import numpy as np
import pytest

pytestmark = pytest.mark.train
tf = pytest.importorskip("tensorflow")

from convert import charsynth, export, train  # noqa: E402
from plate_edge.charimg import fit_patch  # noqa: E402
from plate_edge.classify import Classifier  # noqa: E402


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    code = train.main(["--labels", "digits", "--data", "synth:2000", "--arch", "mnist-seed",
                       "--epochs", "3", "--out", str(out), "--seed", "3"])
    assert code == 0
    return out


def test_train_writes_report_and_plots(trained):
    report = json.loads((trained / "report.json").read_text())
    assert report["arch"] == "mnist-seed" and report["labels"] == charsynth.DIGITS
    assert 0.0 <= report["acc_heldout"] <= 1.0 and len(report["confusion"]) == 10
    for name in ("model.keras", "calib.npz", "heldout.npz", "curves.png", "confusion.png", "history.csv"):
        assert (trained / name).is_file(), name


def test_export_int8_loads_in_classifier_and_agrees(trained):
    out = trained / "digits.tflite"
    code = export.main([str(trained / "model.keras"), "--out", str(out), "--max-drop", "100"])
    assert code == 0
    clf = Classifier.load(out)
    assert clf.labels == charsynth.DIGITS and clf.input_size == (28, 28)
    assert clf.meta["quantization"] == "int8" and clf.meta["normalization"] == {"mean": 0.0, "std": 255.0}
    report = json.loads(out.with_suffix(".verify.json").read_text())
    assert report["agreement"] >= 0.95

    import keras
    model = keras.models.load_model(trained / "model.keras")
    x, _ = charsynth.make_chars(64, charsynth.DIGITS, seed=99)
    patches = [p[4:24, 4:24] for p in x]   # crops that fit_patch re-frames like the device does
    framed = np.stack([fit_patch(p, (28, 28)) for p in patches])[..., None].astype(np.float32) / 255.0
    want = model.predict(framed, verbose=0)
    got = clf.predict(patches)
    # three epochs on 2,000 samples leave near-ties that int8 rounding may flip: compare where
    # the float model has a clear winner, and the probabilities everywhere
    top2 = np.sort(want, axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > 0.1
    assert clear.sum() >= 32
    assert (want.argmax(1)[clear] == got.argmax(1)[clear]).mean() >= 0.95
    assert np.abs(want - got).mean() < 0.02


def test_exported_model_has_dynamic_batch(trained):
    from plate_edge.classify import load_interpreter_class
    out = trained / "digits-f.tflite"
    assert export.main([str(trained / "model.keras"), "--quantize", "none", "--out", str(out)]) == 0
    interp = load_interpreter_class()(model_path=str(out))
    assert interp.get_input_details()[0]["shape_signature"][0] == -1
    clf = Classifier.load(out)
    assert clf.predict([np.zeros((30, 20), np.uint8)] * 40).shape == (40, 10)


def test_export_bad_model_path(tmp_path, capsys):
    assert export.main([str(tmp_path / "missing.keras")]) == 2
    assert "missing.keras" in capsys.readouterr().err


def test_train_bad_data_is_a_clear_error(tmp_path, capsys):
    code = train.main(["--data", f"mnist={tmp_path / 'nowhere'}", "--out", str(tmp_path / "o")])
    assert code == 2
    assert "nowhere" in capsys.readouterr().err
