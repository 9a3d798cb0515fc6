# ivigwatch: `make demo` runs the demo, `make test` runs the whole test suite.
# Both install what is missing first (virtual env, Python packages; Java, Maven and InfluxDB via
# apt-get when run as root; the Kafka broker jars via Maven) and start the local servers they need.
# The browser tests drive Debian's `chromium` (apt-get) with Playwright: no browser is ever downloaded.

PYTHON ?= python3
TEST_WORKERS ?= 2
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

.PHONY: help setup browser demo test test-unit test-e2e lint bench cohort soak stack-up stack-down clean

help:
	@echo "make demo       run the demo: local Kafka + InfluxDB, workers, nurse console, simulated infusions"
	@echo "                (make demo KEEP=1 keeps the console and servers running until Ctrl-C)"
	@echo "make test       run the whole test suite (unit, agent and integration tests on real servers)"
	@echo "make test-unit  run only the fast tests (no servers)"
	@echo "make test-e2e   run only the nurse console's browser tests (Playwright + Debian's chromium)"
	@echo "make lint       ruff, mypy and the layering check (lint-imports)"
	@echo "make bench      in-process figures, then stepped load on a stack of its own (~10 min; QUICK=1 ~3 min)"
	@echo "make cohort     alarm burden and sensitivity of the rules on 1,000 simulated home infusions (~40 s;"
	@echo "                SESSIONS=N, SEED=S, SERIOUS=share)"
	@echo "make soak       fault tests at full size: kill -9 during 50,000 events, 60 s InfluxDB outage, 10,000 poison messages"
	@echo "make stack-up / stack-down   start / stop the local Kafka broker and InfluxDB"

$(STAMP): pyproject.toml
	@$(PYTHON) -m venv $(VENV) || { echo "Cannot create a virtual env: install python3-venv (apt-get install python3-venv)"; exit 1; }
	@echo "Installing Python packages into $(VENV) ..."
	@$(BIN)/pip install --quiet --upgrade pip
	@$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP)

# Debian's chromium for the browser tests (apt-get when missing and root; never `playwright install`).
browser: setup
	@$(BIN)/python -m deploy.browser

demo: setup
	$(BIN)/ivigwatch demo $(if $(KEEP),--keep-console)

test: setup browser
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile

test-e2e: setup browser
	$(BIN)/pytest tests/e2e

test-unit: setup
	$(BIN)/pytest tests/unit tests/agents tests/architecture

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

bench: setup
	$(BIN)/python -m streams.apps.bench $(if $(QUICK),--quick)

cohort: setup
	$(BIN)/ivigwatch cohort $(if $(SESSIONS),--sessions $(SESSIONS)) $(if $(SEED),--seed $(SEED)) \
		$(if $(SERIOUS),--serious-share $(SERIOUS))

soak: setup
	SOAK_EVENTS=$${SOAK_EVENTS:-50000} IVIGWATCH_TEST_OUTAGE_SECONDS=60 IVIGWATCH_TEST_POISON_COUNT=10000 \
		$(BIN)/pytest -s -p no:cacheprovider tests/integration/faults

stack-up: setup
	$(BIN)/ivigwatch stack up

stack-down: setup
	$(BIN)/ivigwatch stack down

clean: stack-down
	rm -rf .local
