PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-slow lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/pressfeed --config config/pressfeed.toml subscribers import config/subscribers.csv
	$(BIN)/pressfeed --config config/pressfeed.toml run

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest

# The long checks: every kill point, every fault at full length, 10,000 examples per property.
test-slow: $(STAMP)
	$(BIN)/pytest -m slow
	HYPOTHESIS_PROFILE=long $(BIN)/pytest tests/test_properties.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_scan.py --sizes 2000 20000 --runs 3 --out docs/benchmarks.md

clean:
	rm -rf $(VENV) feeds/*.atom feeds/*.rss feeds/*.json var
