# Two commands: `make book` builds the HTML book (every notebook executed), `make test` runs what CI runs.
# Both create .venv if it is missing and install requirements.txt into it first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: book execute stale test lint unit notebooks book-check bench-smoke check-html check-html-only \
	colab-check colab publish clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -r requirements.txt
	touch $(STAMP)

# A quick preview (VAEBOOK_QUICK=1) builds copies of the chapters in _build/quick, myst-nb executing them
# in quick mode as it renders them, so that quick-mode outputs never reach the committed notebooks.
QUICK_ON := $(filter-out 0 false no,$(VAEBOOK_QUICK))
BOOK_FILES := _config.yml _toc.yml intro.md bibliography.md references.bib _ext _static tools

## Build the book into _build/html from the outputs stored in the notebooks, executing first (full mode,
## on the GPU when there is one) only the chapters whose stored outputs are missing or stale.
book: $(STAMP)
ifeq ($(QUICK_ON),)
	$(BIN)/python tools/execute.py
	$(BIN)/jupyter-book build . -W -n --keep-going
	@echo "Open _build/html/index.html"
else
	rm -rf _build/quick && mkdir -p _build/quick
	cp -r $(BOOK_FILES) chapters _build/quick/
	sed 's/execute_notebooks: "off"/execute_notebooks: force/' _config.yml > _build/quick/_config.yml
	VAEBOOK_QUICK=1 $(BIN)/jupyter-book build _build/quick -W -n --keep-going
	@echo "Open _build/quick/_build/html/index.html (a quick preview: never publish it)"
endif

## Execute chapters in full mode and store their outputs and records in the notebooks:
## `make execute` (missing or stale ones), `make execute CHAPTERS="04 05"`, FORCE=1 to redo fresh ones.
execute: $(STAMP)
	$(BIN)/python tools/execute.py $(if $(FORCE),--force) $(CHAPTERS)

## Each chapter's stored execution: fresh, stale (code changed) or missing; and whether helpers/ changed since.
stale: $(STAMP)
	$(BIN)/python tools/execute.py --list

## Everything CI checks: lint, unit tests, the benchmark's smoke run, every chapter under nbval (quick mode),
## strict builds of the book as readers get it and of a quick run, each opened page by page in a headless
## browser, and two chapters run as on Colab.
test: lint unit bench-smoke notebooks check-html colab-check

# Two short epochs of the throughput benchmark on a subset, so that it cannot rot (it reports, never fails on time).
bench-smoke: $(STAMP)
	$(BIN)/python benchmarks/throughput.py --epochs 2 --subset 512 --eval-k 16 --eval-images 64 --json _build/bench/smoke.json

# ruff on the code and the notebooks, then actionlint on .github/workflows (with shellcheck
# on the run: scripts when shellcheck is on the PATH).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/actionlint

# The tests, then every Example: in the helpers' docstrings (fast, on the CPU).
unit: $(STAMP)
	$(BIN)/pytest tests/
	$(BIN)/pytest --doctest-modules helpers

# nbval runs every chapter top to bottom in quick mode (about 3 minutes on 2 cores); its asserts check the
# mathematics. It compares no outputs (--nbval-lax) and keeps none.
notebooks: $(STAMP)
	VAEBOOK_QUICK=1 $(BIN)/pytest --nbval-lax --nbval-current-env chapters/

# Two strict builds (-W -n: a warning, e.g. a glue key that no output holds, fails them), with execution off:
# the book as readers get it, from the full-mode outputs stored in the notebooks, in _build/html; and a quick
# preview (`make book VAEBOOK_QUICK=1`: copies of the chapters, which myst-nb executes in quick mode as it builds
# them, in _build/quick), which catches what quick mode lacks. nbval has no public way to keep what it ran,
# so the quick preview runs each chapter a second time: about 3 more minutes on 2 cores.
book-check: $(STAMP)
	$(BIN)/jupyter-book build . --all -W -n --keep-going
	$(MAKE) --no-print-directory book VAEBOOK_QUICK=1

# The browser check (tools/check_html.py): every page of both builds opened through Playwright in the system's
# headless Chromium (installed with apt-get when it is missing; Playwright downloads no browser) at 1280 x 900:
# typeset math, loaded images, no JavaScript errors, no code, output or table wider than the column, the
# chapters' buttons. LinkChecker checks the links and #anchors of the book as readers get it, alongside (about
# 3 minutes on 2 cores); the quick build is rendered from the same sources, so its links are the same.
# Full-page screenshots go to _build/screenshots/{book,quick}/; `make check-html-only` re-runs the checks.
CHROMIUM ?= /usr/bin/chromium
check-html: book-check
	$(MAKE) --no-print-directory check-html-only

check-html-only: $(STAMP)
	@test -x $(CHROMIUM) || { echo "check-html: installing chromium with apt-get"; \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; } \
		>/tmp/check-html-apt.log 2>&1 || { tail -n 20 /tmp/check-html-apt.log; \
		echo "check-html: could not install chromium (apt-get install chromium, as root), or set CHROMIUM=/path"; \
		exit 1; }; }
	CHROMIUM=$(CHROMIUM) $(BIN)/python tools/check_html.py _build/html --screenshots _build/screenshots/book
	CHROMIUM=$(CHROMIUM) $(BIN)/python tools/check_html.py _build/quick/_build/html --no-links \
		--screenshots _build/screenshots/quick

# Colab-like check: a virtual environment with only what Colab ships that the book uses (torch and
# torchvision at requirements.txt's pins, and nbclient to drive the kernel), none of the book's build
# tools; chapters 1 and 4 run there through their setup cell's own installs (tools/colab_check.py).
COLAB_VENV := _build/colab-venv
COLAB_STAMP := $(COLAB_VENV)/.installed
COLAB_PACKAGES = $(shell grep -E '^torch(vision)?==' requirements.txt | cut -d' ' -f1) \
	numpy matplotlib seaborn tqdm pandas ipykernel nbclient

$(COLAB_STAMP): requirements.txt
	rm -rf $(COLAB_VENV)
	$(PYTHON) -m venv $(COLAB_VENV)
	$(COLAB_VENV)/bin/python -m pip install --disable-pip-version-check --no-compile -q \
		$(COLAB_PACKAGES)
	touch $(COLAB_STAMP)

colab-check: $(COLAB_STAMP)
	$(COLAB_VENV)/bin/python tools/colab_check.py

## Colab copies of the chapters (MyST turned into Markdown, stored values filled in) in _build/colab.
colab: $(STAMP)
	rm -rf _build/colab
	$(BIN)/python tools/colab.py --out _build/colab

## Publish the book built by `make book` (run it on a GPU first): push _build/html to the gh-pages branch,
## and the Colab copies to the colab branch that the launch buttons open (repository.branch in _config.yml).
VERSION = $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
COLAB_BRANCH = $(shell sed -n 's/^  branch: *\([^ #]*\).*/\1/p' _config.yml)
publish: $(STAMP) colab
	@test -f _build/html/index.html || { echo "publish: no _build/html; run \`make book\` first"; exit 1; }
	@git rev-parse -q --verify "refs/tags/v$(VERSION)" >/dev/null || { echo "publish: tag the release first \
		(git tag v$(VERSION) && git push --tags): Colab installs the helpers at that tag"; exit 1; }
	$(BIN)/ghp-import -n -p -f _build/html
	$(BIN)/ghp-import -p -f -b $(COLAB_BRANCH) -m "Colab copies of $$(git rev-parse --short HEAD)" _build/colab

clean:
	rm -rf _build
