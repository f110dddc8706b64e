"""Colab copies of the chapters: their MyST (which Colab shows raw) made Markdown.

myst-parser's own parser, set as in ``_config.yml``, finds the MyST, replaced in place.
``python tools/colab.py [--out DIR]`` writes the copies (default ``_build/colab``).
"""

import argparse
import functools
import itertools
import re
import subprocess
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from docutils.parsers.rst.directives.body import Container
from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from myst_nb.core.variables import format_plain_text
from myst_nb.ext.glue import extract_glue_data_cell
from myst_parser.config.main import MdParserConfig
from myst_parser.parsers.directives import parse_directive_text
from myst_parser.parsers.mdit import create_md_parser
from pybtex.backends.markdown import Backend as MarkdownBackend
from pybtex.database import BibliographyData, parse_file
from pybtex.plugin import find_plugin
from sphinx.util.nodes import split_explicit_title

from book import COLAB, ROOT, chapters, colab_url, config, cost_sentence, record_of

PLACEHOLDER = "(computed when you run the notebook)"
BADGE_IMAGE = f"{COLAB}/assets/colab-badge.svg"
LOCAL_BADGE = "../_static/open-in-colab.svg"  # the HTML book loads nothing remote
ADMONITIONS = {"admonition", "note", "tip", "important", "warning", "dropdown"}
COST = (  # a cell under the title: what running the chapter costs, and the switch
    "> **What it costs.** {cost}. For the short schedule (about a minute, rough "
    "numbers), set `SHORT_RUN = True` in the first code cell. The full schedule "
    "needs a GPU runtime (Runtime → Change runtime type)."
)
TEX_COMMAND = re.compile(r"\\(?:[A-Za-z]+|.)")  # TeX's control words and symbols


def badge(name: str, image: str = LOCAL_BADGE) -> str:
    """The "Open in Colab" badge of chapter ``name``, in Markdown."""
    return f"[![Open in Colab]({image})]({colab_url(name)})"


def spanned(rule: Callable, state, silent: bool) -> bool:
    """Run an inline rule; its token records where it lies in the inline text."""
    start, found = state.pos, rule(state, silent)
    if found and not silent:
        state.tokens[-1].meta["span"] = range(start, state.pos)
    return found


@functools.cache
def parser() -> MarkdownIt:
    """myst-parser's Markdown parser, configured as ``_config.yml``'s ``parse``."""
    options = config().get("parse", {}).items()
    myst = {k.removeprefix("myst_"): v for k, v in options if k.startswith("myst_")}
    md = create_md_parser(MdParserConfig(**myst), RendererHTML)
    rules = md.inline.ruler  # markdown-it keeps no source positions of inline tokens
    for name in ("myst_role", "math_inline"):
        rule = rules.__rules__[rules.__find__(name)].fn
        rules.at(name, functools.partial(spanned, rule))
    return md


def directive(token: Token) -> tuple[str, str, dict, str] | None:
    """A fence's directive as (name, argument, options, body); None if none."""
    if token.type not in ("fence", "colon_fence") or not token.info.startswith("{"):
        return None
    name, _, line = token.info.strip()[1:].partition("}")
    # Read as docutils' container reads: an argument line, options (as YAML), content.
    found = parse_directive_text(Container, line, token.content, validate_options=False)
    return name, " ".join(found.arguments), found.options, "\n".join(found.body)


def walk(text: str) -> Iterator[Token]:
    """The tokens of MyST text, with those of a directive's body after its fence."""
    for token in parser().parse(text):
        yield token
        if parts := directive(token):
            yield from walk(parts[3])


@dataclass
class Book:
    """What references across chapters need: titles, numbers, equation numbers."""

    titles: dict[str, str] = field(default_factory=dict)
    numbers: dict[str, int | None] = field(default_factory=dict)
    equations: dict[str, str] = field(default_factory=dict)

    @classmethod
    def read(cls, root: Path = ROOT) -> "Book":
        """Chapters in the order of ``_toc.yml``; numbering as jupyter-book's."""
        book, count = cls(), 0
        for part in config(root / "_toc.yml")["parts"]:
            for chapter in part["chapters"]:
                path = root / f"{chapter['file']}.ipynb"
                if path.exists():
                    count += bool(part.get("numbered"))
                    book.add(path, count if part.get("numbered") else None)
        return book

    def add(self, path: Path, number: int | None) -> None:
        """One chapter: its title (first heading), number, labelled equations."""
        cells = nbformat.read(path, as_version=4).cells
        tokens = [t for c in cells if c.cell_type == "markdown" for t in walk(c.source)]
        self.numbers[path.stem] = number
        pairs = itertools.pairwise(tokens)
        h1 = (b.content for a, b in pairs if a.type == "heading_open" and a.tag == "h1")
        self.titles[path.stem] = next(h1, path.stem)
        labels = [t.info for t in tokens if t.type == "math_block_label"]  # $$ (label)
        for index, label in enumerate(labels, start=1):
            self.equations[label] = f"{number}.{index}" if number else str(index)


def stored_glue(notebook: nbformat.NotebookNode) -> dict[str, dict]:
    """``{name: mime bundle}`` of the values glued in the stored outputs; as in the
    HTML book, the hidden ones (``display=False``) are taken out of the outputs."""
    cells = [c for c in notebook.cells if c.cell_type == "code"]
    return {k: o["data"] for c in cells for k, o in extract_glue_data_cell(c)}


@functools.cache
def chapter_glue(name: str) -> dict[str, dict]:
    """The values chapter ``name`` (``04_vae_mnist.ipynb``) glued in its stored
    outputs, for a page that quotes them as ``{glue:text}`name::key:spec```."""
    return stored_glue(nbformat.read(ROOT / "chapters" / name, as_version=4))


def glue_block(bundle: dict | None, name: str) -> str:
    """A glued object (a table, a figure) as Markdown or HTML, or a placeholder."""
    if bundle is None:
        return f"*A table or figure {PLACEHOLDER}: see the cell that glues `{name}`.*"
    for mime in ("text/markdown", "text/html", "text/latex", "image/png", "image/jpeg"):
        data = "".join(bundle.get(mime, ""))
        if data and mime.startswith("image/"):
            data = data.replace("\n", "")
            return f'<img src="data:{mime};base64,{data}" alt="{name}">'
        if data:
            return data
    return "```\n" + "".join(bundle.get("text/plain", "")) + "\n```"


@dataclass
class Converter:
    """Turns one chapter's MyST Markdown into plain Markdown for Colab."""

    book: Book
    bibliography: BibliographyData
    glue: dict[str, dict]
    conf: dict
    cited: list[str] = field(default_factory=list)

    def markdown(self, text: str) -> str:
        """``text`` with its MyST replaced by Markdown, the rest as written."""
        lines = text.split("\n")
        starts = [0, *itertools.accumulate(len(line) + 1 for line in lines)]
        edits, at = [], 0
        for token in parser().parse(text):
            if token.type == "inline":
                # Its text is its source lines less their block prefixes (indentation,
                # "> ", list markers): find each line, in order, in the source.
                where, at = [], max(at, starts[token.map[0]] if token.map else 0)
                for line in token.content.split("\n"):  # each character's offset
                    at = text.index(line, at)
                    where += range(at, at + len(line) + 1)
                    at += len(line)
                for child in (c for c in token.children if "span" in c.meta):
                    span = child.meta["span"]  # where it lies in the inline text
                    start, end = where[span[0]], where[span[-1]] + 1
                    edits.append((start, end, self.inline(child, text[start:end])))
            elif token.map:
                # amsmath's map ends on its last line, the others' after it
                first, last = token.map[0], token.map[1] + (token.type == "amsmath")
                new = self.block(token, "\n".join(lines[first:last]))
                if new is not None:
                    indent = re.match(r"\s*", lines[first])[0]
                    end = starts[last] - bool(new)  # a deleted block takes its newline
                    edits.append((starts[first], end, textwrap.indent(new, indent)))
        for start, end, new in sorted(edits, reverse=True):
            text = text[:start] + new + text[end:]
        return text.replace(LOCAL_BADGE, BADGE_IMAGE)

    def inline(self, token: Token, source: str) -> str:
        """A role, or inline math with the macros spelled out."""
        if token.type != "myst_role":  # $math$ or $$math$$
            return self.tex(source)
        name, content = token.meta["name"], token.content
        if name.startswith("cite"):
            return self.cite(content, textual=name in ("cite:t", "cite:ts", "cite:ct"))
        if name == "eq":
            return f"({self.book.equations.get(content.strip(), '?')})"
        if name.startswith("glue"):  # as myst-nb formats {glue:text}
            doc, _, content = content.rpartition("::")  # doc::key: another's
            key, _, spec = content.partition(":")
            glue = chapter_glue(doc) if doc else self.glue
            text = "".join(glue.get(key, {}).get("text/plain", ""))
            return format_plain_text(text, spec) if text else PLACEHOLDER
        if name == "math":
            return f"${self.tex(content)}$"
        explicit, title, target = split_explicit_title(content)
        stem = Path(target.strip()).name.removesuffix(".ipynb")
        if name == "doc" and stem in self.book.titles:
            title = title if explicit else self.book.titles[stem]
            return f"[{title}]({colab_url(stem, self.conf)})"
        return title  # any other role ({ref}, {numref}, {term}): its text

    def block(self, token: Token, source: str) -> str | None:
        """A block token's source lines as Markdown; None to keep them."""
        if token.type in ("myst_target", "myst_line_comment", "myst_block_break"):
            return ""
        if token.type == "math_block_label":  # $$ ... $$ (label)
            number = self.book.equations.get(token.info, "?")
            return self.tex(source[: source.rindex("$$")]) + f"\\tag{{{number}}} $$"
        if token.type in ("math_block", "amsmath"):
            return self.tex(source)
        return self.directive(*parts) if (parts := directive(token)) else None

    def directive(self, name: str, argument: str, options: dict, body: str) -> str:
        """One MyST directive as Markdown."""
        body = self.markdown(body)
        if name in ADMONITIONS:
            title = argument or name.capitalize()
            if name == "dropdown" or "dropdown" in options.get("class", "").split():
                return f"<details>\n<summary>{title}</summary>\n\n{body}\n\n</details>"
            quoted = "\n".join(f"> {line}".rstrip() for line in body.splitlines())
            return f"> **{title}**\n>\n{quoted}"
        if name.startswith("glue"):  # its body: a glue:figure's caption
            return f"{glue_block(self.glue.get(argument), argument)}\n\n{body}".strip()
        if body:  # kept as it is, it would read as text on Colab
            raise ValueError(f"tools/colab.py: no Markdown for a {name} directive yet")
        return "*(Built with the HTML book: see this page there.)*"  # computed there

    def cite(self, keys: str, textual: bool) -> str:
        """Author-year citations, as sphinxcontrib-bibtex's author_year style."""
        parts = []
        for key in (k.strip() for k in keys.split(",")):
            self.cited += [] if key in self.cited else [key]
            entry, people = self.bibliography.entries[key], []
            for person in entry.persons["author"]:
                names = person.rich_prelast_names + person.rich_last_names
                people.append(" ".join(map(str, names)))
            names = f"{people[0]} et al." if len(people) > 2 else " and ".join(people)
            year = entry.fields["year"]
            parts.append(f"{names} ({year})" if textual else f"{names}, {year}")
        return ", ".join(parts) if textual else "(" + "; ".join(parts) + ")"

    def tex(self, tex: str) -> str:
        """TeX with the book's MathJax macros spelled out (Colab has not got them)."""
        macros = self.conf["sphinx"]["config"]["mathjax3_config"]["tex"]["macros"]
        return TEX_COMMAND.sub(lambda m: macros.get(m[0][1:], m[0]), tex)

    def references(self) -> str:
        """The cited entries, formatted and sorted by the HTML book's pybtex style."""
        name = self.conf["sphinx"]["config"].get("bibtex_default_style", "alpha")
        style = find_plugin("pybtex.style.formatting", name)()
        entries = style.format_bibliography(self.bibliography, self.cited)
        items = [e.text.render(MarkdownBackend()).replace("\n", " ") for e in entries]
        return "## References\n\n" + "\n".join(f"- {item}" for item in items)


def write_copies(out: Path, commit: str) -> list[Path]:
    """Write every chapter's Colab copy under ``out``; return their paths."""
    conf, book, bib = config(), Book.read(), parse_file(ROOT / "references.bib")
    folder = out / conf["repository"].get("path_to_book", "").strip("/") / "chapters"
    folder.mkdir(parents=True, exist_ok=True)  # where colab_url points
    pyproject = (ROOT / "pyproject.toml").read_text()
    release = "@v" + re.search(r'^version = "(.+)"$', pyproject, re.M)[1] + '"'
    for path in chapters():
        notebook = nbformat.read(path, as_version=4)
        converter = Converter(book, bib, stored_glue(notebook), conf)
        for cell in notebook.cells:
            if cell.cell_type == "markdown":
                cell.source = converter.markdown(cell.source)
            elif cell.cell_type == "code":  # the setup cell: the helpers at this commit
                cell.source = cell.source.replace(release, f'@{commit}"')
        if converter.cited:
            notebook.cells.append(nbformat.v4.new_markdown_cell(converter.references()))
        cost = cost_sentence(record_of(notebook))
        note = COST.format(cost=cost[0].upper() + cost[1:])
        notebook.cells.insert(1, nbformat.v4.new_markdown_cell(note))
        notebook.metadata.setdefault("colab", {})["provenance"] = []
        notebook.metadata.setdefault("accelerator", "GPU")
        nbformat.write(notebook, folder / path.name)
    source = f"{conf['repository']['url']} at {commit}"
    (out / "README.md").write_text(f"Made by `make colab` from {source}: edit there.\n")
    return [folder / path.name for path in chapters()]


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--out", type=Path, default=ROOT / "_build" / "colab")
    args = cli.parse_args()
    head = ["git", "rev-parse", "HEAD"]
    commit = subprocess.check_output(head, cwd=ROOT, text=True).strip()
    print(f"colab: {len(write_copies(args.out, commit))} Colab copies in {args.out}")


if __name__ == "__main__":
    main()
