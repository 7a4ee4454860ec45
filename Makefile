# Two commands: `make demo` and `make test`. Each builds .venv from the lock file
# when it is missing or out of date, using nothing but Python 3.11+.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-from-lock
CHECKED := src tests scripts bench

.PHONY: demo test browser haproxy bench lint typecheck pytest lock clean

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "ocpp-core needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/ocpp-core demo

# The browser and HAProxy come first: a missing one must stop the run at once, not
# error the page tests or the load balancer tests ten minutes in. mypy runs beside
# the suite: without its cache (a clean clone) it is half a minute of CPU, and the
# suite leaves a core idle that long while its tests wait on servers, browsers and clocks.
test: browser haproxy
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory -j2 typecheck pytest

browser:
	@scripts/ensure-package OCPP_CORE_TEST_CHROMIUM /usr/bin/chromium chromium "the page tests"

haproxy:
	@scripts/ensure-package OCPP_CORE_TEST_HAPROXY /usr/sbin/haproxy haproxy "the load balancer tests"

lint: $(STAMP)
	$(BIN)/ruff check $(CHECKED)
	$(BIN)/ruff format --check $(CHECKED)

typecheck: $(STAMP)
	$(BIN)/mypy

# The suite runs on SQLite (with the variable below unset, or both runs would be on
# PostgreSQL), and once more on PostgreSQL when OCPP_CORE_TEST_DATABASE_URL names
# one (CI always sets it): three workers per core (pytest-xdist): a test waits on
# servers, browsers, processes and chargers' timeouts most of its time, so fewer left
# the cores idle (2 cores, SQLite: 7.3 minutes with 2 workers, 4.9 with 4; later, on
# 2 Xeon cores, 4 min 54 s with 4 and 4 min 22 s with 6, back to back). Coverage
# is measured all along and added up over both runs, then printed as lines and
# branches and held to its floors (scripts/coverage_summary.py).
# PYTEST_ARGS: more options or a part of the suite, e.g. PYTEST_ARGS="--durations=50 tests/unit".
PYTEST_WORKERS ?= $(shell $(PYTHON) -c 'import os; print(3 * (os.cpu_count() or 1))')
# Bytecode is cached even where the environment says not to (PYTHONDONTWRITEBYTECODE):
# else each worker rewrites every test module's asserts again, under coverage's tracer,
# and every server and CLI process the suite starts compiles ocpp-core again (fresh
# checkout, 2 cores: 8 min 45 s -> 8 min 16 s).
PYTEST := env -u PYTHONDONTWRITEBYTECODE $(BIN)/pytest -n $(PYTEST_WORKERS) --dist worksteal \
	--cov --cov-report= $(PYTEST_ARGS)

pytest: $(STAMP)
	$(BIN)/coverage erase
	@echo "== the suite on SQLite =="
	env -u OCPP_CORE_TEST_DATABASE_URL $(PYTEST)
	@if [ -n "$$OCPP_CORE_TEST_DATABASE_URL" ]; then \
		echo "== the same suite on PostgreSQL =="; \
		$(PYTEST) --cov-append; \
	fi
	$(BIN)/python scripts/coverage_summary.py

# Throughput, latency, CPU and memory against the baselines (see the README's
# benchmark section); BENCH_ARGS="--size full" runs the 10k/19k-charger targets.
bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

# Re-pin every dependency (with hashes) after changing pyproject.toml.
lock: $(STAMP)
	$(BIN)/pip-compile --quiet --extra dev --generate-hashes --allow-unsafe \
		--no-emit-index-url --no-emit-find-links --strip-extras \
		--output-file requirements.lock pyproject.toml

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .coverage .coverage.*
