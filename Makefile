PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-postgres test-slow lint bench clean build/feedvalidator

# The classifier the classification benchmark compares with: the last one that scaled body
# matches by length, before topics were read passage by passage.
CLASSIFY_BASELINE ?= 65b4bb0

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,learn,postgres]'
	touch $(STAMP)

# The W3C feed validator has no package: tests/test_feed_validity.py runs its source, cloned here
# at a fixed commit (build/ is not committed). FEEDVALIDATOR_GIT may name a local mirror.
FEEDVALIDATOR_GIT ?= https://github.com/w3c/feedvalidator
FEEDVALIDATOR_COMMIT := 43dabeb217bd8d8b0a3f12f3a6e7c39a8619d9a8
FEEDVALIDATOR := build/feedvalidator/.commit-$(FEEDVALIDATOR_COMMIT)

# Where its repository cannot be reached, the W3C test skips (unless PRESSFEED_REQUIRE_W3C=1).
$(FEEDVALIDATOR):
	rm -rf build/feedvalidator
	(git clone --quiet $(FEEDVALIDATOR_GIT) build/feedvalidator && \
	  git -C build/feedvalidator checkout --quiet $(FEEDVALIDATOR_COMMIT) && touch $@) || \
	  (rm -rf build/feedvalidator; echo "W3C feed validator not fetched: its test skips")

build/feedvalidator: $(FEEDVALIDATOR)

run: $(STAMP)
	$(BIN)/pressfeed --config config/pressfeed.toml subscribers import config/subscribers.csv
	$(BIN)/pressfeed --config config/pressfeed.toml run

test: $(STAMP) $(FEEDVALIDATOR)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest

# The same suite with the store on PostgreSQL: a throw-away server of Debian's `postgresql`
# package (tests/postgres.py), or the server PRESSFEED_TEST_POSTGRES names by URL.
PRESSFEED_TEST_POSTGRES ?= 1
test-postgres: $(STAMP)
	@command -v pg_ctl >/dev/null || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || \
	  (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null)
	PRESSFEED_TEST_POSTGRES=$(PRESSFEED_TEST_POSTGRES) $(BIN)/pytest

# The long checks: every kill point, every fault at full length, 10,000 examples per property.
test-slow: $(STAMP)
	$(BIN)/pytest -m slow
	HYPOTHESIS_PROFILE=long $(BIN)/pytest tests/test_properties.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# The benchmarks need nginx, wrk, hugo and PostgreSQL beside Python; on Debian they are installed
# when missing. `make bench BENCH_FLAGS=--quick` is a smoke run of every benchmark in a few minutes.
bench: $(STAMP)
	@command -v nginx >/dev/null && command -v wrk >/dev/null && command -v hugo >/dev/null || \
	  (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx wrk hugo >/dev/null)
	@command -v pg_ctl >/dev/null || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || \
	  (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null)
	mkdir -p build/bench
	$(BIN)/python benchmarks/bench_scan.py $(BENCH_FLAGS) --out build/bench/scan.md
	$(BIN)/python benchmarks/bench_publish.py $(BENCH_FLAGS) --out build/bench/publish.md
	$(BIN)/python benchmarks/bench_classify.py $(BENCH_FLAGS) --against $(CLASSIFY_BASELINE) \
	  --out build/bench/classify.md
	$(BIN)/python benchmarks/bench_latency.py $(BENCH_FLAGS) --out build/bench/latency.md
	$(BIN)/python benchmarks/bench_websub.py $(BENCH_FLAGS) --out build/bench/websub.md
	$(BIN)/python benchmarks/bench_digest.py $(BENCH_FLAGS) --out build/bench/digest.md
	$(BIN)/python benchmarks/bench_senders.py $(BENCH_FLAGS) --out build/bench/senders.md
	$(BIN)/python benchmarks/bench_http.py $(BENCH_FLAGS) --out build/bench/http.md
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/bench_extraction.py $(BENCH_FLAGS) --out build/bench/extraction.md
	$(BIN)/python benchmarks/bench_parsers.py $(BENCH_FLAGS) --out build/bench/parsers.md
	$(BIN)/python benchmarks/report.py build/bench docs/benchmarks.md

clean:
	rm -rf $(VENV) feeds/*.atom feeds/*.rss feeds/*.json var
