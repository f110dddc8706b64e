# Two commands: `make book` builds the HTML book (every notebook executed), `make test` runs what CI runs.
# Both create .venv if it is missing and install requirements.txt into it first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: book test lint unit notebooks book-check bench-smoke clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -r requirements.txt
	touch $(STAMP)

# A quick preview (VAEBOOK_QUICK=1) builds into _build/quick so that its executed notebooks never
# stand in for the full run's in the execution cache.
QUICK_ON := $(filter-out 0 false no,$(VAEBOOK_QUICK))
BOOK_OUT := $(if $(QUICK_ON),_build/quick,.)

## Build the book into _build/html, executing every notebook (on the GPU when there is one).
book: $(STAMP)
	$(BIN)/jupyter-book build . --path-output $(BOOK_OUT) -W -n --keep-going
	@echo "Open $(BOOK_OUT)/_build/html/index.html"

## Everything CI checks: lint, unit tests, every chapter under nbval (quick mode), strict book build.
test: lint unit bench-smoke book-check

# Two short epochs of the throughput benchmark on a subset, so that it cannot rot (it reports, never fails on time).
bench-smoke: $(STAMP)
	$(BIN)/python -m helpers.bench --epochs 2 --subset 512 --eval-k 16 --eval-images 64 --json _build/bench/smoke.json

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

unit: $(STAMP)
	$(BIN)/pytest tests/

# nbval executes each chapter once (quick mode) and keeps the executed copies in _build/executed ...
notebooks: $(STAMP)
	rm -rf _build/executed
	VAEBOOK_QUICK=1 VAEBOOK_EXECUTED_DIR=$(CURDIR)/_build/executed/chapters \
		$(BIN)/pytest --nbval-lax --nbval-current-env chapters/

# ... and the strict build renders those copies with execution off: any warning fails it.
book-check: notebooks
	rm -rf _build/strict && mkdir -p _build/strict
	cp _config.yml _toc.yml intro.md bibliography.md references.bib _build/strict/
	cp -r _build/executed/chapters _build/strict/chapters
	sed -i 's/execute_notebooks: cache/execute_notebooks: "off"/' _build/strict/_config.yml
	$(BIN)/jupyter-book build _build/strict -W -n --keep-going

clean:
	rm -rf _build
