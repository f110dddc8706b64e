"""Open every page of the built book in headless Chromium and fail on what a reader would see as broken.

Usage: ``python tools/check_html.py [HTML_ROOT] [--config _config.yml] [--screenshots _build/screenshots]``

The book is served from ``HTML_ROOT`` (default ``_build/strict/_build/html``) on 127.0.0.1 and driven through the
Chrome DevTools Protocol over a pipe (``--remote-debugging-pipe``: file descriptors 3 and 4, NUL-terminated JSON),
so only the standard library is needed. For every page it checks that

- MathJax, loaded from the book's own ``_static`` (offline), has typeset everything: no raw TeX (``\\(``, ``$$``,
  ``\\begin{`` ...) is visible outside code, and no formula shows a TeX error;
- every image loaded, and the page logged no JavaScript error (exceptions, console errors, failed requests);
- every same-site link and image reaches an existing file, and every ``#fragment`` an existing id;
- a chapter page has an "open in Colab" link to its own notebook and a download link to its ``.ipynb``;

and saves a screenshot of it under ``_build/screenshots/``. Exit status 1 names each page and its problem.
"""

from __future__ import annotations

import argparse
import base64
import fcntl
import functools
import http.server
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

DEFAULT_ROOT = Path("_build/strict/_build/html")
SKIPPED_DIRS = ("_static", "_sources", "_images")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
    "--disable-extensions",
    "--disable-default-apps",
    "--no-default-browser-check",
    "--hide-scrollbars",
    "--mute-audio",
    "--force-device-scale-factor=1",
)
VIEWPORT_WIDTH = 1280
VIEWPORT_HEIGHT = 900
MAX_SCREENSHOT_HEIGHT = 10000
PAGE_TIMEOUT = 60.0  # seconds for one page to load, typeset and be checked
CALL_TIMEOUT = 30.0  # seconds for any single DevTools call

# Runs in the page once it has loaded: waits for MathJax (when the page uses it) and for every image, then reports.
PAGE_CHECK_JS = r"""
(async () => {
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const mathjaxScripts = [...document.scripts].map((s) => s.src).filter((src) => /mathjax/i.test(src));
  let mathjax = "absent";
  if (mathjaxScripts.length) {
    for (let i = 0; i < 300 && !(window.MathJax && MathJax.startup && MathJax.startup.promise); i++) await sleep(50);
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
      await MathJax.startup.promise;
      mathjax = "typeset";
    } else {
      mathjax = "never started";
    }
  }
  const images = [...document.images];
  for (const img of images) img.loading = "eager";
  await Promise.all(images.map((img) => img.complete ? null : new Promise((resolve) => {
    img.addEventListener("load", resolve);
    img.addEventListener("error", resolve);
    setTimeout(resolve, 10000);
  })));
  const skip = "pre, code, script, style, textarea, mjx-container, mjx-assistive-mml, .highlight, .MathJax";
  const rawTex = new RegExp([
    String.raw`\\[()\[\]]`,  // \( \) \[ \]
    String.raw`\$\$`,
    String.raw`\\(begin|end)\{`,
    String.raw`\\(frac|mathbb|mathcal|mathrm|sum|int|left|right)(?![a-zA-Z])`,
    String.raw`\$[^$\n]*[\\^_][^$\n]*\$`,  // $...$ with TeX inside: dollar math that was not parsed
  ].join("|"));
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const tex = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || parent.closest(skip)) continue;
    const match = node.textContent.match(rawTex);
    if (match) {
      const at = Math.max(0, match.index - 30);
      tex.push(node.textContent.slice(at, match.index + 50).replace(/\s+/g, " ").trim());
    }
  }
  const texErrors = [...document.querySelectorAll("mjx-merror")].map(
    (e) => e.getAttribute("data-mjx-error") || e.textContent);
  // Display formulas wider than the text column: not an error (they scroll sideways), but worth a note to authors.
  const wide = [...document.querySelectorAll('mjx-container[display="true"]')]
    .filter((e) => e.scrollWidth > e.clientWidth + 1)
    .map((e) => (e.querySelector("mjx-assistive-mml") || e).textContent.slice(0, 60));
  return {
    mathjax,
    wideFormulas: wide,
    mathjaxScripts,
    formulas: document.querySelectorAll("mjx-container").length,
    rawTex: tex,
    texErrors,
    images: images.length,
    brokenImages: images.filter((img) => !img.complete || img.naturalWidth === 0).map((img) => img.src),
    height: Math.max(document.documentElement.scrollHeight, document.body.scrollHeight),
  };
})()
"""


# ---------------------------------------------------------------------------------------------------------------------
# Pure helpers: pages, configuration, links (unit-tested in tests/test_check_html.py)


def book_pages(root: Path) -> list[str]:
    """The book's pages: every .html under ``root`` except the theme's and Sphinx's asset folders, as posix paths."""
    pages = []
    for path in sorted(root.rglob("*.html")):
        relative = path.relative_to(root).as_posix()
        if relative.split("/", 1)[0] not in SKIPPED_DIRS:
            pages.append(relative)
    return pages


def screenshot_name(page: str) -> str:
    """The screenshot file of a page: ``chapters/02_elbo.html`` -> ``chapters__02_elbo.png``."""
    return page.removesuffix(".html").replace("/", "__") + ".png"


def read_config_section(text: str, section: str) -> dict[str, str]:
    """The ``key: value`` pairs directly under a top-level section of a simple YAML file (no YAML library needed)."""
    values: dict[str, str] = {}
    inside = False
    for line in text.splitlines():
        stripped = (
            line.split(" #", 1)[0].rstrip() if not line.lstrip().startswith("#") else ""
        )
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
    """The Colab link a chapter page must carry: ``<colab>/github/<owner>/<repo>/blob/<branch>/<path>.ipynb``."""
    repository = read_config_section(config_text, "repository")
    colab = read_config_section(config_text, "launch_buttons").get(
        "colab_url", "https://colab.research.google.com"
    )
    parts = urlsplit(repository["url"])
    if parts.netloc != "github.com":
        raise ValueError(
            f"repository.url must be a GitHub URL, not {repository['url']!r}"
        )
    owner_repo = parts.path.strip("/").removesuffix(".git")
    book_path = repository.get("path_to_book", "").strip("/")
    notebook = page.removesuffix(".html") + ".ipynb"
    path = f"{book_path}/{notebook}" if book_path else notebook
    return f"{colab.rstrip('/')}/github/{owner_repo}/blob/{repository.get('branch', 'main')}/{path}"


@dataclass
class ParsedPage:
    """What the link check needs from one HTML file: its ids and the links and sources it points to."""

    ids: set[str] = field(default_factory=set)
    links: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    redirect: str | None = (
        None  # the target of a <meta http-equiv="refresh"> (Sphinx's index.html is one)
    )


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
        target = re.search(
            r"url\s*=\s*['\"]?([^'\"]+)", values.get("content", ""), re.IGNORECASE
        )
        if (
            tag == "meta"
            and values.get("http-equiv", "").lower() == "refresh"
            and target
        ):
            self.page.redirect = target.group(1).strip()
            self.page.sources.append(self.page.redirect)


def parse_page(html: str) -> ParsedPage:
    """Collect the ids, ``a[href]``, ``img/script[src]``/``link[href]`` and any refresh target of an HTML document."""
    parser = _PageParser()
    parser.feed(html)
    parser.close()
    return parser.page


def resolve_link(page: str, href: str) -> tuple[str, str] | None:
    """Where a same-site link leads, as (file relative to the book root, fragment); None for other sites.

    Relative to ``page`` (a posix path under the root); a path ending in ``/`` means its ``index.html``; a link that
    climbs out of the root resolves to ``../...`` so that it is reported missing.
    """
    parts = urlsplit(href)
    if (
        parts.scheme
        or parts.netloc
        or href.startswith(("mailto:", "javascript:", "data:"))
    ):
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
    """Checks links against the files of a built book, parsing each target page once."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._parsed: dict[str, ParsedPage] = {}

    def parsed(self, page: str) -> ParsedPage:
        """The parsed page (cached)."""
        if page not in self._parsed:
            self._parsed[page] = parse_page(
                (self.root / page).read_text(encoding="utf-8", errors="replace")
            )
        return self._parsed[page]

    def exists(self, target: str) -> bool:
        """Whether ``target`` is a file inside the root."""
        return not target.startswith("..") and (self.root / target).is_file()

    def broken(self, page: str) -> list[str]:
        """Problems with the same-site links and sources of ``page``: missing files and missing fragments."""
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
        """Problems with a chapter page's buttons: the Colab link to its notebook, the download link to its .ipynb."""
        problems = []
        links = self.parsed(page).links
        if colab_url not in links:
            colab = [href for href in links if "colab.research.google.com" in href]
            problems.append(
                f"no 'open in Colab' link to {colab_url} (found {colab or 'none'})"
            )
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
    """Problems with where MathJax comes from: every MathJax script must be the book's own, under ``_static/``."""
    problems = []
    for src in scripts:
        parts = urlsplit(src)
        if (
            f"{parts.scheme}://{parts.netloc}" != origin
            or "/_static/" not in parts.path
        ):
            problems.append(f"MathJax is not loaded offline from _static: {src}")
    return problems


# ---------------------------------------------------------------------------------------------------------------------
# The server and the browser


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base class's name)
        pass


def serve(root: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    """Serve ``root`` on 127.0.0.1 on a free port, in a daemon thread; return the server and its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


_PLACE_PIPES = (
    "import os, sys; read, write = int(sys.argv[1]), int(sys.argv[2]); os.dup2(read, 3); os.dup2(write, 4); "
    "os.close(read); os.close(write); os.execv(sys.argv[3], sys.argv[3:])"
)


def _move_high(fd: int) -> int:
    """A copy of ``fd`` numbered 10 or more (closed on exec unless passed on), the original closed."""
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return high


class DevToolsError(RuntimeError):
    """A DevTools call failed or timed out, or Chromium went away."""


class Chromium:
    """Headless Chromium driven over ``--remote-debugging-pipe``: we write fd 3 and read fd 4 of the child."""

    def __init__(self, executable: str, workdir: Path) -> None:
        # Two pipes, their child ends moved to descriptors >= 10 so that placing them at 3 and 4 clobbers nothing.
        to_child_read, self._write = os.pipe()
        self._read, from_child_write = os.pipe()
        to_child_read = _move_high(to_child_read)
        from_child_write = _move_high(from_child_write)
        self.log_path = workdir / "chromium.log"
        args = [
            executable,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={workdir / 'profile'}",
            "--remote-debugging-pipe",
        ]
        args += [f"--window-size={VIEWPORT_WIDTH},{VIEWPORT_HEIGHT}", "about:blank"]
        # pass_fds keeps the two child ends open across exec; a short Python step moves them to 3 and 4, where
        # Chromium's pipe transport expects them, and then becomes Chromium.
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    _PLACE_PIPES,
                    str(to_child_read),
                    str(from_child_write),
                    *args,
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                pass_fds=(to_child_read, from_child_write),
                start_new_session=True,
            )
        os.close(to_child_read)
        os.close(from_child_write)
        self._next_id = 0
        self._buffer = b""
        self.events: list[dict] = []

    def _receive(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DevToolsError("timed out waiting for Chromium")
            ready, _, _ = select.select([self._read], [], [], remaining)
            if ready:
                chunk = os.read(self._read, 1 << 20)
                if not chunk:
                    raise DevToolsError(
                        f"Chromium closed the pipe (exit {self.process.poll()}); see {self.log_path}"
                    )
                self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(
        self,
        method: str,
        params: dict | None = None,
        session: str | None = None,
        timeout: float = CALL_TIMEOUT,
    ):
        """Send one DevTools command and return its result; events that arrive meanwhile go to ``self.events``."""
        self._next_id += 1
        message: dict = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._receive(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise DevToolsError(f"{method}: {reply['error'].get('message')}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def wait_for_event(self, method: str, session: str, timeout: float) -> dict:
        """Wait for an event of one session (one already received counts), keeping the others in ``self.events``."""
        deadline = time.monotonic() + timeout
        for event in self.events:
            if event["method"] == method and event.get("sessionId") == session:
                return event
        while True:
            event = self._receive(deadline)
            if "method" in event:
                self.events.append(event)
                if event["method"] == method and event.get("sessionId") == session:
                    return event

    def close(self) -> None:
        """Ask Chromium to quit, then make sure its whole process group is gone."""
        try:
            self.call("Browser.close", timeout=5)
        except (DevToolsError, OSError):
            pass
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        try:  # the renderers too: they share the session started for Chromium
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=10)
        for fd in (self._read, self._write):
            try:
                os.close(fd)
            except OSError:
                pass


# ---------------------------------------------------------------------------------------------------------------------
# One page in the browser


def javascript_errors(events: list[dict], session: str) -> list[str]:
    """The errors a page logged: uncaught exceptions, ``console.error`` calls and error log entries (failed loads).

    The browser's own request for ``/favicon.ico`` is not the page's, so its 404 does not count.
    """
    errors = []
    for event in events:
        if event.get("sessionId") != session:
            continue
        params = event.get("params", {})
        if event["method"] == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            description = details.get("exception", {}).get(
                "description"
            ) or details.get("text", "")
            errors.append(
                f"exception: {description.splitlines()[0] if description else details}"
            )
        elif (
            event["method"] == "Runtime.consoleAPICalled"
            and params.get("type") == "error"
        ):
            text = " ".join(
                str(arg.get("value", arg.get("description", "")))
                for arg in params.get("args", [])
            )
            errors.append(f"console.error: {text}")
        elif (
            event["method"] == "Log.entryAdded"
            and params.get("entry", {}).get("level") == "error"
        ):
            entry = params["entry"]
            if urlsplit(entry.get("url", "")).path == "/favicon.ico":
                continue  # the browser asks for a site icon on its own; the book declares none, and no reader sees it
            errors.append(
                f"log: {entry.get('text', '')} {entry.get('url', '')}".strip()
            )
    return errors


def open_tab(browser: Chromium) -> str:
    """Open a tab with a 1280-pixel-wide viewport and the domains we listen to; return its session id."""
    target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = browser.call(
        "Target.attachToTarget", {"targetId": target, "flatten": True}
    )["sessionId"]
    for domain in ("Page", "Runtime", "Log"):
        browser.call(f"{domain}.enable", session=session)
    metrics = {
        "width": VIEWPORT_WIDTH,
        "height": VIEWPORT_HEIGHT,
        "deviceScaleFactor": 1,
        "mobile": False,
    }
    browser.call("Emulation.setDeviceMetricsOverride", metrics, session=session)
    return session


def check_in_browser(
    browser: Chromium, session: str, url: str, screenshot: Path
) -> tuple[dict, list[str]]:
    """Load ``url``, let MathJax and the images finish, run the in-page check and save a screenshot."""
    browser.events.clear()
    navigation = browser.call("Page.navigate", {"url": url}, session=session)
    if navigation.get("errorText"):
        raise DevToolsError(f"navigation failed: {navigation['errorText']}")
    browser.wait_for_event("Page.loadEventFired", session, timeout=PAGE_TIMEOUT)
    evaluation = browser.call(
        "Runtime.evaluate",
        {
            "expression": PAGE_CHECK_JS,
            "awaitPromise": True,
            "returnByValue": True,
            "timeout": PAGE_TIMEOUT * 1000,
        },
        session=session,
        timeout=PAGE_TIMEOUT,
    )
    if "exceptionDetails" in evaluation:
        raise DevToolsError(
            f"the in-page check failed: {evaluation['exceptionDetails'].get('text')}"
        )
    report = evaluation["result"]["value"]
    screenshot.write_bytes(
        full_page_screenshot(browser, session, int(report["height"]))
    )
    return report, javascript_errors(browser.events, session)


def full_page_screenshot(browser: Chromium, session: str, height: int) -> bytes:
    """A PNG of the whole page (up to MAX_SCREENSHOT_HEIGHT), taken with the viewport stretched to the page's height.

    Stretching the viewport, rather than capturing beyond it, lays out the theme's sticky header and sidebars as a
    reader sees them; the viewport goes back to its normal size afterwards.
    """
    height = max(VIEWPORT_HEIGHT, min(height, MAX_SCREENSHOT_HEIGHT))
    metrics = {
        "width": VIEWPORT_WIDTH,
        "height": height,
        "deviceScaleFactor": 1,
        "mobile": False,
    }
    browser.call("Emulation.setDeviceMetricsOverride", metrics, session=session)
    settle = "new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(resolve, 200))))"
    browser.call(
        "Runtime.evaluate",
        {"expression": settle, "awaitPromise": True},
        session=session,
    )
    clip = {"x": 0, "y": 0, "width": VIEWPORT_WIDTH, "height": height, "scale": 1}
    shot = browser.call(
        "Page.captureScreenshot",
        {"format": "png", "clip": clip},
        session=session,
        timeout=PAGE_TIMEOUT,
    )
    browser.call(
        "Emulation.setDeviceMetricsOverride",
        dict(metrics, height=VIEWPORT_HEIGHT),
        session=session,
    )
    return base64.b64decode(shot["data"])


def page_problems(report: dict, errors: list[str], origin: str) -> list[str]:
    """Turn the in-page report and the logged errors into a list of problems (empty when the page is fine)."""
    problems = [f"raw TeX visible: {text!r}" for text in report["rawTex"]]
    problems += [f"TeX error in a formula: {text!r}" for text in report["texErrors"]]
    problems += [f"image did not load: {src}" for src in report["brokenImages"]]
    problems += [f"JavaScript error: {error}" for error in errors]
    problems += mathjax_problems(report["mathjaxScripts"], origin)
    if report["mathjax"] == "never started":
        problems.append("MathJax is on the page but never started")
    return problems


# ---------------------------------------------------------------------------------------------------------------------


def find_chromium() -> str:
    """The Chromium executable: ``$CHROMIUM``, else the first of chromium / chromium-browser / google-chrome on PATH."""
    candidates = [
        os.environ.get("CHROMIUM", ""),
        "chromium",
        "chromium-browser",
        "google-chrome",
    ]
    for name in candidates:
        if name and shutil.which(name):
            return str(shutil.which(name))
    raise SystemExit(
        "check-html: Chromium not found (apt-get install chromium, or set CHROMIUM=/path/to/it)"
    )


def main(argv: list[str] | None = None) -> int:
    """Check every page; print one line per page and a verdict; return 1 when any page has a problem."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "root", nargs="?", type=Path, default=DEFAULT_ROOT, help="the built HTML folder"
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=Path("_config.yml"),
        help="the book's _config.yml",
    )
    parser.add_argument(
        "--screenshots",
        type=Path,
        default=Path("_build/screenshots"),
        help="where PNGs go",
    )
    args = parser.parse_args(argv)

    root = args.root.resolve()
    if not (root / "index.html").is_file():
        raise SystemExit(
            f"check-html: no built book at {root} (run `make book-check` first)"
        )
    config_text = args.config.read_text()
    pages = book_pages(root)
    args.screenshots.mkdir(parents=True, exist_ok=True)
    for old in args.screenshots.glob("*.png"):
        old.unlink()

    links = LinkChecker(root)
    failures: dict[str, list[str]] = {}
    started = time.monotonic()
    server, origin = serve(root)
    with tempfile.TemporaryDirectory(prefix="check-html-") as workdir:
        browser = Chromium(find_chromium(), Path(workdir))
        try:
            browser.call(
                "Browser.getVersion", timeout=60
            )  # Chromium is up and speaking the protocol
            session = open_tab(browser)
            for page in pages:
                problems = links.broken(page)
                if page.startswith("chapters/"):
                    problems += links.chapter_buttons(
                        page, expected_colab_url(config_text, page)
                    )
                redirect = links.parsed(page).redirect
                if (
                    redirect is not None
                ):  # a meta-refresh stub: its target is checked as a link and as a page
                    print(
                        f"{'FAIL' if problems else 'ok  '} {page:<45} redirect -> {redirect}",
                        flush=True,
                    )
                    for problem in problems:
                        print(f"       - {problem}", flush=True)
                    if problems:
                        failures[page] = problems
                    continue
                shot = args.screenshots / screenshot_name(page)
                try:
                    report, errors = check_in_browser(
                        browser, session, f"{origin}/{page}", shot
                    )
                except DevToolsError as err:
                    report, errors = None, []
                    problems.append(f"browser: {err}")
                if report is not None:
                    problems += page_problems(report, errors, origin)
                    summary = (
                        f"math={report['mathjax']}({report['formulas']}) images={report['images']} "
                        f"links={len(links.parsed(page).links)} wide-formulas={len(report['wideFormulas'])}"
                    )
                else:
                    summary = "not checked in the browser"
                print(
                    f"{'FAIL' if problems else 'ok  '} {page:<45} {summary}", flush=True
                )
                for problem in problems:
                    print(f"       - {problem}", flush=True)
                for formula in report["wideFormulas"] if report else []:
                    print(
                        f"       note: a formula wider than the text column scrolls sideways: {formula}",
                        flush=True,
                    )
                if problems:
                    failures[page] = problems
        except DevToolsError as err:
            print(f"check-html: Chromium failed: {err}", file=sys.stderr)
            print(
                Path(browser.log_path).read_text(errors="replace")[-3000:],
                file=sys.stderr,
            )
            return 1
        finally:
            browser.close()
            server.shutdown()
            server.server_close()

    elapsed = time.monotonic() - started
    if failures:
        print(
            f"check-html: FAILED on {len(failures)} of {len(pages)} pages ({elapsed:.0f} s):",
            file=sys.stderr,
        )
        for page, problems in failures.items():
            print(
                f"  {page}: {problems[0]}"
                + (f" (+{len(problems) - 1} more)" if len(problems) > 1 else "")
            )
        return 1
    print(
        f"check-html: all {len(pages)} pages passed ({elapsed:.0f} s); screenshots in {args.screenshots}/"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
