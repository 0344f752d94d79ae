# The two commands: `make demo` and `make test`. Both bootstrap .venv from nothing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PREFECT_SERVER_ANALYTICS_ENABLED := false

.PHONY: demo test lint bench clean lock migration

# Installs exactly the tested versions from requirements.lock (the test and sandbox extras included: the demo and the
# tests need the simulators), then the project itself without resolving again.
$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

# Re-resolve the lock after changing dependencies in pyproject.toml (then `make test` installs from it).
lock: $(STAMP)
	$(BIN)/pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra test --extra sandbox --python-version 3.11 --universal -o requirements.lock

demo: $(STAMP)
	$(BIN)/timebridge demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest -n 3  # three workers on two cores: most tests wait on simulated rate limits and Prefect, not the CPU

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The next Alembic migration, generated from the SQLModel tables (README "Developing").
migration: $(STAMP)
	$(BIN)/python -m models.migrate revision "$(MESSAGE)" $(if $(URL),--url $(URL))

bench: $(STAMP)
	$(BIN)/python -m bench.import_projects

clean:
	rm -rf $(VENV) .timebridge .pytest_cache
