# The front door: `make run` and `make test` are all a newcomer needs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DATA_DIR ?= data
PORT ?= 8501

.PHONY: setup run index test test-fast lint bench screenshots clean real-music-eval excerpt-eval

setup: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt requirements-nodeps.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -r requirements-nodeps.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	@ldconfig -p 2>/dev/null | grep -q libchromaprint.so.1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && apt-get update -qq && apt-get install -y -qq --no-install-recommends libchromaprint1 >/dev/null; } \
	  || echo "note: Chromaprint (libchromaprint1) is missing: versions of one song will not be grouped."
	touch $(STAMP)

# Build the demo index when none exists, then serve the app.
run: setup
	$(VENV)/bin/clipret --data-dir $(DATA_DIR) ensure-demo
	$(PY) -m streamlit run app.py --server.port $(PORT) --server.headless true

index: setup
	$(VENV)/bin/clipret --data-dir $(DATA_DIR) build --from demo

test: setup
	$(PY) -m pytest

test-fast: setup
	$(PY) -m pytest -m "not slow and not browser"

lint: setup
	$(PY) -m ruff check .

bench: setup
	$(PY) -m bench

# The real-music development set (docs/evaluation.md): Debian's game soundtracks laid out as
# $(REAL_MUSIC_DIR)/<label>/<track>.ogg by bench/real_music_dev.sh (downloaded once; tracks selected by
# file size, the 108 that docs/evaluation.md reports), indexed into its own data dir, then the evaluation
# table: every space, the paper's autoencoder beside the default encoder, per label.
REAL_MUSIC_DIR ?= $(DATA_DIR)/real-music
REAL_MUSIC_DATA ?= $(DATA_DIR)/realdev
real-music-eval: setup
	test -d $(REAL_MUSIC_DIR) && [ -n "$$(ls $(REAL_MUSIC_DIR))" ] || DURATION_TOOL=size bash bench/real_music_dev.sh $(REAL_MUSIC_DIR)
	$(VENV)/bin/clipret --data-dir $(REAL_MUSIC_DATA) --collection realdev build --from folder --path $(REAL_MUSIC_DIR)
	$(PY) -m bench real_music --data-dir $(REAL_MUSIC_DATA) --collection realdev

# The excerpt set (docs/evaluation.md): the dev set's recordings cut into 25 s excerpt-clips (547, more than
# the 256 latent dimensions), indexed, then the same table with each query's own recording left out.
EXCERPT_DIR ?= $(DATA_DIR)/real-music-excerpts
EXCERPT_DATA ?= $(DATA_DIR)/realexcerpts
excerpt-eval: setup
	test -d $(REAL_MUSIC_DIR) && [ -n "$$(ls $(REAL_MUSIC_DIR))" ] || DURATION_TOOL=size bash bench/real_music_dev.sh $(REAL_MUSIC_DIR)
	$(PY) -m bench.excerpt_set $(REAL_MUSIC_DIR) $(EXCERPT_DIR)
	$(VENV)/bin/clipret --data-dir $(EXCERPT_DATA) --collection realexcerpts build --from folder --path $(EXCERPT_DIR)
	$(PY) -m bench real_music --data-dir $(EXCERPT_DATA) --collection realexcerpts --exclude-same-track \
	  --name real_music_excerpts

# Refresh the README's screenshots from the app `make run` serves (run it in another shell first).
screenshots: setup
	$(PY) docs/take_screenshots.py http://127.0.0.1:$(PORT)

clean:
	rm -rf $(DATA_DIR) artifacts .pytest_cache
