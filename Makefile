# Everyday commands. `make run` and `make test` set everything up on first use:
# a virtualenv in .venv with the exact versions pinned in requirements/*.txt.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.bench-installed

.PHONY: run once check-config test check fmt lock bench-extraction bench-changes bench-delivery bench-backfill bench-soak bench-polling bench-retention clean

$(STAMP): requirements/dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

run: $(STAMP)  ## the daemon, on ./sources.yaml, SQLite under ./state/
	$(BIN)/watcher run

once: $(STAMP)
	$(BIN)/watcher once

check-config: $(STAMP)
	$(BIN)/watcher check

test: $(STAMP)  ## the test suite
	$(BIN)/pytest

check: $(STAMP)  ## format, lint and types, as CI runs them
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/hadolint --failure-threshold warning Dockerfile

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Re-pin every dependency (needs the network). Commit the result.
lock: $(STAMP)
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes pyproject.toml -o requirements/runtime.txt
	$(BIN)/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes --extra dev pyproject.toml -o requirements/dev.txt
	$(BIN)/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes --extra dev --extra bench -c requirements/dev.txt pyproject.toml -o requirements/bench.txt

# The benchmark-only extras (trafilatura, readability-lxml, urlwatch), pinned in requirements/bench.txt:
# dev.txt plus the extras, with every shared package at dev.txt's version.
$(BENCH_STAMP): requirements/bench.txt $(STAMP)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/bench.txt
	@touch $(BENCH_STAMP)

bench-extraction: $(BENCH_STAMP)  ## watcher's extractor vs trafilatura and readability-lxml on ../shared/corpus
	$(BIN)/python benchmarks/extraction.py $(BENCH_ARGS)

bench-changes: $(STAMP)  ## change detection on ../shared/corpus: false changes, missed edits, copies linked, lookups
	$(BIN)/python benchmarks/changes.py $(BENCH_ARGS)

bench-delivery: $(STAMP)  ## 10,000 events through the outbox to a flaky, then down, webhook receiver: lost, duplicates, retries
	$(BIN)/python benchmarks/delivery.py $(BENCH_ARGS)

bench-retention: $(STAMP)  ## how long a first retention pass over a 50,000-article archive holds the daemon
	$(BIN)/python benchmarks/retention.py $(BENCH_ARGS)

# A quick look: make bench-backfill BENCH_ARGS="--articles 2000 --sites 4 --skip-resume"
bench-backfill: $(STAMP)  ## `watcher backfill` of a local 100,000-article archive, resumes, search, export
	$(BIN)/python benchmarks/backfill.py $(BENCH_ARGS)

# A day of `watcher run` compressed into minutes (benchmarks/soak.py): RSS, polls, database.
# make bench-soak BENCH_ARGS="--sites 32 --rounds 96 --seed 1"   (or --minutes N)
bench-soak: $(STAMP)  ## the daemon's memory and database over a compressed day of churn
	$(BIN)/python benchmarks/soak.py $(BENCH_ARGS)

bench-polling: $(BENCH_STAMP)  ## `watcher once` on a simulated news web on 127.0.0.1: first and no-change passes, vs urlwatch
	$(BIN)/python benchmarks/polling.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
