# Two commands do all the set-up on a fresh machine with Python 3.11+ and the package index:
#   make demo   - install into .venv, then run the gateway on SQLite with demo data
#   make test   - install into .venv (with the test extra), then run the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint bench install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/seliq-gateway serve --demo

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The inner loop: everything but the browser, scale, bench, real-client and PostgreSQL suites.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not (browser or scale or bench or clients or postgres)" $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

# ruff, mypy, the import contracts, then what would break clients generated from the committed
# schema.graphql (docs/api.md, "Schema for client code generation").
lint: $(STAMP)
	$(BIN)/ruff check gateway schema rest_compat tests bench
	$(BIN)/mypy gateway schema rest_compat bench tests
	$(BIN)/lint-imports
	$(BIN)/seliq-gateway schema check schema.graphql

clean:
	rm -rf $(VENV) seliq.db seliq.db-wal seliq.db-shm test-artifacts
