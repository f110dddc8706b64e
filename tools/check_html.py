"""Open every page of the built book in headless Chromium; fail on what looks broken.

Usage: ``python tools/check_html.py [HTML_ROOT] [--config _config.yml]
[--screenshots _build/screenshots]``

The book is served from ``HTML_ROOT`` (default ``_build/strict/_build/html``) on
127.0.0.1 and opened with Playwright in the system's Chromium (``$CHROMIUM``, else
``chromium`` on the PATH; Playwright downloads no browser of its own). For every page
it checks that

- MathJax, loaded from the book's own ``_static`` (offline), has typeset everything:
  no raw TeX (``\\(``, ``$$``, ``\\begin{`` ...) is visible outside code, and no
  formula shows a TeX error;
- every image loaded, and the page logged no JavaScript error (exceptions, console
  errors, failed requests);
- every same-site link and image reaches an existing file, and every ``#fragment``
  an existing id;
- a chapter page has an "open in Colab" link to its own notebook and a download link
  to its ``.ipynb``;

and saves a screenshot of the whole page under ``_build/screenshots/``. Exit status 1
names each page and its problem.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import os
import re
import shutil
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from playwright.sync_api import BrowserContext, sync_playwright
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeout

DEFAULT_ROOT = Path("_build/strict/_build/html")
SKIPPED_DIRS = ("_static", "_sources", "_images")
VIEWPORT = {"width": 1280, "height": 900}
PAGE_TIMEOUT_MS = 60_000  # for one page to load and for any one browser call
MATHJAX_START_MS = 15_000  # for MathJax, when a page loads it, to start up
IMAGES_MS = 10_000  # for the images to finish loading (or failing)

# Run in the page once MathJax and the images are done: what a reader would see.
PAGE_REPORT_JS = r"""
() => {
  const skip = "pre, code, script, style, textarea, mjx-container, "
    + "mjx-assistive-mml, .highlight, .MathJax";
  const rawTex = new RegExp([
    String.raw`\\[()\[\]]`,  // \( \) \[ \]
    String.raw`\$\$`,
    String.raw`\\(begin|end)\{`,
    String.raw`\\(frac|mathbb|mathcal|mathrm|sum|int|left|right)(?![a-zA-Z])`,
    String.raw`\$[^$\n]*[\\^_][^$\n]*\$`,  // $...$ with TeX inside: not parsed
  ].join("|"));
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const tex = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || parent.closest(skip)) continue;
    const match = node.textContent.match(rawTex);
    if (match) {
      const at = Math.max(0, match.index - 30);
      const text = node.textContent.slice(at, match.index + 50);
      tex.push(text.replace(/\s+/g, " ").trim());
    }
  }
  const images = [...document.images];
  // Display formulas wider than the text column scroll sideways: a note, not an error.
  const wide = [...document.querySelectorAll('mjx-container[display="true"]')]
    .filter((e) => e.scrollWidth > e.clientWidth + 1)
    .map((e) => (e.querySelector("mjx-assistive-mml") || e).textContent.slice(0, 60));
  return {
    formulas: document.querySelectorAll("mjx-container").length,
    wideFormulas: wide,
    rawTex: tex,
    texErrors: [...document.querySelectorAll("mjx-merror")].map(
      (e) => e.getAttribute("data-mjx-error") || e.textContent),
    images: images.length,
    brokenImages: images.filter((i) => !i.complete || i.naturalWidth === 0)
      .map((i) => i.src),
  };
}
"""
MATHJAX_SCRIPTS_JS = (
    "() => [...document.scripts].map((s) => s.src).filter((s) => /mathjax/i.test(s))"
)
MATHJAX_STARTED_JS = "() => !!(window.MathJax?.startup?.promise)"
IMAGES_EAGER_JS = "() => { for (const i of document.images) i.loading = 'eager'; }"
IMAGES_DONE_JS = "() => [...document.images].every((i) => i.complete)"


# --------------------------------------------------------------------------------------
# Pure helpers: pages, configuration, links (unit-tested in tests/test_check_html.py)


def book_pages(root: Path) -> list[str]:
    """Every .html under ``root`` but the asset folders', as posix paths."""
    pages = []
    for path in sorted(root.rglob("*.html")):
        relative = path.relative_to(root).as_posix()
        if relative.split("/", 1)[0] not in SKIPPED_DIRS:
            pages.append(relative)
    return pages


def screenshot_name(page: str) -> str:
    """A page's screenshot: ``chapters/02_elbo.html`` -> ``chapters__02_elbo.png``."""
    return page.removesuffix(".html").replace("/", "__") + ".png"


def read_config_section(text: str, section: str) -> dict[str, str]:
    """The ``key: value`` pairs directly under a top-level section of simple YAML."""
    values: dict[str, str] = {}
    inside = False
    for line in text.splitlines():
        comment = line.lstrip().startswith("#")
        stripped = "" if comment else line.split(" #", 1)[0].rstrip()
        if not stripped:
            continue
        if not line[0].isspace():
            inside = stripped == f"{section}:"
            continue
        if inside and ":" in stripped:
            key, value = stripped.strip().split(":", 1)
            values[key.strip()] = value.strip().strip("'\"")
    return values


def expected_colab_url(config_text: str, page: str) -> str:
    """A chapter's Colab link: ``<colab>/github/<owner>/<repo>/blob/<branch>/<path>``"""
    repository = read_config_section(config_text, "repository")
    colab = read_config_section(config_text, "launch_buttons").get(
        "colab_url", "https://colab.research.google.com"
    )
    parts = urlsplit(repository["url"])
    if parts.netloc != "github.com":
        url = repository["url"]
        raise ValueError(f"repository.url must be a GitHub URL, not {url!r}")
    owner_repo = parts.path.strip("/").removesuffix(".git")
    book_path = repository.get("path_to_book", "").strip("/")
    notebook = page.removesuffix(".html") + ".ipynb"
    path = f"{book_path}/{notebook}" if book_path else notebook
    branch = repository.get("branch", "main")
    return f"{colab.rstrip('/')}/github/{owner_repo}/blob/{branch}/{path}"


@dataclass
class ParsedPage:
    """One HTML file's ids, the links and sources it points to, its refresh target."""

    ids: set[str] = field(default_factory=set)
    links: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    # the target of a <meta http-equiv="refresh"> (Sphinx's index.html is one)
    redirect: str | None = None


class _PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = ParsedPage()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value for name, value in attrs if value is not None}
        if "id" in values:
            self.page.ids.add(values["id"])
        if tag == "a" and "name" in values:
            self.page.ids.add(values["name"])
        if tag == "a" and "href" in values:
            self.page.links.append(values["href"])
        if tag in ("img", "script") and "src" in values:
            self.page.sources.append(values["src"])
        if tag == "link" and "href" in values:
            self.page.sources.append(values["href"])
        refresh = values.get("http-equiv", "").lower() == "refresh"
        content = values.get("content", "")
        target = re.search(r"url\s*=\s*['\"]?([^'\"]+)", content, re.IGNORECASE)
        if tag == "meta" and refresh and target:
            self.page.redirect = target.group(1).strip()
            self.page.sources.append(self.page.redirect)


def parse_page(html: str) -> ParsedPage:
    """Collect the ids, links, sources and any refresh target of an HTML document."""
    parser = _PageParser()
    parser.feed(html)
    parser.close()
    return parser.page


def resolve_link(page: str, href: str) -> tuple[str, str] | None:
    """Where a same-site link leads: (file under the root, fragment); None if off-site.

    Relative to ``page`` (a posix path under the root); a path ending in ``/`` means
    its ``index.html``; a link that climbs out of the root resolves to ``../...``, so
    that it is reported missing.
    """
    parts = urlsplit(href)
    other = href.startswith(("mailto:", "javascript:", "data:"))
    if parts.scheme or parts.netloc or other:
        return None
    if not parts.path:
        return page, unquote(parts.fragment)
    if parts.path.startswith("/"):
        joined = PurePosixPath(unquote(parts.path).lstrip("/"))
    else:
        joined = PurePosixPath(page).parent / unquote(parts.path)
    stack: list[str] = []
    for piece in joined.parts:
        if piece == "..":
            if stack and stack[-1] != "..":
                stack.pop()
            else:
                stack.append("..")
        elif piece != ".":
            stack.append(piece)
    target = "/".join(stack)
    if parts.path.endswith("/") or not target:
        target = f"{target}/index.html".lstrip("/")
    return target, unquote(parts.fragment)


class LinkChecker:
    """Checks links against the files of a built book, parsing each page once."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._parsed: dict[str, ParsedPage] = {}

    def parsed(self, page: str) -> ParsedPage:
        """The parsed page (cached)."""
        if page not in self._parsed:
            text = (self.root / page).read_text(encoding="utf-8", errors="replace")
            self._parsed[page] = parse_page(text)
        return self._parsed[page]

    def exists(self, target: str) -> bool:
        """Whether ``target`` is a file inside the root."""
        return not target.startswith("..") and (self.root / target).is_file()

    def broken(self, page: str) -> list[str]:
        """The same-site links and sources of ``page`` to missing files or ids."""
        problems = []
        parsed = self.parsed(page)
        for href in parsed.links + parsed.sources:
            resolved = resolve_link(page, href)
            if resolved is None:
                continue
            target, fragment = resolved
            if not self.exists(target):
                problems.append(f"link {href!r} -> missing file {target}")
            elif fragment and href in parsed.links and target.endswith(".html"):
                if fragment not in self.parsed(target).ids:
                    problems.append(f"link {href!r} -> no id {fragment!r} in {target}")
        return problems

    def chapter_buttons(self, page: str, colab_url: str) -> list[str]:
        """A chapter's missing buttons: Colab for its notebook, its .ipynb download."""
        problems = []
        links = self.parsed(page).links
        if colab_url not in links:
            colab = [href for href in links if "colab.research.google.com" in href]
            found = colab or "none"
            problems.append(f"no 'open in Colab' link to {colab_url} (found {found})")
        notebook = f"_sources/{page.removesuffix('.html')}.ipynb"
        downloads = [
            href
            for href in links
            if (resolve_link(page, href) or ("", ""))[0] == notebook
        ]
        if not downloads:
            problems.append(f"no download link to {notebook}")
        elif not self.exists(notebook):
            problems.append(f"download link to {notebook}, which is not in the build")
        return problems


def mathjax_problems(scripts: list[str], origin: str) -> list[str]:
    """Every MathJax script must be the book's own, under ``_static/`` of ``origin``."""
    problems = []
    for src in scripts:
        parts = urlsplit(src)
        offline = f"{parts.scheme}://{parts.netloc}" == origin
        if not offline or "/_static/" not in parts.path:
            problems.append(f"MathJax is not loaded offline from _static: {src}")
    return problems


@dataclass
class Logged:
    """One thing a page logged: ``kind`` is "exception" or a console message type."""

    kind: str
    text: str
    url: str = ""


def javascript_errors(logged: list[Logged]) -> list[str]:
    """The errors among what a page logged: exceptions, console errors, failed loads.

    The browser's own request for ``/favicon.ico`` is not the page's: the book
    declares no icon and no reader sees its 404, so it does not count.
    """
    errors = []
    for entry in logged:
        if entry.kind == "exception":
            errors.append(f"exception: {entry.text.splitlines()[0]}")
        elif entry.kind == "error" and urlsplit(entry.url).path != "/favicon.ico":
            errors.append(f"console.error: {entry.text} {entry.url}".strip())
    return errors


def page_problems(report: dict, errors: list[str], origin: str) -> list[str]:
    """The in-page report and the logged errors as a list of problems (none: fine)."""
    problems = [f"raw TeX visible: {text!r}" for text in report["rawTex"]]
    problems += [f"TeX error in a formula: {text!r}" for text in report["texErrors"]]
    problems += [f"image did not load: {src}" for src in report["brokenImages"]]
    problems += [f"JavaScript error: {error}" for error in errors]
    problems += mathjax_problems(report["mathjaxScripts"], origin)
    if report["mathjax"] == "never started":
        problems.append("MathJax is on the page but never started")
    return problems


# --------------------------------------------------------------------------------------
# The server and the browser


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def serve(root: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    """Serve ``root`` on a free port of 127.0.0.1 in a thread; return it and its URL."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def check_in_browser(
    context: BrowserContext, url: str, screenshot: Path
) -> tuple[dict, list[str]]:
    """Load ``url`` in a new tab, wait for MathJax and the images, report, screenshot.

    The screenshot is of the whole page, however tall.
    """
    page = context.new_page()
    logged: list[Logged] = []
    page.on(
        "pageerror",
        lambda error: logged.append(Logged("exception", f"{error.name}: {error}")),
    )
    page.on(
        "console",
        lambda message: logged.append(
            Logged(message.type, message.text, message.location.get("url", ""))
        ),
    )
    try:
        page.goto(url, wait_until="load")
        scripts = page.evaluate(MATHJAX_SCRIPTS_JS)
        mathjax = "absent"
        if scripts:
            try:
                page.wait_for_function(MATHJAX_STARTED_JS, timeout=MATHJAX_START_MS)
                page.evaluate("() => MathJax.startup.promise.then(() => null)")
                mathjax = "typeset"
            except PlaywrightTimeout:
                mathjax = "never started"
        page.evaluate(IMAGES_EAGER_JS)
        try:
            page.wait_for_function(IMAGES_DONE_JS, timeout=IMAGES_MS)
        except PlaywrightTimeout:
            pass  # the images still loading are reported below
        report = page.evaluate(PAGE_REPORT_JS)
        report.update(mathjax=mathjax, mathjaxScripts=scripts)
        page.screenshot(path=screenshot, full_page=True)
    finally:
        page.close()
    return report, javascript_errors(logged)


def find_chromium() -> str:
    """The Chromium executable: ``$CHROMIUM``, else chromium (-browser) on the PATH."""
    candidates = [os.environ.get("CHROMIUM", ""), "chromium", "chromium-browser"]
    for name in [*candidates, "google-chrome"]:
        if name and shutil.which(name):
            return str(shutil.which(name))
    raise SystemExit(
        "check-html: Chromium not found "
        "(apt-get install chromium, or set CHROMIUM=/path/to/it)"
    )


# --------------------------------------------------------------------------------------


def check_page(
    page: str,
    links: LinkChecker,
    config_text: str,
    browse: Callable[[str], tuple[dict, list[str]]],
    origin: str,
) -> tuple[list[str], str, list[str]]:
    """Check one page: its problems, a one-line summary and notes for authors.

    ``browse(page)`` opens it in the browser (served at ``origin``) and returns the
    in-page report and the errors it logged.
    """
    problems = links.broken(page)
    if page.startswith("chapters/"):
        colab = expected_colab_url(config_text, page)
        problems += links.chapter_buttons(page, colab)
    redirect = links.parsed(page).redirect
    if redirect is not None:  # a stub: its target is checked as a link and as a page
        return problems, f"redirect -> {redirect}", []
    try:
        report, errors = browse(page)
    except PlaywrightError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else repr(err)
        return [*problems, f"browser: {first}"], "not checked in the browser", []
    problems += page_problems(report, errors, origin)
    summary = (
        f"math={report['mathjax']}({report['formulas']}) images={report['images']} "
        f"links={len(links.parsed(page).links)} "
        f"wide-formulas={len(report['wideFormulas'])}"
    )
    notes = [
        f"a formula wider than the text column scrolls sideways: {formula}"
        for formula in report["wideFormulas"]
    ]
    return problems, summary, notes


def main(argv: list[str] | None = None) -> int:
    """Check every page; print a line per page and a verdict; 1 when any page fails."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "root", nargs="?", type=Path, default=DEFAULT_ROOT, help="the built HTML"
    )
    parser.add_argument(
        "--config", type=Path, default=Path("_config.yml"), help="the _config.yml"
    )
    parser.add_argument(
        "--screenshots", type=Path, default=Path("_build/screenshots"), help="PNGs"
    )
    args = parser.parse_args(argv)

    root = args.root.resolve()
    if not (root / "index.html").is_file():
        raise SystemExit(f"check-html: no book at {root} (run `make book-check`)")
    config_text = args.config.read_text()
    pages = book_pages(root)
    args.screenshots.mkdir(parents=True, exist_ok=True)
    for old in args.screenshots.glob("*.png"):
        old.unlink()

    links = LinkChecker(root)
    failures: dict[str, list[str]] = {}
    started = time.monotonic()
    server, origin = serve(root)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=find_chromium())
            context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
            context.set_default_timeout(PAGE_TIMEOUT_MS)

            def browse(page: str) -> tuple[dict, list[str]]:
                shot = args.screenshots / screenshot_name(page)
                return check_in_browser(context, f"{origin}/{page}", shot)

            for page in pages:
                problems, summary, notes = check_page(
                    page, links, config_text, browse, origin
                )
                print(f"{'FAIL' if problems else 'ok  '} {page:<45} {summary}")
                for problem in problems:
                    print(f"       - {problem}")
                for note in notes:
                    print(f"       note: {note}")
                sys.stdout.flush()
                if problems:
                    failures[page] = problems
            browser.close()
    except PlaywrightError as err:
        print(f"check-html: Chromium failed: {err}", file=sys.stderr)
        return 1
    finally:
        server.shutdown()
        server.server_close()

    elapsed = time.monotonic() - started
    if failures:
        print(
            f"check-html: FAILED on {len(failures)} of {len(pages)} pages "
            f"({elapsed:.0f} s):",
            file=sys.stderr,
        )
        for page, problems in failures.items():
            more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
            print(f"  {page}: {problems[0]}{more}")
        return 1
    print(
        f"check-html: all {len(pages)} pages passed ({elapsed:.0f} s); "
        f"screenshots in {args.screenshots}/"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
