# Two commands on a fresh machine (Python 3.11 with venv):
#   make run    install, then ingest examples/notes and answer sample questions
#               (starts the Discord bot instead when DISCORD_TOKEN is set)
#   make test   install, then run the whole test suite
VENV ?= .venv
PYTHON ?= python3
STAMP := $(VENV)/.installed

.PHONY: run test lint bench install

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	# torch is pinned to the CPU build (==2.13.0); a looser pin pulls a multi-GB CUDA build.
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/greenroom start

test: $(STAMP)
	$(VENV)/bin/python -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

bench: $(STAMP)
	$(VENV)/bin/python bench/ingest_bench.py && $(VENV)/bin/python bench/query_bench.py
