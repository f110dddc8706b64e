"""The Colab copies (tools/colab.py) and the "Open in Colab" badges."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import colab  # noqa: E402

NOTEBOOKS = sorted((ROOT / "chapters").glob("*.ipynb"))
MYST_LEFT = re.compile(r"\{[a-zA-Z][\w:-]*\}`|^\s*(?:`{3,}|:{3,})\s*\{|^\(\S+\)=", re.M)


@pytest.fixture(scope="module")
def copies(tmp_path_factory) -> dict[str, nbformat.NotebookNode]:
    out = tmp_path_factory.mktemp("colab")
    paths = colab.write_copies(out, commit="0123abc")
    return {p.stem: nbformat.read(p, as_version=4) for p in paths}


def markdown(notebook: nbformat.NotebookNode) -> str:
    return "\n\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")


def test_every_chapter_has_a_copy(copies):
    assert set(copies) == {p.stem for p in NOTEBOOKS}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_myst_is_left_in_a_copy(copies, path):
    text = markdown(copies[path.stem])
    left = MYST_LEFT.findall(text)
    assert not left, f"{path.name}: MyST left in the Colab copy: {left[:5]}"
    assert not colab.EQ_LABEL.search(text), "an equation label is left"
    macros = colab.config()["sphinx"]["config"]["mathjax3_config"]["tex"]["macros"]
    for macro in macros:
        assert not re.search(rf"\\{macro}(?![A-Za-z])", text), f"macro \\{macro}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_copy_pins_the_commit_and_keeps_the_code(copies, path):
    source = nbformat.read(path, as_version=4)
    copy_code = [c.source for c in copies[path.stem].cells if c.cell_type == "code"]
    code = [c.source for c in source.cells if c.cell_type == "code"]
    assert copy_code[1:] == code[1:]
    assert '@0123abc"' in copy_code[0] and "@v" not in copy_code[0]


def test_solutions_fold_and_citations_read_as_text(copies):
    text = markdown(copies["02_elbo"])
    assert "<details>\n<summary>Solution</summary>" in text
    assert "(Kingma and Welling, 2014; Rezende et al., 2014)" in text
    assert text.rstrip().endswith(")") or "## References" in text
    last = copies["02_elbo"].cells[-1]
    assert last.source.startswith("## References") and "Kingma, D. P." in last.source


def test_equation_numbers_follow_the_chapter_and_its_labels():
    book = colab.Book.read()
    assert book.numbers["01_latent_variable_models"] == 1
    assert book.numbers["11_reproducing"] is None  # the appendix is not numbered
    notebook = nbformat.read(ROOT / "chapters" / "02_elbo.ipynb", as_version=4)
    text = markdown(notebook)
    labels = [m.group("label") for m in colab.EQ_LABEL.finditer(text)]
    assert [book.equations[label] for label in labels[:2]] == ["2.1", "2.2"]


def converter(glue: dict | None = None) -> colab.Converter:
    return colab.Converter(
        colab.Book.read(), colab.read_bibliography(), glue or {}, colab.config()
    )


def test_glue_uses_stored_values_else_a_placeholder():
    convert = converter({"nll": {"text/plain": "88.4567"}})
    assert convert.markdown("NLL {glue:text}`nll:.1f` nats") == "NLL 88.5 nats"
    assert colab.PLACEHOLDER in convert.markdown("{glue:text}`missing:.2f`")
    assert colab.PLACEHOLDER in convert.markdown("```{glue} missing_table\n```")


def test_stored_glue_is_read_from_outputs():
    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("glue('x', 1.5, display=False)")
    cell.outputs = [
        nbformat.v4.new_output(
            "display_data",
            data={"application/papermill.record/text/plain": "1.5"},
            metadata={
                "scrapbook": {
                    "name": "x",
                    "mime_prefix": "application/papermill.record/",
                }
            },
        )
    ]
    notebook.cells.append(cell)
    assert colab.stored_glue(notebook) == {"x": {"text/plain": "1.5"}}


def test_doc_references_name_and_link_the_chapter():
    text = converter().markdown(
        "see {doc}`02_elbo` and {doc}`that one <01_latent_variable_models>`"
    )
    assert f"[{colab.Book.read().titles['02_elbo']}](" in text
    assert "[that one](" in text and "colab.research.google.com" in text


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_chapter_opens_with_its_badge(path):
    first = next(
        c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown"
    )
    assert colab.badge(path.stem) in first.source.split("\n")[:4], (
        f"{path.name}: run `python tools/colab.py badges` (the badge under the title)"
    )


def test_readme_has_the_badge():
    readme = (ROOT / "README.md").read_text()
    assert colab.badge("01_latent_variable_models", colab.BADGE_IMAGE) in readme


def test_local_badge_image_exists():
    assert (ROOT / "chapters" / colab.LOCAL_BADGE).resolve().is_file()
