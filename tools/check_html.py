"""Open every page of the built book in headless Chromium; fail on what looks broken
(``page_problems``, ``chapter_buttons``), and on a broken link or ``#anchor``
(LinkChecker, alongside; it fetches no external link)."""

import argparse
import contextlib
import csv
import functools
import io
import os
import re
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from subprocess import PIPE, Popen
from urllib.parse import urlsplit

from playwright.sync_api import BrowserContext, ConsoleMessage, sync_playwright
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from book import colab_url, config

SKIPPED_DIRS = ("_static", "_sources", "_images")
# offline: anything the book loads from elsewhere (MathJax from a CDN) fails to load
SCREEN = {"viewport": {"width": 1280, "height": 900}, "device_scale_factor": 1}
PAGE_TIMEOUT_MS = 60_000  # for a page to load, and for any one browser call
MATHJAX_START_MS = 15_000  # for MathJax, when a page loads it, to start up
IMAGES_MS = 10_000  # for the images to finish loading (or failing)
REFRESH = re.compile(r"<meta[^>]+http-equiv=.refresh[^>]+url=([^'\" >]+)", re.I)
LINKCHECKER_RC = Path(__file__).with_name("linkcheckerrc")
# LinkChecker, run as root, switches to the user nobody, who may not read a checkout
# (a clone in a private temporary folder): its plugins, AnchorCheck among them, then
# go missing without an error. Whoever runs the check keeps their own rights.
LINKCHECK = [
    "-c",
    "import linkcheck.command.linkchecker as cli; "
    "cli.drop_privileges = lambda: None; cli.linkchecker()",
    *["-r", "1", "-o", "csv/utf-8", "--no-status", "--no-robots", "-f"],
]
NOTED = {"formula": "scrolls sideways"}  # not a failure

MATHJAX_JS = "() => [...document.scripts].some((s) => /mathjax/i.test(s.src))"
MATHJAX_STARTED_JS = "() => !!window.MathJax?.startup?.promise"
IMAGES_DONE_JS = "() => [...document.images].every((i) => i.complete)"
# Run in the page once MathJax and the images are done: what a reader would see.
PAGE_REPORT_JS = r"""() => {
  const skip = "pre, code, script, style, textarea, mjx-container, .highlight";
  const rawTex = new RegExp(String.raw`\\[()\[\]]|\$\$|\\(begin|end)\{`
    + String.raw`|\\(frac|mathbb|mathcal|mathrm|sum|int|left|right)(?![a-zA-Z])`
    + String.raw`|\$[^$\n]*[\\^_][^$\n]*\$`);
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const tex = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const at = node.parentElement?.closest(skip) ? -1 : node.textContent.search(rawTex);
    if (at >= 0) tex.push(node.textContent.slice(Math.max(0, at - 30), at + 50)
      .replace(/\s+/g, " ").trim());
  }
  return {rawTex: tex, formulas: document.querySelectorAll("mjx-container").length,
    texErrors: [...document.querySelectorAll("mjx-merror")].map(
      (e) => e.getAttribute("data-mjx-error") || e.textContent),
    images: document.images.length, brokenImages: [...document.images].filter(
      (i) => !i.complete || i.naturalWidth === 0).map((i) => i.src),
    links: [...document.links].map((a) => a.href)};
}"""
# Unfold what a reader can unfold; measure each block against its container's box.
OVERFLOW_JS = r"""() => {
  for (const d of document.querySelectorAll("details")) d.open = true;
  for (const e of document.querySelectorAll(".toggle-hidden"))
    e.classList.remove("toggle-hidden");
  const found = [];  // the outermost wide block (printed text wraps: columns.css)
  for (const e of (document.querySelector("article") || document.body)
      .querySelectorAll("pre, div.highlight, .cell_output > *, table, "
        + "mjx-container[display='true']")) {
    if (!e.getClientRects().length || found.some((f) => f.e.contains(e))) continue;
    const box = e.parentElement;
    const edge = box.getBoundingClientRect().left + box.clientLeft + box.clientWidth
      - parseFloat(getComputedStyle(box).paddingRight);
    const px = Math.max(e.scrollWidth - e.clientWidth,
      e.getBoundingClientRect().right - edge);
    if (px > 1) found.push({e, px: Math.ceil(px)});
  }
  const kind = (e) => e.matches("mjx-container") ? "formula"
    : e.matches("table, :has(> table)") ? "table"
    : e.closest(".cell_output") ? "output"
    : e.closest(".cell_input") ? "code cell" : "code block";
  const text = (e) => (e.querySelector("mjx-assistive-mml") || e).textContent;
  return found.map(({e, px}) => ({kind: kind(e), px,
    line: text(e).trim().split("\n")[0].trim().slice(0, 70)}));
}"""


def book_pages(root: Path) -> list[str]:
    """Every .html under ``root`` but the asset folders'."""
    pages = (path.relative_to(root).as_posix() for path in root.rglob("*.html"))
    return sorted(p for p in pages if p.split("/", 1)[0] not in SKIPPED_DIRS)


def chapter_buttons(page: str, links: list[str], origin: str, conf: dict) -> list[str]:
    """A chapter's missing buttons: Colab for its own notebook, its .ipynb download."""
    colab = colab_url(Path(page).stem, conf)
    found = [link for link in links if "colab.research.google.com" in link] or "none"
    notebook = f"{origin}/_sources/{page.removesuffix('.html')}.ipynb"
    problems = {
        f"no 'open in Colab' link to {colab} (found {found})": colab not in links,
        f"no download link to {notebook}": notebook not in links,
    }
    return [problem for problem, missing in problems.items() if missing]


def page_problems(report: dict) -> tuple[list[str], list[str]]:
    """The browser's report of a page as problems, and notes for the authors."""
    problems = [f"raw TeX visible: {text!r}" for text in report["rawTex"]]
    problems += [f"TeX error in a formula: {text!r}" for text in report["texErrors"]]
    problems += [f"image did not load: {src}" for src in report["brokenImages"]]
    problems += [f"JavaScript error: {error}" for error in report["errors"]]
    if report["mathjax"] == "never started":
        problems.append("MathJax is on the page but never started")
    notes = []
    for block in report["overflow"]:
        wide = f"{block['kind']} {block['px']} px wider than its column"
        if block["kind"] in NOTED:  # MathJax lets it scroll: a note
            notes.append(f"{wide} ({NOTED[block['kind']]}): {block['line']!r}")
        else:
            problems.append(f"{wide}: {block['line']!r}")
    return problems, notes


def link_problems(report: str, origin: str, error: str = "") -> dict[str, list[str]]:
    """LinkChecker's CSV report as problems by page: broken links, missing anchors."""
    if not report.startswith("urlname;"):  # it did not run
        return {"(all)": [f"LinkChecker failed: {error.strip()[-300:] or 'no output'}"]}
    problems: dict[str, list[str]] = {}
    for row in csv.DictReader(io.StringIO(report), delimiter=";"):
        if row["valid"] == "True" and "Anchor" not in row["warningstring"]:
            continue
        why = row["result"] if row["valid"] != "True" else row["warningstring"]
        page = row["parentname"].removeprefix(f"{origin}/").split("#")[0]
        problems.setdefault(page or "index.html", []).append(
            f"link {row['urlname']!r}: {why.split(' Available anchors')[0]}"
        )
    return problems


def browse(context: BrowserContext, shots: Path, url: str, shot: str) -> dict:
    """Load ``url``; wait for MathJax and the images; report, screenshot, measure."""
    page, errors = context.new_page(), []

    def log(message: ConsoleMessage) -> None:  # failed loads too; not the favicon.ico
        url = message.location.get("url", "")  # that the browser asks for on its own
        if message.type == "error" and urlsplit(url).path != "/favicon.ico":
            errors.append(f"console.error: {message.text} {url}".strip())

    page.on("console", log)
    page.on("pageerror", lambda e: errors.append(f"exception: {e.name}: {e.message}"))
    try:
        page.goto(url, wait_until="load")
        mathjax = "absent"
        if page.evaluate(MATHJAX_JS):
            try:
                page.wait_for_function(MATHJAX_STARTED_JS, timeout=MATHJAX_START_MS)
                page.evaluate("() => MathJax.startup.promise.then(() => null)")
                mathjax = "typeset"
            except PlaywrightTimeout:
                mathjax = "never started"
        page.evaluate("() => { for (const i of document.images) i.loading = 'eager' }")
        with contextlib.suppress(PlaywrightTimeout):  # those still loading are reported
            page.wait_for_function(IMAGES_DONE_JS, timeout=IMAGES_MS)
        report = page.evaluate(PAGE_REPORT_JS)
        page.screenshot(path=shots / shot, full_page=True)
        report.update(mathjax=mathjax, overflow=page.evaluate(OVERFLOW_JS))
    finally:
        page.close()
    return {**report, "errors": [error.split("\n")[0] for error in errors]}


def check_page(name: str, root: Path, origin: str, conf: dict, browser: Callable):
    """One page's problems, notes and summary; ``browser(url, screenshot)``: report."""
    stub = REFRESH.search((root / name).read_text(errors="replace")[:2000])
    if stub:  # a redirect (Sphinx's index.html): LinkChecker checks its target
        return [], [], f"redirect -> {stub.group(1)}"
    try:
        shot = name.removesuffix(".html").replace("/", "__") + ".png"  # no folders
        report = browser(f"{origin}/{name}", shot)
    except PlaywrightError as err:
        return [f"browser: {str(err).strip().splitlines()[0]}"], [], "not checked"
    problems, notes = page_problems(report)
    if name.startswith("chapters/"):
        problems += chapter_buttons(name, report["links"], origin, conf)
    math, wide = f"{report['mathjax']}({report['formulas']})", len(report["overflow"])
    return problems, notes, f"math={math} images={report['images']} wide={wide}"


def main(argv: list[str] | None = None) -> int:
    """Check every page; print a line per page and a verdict; 1 when any page fails."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="the built HTML")
    parser.add_argument("--screenshots", type=Path, default=Path("_build/screenshots"))
    parser.add_argument("--no-links", action="store_true", help="skip LinkChecker")
    args = parser.parse_args(argv)
    root, conf = args.root.resolve(), config()
    chromium = shutil.which(os.environ.get("CHROMIUM") or "chromium")
    if not (root / "index.html").is_file() or chromium is None:
        raise SystemExit(f"check-html: no book at {root}, or no Chromium ($CHROMIUM)")
    pages = book_pages(root)
    args.screenshots.mkdir(parents=True, exist_ok=True)
    for old in args.screenshots.glob("*.png"):
        old.unlink()
    failures: dict[str, list[str]] = {}
    origin = root.as_uri()  # pages opened as files: the book is a static site
    urls = [f"{origin}/{page}" for page in pages]
    cmd = [sys.executable, *LINKCHECK, str(LINKCHECKER_RC), *urls]
    links = None if args.no_links else Popen(cmd, stdout=PIPE, stderr=PIPE, text=True)
    try:
        with sync_playwright() as playwright:
            chrome = playwright.chromium.launch(executable_path=chromium)
            context = chrome.new_context(**SCREEN, offline=True)
            context.set_default_timeout(PAGE_TIMEOUT_MS)
            browser = functools.partial(browse, context, args.screenshots)
            for name in pages:
                problems, notes, summary = check_page(name, root, origin, conf, browser)
                lines = [*problems, *(f"note: {note}" for note in notes)]
                status = "FAIL" if problems else "ok  "
                print(f"{status} {name:<45} {summary}", *lines, sep="\n       - ")
                sys.stdout.flush()
                failures.update({name: problems} if problems else {})
        out, err = links.communicate() if links else ("urlname;", "")
    finally:
        if links and links.poll() is None:
            links.kill()
    for page, problems in link_problems(out, origin, err).items():
        print(f"FAIL {page} (LinkChecker)", *problems, sep="\n       - ")
        failures.setdefault(page, []).extend(problems)
    verdict = f"FAILED on {len(failures)}" if failures else "passed on all"
    print(f"check-html: {verdict} of {len(pages)} pages", *failures, sep="\n  ")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
