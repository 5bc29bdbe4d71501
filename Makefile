# Levante: `make run` starts everything on SQLite; `make test` runs every check.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Four workers on two cores (most tests wait on the servers and subprocesses they start),
# and work stealing, so that the long process-level tests do not all end up last.
PYTEST_ARGS ?= -n 4 --dist worksteal

.PHONY: run test lint typecheck pytest sample clients bench clean

$(BIN)/levante: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.dev: $(BIN)/levante
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

## run: create the virtual environment, install Levante and run it on SQLite (Ctrl-C stops)
run: $(BIN)/levante
	$(BIN)/levante up

## test: install the development dependencies, then run ruff, mypy and every test
test: $(VENV)/.dev clients
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(BIN)/ruff check src tests bench

typecheck: $(VENV)/.dev
	$(BIN)/mypy

pytest: $(VENV)/.dev
	$(BIN)/pytest $(PYTEST_ARGS)

## sample: regenerate etc/levante.conf.sample from the option declarations
sample: $(BIN)/levante
	$(BIN)/levante config sample -o etc/levante.conf.sample

## clients: the real mistral and st2 clients, each in a virtual environment of its own
clients: .venv-clients/mistral/bin/mistral .venv-clients/st2/bin/st2

.venv-clients/mistral/bin/mistral:
	$(PYTHON) -m venv .venv-clients/mistral
	.venv-clients/mistral/bin/pip install --quiet python-mistralclient

.venv-clients/st2/bin/st2:
	$(PYTHON) -m venv .venv-clients/st2
	.venv-clients/st2/bin/pip install --quiet st2client

bench: $(VENV)/.dev
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .venv-clients .pytest_cache .mypy_cache .ruff_cache
