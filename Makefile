# Crema: `make run` serves the app, `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
export FLASK_APP = webapp

.PHONY: run test screenshots bench vendor translations translations-update migrate worker bot clean

$(BIN)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.txt
	touch $@

$(BIN)/.test-installed: requirements-test.txt $(BIN)/.installed
	$(BIN)/pip install -q --disable-pip-version-check -r requirements-test.txt
	touch $@

run: $(BIN)/.installed  ## Migrate, seed an empty database, serve on http://127.0.0.1:5000
	$(BIN)/flask db upgrade
	$(BIN)/flask seed --if-empty
	$(BIN)/flask run --host 127.0.0.1 --port 5000

test: $(BIN)/.test-installed  ## The whole suite, browser tests included
	$(BIN)/python -m pytest -q -ra $(PYTEST_ARGS)

screenshots: $(BIN)/.test-installed  ## Refresh the README's screenshots in docs/screenshots
	CREMA_SCREENSHOT_DIR=docs/screenshots $(BIN)/python -m pytest -q tests/browser/test_screenshots.py

bench: $(BIN)/.test-installed  ## Performance ratios, written to BENCHMARKS.md
	$(BIN)/python -m bench
	$(BIN)/python -m bench.ratings
	$(BIN)/python -m bench.chat
	$(BIN)/python -m bench.notifications
	$(BIN)/python -m bench.broadcast

migrate: $(BIN)/.installed  ## Apply migrations only
	$(BIN)/flask db upgrade

vendor:  ## Refresh htmx, htmx-ext-ws and Pico from npm
	bash scripts/refresh-vendor.sh

# --ignore-dirs replaces babel's default filter, which skips every directory whose
# name starts with "_" and so would miss templates/_macros.
translations-update: $(BIN)/.installed  ## Extract strings and merge them into the .po files
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k _p:1c,2 -k lazy_pgettext:1c,2 --ignore-dirs='.* __pycache__' -o messages.pot .
	$(BIN)/pybabel update -i messages.pot -d webapp/translations --no-fuzzy-matching
	rm messages.pot

translations: $(BIN)/.installed  ## Compile the .po files
	$(BIN)/pybabel compile -d webapp/translations --statistics

clean:
	rm -rf $(VENV) .pytest_cache
