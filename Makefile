# The front door: `make run` and `make test` are all a newcomer needs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DATA_DIR ?= data
PORT ?= 8501

.PHONY: setup run index test test-fast lint bench screenshots clean

setup: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

# Build the demo index when none exists, then serve the app.
run: setup
	$(PY) -m indexer --data-dir $(DATA_DIR) ensure-demo
	$(PY) -m streamlit run app.py --server.port $(PORT) --server.headless true

index: setup
	$(PY) -m indexer --data-dir $(DATA_DIR) build --from demo

test: setup
	$(PY) -m pytest

test-fast: setup
	$(PY) -m pytest -m "not slow and not browser"

lint: setup
	$(PY) -m ruff check .

bench: setup
	$(PY) -m bench

# Refresh the README's screenshots from the app `make run` serves (run it in another shell first).
screenshots: setup
	$(PY) docs/take_screenshots.py http://127.0.0.1:$(PORT)

clean:
	rm -rf $(DATA_DIR) artifacts .pytest_cache
