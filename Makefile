# daglig — the two commands are `make demo` and `make test`; everything else is for developers.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
UV_VERSION := 0.13.8

# Prefect offline: no analytics, no promotions, and a task-run recorder that keeps up
# (the defaults lag ~40 ms per task). See README "Development".
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1
export PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT := false
export PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE := 500
export PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_READ_BATCH_SIZE := 100
export PREFECT_SERVER_SERVICES_EVENT_PERSISTER_BATCH_SIZE := 500
export PREFECT_SERVER_SERVICES_EVENT_PERSISTER_READ_BATCH_SIZE := 100
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS := 90

DEMO_USERS ?= 2000

.PHONY: help venv demo test test-fast lint lock clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	$(UV) pip sync --quiet --python $(PY) requirements.lock
	$(UV) pip install --quiet --python $(PY) --no-deps --config-settings editable_mode=compat -e .
	touch $@

venv: $(VENV)/.installed ## create .venv from the registry (uv, pinned lock)

demo: venv ## simulate learners into data/daglig.db and run the nightly job on it
	$(VENV)/bin/daglig demo --users $(DEMO_USERS)

test: venv ## run the whole test suite (PostgreSQL tests skip when no server, except under CI=true)
	$(PY) -m pytest

# The pure tier (tests marked `pure`, tests/conftest.py): no Prefect server (the temporary
# one is switched off, so a flow would fail), no PostgreSQL, no subprocess; <= 30 s.
test-fast: venv ## the pure tests: no Prefect server, no database server, no process (<= 30 s)
	PREFECT_SERVER_ALLOW_EPHEMERAL_MODE=false $(PY) -m pytest -p no:cacheprovider -m "pure and not slow"

lint: venv ## ruff and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# make bench SCALE=10k|100k|1m: one measured nightly run on the PostgreSQL server at
# BENCH_PG (database daglig_bench_<N>; 1m reuses daglig_1m when it holds learners).
SCALE ?= 10k
BENCH_PG ?= postgresql://postgres@127.0.0.1:5432
# make server PORT=4300: the Prefect server (UI + API) on PORT, its UI pointed at that port.
PORT ?= 4200
.PHONY: server
server: venv ## start the Prefect server on PORT (default 4200) and say what to export
	@echo "Prefect UI: http://127.0.0.1:$(PORT)   in every other shell: export PREFECT_API_URL=http://127.0.0.1:$(PORT)/api"
	PREFECT_API_URL=http://127.0.0.1:$(PORT)/api $(VENV)/bin/prefect server start --host 127.0.0.1 --port $(PORT)

# make deploy: the work pool (once), the deployments of prefect.yaml and the admins' alerts
# (automations.yaml) on the server at PREFECT_API_URL. WITHIN_SECONDS= shortens the dead man's
# switch's 90-minute window (the e2e test).
.PHONY: deploy
deploy: venv ## create the work pool, deploy prefect.yaml and the alerts (PREFECT_API_URL)
	@test -n "$$PREFECT_API_URL" || { echo "set PREFECT_API_URL (README step 1)" >&2; exit 2; }
	$(VENV)/bin/prefect work-pool inspect daglig-process >/dev/null 2>&1 || $(VENV)/bin/prefect work-pool create daglig-process --type process
	$(VENV)/bin/prefect --no-prompt deploy --all
	$(PY) -m flows.automations$(if $(WITHIN_SECONDS), --within-seconds $(WITHIN_SECONDS))

.PHONY: bench
bench: venv ## time a nightly run at SCALE=10k|100k|1m on PostgreSQL (bench/README.md)
	$(PY) -m bench scale --users $(SCALE) --database-url $(BENCH_PG)$(if $(filter 1m,$(SCALE)), --prepared-database daglig_1m)

lock: ## re-resolve requirements.lock from pyproject.toml (needs the venv's uv)
	$(UV) pip compile --quiet --python-version 3.11 --extra dev pyproject.toml -o requirements.lock

clean: ## remove the venv and generated data
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
