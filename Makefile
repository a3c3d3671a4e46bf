# Two commands on a fresh machine (Python 3.11 with venv):
#   make run    install, then ingest examples/notes and answer sample questions
#               (starts the Discord bot instead when DISCORD_TOKEN is set)
#   make test   install, then run the whole test suite
VENV ?= .venv
PYTHON ?= python3
STAMP := $(VENV)/.installed
PIP_VERSION := 26.3
# The lock files pin every package the tests run with; `make lock` rewrites them (see README).
LOCK_VENV ?= .venv-lock
PIP_TOOLS_VERSION := 7.6.2
LOCK_ARGS ?=
PIP_COMPILE = CUSTOM_COMPILE_COMMAND="make lock" $(LOCK_VENV)/bin/pip-compile --quiet \
	--allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links $(LOCK_ARGS)

.PHONY: run test lint bench install lock

install: $(STAMP)

$(STAMP): pyproject.toml requirements-dev.lock
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet pip==$(PIP_VERSION)
	# Exactly the versions the tests ran with, torch the CPU build (2.13.0+cpu): a looser pin
	# pulls a multi-GB CUDA build. Then the project itself, with the locked setuptools.
	$(VENV)/bin/pip install --quiet -r requirements-dev.lock
	$(VENV)/bin/pip install --quiet --no-deps --no-build-isolation -e .
	@$(VENV)/bin/pip check || { echo "The lock files miss what pyproject.toml asks for: run make lock"; exit 1; }
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/greenroom start

test: $(STAMP)
	$(VENV)/bin/python -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

bench: $(STAMP)
	$(VENV)/bin/python bench/ingest_bench.py && $(VENV)/bin/python bench/query_bench.py

# Re-pin after pyproject.toml changes: pins that still fit are kept, new packages are added.
# LOCK_ARGS=--upgrade moves every pin to the newest allowed release; LOCK_ARGS="-P chromadb"
# just one package. The dev lock is constrained by the app lock, so both agree.
lock: $(LOCK_VENV)/bin/pip-compile
	$(PIP_COMPILE) --output-file requirements.lock pyproject.toml
	$(PIP_COMPILE) --extra dev --constraint requirements.lock \
		--output-file requirements-dev.lock pyproject.toml

$(LOCK_VENV)/bin/pip-compile:
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip install --quiet pip==$(PIP_VERSION) pip-tools==$(PIP_TOOLS_VERSION)
