"""The browser check: pages, buttons, what counts as an error, LinkChecker's report;
and, where Chromium is installed, a small site with each kind of problem opened."""

from __future__ import annotations

import os
import shutil
import zlib
from pathlib import Path

import pytest

import check_html

ROOT = Path(__file__).resolve().parents[1]
COLAB = "https://colab.research.google.com"
CONF = {"repository": {"url": "https://github.com/someone/some-book", "branch": "dev"}}
ORIGIN = "http://127.0.0.1:8000"


def write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A tiny built book: a landing page, two chapters, a notebook, an image, assets."""
    root = tmp_path / "html"
    write(root, "index.html", '<a href="chapters/a.html#sec-one">A</a>')
    write(root, "genindex.html", '<p>index</p><a href="index.html">home</a>')
    write(
        root,
        "chapters/a.html",
        '<h1 id="top">A</h1><section id="sec-one"><a name="old"></a></section>'
        '<a href="#sec-one">self</a><a href="#old">old</a><a href="b.html#eq-1">b</a>'
        '<a href="https://example.invalid/x.html#nope">out</a>'
        '<a href="mailto:someone@example.invalid">mail</a><img src="../_images/f.png">'
        f'<a href="{check_html.colab_url("a", check_html.config())}">Co</a>'
        '<a href="../_sources/chapters/a.ipynb" download>.ipynb</a>',
    )
    write(
        root,
        "chapters/b.html",
        '<div id="eq-1"></div><a href="a.html#missing">bad</a>'
        '<a href="c.html">gone</a><a href="#nowhere">self</a>',
    )
    write(root, "_sources/chapters/a.ipynb", "{}")
    (root / "_images").mkdir()
    (root / "_images/f.png").write_bytes(one_pixel_png())
    write(root, "_static/theme.html", "<p>asset</p>")
    write(root, "_sources/intro.html", "<p>source</p>")
    return root


def test_book_pages_leave_out_assets(site):
    assert check_html.book_pages(site) == [
        "chapters/a.html",
        "chapters/b.html",
        "genindex.html",
        "index.html",
    ]


def test_chapter_buttons_use_the_colab_address_of_tools_colab():
    links = [
        f"{COLAB}/github/someone/some-book/blob/dev/chapters/a.ipynb",
        f"{ORIGIN}/_sources/chapters/a.ipynb",
    ]
    assert check_html.chapter_buttons("chapters/a.html", links, ORIGIN, CONF) == []
    wrong = [links[0].replace("/blob/dev/", "/blob/main/"), links[1]]
    problems = check_html.chapter_buttons("chapters/a.html", wrong, ORIGIN, CONF)
    assert len(problems) == 1 and problems[0].startswith("no 'open in Colab' link")
    problems = check_html.chapter_buttons("chapters/b.html", links, ORIGIN, CONF)
    assert problems[1] == f"no download link to {ORIGIN}/_sources/chapters/b.ipynb"


REPORT = {
    "mathjax": "typeset",
    "rawTex": [],
    "texErrors": [],
    "brokenImages": [],
    "errors": [],
    "overflow": [],
    "formulas": 3,
    "images": 1,
    "links": [],
}


def test_page_problems_name_each_kind():
    wide = [
        {"kind": "output", "px": 42, "line": "loss 1.0"},
        {"kind": "formula", "px": 9, "line": "x=1"},
    ]
    report = dict(
        REPORT,
        rawTex=["where \\(x\\) is"],
        texErrors=["Undefined control sequence \\foo"],
        brokenImages=[f"{ORIGIN}/_images/a.png"],
        errors=["exception: boom"],
        overflow=wide,
    )
    problems, notes = check_html.page_problems(report)
    assert [p.split(":")[0] for p in problems] == [
        "raw TeX visible",
        "TeX error in a formula",
        "image did not load",
        "JavaScript error",
        "output 42 px wider than its column",
    ]
    assert notes == [
        "formula 9 px wider than its column (scrolls sideways): 'x=1'",
    ]
    assert check_html.page_problems(REPORT) == ([], [])
    never = dict(REPORT, mathjax="never started")
    assert check_html.page_problems(never)[0] != []


LINKCHECKER_CSV = f"""\
urlname;parentname;result;warningstring;valid
c.html;{ORIGIN}/chapters/b.html;404 File not found;;False
#nowhere;{ORIGIN}/chapters/b.html#eq-1;200 OK;"Anchor `nowhere' (decoded: `nowhere') \
not found. Available anchors: `eq-1'.";True
../x.css;{ORIGIN}/;200 OK;"Content size is zero.
Another warning";True
font.woff;{ORIGIN}/_static/theme.css;404 File not found;;False
"""


def test_link_problems_read_linkcheckers_report():
    assert check_html.link_problems(LINKCHECKER_CSV, ORIGIN) == {
        "chapters/b.html": [
            "link 'c.html': 404 File not found",
            "link '#nowhere': Anchor `nowhere' (decoded: `nowhere') not found.",
        ],
        "_static/theme.css": ["link 'font.woff': 404 File not found"],
    }
    assert check_html.link_problems("urlname;parentname;result\n", ORIGIN) == {}
    failed = check_html.link_problems("", ORIGIN, "No module named linkcheck\n")
    assert failed == {"(all)": ["LinkChecker failed: No module named linkcheck"]}


def test_linkchecker_fetches_no_external_link():
    rc = check_html.LINKCHECKER_RC.read_text()
    assert "checkextern" not in rc and "--check-extern" not in check_html.LINKCHECK
    assert "[AnchorCheck]" in rc and "-r 1" in " ".join(check_html.LINKCHECK)


def no_browser(url: str, shot: str) -> dict:
    raise AssertionError(f"{url} should not be opened in the browser")


def test_check_page_leaves_a_redirect_stub_to_linkchecker(site):
    write(site, "old.html", '<meta http-equiv="Refresh" content="0; url=gone.html" />')
    result = check_html.check_page("old.html", site, ORIGIN, CONF, no_browser)
    assert result == ([], [], "redirect -> gone.html")


def test_check_page_joins_the_browsers_report_and_the_buttons(site):
    report = dict(REPORT, rawTex=["a $x_1$ b"], errors=["x"])
    problems, _, summary = check_html.check_page(
        "chapters/b.html", site, ORIGIN, CONF, lambda url, shot: report
    )
    assert [problem.split(" ")[0] for problem in problems] == [
        "raw",
        "JavaScript",
        "no",  # Colab
        "no",  # .ipynb
    ]
    assert summary == "math=typeset(3) images=1 wide=0"


def test_check_page_reports_a_browser_failure(site):
    def fails(url: str, shot: str) -> dict:
        raise check_html.PlaywrightTimeout("Timeout 60000ms exceeded.\nmore")

    result = check_html.check_page("index.html", site, ORIGIN, CONF, fails)
    assert result == (["browser: Timeout 60000ms exceeded."], [], "not checked")


def one_pixel_png() -> bytes:
    """A valid 1x1 PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    header = (1).to_bytes(4, "big") * 2 + bytes([8, 2, 0, 0, 0])
    pixels = zlib.compress(bytes([0, 255, 0, 0]))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", pixels)
        + chunk(b"IEND", b"")
    )


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[16:24]
    return int.from_bytes(header[:4], "big"), int.from_bytes(header[4:], "big")


# A page laid out as the book's: an article column of 600 px, a code cell, outputs.
WIDE = "x" * 200
COLUMN = f"""<link rel="stylesheet" href="_static/columns.css">
<article style="width: 600px; font: 14px monospace">
<div class="cell"><div class="cell_input"><div class="highlight"><pre>{WIDE}</pre>
</div></div><div class="cell_output">
<div class="output stream"><pre>printed {WIDE}</pre></div>
<div class="output text_plain"><pre>result {WIDE}</pre></div>
<div class="output text_html"><table><tr><td><div style="width: 900px">t</div></td></tr>
</table></div></div></div>
<pre>narrow</pre><pre>block {WIDE}</pre></article>"""


@pytest.mark.skipif(
    not shutil.which(os.environ.get("CHROMIUM") or "chromium"),
    reason="no Chromium installed",
)
def test_main_in_chromium(site, tmp_path, monkeypatch, capsys):
    """The whole check on a tiny book in a real browser: each kind of problem found."""
    monkeypatch.setattr(check_html, "MATHJAX_START_MS", 300)
    tall = '<div style="height: 15000px">tall</div><p id="end">end</p>'
    write(site, "genindex.html", f"<p>index</p>{tall}")
    write(
        site,
        "bad.html",
        "<p>where \\(x\\) is raw</p><img src='_images/none.png'>"
        "<script>console.error('boom'); undefinedFunction();</script>"
        "<script src='http://127.0.0.1:9/mathjax/tex-chtml.js'></script>",
    )
    write(site, "wide.html", COLUMN)
    shutil.copytree(ROOT / "_static", site / "_static", dirs_exist_ok=True)
    shots = tmp_path / "shots"
    args = [str(site), "--screenshots", str(shots)]
    assert check_html.main(args) == 1
    out = capsys.readouterr().out
    assert "LinkChecker failed" not in out, out  # pip install linkchecker
    assert "ok   chapters/a.html" in out and "ok   genindex.html" in out
    bad = out.split("FAIL bad.html", 1)[1].split("\nok", 1)[0]
    for expected in (
        "raw TeX visible: 'where \\\\(x\\\\) is raw'",
        "image did not load: file://",
        "JavaScript error: exception: ReferenceError: undefinedFunction",
        "JavaScript error: console.error: boom",
        "ERR_INTERNET_DISCONNECTED http://127.0.0.1:9/mathjax",  # offline
        "MathJax is on the page but never started",
    ):
        assert expected in bad, expected
    wide = out.split("FAIL wide.html", 1)[1].split("\nok", 1)[0].split("\nFAIL")[0]
    assert "wide=4" in wide and "printed" not in wide  # it wraps (columns.css)
    for kind, first in [
        ("code cell", "x" * 70),
        ("output", "result " + "x" * 63),
        ("table", "t"),
        ("code block", "block " + "x" * 64),
    ]:
        assert f"- {kind} " in wide and f"wider than its column: {first!r}" in wide
    links = out.split("FAIL chapters/b.html (LinkChecker)", 1)[1]
    assert "link 'a.html#missing': Anchor `missing'" in links
    assert "link '#nowhere': Anchor `nowhere'" in links
    assert "link 'c.html': URLError" in links and "No such file" in links
    bad_links = out.split("FAIL bad.html (LinkChecker)")[1]
    assert "link '_images/none.png': URLError" in bad_links
    assert "FAILED on 3 of 6 pages" in out  # bad, wide, chapters/b
    assert png_size(shots / "genindex.png")[1] > 15000  # the whole page
    assert sorted(p.name for p in shots.iterdir()) == [
        "bad.png",
        "chapters__a.png",
        "chapters__b.png",
        "genindex.png",
        "index.png",
        "wide.png",
    ]
