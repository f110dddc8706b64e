"""The browser check: pages, links and fragments, the Colab URL, where MathJax comes
from, which logged messages are errors; and, where Chromium is installed, one small
site opened in it."""

from __future__ import annotations

import os
import shutil
import sys
import zlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import check_html  # noqa: E402

COLAB = "https://colab.research.google.com"

CONFIG = """\
# comment
title: A book
repository:
  # The one place that names the repository
  url: https://github.com/someone/some-book  # trailing comment
  path_to_book: ""
  branch: dev
launch_buttons:
  colab_url: "https://colab.research.google.com"
html:
  url: https://not-this-one.example
"""


def write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A tiny built book: a landing page, two chapters, a notebook, an image, assets."""
    write(
        tmp_path,
        "index.html",
        '<a href="chapters/a.html#sec-one">A</a><a href="genindex.html">index</a>',
    )
    write(tmp_path, "genindex.html", "<p>index</p>")
    write(
        tmp_path,
        "chapters/a.html",
        '<h1 id="top">A</h1>'
        '<section id="sec-one"><a name="old-anchor"></a></section>'
        '<a href="#sec-one">self</a><a href="#old-anchor">old</a>'
        '<a href="b.html#eq-1">b</a><a href="../index.html">home</a>'
        '<a href="https://example.org/x.html#nope">out</a>'
        '<a href="mailto:someone@example.org">mail</a><img src="../_images/fig.png">'
        f'<a href="{COLAB}/github/someone/some-book/blob/dev/chapters/a.ipynb">Co</a>'
        '<a href="../_sources/chapters/a.ipynb" download>.ipynb</a>',
    )
    write(
        tmp_path,
        "chapters/b.html",
        '<div id="eq-1"></div><a href="a.html#missing">bad</a>'
        '<a href="c.html">gone</a>',
    )
    write(tmp_path, "_sources/chapters/a.ipynb", "{}")
    write(tmp_path, "_images/fig.png", "png")
    write(tmp_path, "_static/theme.html", "<p>asset</p>")
    write(tmp_path, "_sources/intro.html", "<p>source</p>")
    return tmp_path


def test_book_pages_leave_out_assets(site):
    assert check_html.book_pages(site) == [
        "chapters/a.html",
        "chapters/b.html",
        "genindex.html",
        "index.html",
    ]


def test_screenshot_names_flatten_folders():
    assert (
        check_html.screenshot_name("chapters/02_elbo.html") == "chapters__02_elbo.png"
    )
    assert check_html.screenshot_name("index.html") == "index.png"


@pytest.mark.parametrize(
    ("page", "href", "expected"),
    [
        ("chapters/a.html", "b.html#eq-1", ("chapters/b.html", "eq-1")),
        ("chapters/a.html", "#sec-one", ("chapters/a.html", "sec-one")),
        ("chapters/a.html", "../index.html", ("index.html", "")),
        ("chapters/a.html", "./../_images/x%20y.png", ("_images/x y.png", "")),
        ("chapters/a.html", "../", ("index.html", "")),
        ("chapters/a.html", "sub/", ("chapters/sub/index.html", "")),
        ("index.html", "/chapters/a.html?x=1#f%C3%A9", ("chapters/a.html", "fé")),
        ("index.html", "../outside.html", ("../outside.html", "")),
        ("index.html", "https://colab.research.google.com/github/x", None),
        ("index.html", "//cdn.example.org/mathjax.js", None),
        ("index.html", "mailto:a@b.c", None),
        ("index.html", "javascript:void(0)", None),
    ],
)
def test_resolve_link(page, href, expected):
    assert check_html.resolve_link(page, href) == expected


def test_parse_page_collects_ids_links_and_sources():
    parsed = check_html.parse_page(
        '<div id="x"><a name="y" href="p.html">p</a><img src="i.png">'
        '<script src="s.js"></script><link rel="stylesheet" href="c.css">'
        "<a>no href</a></div>"
    )
    assert parsed.ids == {"x", "y"}
    assert parsed.links == ["p.html"]
    assert parsed.sources == ["i.png", "s.js", "c.css"]


def test_link_checker_finds_missing_files_and_fragments(site):
    links = check_html.LinkChecker(site)
    assert links.broken("chapters/a.html") == []
    assert links.broken("index.html") == []
    assert links.broken("chapters/b.html") == [
        "link 'a.html#missing' -> no id 'missing' in chapters/a.html",
        "link 'c.html' -> missing file chapters/c.html",
    ]


def test_link_checker_reports_a_missing_image(site):
    (site / "_images/fig.png").unlink()
    assert links_problems(site, "chapters/a.html") == [
        "link '../_images/fig.png' -> missing file _images/fig.png"
    ]


def links_problems(site: Path, page: str) -> list[str]:
    return check_html.LinkChecker(site).broken(page)


def test_read_config_section_reads_only_its_section():
    repository = check_html.read_config_section(CONFIG, "repository")
    assert repository == {
        "url": "https://github.com/someone/some-book",
        "path_to_book": "",
        "branch": "dev",
    }
    assert check_html.read_config_section(CONFIG, "launch_buttons") == {
        "colab_url": "https://colab.research.google.com"
    }
    assert check_html.read_config_section(CONFIG, "missing") == {}


def test_expected_colab_url():
    url = check_html.expected_colab_url(CONFIG, "chapters/02_elbo.html")
    assert url == f"{COLAB}/github/someone/some-book/blob/dev/chapters/02_elbo.ipynb"


def test_expected_colab_url_with_the_book_in_a_subfolder():
    config = CONFIG.replace('path_to_book: ""', "path_to_book: book/").replace(
        "some-book  #", "some-book.git  #"
    )
    url = check_html.expected_colab_url(config, "chapters/x.html")
    assert url == f"{COLAB}/github/someone/some-book/blob/dev/book/chapters/x.ipynb"


def test_expected_colab_url_of_this_book():
    url = check_html.expected_colab_url(
        (ROOT / "_config.yml").read_text(), "chapters/04_vae_mnist.html"
    )
    assert url.startswith("https://colab.research.google.com/github/")
    assert url.endswith("/blob/colab/chapters/04_vae_mnist.ipynb")
    assert (ROOT / "chapters/04_vae_mnist.ipynb").is_file()


def test_chapter_buttons(site):
    links = check_html.LinkChecker(site)
    colab = check_html.expected_colab_url(CONFIG, "chapters/a.html")
    assert links.chapter_buttons("chapters/a.html", colab) == []
    wrong_branch = colab.replace("/blob/dev/", "/blob/main/")
    assert (
        "no 'open in Colab' link"
        in links.chapter_buttons("chapters/a.html", wrong_branch)[0]
    )
    problems = links.chapter_buttons(
        "chapters/b.html", check_html.expected_colab_url(CONFIG, "chapters/b.html")
    )
    assert (
        len(problems) == 2
        and problems[1] == "no download link to _sources/chapters/b.ipynb"
    )


def test_chapter_buttons_need_the_notebook_in_the_build(site):
    (site / "_sources/chapters/a.ipynb").unlink()
    colab = check_html.expected_colab_url(CONFIG, "chapters/a.html")
    problems = check_html.LinkChecker(site).chapter_buttons("chapters/a.html", colab)
    assert problems == [
        "download link to _sources/chapters/a.ipynb, which is not in the build"
    ]


def test_mathjax_must_come_from_static():
    origin = "http://127.0.0.1:8000"
    assert (
        check_html.mathjax_problems([f"{origin}/_static/mathjax/tex-chtml.js"], origin)
        == []
    )
    cdn = "https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"
    assert check_html.mathjax_problems([cdn], origin) == [
        f"MathJax is not loaded offline from _static: {cdn}"
    ]
    assert check_html.mathjax_problems([f"{origin}/mathjax.js"], origin) != []


def test_javascript_errors_are_exceptions_and_console_errors():
    logged = [
        check_html.Logged("exception", "TypeError: x is undefined\n  at f"),
        check_html.Logged("error", "boom", "http://h/_static/a.js"),
        check_html.Logged("log", "fine"),
        check_html.Logged("error", "Failed to load resource: 404", "http://h/x.js"),
        check_html.Logged("warning", "meh"),
    ]
    assert check_html.javascript_errors(logged) == [
        "exception: TypeError: x is undefined",
        "console.error: boom http://h/_static/a.js",
        "console.error: Failed to load resource: 404 http://h/x.js",
    ]


def test_page_problems_name_each_kind():
    report = {
        "mathjax": "typeset",
        "mathjaxScripts": ["http://127.0.0.1:1/_static/mathjax/tex-chtml.js"],
        "rawTex": ["where \\(x\\) is"],
        "texErrors": ["Undefined control sequence \\foo"],
        "brokenImages": ["http://127.0.0.1:1/_images/a.png"],
    }
    problems = check_html.page_problems(
        report, ["exception: boom"], "http://127.0.0.1:1"
    )
    assert [p.split(":")[0] for p in problems] == [
        "raw TeX visible",
        "TeX error in a formula",
        "image did not load",
        "JavaScript error",
    ]
    clean = dict(report, rawTex=[], texErrors=[], brokenImages=[])
    assert check_html.page_problems(clean, [], "http://127.0.0.1:1") == []
    assert (
        check_html.page_problems(
            dict(clean, mathjax="never started"), [], "http://127.0.0.1:1"
        )
        != []
    )


def test_a_redirect_stub_is_recognised_and_its_target_checked(site):
    write(
        site, "old.html", '<meta http-equiv="Refresh" content="0; URL=\'gone.html\'" />'
    )
    links = check_html.LinkChecker(site)
    assert links.parsed("old.html").redirect == "gone.html"
    assert links.broken("old.html") == ["link 'gone.html' -> missing file gone.html"]
    assert links.parsed("index.html").redirect is None


def test_the_browsers_own_favicon_request_is_not_an_error():
    text = "Failed to load resource: 404"
    favicon = check_html.Logged("error", text, "http://127.0.0.1:1/favicon.ico")
    assert check_html.javascript_errors([favicon]) == []
    theirs = check_html.Logged("error", text, "http://127.0.0.1:1/_static/favicon.ico")
    assert check_html.javascript_errors([theirs]) != []


def no_browser(page: str) -> tuple[dict, list[str]]:
    raise AssertionError(f"{page} should not be opened in the browser")


def test_check_page_of_a_redirect_stub_checks_only_its_target(site):
    write(site, "old.html", '<meta http-equiv="refresh" content="0; url=gone.html">')
    links = check_html.LinkChecker(site)
    problems, summary, notes = check_html.check_page(
        "old.html", links, CONFIG, no_browser, "http://o"
    )
    assert problems == ["link 'gone.html' -> missing file gone.html"]
    assert summary == "redirect -> gone.html" and notes == []


def test_check_page_joins_links_buttons_and_the_browsers_report(site):
    report = {
        "mathjax": "typeset",
        "mathjaxScripts": ["http://o/_static/mathjax/tex-chtml.js"],
        "formulas": 3,
        "wideFormulas": ["x = 1 + 2"],
        "rawTex": ["a $x_1$ b"],
        "texErrors": [],
        "images": 1,
        "brokenImages": [],
    }
    links = check_html.LinkChecker(site)
    problems, summary, notes = check_html.check_page(
        "chapters/b.html", links, CONFIG, lambda page: (report, ["x"]), "http://o"
    )
    kinds = ["link", "link", "no", "no", "raw", "JavaScript"]  # 2 links, 2 buttons
    assert [problem.split(" ")[0] for problem in problems] == kinds
    assert summary.startswith("math=typeset(3) images=1 links=2 wide-formulas=1")
    assert notes == ["a formula wider than the text column scrolls sideways: x = 1 + 2"]


def test_check_page_reports_a_browser_failure(site):
    def fails(page: str) -> tuple[dict, list[str]]:
        raise check_html.PlaywrightTimeout("Timeout 60000ms exceeded.\nmore")

    problems, summary, _ = check_html.check_page(
        "index.html", check_html.LinkChecker(site), CONFIG, fails, "http://o"
    )
    assert problems == ["browser: Timeout 60000ms exceeded."]
    assert summary == "not checked in the browser"


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


@pytest.mark.skipif(
    not any(map(shutil.which, ("chromium", "chromium-browser", "google-chrome")))
    and not os.environ.get("CHROMIUM"),
    reason="no Chromium installed",
)
def test_main_in_chromium(site, tmp_path, monkeypatch, capsys):
    """The whole check on a tiny book in a real browser: each kind of problem found."""
    monkeypatch.setattr(check_html, "MATHJAX_START_MS", 300)
    (site / "_images/fig.png").write_bytes(one_pixel_png())
    tall = '<div style="height: 15000px">tall</div><p id="end">end</p>'
    write(site, "genindex.html", f"<p>index</p>{tall}")
    write(
        site,
        "bad.html",
        "<p>where \\(x\\) is raw</p><img src='_images/none.png'>"
        "<script>console.error('boom'); undefinedFunction();</script>"
        "<script src='http://127.0.0.1:9/mathjax/tex-chtml.js'></script>",
    )
    config = tmp_path / "_config.yml"
    config.write_text(CONFIG)
    shots = tmp_path / "shots"
    assert (
        check_html.main(
            [str(site), "--config", str(config), "--screenshots", str(shots)]
        )
        == 1
    )
    out = capsys.readouterr().out
    assert "ok   chapters/a.html" in out and "ok   genindex.html" in out
    bad = out.split("FAIL bad.html", 1)[1].split("\n", 1)[1].split("\nok", 1)[0]
    for expected in (
        "link '_images/none.png' -> missing file _images/none.png",
        "raw TeX visible: 'where \\\\(x\\\\) is raw'",
        "image did not load: http://127.0.0.1:",
        "JavaScript error: exception: ReferenceError: undefinedFunction",
        "JavaScript error: console.error: boom",
        "MathJax is not loaded offline from _static: http://127.0.0.1:9/mathjax",
        "MathJax is on the page but never started",
    ):
        assert expected in bad, expected
    assert "FAIL chapters/b.html" in out
    assert png_size(shots / "genindex.png")[1] > 15000  # the whole page, not 10 000 px
    assert sorted(p.name for p in shots.iterdir()) == [
        "bad.png",
        "chapters__a.png",
        "chapters__b.png",
        "genindex.png",
        "index.png",
    ]
