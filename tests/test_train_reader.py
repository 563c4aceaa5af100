"""The learned plate reader's pipeline: `python -m convert.train_reader --quick` end to end, then the
exported int8 model's contract as the device (plate_edge.recognise) reads it."""
import json

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from convert import reader_data, reader_model, train_reader  # noqa: E402
from plate_edge.classify import read_metadata  # noqa: E402
from plate_edge.reader import LearnedConfig  # noqa: E402
from plate_edge.recognise import PlateRecogniser, RawReading  # noqa: E402


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("reader")
    code = train_reader.main(["--quick", "--samples", "600", "--val-samples", "100", "--us-limit", "20",
                              "--out", str(out), "--seed", "3", "--cache", str(out / "cache")])
    assert code == 0
    return out


def test_quick_run_writes_model_report_and_plots(run):
    for name in ("model.keras", "model.tflite", "report.json", "history.csv", "curves.png", "confusion.png",
                 "misreads.png"):
        assert (run / name).is_file(), name
    report = json.loads((run / "report.json").read_text())
    assert report["tflite_bytes"] <= 1_000_000
    syn = report["synthetic_val"]
    assert 0.0 <= syn["exact_int8"] <= 1.0 and 0.0 <= syn["int8_float_agreement"] <= 1.0
    assert report["latency"]["threads"] == 1 and report["latency"]["recognise_one_plate_ms"] > 0
    # the batches trained (all of them: nothing cut the run short), which the training speed is per
    assert report["train_steps"] == report["epochs"] * -(-report["train_plates"] // report["batch_size"])
    assert report["train_ms_per_sample_epoch"] > 0
    if (reader_data.SHARED / "plates-us-dev" / "labels.csv").is_file():   # measured where ../shared has it
        us = report["plates-us-dev"]   # the real crops as the device reads them (smoothed), and unsmoothed
        assert us["input_blur"] == LearnedConfig().input_blur > 0 and 0.0 <= us["exact_int8_unsmoothed"] <= 1.0
    else:
        assert "plates-us-dev" not in report


def test_metadata_contract(run):
    meta = read_metadata((run / "model.tflite").read_bytes())
    assert meta["decoder"] == "ctc" and meta["output"] == "logits"
    assert meta["labels"] == list(reader_model.LABELS) and meta["blank_index"] == 0
    assert meta["num_classes"] == len(meta["labels"]) + 1
    assert meta["rows"] == 2 and meta["timesteps_per_row"] == 40
    assert meta["input_size"] == [48, 160] and meta["normalization"] == {"mean": 0.0, "std": 255.0}
    assert meta["quantization"] == "int8" and meta["model_id"].startswith("reader-")


def test_recogniser_loads_and_reads_a_rendered_plate(run):
    rec = PlateRecogniser.load(run / "model.tflite", threads=1)
    assert rec.labels == list(reader_model.LABELS) and rec.input_size == (48, 160)
    assert rec.model_id.startswith("reader-")
    inp = rec._interp.get_input_details()[0]
    assert list(inp["shape"][1:]) == [48, 160, 1] and inp["dtype"] == np.int8
    rng = np.random.default_rng(5)
    crops = []
    for _ in range(3):
        if reader_data.renderer_source() == "worldplates":
            from convert import worldplates
            crops.append(worldplates.sample(rng).image)
        else:
            crops.append(reader_data.standin_sample(rng)[0])
    readings = rec.recognise(crops + [crops[0][..., 0]])    # BGR and gray crops
    assert len(readings) == 4 and all(isinstance(r, RawReading) for r in readings)
    for r in readings:   # an untrained-ish quick model: only the shape of the answer is checked
        assert len(r.text) <= 2 * rec.timesteps
        assert r.probs.shape == (len(r.text), len(rec.labels))
        assert len(r.positions) == len(r.rows) == len(r.char_probs) == len(r.text)
        assert all(0.0 <= x0 < x1 <= 1.0 for _, x0, x1 in r.positions)
    assert rec.recognise([]) == []


def test_int8_agrees_with_float_on_logits(run):
    """The int8 model's per-frame classes agree with the float Keras model's on most frames."""
    import keras
    model = keras.models.load_model(run / "model.keras", compile=False)
    rng = np.random.default_rng(7)
    x = reader_data.render(20, 123, workers=1, cache=None, progress=False).x
    rec = PlateRecogniser.load(run / "model.tflite")
    q = rec.frame_probs(list(x)).argmax(-1)
    f = model.predict(x[..., None].astype(np.float32) / 255.0, verbose=0).argmax(-1)
    assert rng is not None and float((q == f).mean()) >= 0.8


def test_ctc_rows_loss_prefers_the_right_rows():
    """Row 0 reads a one-row plate; the same text emitted in row 1 costs more."""
    lab = reader_model.encode_rows(["AB"])
    assert lab[0, 0] == 2 and lab[1, 0] == 0
    k, t = reader_model.NUM_CLASSES, 40
    good = np.full((1, 2 * t, k), -5.0, np.float32)
    good[..., 0] = 5.0
    good[0, 3, reader_model.LABELS.index("A") + 1] = 10.0
    good[0, 6, reader_model.LABELS.index("B") + 1] = 10.0
    bad = np.roll(good, t, axis=1)
    lg = float(reader_model.ctc_rows_loss(lab[None], good)[0])
    lb = float(reader_model.ctc_rows_loss(lab[None], bad)[0])
    assert lg < 1.0 < lb


def test_pipeline_gives_every_plate_once_an_epoch_and_augments_only_in_training():
    x = np.arange(10, dtype=np.uint8)[:, None, None] * np.ones((1, 48, 160), np.uint8)
    y = np.arange(10)
    batches = train_reader.make_pipeline(x, y, 4, seed=3, shuffle=True)
    assert len(batches) == 3
    for _ in range(2):
        got = [batches[i] for i in range(len(batches))]
        assert sorted(np.concatenate([b for _, b in got]).tolist()) == list(range(10))
        for a, b in got:   # uint8 as rendered, with a channel axis, each image with its own label
            assert a.shape[1:] == (48, 160, 1) and a.dtype == np.uint8 and np.array_equal(a[:, 0, 0, 0], b)
        batches.on_epoch_end()
    model = reader_model.build("ctc-s")
    img = (np.random.default_rng(0).random((2, 48, 160, 1)) * 255).astype(np.uint8)
    scaled = img.astype(np.float32) / 255.0
    for augment in (True, False):   # scaled to 0..1 as the model is exported; jitter in training only
        trained = train_reader.training_model(model, seed=1, augment=augment)
        assert np.allclose(trained.predict(img, verbose=0), model.predict(scaled, verbose=0), atol=1e-4)
        assert np.allclose(trained(img, training=True), model(scaled, training=True), atol=1e-4) != augment


def test_training_stops_after_max_minutes():
    import keras
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    for limit, stops in ((1e-9, True), (0, False)):
        progress = train_reader.make_callbacks(model, None, None, epochs=1, steps=10, batch_size=4,
                                               t_start=0.0, max_minutes=limit)
        progress.set_model(model)
        model.stop_training = False
        progress.on_train_begin()
        progress.on_train_batch_end(0)
        assert model.stop_training is stops


def test_align_and_confusion():
    assert train_reader.align("AB12", "AB12") == [("A", "A"), ("B", "B"), ("1", "1"), ("2", "2")]
    assert train_reader.align("AB12", "A812") == [("A", "A"), ("B", "8"), ("1", "1"), ("2", "2")]
    assert ("_", "X") in train_reader.align("AB", "AXB")
    assert ("B", "_") in train_reader.align("AB", "A")


def test_average_weights_is_the_elementwise_mean():
    a = [np.array([[1.0, 2.0]], np.float32), np.array([4.0], np.float32)]
    b = [np.array([[3.0, 6.0]], np.float32), np.array([0.0], np.float32)]
    avg = train_reader.average_weights([a, b])
    assert np.allclose(avg[0], [[2.0, 4.0]]) and np.allclose(avg[1], [2.0]) and avg[0].dtype == np.float32
    with pytest.raises(ValueError, match="number of weight tensors"):
        train_reader.average_weights([a, b[:1]])


def test_soup_without_training_averages_and_exports(run, tmp_path):
    """--epochs 0 --average: no training; the init model's weights averaged with another's are
    exported and measured like a trained model (here the same model twice: the weights stay)."""
    import keras
    out = tmp_path / "soup"
    code = train_reader.main(["--quick", "--epochs", "0", "--init", str(run / "model.keras"),
                              "--average", str(run / "model.keras"), "--samples", "300", "--val-samples", "60",
                              "--us-limit", "10", "--out", str(out), "--seed", "3", "--cache", str(run / "cache")])
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    assert report["epochs"] == 0 and report["averaged_with"] == [str(run / "model.keras")]
    assert report["training_data"].startswith("the average of") and report["calibration_data"]
    w0 = keras.models.load_model(run / "model.keras", compile=False).get_weights()
    w1 = keras.models.load_model(out / "model.keras", compile=False).get_weights()
    assert all(np.allclose(a, b) for a, b in zip(w0, w1))
    assert read_metadata((out / "model.tflite").read_bytes())["decoder"] == "ctc"


def test_lineage_reads_a_kept_exports_own_report_or_its_run_folders(tmp_path):
    """A shipped or kept export (NAME.tflite beside NAME.report.json) names what it was trained
    on, as a run folder's model.keras does with its report.json; a model with neither is '?'."""
    kept, run_dir, bare = tmp_path / "kept", tmp_path / "run", tmp_path / "bare"
    for d in (kept, run_dir, bare):
        d.mkdir()
    (kept / "plate-x.report.json").write_text(json.dumps({"training_data": "stages A and B"}))
    (kept / "report.json").write_text(json.dumps({"training_data": "not this one"}))
    (run_dir / "report.json").write_text(json.dumps({"training_data": "80,000 rendered"}))
    got = train_reader.lineage([str(kept / "plate-x.tflite"), str(run_dir / "model.keras"),
                                str(bare / "model.keras")])
    assert got == (f"{kept / 'plate-x.tflite'} (stages A and B); {run_dir / 'model.keras'} (80,000 rendered); "
                   f"{bare / 'model.keras'} (?)")


def test_no_training_without_init_is_refused(capsys):
    with pytest.raises(SystemExit) as e:
        train_reader.parse_args(["--epochs", "0"])
    assert e.value.code == 2 and "--epochs 0" in capsys.readouterr().err


def test_weights_back_from_the_int8_export(run):
    """convert.dequantize: a fresh model given the int8 export's weights computes what the export
    computes (per-frame probabilities and classes), in inference and, on its calibration plates, in
    training mode too (batch statistics); a model of another architecture is refused by name."""
    from convert import dequantize
    from plate_edge.recognise import softmax
    x = reader_data.render(40, 321, workers=1, cache=None, progress=False).x
    xf = x[..., None].astype(np.float32) / 255.0
    model = reader_model.build("ctc-l")
    dequantize.load_tflite(model, run / "model.tflite", xf)
    q = PlateRecogniser.load(run / "model.tflite").frame_probs(list(x))
    f = softmax(model.predict(xf, verbose=0))
    assert float(np.abs(f - q).max(axis=-1).mean()) < 0.05
    assert float((f.argmax(-1) == q.argmax(-1)).mean()) >= 0.95
    trained = softmax(np.asarray(model(xf, training=True)))
    assert float(np.abs(trained - f).max(axis=-1).mean()) < 0.05
    with pytest.raises(ValueError, match="model.tflite"):
        dequantize.load_tflite(reader_model.build("ctc-s"), run / "model.tflite", xf)
