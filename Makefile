# Two environments (see DESIGN.md, "Set-up contract"):
#   .venv          otel-flywheel + arize-phoenix-client (never the Phoenix server: it makes
#                  every `phoenix.*` import take ~9 s)
#   .venv-phoenix  the pinned Phoenix server, started as its own process by the demo and tests
PYTHON ?= python3
PHOENIX_VERSION := 20.26.1
VENV := .venv
PHOENIX_VENV := .venv-phoenix
PIP_FLAGS := --quiet --disable-pip-version-check

export PHOENIX_DISCOVER_CONFIG := false

.PHONY: help demo test lint typecheck pytest bench clean

help:
	@echo "make demo   start Phoenix, run the sample support agent through the flywheel, print where to look"
	@echo "make test   install dev extras, then lint, type-check and run the whole suite"
	@echo "make bench  run benchmarks/ (hot path, redaction) and print the figures"

$(VENV)/.installed-dev: pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install $(PIP_FLAGS) --upgrade pip
	$(VENV)/bin/python -m pip install $(PIP_FLAGS) -e '.[dev]'
	touch $@

$(PHOENIX_VENV)/.installed-$(PHOENIX_VERSION):
	test -x $(PHOENIX_VENV)/bin/python || $(PYTHON) -m venv $(PHOENIX_VENV)
	$(PHOENIX_VENV)/bin/python -m pip install $(PIP_FLAGS) --upgrade pip
	$(PHOENIX_VENV)/bin/python -m pip install $(PIP_FLAGS) 'arize-phoenix==$(PHOENIX_VERSION)'
	touch $@

demo: $(VENV)/.installed-dev $(PHOENIX_VENV)/.installed-$(PHOENIX_VERSION)
	$(VENV)/bin/otel-flywheel demo --phoenix-bin $(PHOENIX_VENV)/bin/phoenix $(DEMO_ARGS)

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(VENV)/.installed-dev
	$(VENV)/bin/mypy

# pytest exits 5 when it collected no tests: that is a broken run, not a pass.
pytest: $(VENV)/.installed-dev $(PHOENIX_VENV)/.installed-$(PHOENIX_VERSION)
	FLYWHEEL_PHOENIX_BIN=$(CURDIR)/$(PHOENIX_VENV)/bin/phoenix $(VENV)/bin/pytest $(PYTEST_ARGS); \
	rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing the run" >&2; exit 1; fi; exit $$rc

test: lint typecheck pytest

bench: $(VENV)/.installed-dev
	$(VENV)/bin/python benchmarks/hot_path.py
	$(VENV)/bin/python benchmarks/redaction.py

clean:
	rm -rf $(VENV) $(PHOENIX_VENV) .flywheel build *.egg-info .mypy_cache .ruff_cache
