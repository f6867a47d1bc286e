# bilan-insertion — the commands a newcomer needs. Every target installs the
# project into .venv first if needed (idempotent: a stamp file tracks pyproject.toml and
# constraints.txt, which pins the whole environment so every machine installs the same one).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export DO_NOT_TRACK := 1
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export GX_ANALYTICS_ENABLED := false
export BILAN_RAW_DIR ?= $(CURDIR)/data/raw
export BILAN_WAREHOUSE_DIR ?= $(CURDIR)/data/warehouse
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home

# The install byte-compiles the installed packages, not this editable checkout: with
# PYTHONDONTWRITEBYTECODE set (as on some machines), every process, parse workers included,
# would otherwise recompile the project's modules at import. Quick when they are up to date.
BYTECODE = $(BIN)/python -m compileall -q dagster_project bilan_generator benchmarks >/dev/null

EXERCICE ?= 2017
SCALE ?= 1
SEED ?= 2017
OUT ?= data/raw

.PHONY: install run test dev data lint docs bench clean

install: $(STAMP)

# The pinned environment, byte-compiled (imports twice as fast). uv installs it in about a third
# of pip's time (downloads in parallel: ~30 s against ~85 s on a 2-core machine with an empty
# cache; CI starts with one) and the same packages. pip alone where uv cannot be had, and where
# pip is set to an index of its own (uv reads neither pip.conf nor PIP_INDEX_URL).
PIP_INSTALL = $(BIN)/python -m pip install --quiet --upgrade pip \
	&& $(BIN)/python -m pip install --quiet --compile -c constraints.txt -e '$(1)'
INSTALL = if $(BIN)/python -m pip config list 2>/dev/null | grep -q '\.index-url='; then \
		$(call PIP_INSTALL,$(1)); \
	else \
		{ $(BIN)/python -m pip install --quiet -c constraints.txt uv \
		&& $(BIN)/uv pip install --quiet --python $(BIN)/python --compile-bytecode \
			-c constraints.txt -e '$(1)'; } \
		|| { echo "make: échec de uv, installation par pip"; $(call PIP_INSTALL,$(1)); }; \
	fi
COMMA := ,

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(call INSTALL,.[dev])
	@touch $(STAMP)

$(DAGSTER_HOME)/dagster.yaml: dagster_home.template.yaml
	@mkdir -p $(DAGSTER_HOME)
	cp dagster_home.template.yaml $(DAGSTER_HOME)/dagster.yaml

## make run: the whole nightly job on the committed data (ingest → dbt → checks → publish)
run: $(STAMP) $(DAGSTER_HOME)/dagster.yaml
	@$(BYTECODE)
	$(BIN)/bilan run

## make test: the test suite, on both cores (one test file per worker: files share fixtures;
## the longest files first, in tests/conftest.py's order)
test: $(STAMP)
	@$(BYTECODE)
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder

## make dev: the Dagster UI on workspace.yaml (asset graph by exercise, checks, schedule, sensors)
## on http://$(DEV_HOST):$(DEV_PORT); instance in $(DAGSTER_HOME) (from dagster_home.template.yaml).
## Ctrl-C stops the webserver, the daemon (schedule, sensors, run queue) and the code server.
DEV_HOST ?= 127.0.0.1
DEV_PORT ?= 3000
dev: $(STAMP) $(DAGSTER_HOME)/dagster.yaml
	@$(BYTECODE)
	@$(BIN)/dagster instance concurrency set warehouse_writer 1 >/dev/null
	$(BIN)/dagster dev -w workspace.yaml --host $(DEV_HOST) -p $(DEV_PORT)

## make data EXERCICE=2017 SCALE=1 SEED=2017 OUT=data/raw: write a synthetic reporting drop
data: $(STAMP)
	$(BIN)/bilan-data --exercice $(EXERCICE) --scale $(SCALE) --seed $(SEED) --out $(OUT)

## make docs: the dbt documentation site, offline, in $(BILAN_WAREHOUSE_DIR)/dbt_docs/
## (static_index.html is self-contained; run `make run` first so the catalog has the warehouse)
docs: $(STAMP)
	@mkdir -p $(BILAN_WAREHOUSE_DIR)/dbt_docs
	cd dbt && ../$(BIN)/dbt docs generate --static --profiles-dir . \
		--target-path $(BILAN_WAREHOUSE_DIR)/dbt_docs --log-path $(BILAN_WAREHOUSE_DIR)/dbt_docs/logs
	@echo "dbt docs: $(BILAN_WAREHOUSE_DIR)/dbt_docs/static_index.html"

## make bench SCALES="1 10": timings and ratios vs the naive script and the parse floor
## (benchmarks/README.md); not part of make test. The last line is the summary.
SCALES ?= 1 10
BENCH_STAMP := $(VENV)/.installed-bench

$(BENCH_STAMP): pyproject.toml constraints.txt $(STAMP)
	$(call INSTALL,.[dev$(COMMA)bench])
	@touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	@$(BYTECODE)
	$(BIN)/python benchmarks/bench.py --scales "$(SCALES)"

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) data/warehouse .dagster_home dbt/target dbt/logs
