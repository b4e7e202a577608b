# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DB ?= $(CURDIR)/findings.db
PORT ?= 8501

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install demo seed test bench bench-1m faults fuzz clean

# torch is installed first and pinned: the project's range admits 2.13.0, so pip keeps it (a CPU build).
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test,ray]'
	touch $@

install: $(VENV)/.installed

seed: install
	FINDINGS_DB=$(DB) $(BIN)/findings init
	FINDINGS_DB=$(DB) $(BIN)/findings seed
	FINDINGS_DB=$(DB) $(BIN)/findings stats

# The demo also runs a short real experiment in the background (the paper's protocol, DAS on the og_holdouts
# partition, 2 seeds; about a minute and a half on 2 cores), recorded into the demo database through the engine:
# the Runs page, the run's page, its verdicts and the claim's forest plot fill in while the app is open.
# Its log is demo-run.log; a second `make demo` finds the run recorded and adds nothing.
DEMO_RUN ?= synthetic --partition og_holdouts --loss das --seeds 2 --protocol grant2025

demo: seed
	FINDINGS_DB=$(DB) nohup nice -n 10 $(BIN)/findings run $(DEMO_RUN) > demo-run.log 2>&1 &
	FINDINGS_DB=$(DB) $(BIN)/findings app --port $(PORT)

test: install
	bash scripts/ensure_browser.sh
	bash scripts/ensure_postgres.sh
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python -m bench

# the million-node graph (papers through `findings ingest --format arxiv-snapshot`, findings, ~10M edges):
# the build takes a long while and is kept in BENCH_1M_DIR, so a second run only measures
BENCH_1M_DIR ?= $(CURDIR)/.bench-1m
bench-1m: install
	$(BIN)/python -m bench --scale 1m --keep $(BENCH_1M_DIR)

# a node, the driver and the database killed mid-sweep: one JSON line per scenario (minutes: not in `make test`)
faults: install
	bash scripts/ensure_postgres.sh
	$(BIN)/python -m bench.faults

fuzz: install
	$(BIN)/python bench/fuzz.py

clean:
	rm -rf $(VENV) findings.db findings.db-wal findings.db-shm findings.db-bulkload demo-run.log
