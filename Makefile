# fera: `make demo` (set up and run the main job) and `make test` (set up and run the tests).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# The CPU build of PyTorch (the default Keras backend); pinned so pip never pulls the CUDA build.
TORCH  ?= torch==2.13.0
DEMO   ?= demo/out

.PHONY: install demo demo-train test test-fast clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q "$(TORCH)" -e ".[train,test,analyze,cluster,distribute]"
	touch $@

# TensorFlow, so the training tests also run under the design's backend.
$(VENV)/.installed-tf: $(VENV)/.installed
	$(BIN)/pip install -q "tensorflow-cpu>=2.18,<2.22"
	touch $@

install: $(VENV)/.installed

# The product's main job: the assistant describes the public-domain photos in the package with the
# shipped models, as text lines, and speaks them when espeak-ng and a sound device exist.
demo: install
	$(BIN)/fera models
	$(BIN)/fera assist --source src/fera/assets/samples --speech auto

# The training system on a tiny dataset built from the drawings in the package: smoke-test it,
# train the half-width VGG-13 (light regularisation suits 400 images) and evaluate it on the test split.
demo-train: install
	rm -rf $(DEMO)
	$(BIN)/python -m fera.commands.demo $(DEMO)/data
	$(BIN)/fera data --data_root $(DEMO)/data
	$(BIN)/fera train --data_root $(DEMO)/data --out_dir $(DEMO)/run --model fast --epochs 12 \
		--batch_size 32 --lr 3e-4 --l2 0 --dropout 0.1 --verbose 2
	$(BIN)/fera evaluate --model $(DEMO)/run --data_root $(DEMO)/data --out_dir $(DEMO)/eval
	@echo "artifacts: $(DEMO)/run (training) and $(DEMO)/eval (evaluation)"

# axe-core and onnxruntime-web (npm): the browser tests inject the first, the page runs on the second; Chromium
# comes from Debian (.ci/run).
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

# The page's JavaScript runtime against the Python runtime's traces (node's test runner), then all tests under the
# default (torch) backend, then again under TensorFlow the ones whose code differs per
# backend (marker `backends`: training loop, precision, checkpoints and resume, saving and loading,
# Grad-CAM, determinism, learning); option plumbing and reports are the same Python on every backend.
# Two pytest-xdist workers with one thread each (tests/conftest.py) keep both cores busy.
# Every pass always runs and reports on its own, so a failure in one never hides another's result;
# make test fails when any failed (scripts/stress_suite.py runs this target again and again, under load).
# Each pytest pass lists its 15 slowest steps, so the suite's time stays visible in every CI log.
WORKERS ?= 2
TEST_JS    = node --test tests/js
TEST_TORCH = $(BIN)/python -m pytest -q -n $(WORKERS) --durations=15
TEST_TF    = KERAS_BACKEND=tensorflow $(BIN)/python -m pytest -q -n $(WORKERS) -m backends --durations=15
test: $(VENV)/.installed-tf node_modules/.installed
	@js=passed; torch=passed; tf=passed; \
	echo "== make test, pass 1 of 3 (the page's runtime against the Python traces): $(TEST_JS)"; \
	$(TEST_JS) || js=FAILED; \
	echo "== make test, pass 2 of 3 (every test, torch): $(TEST_TORCH)"; \
	$(TEST_TORCH) || torch=FAILED; \
	echo "== make test, pass 3 of 3 (backend-specific tests, TensorFlow): $(TEST_TF)"; \
	$(TEST_TF) || tf=FAILED; \
	echo "== make test: page runtime $$js, torch pass $$torch, TensorFlow pass $$tf"; \
	test $$js = passed && test $$torch = passed && test $$tf = passed

test-fast: install
	$(BIN)/python -m pytest -q -n $(WORKERS) -m "not train"

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache node_modules
