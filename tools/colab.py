"""Colab copies of the chapters: the notebooks with their MyST turned into Markdown.

The book's notebooks are written for jupyter-book, whose MyST roles and directives
Colab shows raw. ``make colab`` writes a copy of each chapter to ``_build/colab/``
in which

- glue roles and directives hold the values stored in the notebook's outputs (or a
  placeholder where it has none);
- citations read as author-year text, with the references listed at the end;
- equation references carry the numbers the HTML book gives them (each numbered
  equation is tagged with it), and chapter references the chapter's title, linked
  to its Colab copy; the book's MathJax macros are spelled out;
- exercise solutions fold into an HTML ``<details>`` block, other admonitions become
  quotes;
- the setup cell installs the helpers at the commit the copy was made from.

``make publish`` pushes the copies to the branch that ``_config.yml``'s
``repository.branch`` names, which the launch buttons and badges open.

    python tools/colab.py [--out _build/colab] [--commit SHA]
    python tools/colab.py badges   # (re)write every chapter's and the README's badge
"""

from __future__ import annotations

import argparse
import ast
import copy
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import yaml

import records as provenance

ROOT = Path(__file__).resolve().parents[1]
PLACEHOLDER = "(computed when you run the notebook)"
BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
LOCAL_BADGE = "../_static/open-in-colab.svg"  # the HTML book loads nothing remote

ROLE = re.compile(r"\{([a-zA-Z][\w:-]*)\}`([^`]*)`")
FENCE = re.compile(
    r"^(?P<indent> *)(?P<fence>`{3,}|:{3,})\{(?P<name>[^}]+)\}(?P<arg>.*)$"
)
EQ_LABEL = re.compile(r"\$\$[ \t]*\((?P<label>[^)\s]+)\)")


def config() -> dict:
    """The book's ``_config.yml``."""
    return yaml.safe_load((ROOT / "_config.yml").read_text())


def colab_url(name: str, conf: dict | None = None) -> str:
    """The Colab address of chapter ``name``'s copy (``04_vae_mnist``).

    Example:
        >>> colab_url("04_vae_mnist", {"repository": {"url":
        ...     "https://github.com/o/r", "branch": "colab"}})
        'https://colab.research.google.com/github/o/r/blob/colab/chapters/04_vae_mnist.ipynb'
    """
    conf = config() if conf is None else conf
    repository = conf["repository"]
    base = conf.get("launch_buttons", {}).get(
        "colab_url", "https://colab.research.google.com"
    )
    owner_repo = repository["url"].rstrip("/").removeprefix("https://github.com/")
    branch = repository.get("branch", "main")
    return f"{base.rstrip('/')}/github/{owner_repo}/blob/{branch}/chapters/{name}.ipynb"


def badge(name: str, image: str = LOCAL_BADGE, conf: dict | None = None) -> str:
    """The "Open in Colab" badge of chapter ``name``, in Markdown."""
    return f"[![Open in Colab]({image})]({colab_url(name, conf)})"


# --- the book's structure: chapter titles, numbers, equation numbers ---------------


@dataclass
class Book:
    """What references across chapters need: titles, numbers, equation numbers."""

    titles: dict[str, str] = field(default_factory=dict)
    numbers: dict[str, int | None] = field(default_factory=dict)
    equations: dict[str, str] = field(default_factory=dict)

    @classmethod
    def read(cls, root: Path = ROOT) -> Book:
        """Chapters in the order of ``_toc.yml``; numbering as jupyter-book's."""
        book = cls()
        toc = yaml.safe_load((root / "_toc.yml").read_text())
        count = 0
        for part in toc["parts"]:
            for chapter in part["chapters"]:
                path = root / f"{chapter['file']}.ipynb"
                if not path.exists():
                    continue
                if part.get("numbered"):
                    count += 1
                book.add(path, count if part.get("numbered") else None)
        return book

    def add(self, path: Path, number: int | None) -> None:
        """Record one chapter: its title, number and the numbers of its equations."""
        notebook = nbformat.read(path, as_version=4)
        self.numbers[path.stem] = number
        text = "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
        heading = re.search(r"^# (.+)$", text, re.M)
        self.titles[path.stem] = heading.group(1).strip() if heading else path.stem
        for index, match in enumerate(EQ_LABEL.finditer(text), start=1):
            prefix = f"{number}." if number is not None else ""
            self.equations[match.group("label")] = f"{prefix}{index}"


# --- the bibliography ----------------------------------------------------------


def _plain(latex: str) -> str:
    """BibTeX text without its braces and accents' TeX."""
    from pybtex.richtext import Text

    return str(Text.from_latex(latex)).replace("{", "").replace("}", "")


@dataclass
class Reference:
    """One bibliography entry, as author-year citation and as a list item."""

    authors: list[tuple[str, str]]  # (last name, initials)
    year: str
    title: str
    venue: str
    url: str

    def cite_names(self) -> str:
        """``Kingma and Welling`` or ``Rezende et al.``."""
        last = [name for name, _ in self.authors]
        if len(last) > 2:
            return f"{last[0]} et al."
        return " and ".join(last)

    def entry(self) -> str:
        """``Kingma, D. P. and Welling, M. (2014). Title. *Venue*.``"""
        names = [f"{last}, {initials}".rstrip(", ") for last, initials in self.authors]
        authors = (
            ", ".join(names[:-1]) + (" and " if len(names) > 1 else "") + names[-1]
        )
        title = f"[{self.title}]({self.url})" if self.url else self.title
        venue = f" *{self.venue}*." if self.venue else ""
        return f"{authors} ({self.year}). {title}.{venue}"


def read_bibliography(path: Path = ROOT / "references.bib") -> dict[str, Reference]:
    """Every entry of ``references.bib``, by key."""
    from pybtex.database import parse_file

    references = {}
    for key, entry in parse_file(str(path)).entries.items():
        people = entry.persons.get("author", []) or entry.persons.get("editor", [])
        authors = [
            (
                _plain(" ".join(person.prelast_names + person.last_names)),
                " ".join(
                    f"{_plain(n)[0]}." for n in person.first_names + person.middle_names
                ),
            )
            for person in people
        ]
        fields = entry.fields
        venue = next(
            (
                fields[f]
                for f in ("journal", "booktitle", "publisher", "howpublished")
                if f in fields
            ),
            "",
        )
        url = fields.get("url", "")
        if not url and "doi" in fields:
            url = f"https://doi.org/{fields['doi']}"
        if not url and "eprint" in fields:
            url = f"https://arxiv.org/abs/{fields['eprint']}"
        references[key] = Reference(
            authors or [(_plain(fields.get("organization", key)), "")],
            fields.get("year", "n.d."),
            _plain(fields.get("title", key)),
            _plain(venue),
            url,
        )
    return references


# --- glue values stored in a notebook's outputs --------------------------------


def stored_glue(notebook: nbformat.NotebookNode) -> dict[str, dict]:
    """``{name: mime bundle}`` for every value glued in the stored outputs."""
    values = {}
    for cell in notebook.cells:
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            meta = output.get("metadata", {}).get("scrapbook")
            if not meta:
                continue
            prefix = len(meta.get("mime_prefix", ""))
            data = output.get("data", {})
            values[meta["name"]] = {
                mime[prefix:]: value for mime, value in data.items()
            }
    return values


def format_text(text: str, spec: str) -> str:
    """A glued ``text/plain`` value formatted as myst-nb's ``{glue:text}`` does.

    Example:
        >>> format_text("3.14159", ".2f"), format_text("'cpu'", "")
        ('3.14', 'cpu')
        >>> format_text("np.float64(0.5)", ".1%")
        '50.0%'
    """
    numpy_scalar = re.fullmatch(r"np\.\w+\((.*)\)", text.strip())
    if numpy_scalar:  # NumPy 2 writes scalars as np.float64(0.5)
        text = numpy_scalar.group(1)
    try:
        value = ast.literal_eval(text)
    except (SyntaxError, ValueError):
        value = text
    if not spec:
        return str(value)
    kind = spec[-1]
    if kind in "bcdoxX":
        value = int(value)
    elif kind in "eEfFgGn%":
        value = float(value)
    elif kind == "s":
        value = str(value)
    return format(value, spec)


def glue_block(bundle: dict | None, name: str) -> str:
    """A glued object (a table, a figure) as Markdown or HTML, or a placeholder."""
    if bundle is None:
        return (
            f"*A table or figure {PLACEHOLDER}: the cell that glues `{name}` shows it.*"
        )
    if "text/markdown" in bundle:
        return "".join(bundle["text/markdown"])
    if "text/html" in bundle:
        return "".join(bundle["text/html"])
    for mime in ("image/png", "image/jpeg"):
        if mime in bundle:
            data = "".join(bundle[mime]).replace("\n", "")
            return f'<img src="data:{mime};base64,{data}" alt="{name}">'
    return "```\n" + "".join(bundle.get("text/plain", "")) + "\n```"


# --- Markdown conversion -------------------------------------------------------


@dataclass
class Converter:
    """Turns one chapter's MyST Markdown into plain Markdown for Colab."""

    book: Book
    references: dict[str, Reference]
    glue: dict[str, dict]
    conf: dict
    cited: list[str] = field(default_factory=list)

    def cite(self, keys: str, textual: bool) -> str:
        parts = []
        for key in (k.strip() for k in keys.split(",")):
            ref = self.references[key]
            if key not in self.cited:
                self.cited.append(key)
            names = ref.cite_names()
            parts.append(f"{names} ({ref.year})" if textual else f"{names}, {ref.year}")
        return ", ".join(parts) if textual else "(" + "; ".join(parts) + ")"

    def doc(self, content: str) -> str:
        explicit = re.fullmatch(r"(?s)(.*?)\s*<([^>]+)>", content)
        text, target = explicit.groups() if explicit else (None, content)
        stem = Path(target.strip()).name.removesuffix(".ipynb")
        if stem not in self.book.titles:
            return text or stem
        return f"[{text or self.book.titles[stem]}]({colab_url(stem, self.conf)})"

    def glue_text(self, content: str) -> str:
        name, _, spec = content.partition(":")
        bundle = self.glue.get(name.split("::")[-1])
        if bundle is None or "text/plain" not in bundle:
            return PLACEHOLDER
        return format_text("".join(bundle["text/plain"]), spec)

    def role(self, match: re.Match) -> str:
        name, content = match.group(1), match.group(2)
        if name in ("cite", "cite:p", "cite:ps", "cite:alp"):
            return self.cite(content, textual=False)
        if name in ("cite:t", "cite:ts", "cite:alt"):
            return self.cite(content, textual=True)
        if name == "eq":
            return f"({self.book.equations.get(content.strip(), '?')})"
        if name == "doc":
            return self.doc(content)
        if name in ("glue", "glue:", "glue:text", "glue:any"):
            return self.glue_text(content)
        if name in ("glue:md", "glue:math"):
            return self.glue_text(content)
        if name == "math":
            return f"${content}$"
        # Any other role ({ref}, {term}, {abbr}, ...): its text, without a target.
        return re.sub(r"\s*<[^>]+>$", "", content)

    def math(self, text: str) -> str:
        """Equation labels become tags with the book's number; macros spelled out."""

        def tag(match: re.Match) -> str:
            number = self.book.equations.get(match.group("label"), "?")
            return f"\\tag{{{number}}} $$"

        text = EQ_LABEL.sub(tag, text)
        tex = self.conf["sphinx"]["config"]["mathjax3_config"]["tex"]
        for macro, expansion in tex.get("macros", {}).items():  # unknown to Colab
            text = re.sub(rf"\\{macro}(?![A-Za-z])", lambda _, e=expansion: e, text)
        return text

    def directive(self, name: str, arg: str, options: dict, body: str) -> str:
        """One MyST directive as Markdown (its body already converted)."""
        title = arg.strip()
        if name == "admonition" or name in ("note", "tip", "warning", "important"):
            title = title or name.capitalize()
            if "dropdown" in options.get("class", ""):
                return f"<details>\n<summary>{title}</summary>\n\n{body}\n\n</details>"
            quoted = "\n".join(f"> {line}".rstrip() for line in body.splitlines())
            return f"> **{title}**\n>\n{quoted}"
        if name.startswith("glue"):
            return glue_block(self.glue.get(title.split("::")[-1]), title)
        if name == "math":
            label = options.get("label")
            number = f" \\tag{{{self.book.equations.get(label, '?')}}}" if label else ""
            return f"$$\n{body}{number}\n$$"
        if name == "nb-exec-table":
            return f"*A table of execution times: {PLACEHOLDER}.*"
        if name in ("figure", "image"):
            return f"![{body.strip()}]({title})"
        return body  # any other directive: its content

    def blocks(self, text: str) -> str:
        """Convert directives (recursively), then roles and math, of Markdown text."""
        lines, out, i = text.split("\n"), [], 0
        while i < len(lines):
            match = FENCE.match(lines[i])
            if not match:
                out.append(lines[i])
                i += 1
                continue
            fence, j = match.group("fence"), i + 1
            options: dict[str, str] = {}
            while j < len(lines) and re.match(r"^\s*:[\w-]+:", lines[j]):
                key, _, value = lines[j].strip()[1:].partition(":")
                options[key] = value.strip()
                j += 1
            body, depth = [], 0
            while j < len(lines):
                stripped = lines[j].strip()
                if (
                    FENCE.match(lines[j])
                    and FENCE.match(lines[j]).group("fence") == fence
                ):
                    depth += 1
                elif stripped == fence and depth == 0:
                    break
                elif stripped == fence:
                    depth -= 1
                body.append(lines[j])
                j += 1
            inner = self.blocks("\n".join(body).strip("\n"))
            out.append(
                self.directive(match.group("name"), match.group("arg"), options, inner)
            )
            i = j + 1
        return "\n".join(out)

    def markdown(self, text: str) -> str:
        text = self.blocks(text)
        text = re.sub(r"^\(([\w:-]+)\)=\s*$\n?", "", text, flags=re.M)  # targets
        text = self.math(text)
        text = text.replace(LOCAL_BADGE, BADGE_IMAGE)
        return ROLE.sub(self.role, text)

    def reference_list(self) -> str:
        items = sorted(self.cited, key=lambda k: (self.references[k].cite_names(), k))
        entries = "\n".join(f"- {self.references[k].entry()}" for k in items)
        return f"## References\n\n{entries}"


def colab_notebook(
    path: Path, book: Book, references: dict[str, Reference], commit: str, conf: dict
) -> nbformat.NotebookNode:
    """The Colab copy of one chapter."""
    notebook = copy.deepcopy(nbformat.read(path, as_version=4))
    converter = Converter(book, references, stored_glue(notebook), conf)
    version = re.search(
        r'^version = "(.+)"$', (ROOT / "pyproject.toml").read_text(), re.M
    ).group(1)
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            cell.source = converter.markdown(cell.source)
        elif cell.cell_type == "code":
            cell.source = cell.source.replace(f'@v{version}"', f'@{commit}"')
    if converter.cited:
        notebook.cells.append(nbformat.v4.new_markdown_cell(converter.reference_list()))
    notebook.cells.insert(1, nbformat.v4.new_markdown_cell(cost_note(notebook)))
    notebook.metadata.setdefault("colab", {})["provenance"] = []
    notebook.metadata.setdefault("accelerator", "GPU")
    return notebook


def cost_note(notebook: nbformat.NotebookNode) -> str:
    """What running the chapter costs, from its stored record, and the short switch.

    Example:
        >>> print(cost_note(nbformat.v4.new_notebook()))  # doctest: +ELLIPSIS
        > **What it costs.** Not measured yet (...). For the short schedule ...
    """
    cost = provenance.cost_sentence(provenance.record_of(notebook))
    return (
        f"> **What it costs.** {cost[0].upper() + cost[1:]}. For the short schedule "
        "(about a minute, rough numbers), set `SHORT_RUN = True` in the first code "
        "cell. The full schedule needs a GPU runtime (Runtime → Change runtime type)."
    )


def write_copies(out: Path, commit: str) -> list[Path]:
    """Write every chapter's Colab copy under ``out/chapters``."""
    conf, book, references = config(), Book.read(), read_bibliography()
    written = []
    for path in sorted((ROOT / "chapters").glob("*.ipynb")):
        notebook = colab_notebook(path, book, references, commit, conf)
        target = out / "chapters" / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, target)
        written.append(target)
    (out / "README.md").write_text(
        "# Colab copies of the book's chapters\n\n"
        f"Made by `make colab` from commit {commit} of {conf['repository']['url']}:"
        " edit the notebooks there, not here.\n"
    )
    return written


def write_badges() -> None:
    """Put (or refresh) the badge under every chapter's title, and in the README."""
    conf = config()
    for path in sorted((ROOT / "chapters").glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        first = next(c for c in notebook.cells if c.cell_type == "markdown")
        line = badge(path.stem, conf=conf)
        lines = [ln for ln in first.source.split("\n") if "[![Open in Colab]" not in ln]
        if lines[0].startswith("# ") and lines[1:2] == [""] and lines[2:3] == [""]:
            del lines[1]  # a badge was there
        first.source = "\n".join([lines[0], "", line, *lines[1:]])
        nbformat.write(notebook, path)


def head_commit() -> str:
    """The commit the copies are made from."""
    return subprocess.run(
        ["git", "rev-parse", "HEAD"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "command", nargs="?", default="copies", choices=["copies", "badges"]
    )
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "colab")
    parser.add_argument("--commit", default=None, help="default: git rev-parse HEAD")
    args = parser.parse_args()
    if args.command == "badges":
        write_badges()
        return
    written = write_copies(args.out, args.commit or head_commit())
    print(f"colab: {len(written)} Colab copies in {args.out}")


if __name__ == "__main__":
    main()
