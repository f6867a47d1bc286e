# bilan-insertion — the commands a newcomer needs. Every target installs the
# project into .venv first if needed (idempotent: a stamp file tracks pyproject.toml).
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

EXERCICE ?= 2017
SCALE ?= 1
SEED ?= 2017
OUT ?= data/raw

.PHONY: install run test dev data lint docs bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --compile -e '.[dev]'
	@touch $(STAMP)

$(DAGSTER_HOME)/dagster.yaml: dagster_home.template.yaml
	@mkdir -p $(DAGSTER_HOME)
	cp dagster_home.template.yaml $(DAGSTER_HOME)/dagster.yaml

## make run: the whole nightly job on the committed data (ingest → dbt → checks → publish)
run: $(STAMP) $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/bilan run

## make test: the test suite
test: $(STAMP)
	$(BIN)/python -m pytest -q

## make dev: the Dagster UI on workspace.yaml
dev: $(STAMP) $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dagster dev -w workspace.yaml

## make data EXERCICE=2017 SCALE=1 SEED=2017 OUT=data/raw: write a synthetic reporting drop
data: $(STAMP)
	$(BIN)/bilan-data --exercice $(EXERCICE) --scale $(SCALE) --seed $(SEED) --out $(OUT)

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) data/warehouse .dagster_home dbt/target dbt/logs
