# Two commands: `make book` builds the HTML book (every notebook executed), `make test` runs what CI runs.
# Both create .venv if it is missing and install requirements.txt into it first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: book test lint unit notebooks book-check bench-smoke check-html check-html-only publish clean

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

## Everything CI checks: lint, unit tests, the benchmark's smoke run, every chapter under nbval (quick mode),
## a strict book build, and every page of it in a headless browser.
test: lint unit bench-smoke check-html

# Two short epochs of the throughput benchmark on a subset, so that it cannot rot (it reports, never fails on time).
bench-smoke: $(STAMP)
	$(BIN)/python benchmarks/throughput.py --epochs 2 --subset 512 --eval-k 16 --eval-images 64 --json _build/bench/smoke.json

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The tests, then every Example: in the helpers' docstrings (fast, on the CPU).
unit: $(STAMP)
	$(BIN)/pytest tests/
	$(BIN)/pytest --doctest-modules helpers

# nbval executes each chapter once (quick mode) and keeps the executed copies in _build/executed ...
notebooks: $(STAMP)
	rm -rf _build/executed
	VAEBOOK_QUICK=1 VAEBOOK_EXECUTED_DIR=$(CURDIR)/_build/executed/chapters \
		$(BIN)/pytest --nbval-lax --nbval-current-env chapters/

# ... and the strict build renders those copies with execution off: any warning fails it.
book-check: notebooks
	rm -rf _build/strict && mkdir -p _build/strict
	cp -r _config.yml _toc.yml intro.md bibliography.md references.bib _ext _build/strict/
	cp -r _build/executed/chapters _build/strict/chapters
	sed -i 's/execute_notebooks: cache/execute_notebooks: "off"/' _build/strict/_config.yml
	$(BIN)/jupyter-book build _build/strict -W -n --keep-going

# The browser check: every page of the strict quick-mode build opened in headless Chromium (installed with
# apt-get when it is missing): typeset math, loaded images, no JavaScript errors, working links and buttons.
# Screenshots of every page go to _build/screenshots/.
CHROMIUM ?= /usr/bin/chromium
check-html: book-check
	$(MAKE) --no-print-directory check-html-only

check-html-only: $(STAMP)
	@test -x $(CHROMIUM) || { echo "check-html: installing chromium with apt-get"; \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; } \
		>/tmp/check-html-apt.log 2>&1 || { tail -n 20 /tmp/check-html-apt.log; \
		echo "check-html: could not install chromium (apt-get install chromium, as root), or set CHROMIUM=/path"; \
		exit 1; }; }
	CHROMIUM=$(CHROMIUM) $(BIN)/python tools/check_html.py _build/strict/_build/html --screenshots _build/screenshots

## Publish the book built by `make book` (run it on a GPU first): push _build/html to the gh-pages branch.
publish: $(STAMP)
	@test -f _build/html/index.html || { echo "publish: no _build/html; run \`make book\` first"; exit 1; }
	$(BIN)/ghp-import -n -p -f _build/html

clean:
	rm -rf _build
