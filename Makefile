# Signalboard: `make run` for the demo, `make test` for the suite.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST := $(PY) -m pytest -p no:cacheprovider
SERVICES_ENV := DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/signalboard} \
	REDIS_URL=$${REDIS_URL:-redis://127.0.0.1:6379/0}

SERVE_WORKERS ?= 2

.PHONY: run serve-prod venv test test-fast test-browser test-services lint chromium services-start services-stop screenshots bench bench-overhead clean test-example

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt .python-version
	@scripts/make_venv.sh $(VENV)
	@touch $@

run: venv
	@scripts/run.sh $(HOST) $(PORT)

# The scale path on one machine: PostgreSQL, Redis, several uvicorn workers, DEBUG off.
serve-prod: venv
	@WORKERS=$(SERVE_WORKERS) scripts/serve_prod.sh $(HOST) $(PORT)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DJANGO_SETTINGS_MODULE=tests.settings $(PY) manage.py makemigrations --check --dry-run
	DJANGO_SETTINGS_MODULE=tests.settings $(PY) manage.py check

chromium:
	@scripts/install_chromium.sh

# Browser tests run in their own pytest process: Playwright's sync API and
# the asyncio tests do not share an event loop well.
test: venv chromium lint
	$(PYTEST) -m "not browser and not services" -p randomly
	$(PYTEST) -m "browser and not services"

test-services: venv chromium
	@scripts/services.sh start
	$(SERVICES_ENV) $(PYTEST) -m "not browser" -p randomly
	$(SERVICES_ENV) $(PYTEST) -m browser

services-start:
	@scripts/services.sh start

services-stop:
	@scripts/services.sh stop

screenshots: venv chromium
	$(PY) scripts/screenshots.py http://$(HOST):$(PORT) screenshots

bench: venv
	$(PY) -m bench.route_cost
	$(PY) -m bench.table_pages

# What an audit row costs a save, beside the packages Signalboard competes with.
# They live in .venv-bench only (bench/requirements.txt), never in .venv.
bench-overhead: .venv-bench/.installed
	.venv-bench/bin/python -m bench.write_overhead $(ARGS)

.venv-bench/.installed: bench/requirements.txt requirements.txt .python-version
	@scripts/make_venv.sh .venv-bench bench/requirements.txt
	@touch $@

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache .hypothesis

# The second project (examples/tracker), on this checkout's engine. make test
# runs it too, on the built wheel (tests/test_package.py).
test-example: venv
	cd examples/tracker && PYTHONPATH=$(CURDIR) $(CURDIR)/$(PY) -m pytest
