# Two environments (see DESIGN.md, "Set-up contract"):
#   .venv          otel-flywheel + arize-phoenix-client (never the Phoenix server: it makes
#                  every `phoenix.*` import take ~9 s)
#   .venv-phoenix  the pinned Phoenix server, started as its own process by the demo and tests
PYTHON ?= python3
PHOENIX_VERSION := 20.26.1
VENV := .venv
PHOENIX_VENV := .venv-phoenix
PIP_FLAGS := --quiet --disable-pip-version-check
# tests/test_phoenix_ui.py drives the Phoenix UI in Debian's Chromium through Playwright (never a
# browser Playwright downloads: the machines reach package registries only).
CHROMIUM := /usr/bin/chromium

export PHOENIX_DISCOVER_CONFIG := false

.PHONY: help demo test lint typecheck pytest bench clean

help:
	@echo "make demo   start Phoenix, run the sample support agent through the flywheel, print where to look"
	@echo "make test   install dev extras, then lint, type-check and run the whole suite"
	@echo "make bench  run benchmarks/ (hot path, redaction, prefilter stops, judge, judge evidence, report, evaluate, few-shot, ingest, crash, gzip) and print the figures"

$(VENV)/.installed-dev: pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install $(PIP_FLAGS) --upgrade pip
	$(VENV)/bin/python -m pip install $(PIP_FLAGS) -e '.[dev]'
	touch $@

# Installs Chromium only where it is missing; as root, else through sudo. Re-checked whenever the
# binary is missing, whatever the stamp says.
ifeq ($(wildcard $(CHROMIUM)),)
.PHONY: $(VENV)/.installed-chromium
endif
$(VENV)/.installed-chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
		sudo=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
		echo "installing Debian's chromium for the Phoenix UI test"; \
		$$sudo apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends chromium; \
	fi
	test -x $(CHROMIUM)
	mkdir -p $(@D)
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
pytest: $(VENV)/.installed-dev $(PHOENIX_VENV)/.installed-$(PHOENIX_VERSION) $(VENV)/.installed-chromium
	FLYWHEEL_PHOENIX_BIN=$(CURDIR)/$(PHOENIX_VENV)/bin/phoenix $(VENV)/bin/pytest $(PYTEST_ARGS); \
	rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing the run" >&2; exit 1; fi; exit $$rc

test: lint typecheck pytest

bench: $(VENV)/.installed-dev $(PHOENIX_VENV)/.installed-$(PHOENIX_VERSION)
	$(VENV)/bin/python benchmarks/hot_path.py
	$(VENV)/bin/python benchmarks/redaction.py
	$(VENV)/bin/python benchmarks/prefilter_stops.py
	$(VENV)/bin/python benchmarks/judge.py
	$(VENV)/bin/python benchmarks/judge_evidence.py
	$(VENV)/bin/python benchmarks/report.py
	$(VENV)/bin/python benchmarks/evaluate.py
	$(VENV)/bin/python benchmarks/fewshot.py
	FLYWHEEL_PHOENIX_BIN=$(CURDIR)/$(PHOENIX_VENV)/bin/phoenix $(VENV)/bin/python benchmarks/ingest.py
	$(VENV)/bin/python benchmarks/serve_crash.py
	$(VENV)/bin/python benchmarks/serve_gzip.py

clean:
	rm -rf $(VENV) $(PHOENIX_VENV) .flywheel build *.egg-info .mypy_cache .ruff_cache
