# Two commands do all set-up: `make demo` runs the daemon on a generated clip against a local
# broker and shows the readings; `make test` runs the checks CI runs.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# A device-only environment: `pip install .[dev]` (not editable, no TensorFlow), proving the
# installed wheel is enough on a device.
DEVICE_VENV ?= .venv-device
DEVICE_PY := $(DEVICE_VENV)/bin/python

.PHONY: demo test lint device-test bench models reader-model detector-model verifier-model clean

$(VENV)/.device: pyproject.toml scripts/install-system.sh
	scripts/install-system.sh
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

$(VENV)/.train: $(VENV)/.device
	$(PY) -m pip install -q -e ".[dev,train]"
	touch $@

# The device environment's dependencies; the package itself is reinstalled on every run.
$(DEVICE_VENV)/.deps: pyproject.toml $(VENV)/.device
	rm -rf $(DEVICE_VENV)
	$(PYTHON) -m venv $(DEVICE_VENV)
	$(DEVICE_PY) -m pip install -q --upgrade pip
	$(DEVICE_PY) -m pip install -q ".[dev]"
	touch $@

demo: $(VENV)/.device
	$(PY) -m plate_edge.demo

# CI (.ci/run): lint, type check, the device tests without TensorFlow, then the full suite.
test: lint device-test $(VENV)/.train
	$(PY) -m pytest -q

lint: $(VENV)/.device
	$(PY) -m ruff check src tests bench convert
	$(PY) -m mypy src/plate_edge

device-test: $(DEVICE_VENV)/.deps
	$(DEVICE_PY) -m pip install -q --no-deps --force-reinstall .
	$(DEVICE_PY) -c "import importlib.util as u, plate_edge; \
		assert 'site-packages' in plate_edge.__file__, plate_edge.__file__; \
		assert u.find_spec('tensorflow') is None, 'TensorFlow in the device venv'"
	$(DEVICE_PY) -m pytest -q -m "not train" -p no:cacheprovider

bench: $(VENV)/.train
	$(PY) bench/accuracy.py
	$(PY) bench/speed.py

models: $(VENV)/.train
	$(PY) -m convert.build_models

# the learned reader in eight stages, each on 80,000 freshly rendered plates: 4 epochs (seed 1),
# then 2, 3, 3, 2, 3, 3 and 3 more at a lower rate (seeds 2-8), each from the last; the weights of
# the last four stages are averaged (no training: runs/reader-soup); four short fine-tune stages
# from that soup (seeds 12, 15, 18 and 19), averaged and exported; three more from that export's
# int8 weights taken back to float (convert.dequantize; seeds 20-22), averaged (session 18's model);
# two longer stages from that export on today's renderer (seeds 30 and 31) averaged with it
# (session 25's candidate, convert/candidates/plate-s25-soup.tflite); that average's int8 weights
# taken back to float and averaged with session 18's, measured and installed (session 26)
reader-model: $(VENV)/.train
	$(PY) -m convert.train_reader --out runs/reader
	$(PY) -m convert.train_reader --init runs/reader/model.keras --seed 2 --epochs 2 --lr 5e-4 --out runs/reader-ft
	$(PY) -m convert.train_reader --init runs/reader-ft/model.keras --seed 3 --epochs 3 --lr 5e-4 --out runs/reader-ft2
	$(PY) -m convert.train_reader --init runs/reader-ft2/model.keras --seed 4 --epochs 3 --lr 5e-4 --out runs/reader-ft3
	$(PY) -m convert.train_reader --init runs/reader-ft3/model.keras --seed 5 --epochs 2 --lr 5e-4 --out runs/reader-ft4
	$(PY) -m convert.train_reader --init runs/reader-ft4/model.keras --seed 6 --epochs 3 --lr 5e-4 --out runs/reader-ft5
	$(PY) -m convert.train_reader --init runs/reader-ft5/model.keras --seed 7 --epochs 3 --lr 5e-4 --out runs/reader-ft6
	$(PY) -m convert.train_reader --init runs/reader-ft6/model.keras --seed 8 --epochs 3 --lr 5e-4 --out runs/reader-ft7
	$(PY) -m convert.train_reader --init runs/reader-ft7/model.keras --epochs 0 --samples 2000 --seed 8 \
	    --average runs/reader-ft4/model.keras,runs/reader-ft5/model.keras,runs/reader-ft6/model.keras \
	    --out runs/reader-soup
	$(PY) -m convert.train_reader --init runs/reader-soup/model.keras --seed 12 --epochs 2 --lr 1.5e-4 --out runs/reader-sft12
	$(PY) -m convert.train_reader --init runs/reader-soup/model.keras --seed 15 --epochs 2 --lr 1.5e-4 --out runs/reader-sft15
	$(PY) -m convert.train_reader --init runs/reader-soup/model.keras --seed 18 --epochs 2 --lr 1.5e-4 --out runs/reader-sft18
	$(PY) -m convert.train_reader --init runs/reader-soup/model.keras --seed 19 --epochs 2 --lr 1.5e-4 --out runs/reader-sft19
	$(PY) -m convert.train_reader --init runs/reader-sft19/model.keras --epochs 0 --samples 2000 --seed 19 \
	    --average runs/reader-sft18/model.keras,runs/reader-sft12/model.keras,runs/reader-sft15/model.keras \
	    --out runs/reader-soup-ft
	$(PY) -m convert.train_reader --init runs/reader-soup-ft/model.tflite --seed 20 --epochs 2 --lr 1.5e-4 --out runs/reader-dq20
	$(PY) -m convert.train_reader --init runs/reader-soup-ft/model.tflite --seed 21 --epochs 2 --lr 1.5e-4 --out runs/reader-dq21
	$(PY) -m convert.train_reader --init runs/reader-soup-ft/model.tflite --seed 22 --epochs 2 --lr 1.5e-4 --out runs/reader-dq22
	$(PY) -m convert.train_reader --init runs/reader-dq22/model.keras --epochs 0 --samples 2000 --seed 22 \
	    --average runs/reader-dq20/model.keras,runs/reader-dq21/model.keras --out runs/reader-dq-soup
	$(PY) -m convert.train_reader --init runs/reader-dq-soup/model.tflite --seed 30 --samples 160000 --epochs 3 \
	    --lr 3e-4 --boxes-repeat 3 --out runs/reader-long30
	$(PY) -m convert.train_reader --init runs/reader-dq-soup/model.tflite --seed 31 --samples 90000 --epochs 3 \
	    --lr 3e-4 --boxes-repeat 3 --out runs/reader-long31
	$(PY) -m convert.train_reader --init runs/reader-dq-soup/model.tflite --epochs 0 --samples 2000 --seed 31 \
	    --average runs/reader-long30/model.keras,runs/reader-long31/model.keras --out runs/reader-s25-soup
	$(PY) -m convert.train_reader --init runs/reader-dq-soup/model.tflite --epochs 0 --samples 2000 --seed 31 \
	    --out runs/reader-dq-float
	$(PY) -m convert.train_reader --init runs/reader-s25-soup/model.tflite --epochs 0 --samples 2000 --seed 31 \
	    --average runs/reader-dq-float/model.keras --out runs/reader-half --ship

# the plate detector (about 34 minutes on 2 cores): 60 epochs of 110 batches, then 45 more from
# those weights at half the rate on fresh composites; installed as the shipped `plate-detector`
detector-model: $(VENV)/.train
	$(PY) -m convert.train_detector --seed 1 --epochs 60 --out runs/detector
	$(PY) -m convert.train_detector --init runs/detector/model.keras --seed 2 --epochs 45 --lr 1e-3 --out runs/detector-cont
	install -m 644 runs/detector-cont/model.tflite src/plate_edge/models/plate-detector.tflite
	install -m 644 runs/detector-cont/report.json src/plate_edge/models/plate-detector.report.json

# the plate verifier (about 20 minutes on 2 cores): the shipped detector's detections in the
# training scenes (and in composites of them), plate or not; installed as the shipped `plate-verifier`
verifier-model: $(VENV)/.train
	$(PY) -m convert.train_verifier --seed 1 --out runs/verifier
	install -m 644 runs/verifier/model.tflite src/plate_edge/models/plate-verifier.tflite
	install -m 644 runs/verifier/report.json src/plate_edge/models/plate-verifier.report.json

clean:
	rm -rf $(VENV) $(DEVICE_VENV) build *.egg-info src/*.egg-info
