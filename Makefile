# Two commands do all set-up: `make demo` runs the daemon on a generated clip against a local
# broker and shows the readings; `make test` runs the test suite.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test bench models clean

$(VENV)/.device: pyproject.toml scripts/install-system.sh
	scripts/install-system.sh
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

$(VENV)/.train: $(VENV)/.device
	$(PY) -m pip install -q -e ".[dev,train]"
	touch $@

demo: $(VENV)/.device
	$(PY) -m edge.demo

test: $(VENV)/.train
	$(PY) -m pytest -q

bench: $(VENV)/.train
	$(PY) bench/accuracy.py
	$(PY) bench/speed.py

models: $(VENV)/.train
	$(PY) -m convert.build_models

clean:
	rm -rf $(VENV) build *.egg-info
