"""A local Sphinx extension: say on each chapter page where its outputs come from.

- Under each chapter's title, a note built from the record that ``make execute``
  stored in the notebook (``tools/records.py``): what running the chapter alone costs
  and where and when the shown outputs were computed; a warning instead when the code
  changed after they were computed, or in a short-run build (``VAEBOOK_QUICK``).
- The ``vaebook-provenance`` directive: every chapter's record as a table (machine,
  speed index, date, minutes, fresh or stale) and the book's total, for the appendix.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.util.docutils import SphinxDirective

# tools/ sits beside this folder (the build copies both); records needs only the
# standard library, so the build never imports torch.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import records  # noqa: E402


def short_run_build() -> bool:
    value = os.environ.get("VAEBOOK_QUICK", "0").strip().lower()
    return value not in {"", "0", "false", "no"}


def banner_text(notebook: dict[str, Any], number: str) -> tuple[str, str]:
    """(admonition class, sentence) for a chapter page; `...` spans are commands."""
    if short_run_build():
        return "warning", (
            "Short-run build: the numbers and figures on this page come from a short "
            "run on a data subset (VAEBOOK_QUICK=1) and may not match the text, "
            "which describes the full run."
        )
    record, state = records.record_of(notebook), records.status(notebook)
    if record is None or state == "short-run":
        return "warning", (
            "This chapter has not been executed in full mode yet: its outputs are "
            f"missing. Run it with `make execute CHAPTERS={number}`."
        )
    text = (
        f"Running this chapter costs {records.cost_sentence(record)}. The outputs "
        f"shown were computed {record['date'][:10]} on {record['device']}."
    )
    if state == "stale":
        return "warning", (
            "The code changed after these outputs were computed: this chapter is "
            "pending re-execution, and its numbers and figures may not match the "
            "code or the text until then. " + text
        )
    return "note", text


def add_banner(app: Any, doctree: nodes.document) -> None:
    path = Path(app.env.doc2path(app.env.docname))
    section = next(iter(doctree.findall(nodes.section)), None)
    if path.suffix != ".ipynb" or not path.name[:2].isdigit() or section is None:
        return
    notebook = json.loads(path.read_text(encoding="utf-8"))
    kind, text = banner_text(notebook, path.name[:2])
    node = nodes.admonition(classes=[kind, "vaebook-provenance"])
    heading = "Short run" if short_run_build() else "Cost and provenance"
    node += nodes.title(text=heading)
    paragraph = nodes.paragraph()
    for i, part in enumerate(text.split("`")):
        paragraph += nodes.literal(text=part) if i % 2 else nodes.Text(part)
    node += paragraph
    title = next(iter(section.findall(nodes.title)), None)
    under_title = title is not None and title.parent is section
    section.insert(section.index(title) + 1 if under_title else 0, node)


class ProvenanceTable(SphinxDirective):
    """Every chapter's execution record as a table, with the book's total time."""

    def run(self) -> list[nodes.Node]:
        chapters = sorted(Path(self.env.srcdir, "chapters").glob("[0-9][0-9]_*.ipynb"))
        rows, total, cold = [], 0.0, True
        for path in chapters:
            notebook = json.loads(path.read_text(encoding="utf-8"))
            record, state = records.record_of(notebook), records.status(notebook)
            cost = records.cpu_cost(record) if record else None
            if cost is None or state == "short-run":
                rows.append([path.stem, "not executed", "", "", "", state])
                continue
            total += cost["seconds"]
            cold &= cost["cache"] == "cold"
            index = cost["speed_index"]
            mark = "" if cost["cache"] == "cold" else "*"
            rows.append(
                [
                    path.stem,
                    f"{cost['device']}, {cost.get('cpu_threads', '?')} threads",
                    f"{index:.2f}" if index else "",
                    record["date"][:10],
                    f"{cost['seconds'] / 60:.1f}{mark}",
                    state,
                ]
            )
        header = ["chapter", "CPU", "speed index (s)", "date", "minutes", "outputs"]
        text = (
            f"Total: {total / 60:.0f} minutes ({total / 3600:.1f} hours) on a CPU, "
            "each chapter run alone from an empty cache"
        )
        if not cold:
            text += ", except those marked * (run with a warm cache: an underestimate)"
        return [build_table(header, rows), nodes.paragraph(text=text + ".")]


def build_table(header: list[str], rows: list[list[str]]) -> nodes.table:
    table = nodes.table(classes=["vaebook-provenance-table"])
    group = nodes.tgroup(cols=len(header))
    table += group
    group.extend(nodes.colspec(colwidth=1) for _ in header)
    head, body = nodes.thead(), nodes.tbody()
    group += [head, body]
    for cells, parent in [(header, head)] + [(row, body) for row in rows]:
        row_node = nodes.row()
        for cell in cells:
            row_node += nodes.entry("", nodes.paragraph(text=str(cell)))
        parent += row_node
    return table


def tolerate_pending_glue(app: Any, config: Any) -> None:
    """While a chapter is stale, its prose may name values its stored outputs lack.

    Its page says so under its title; the short-run build stays strict about glue.
    """
    chapters = Path(app.srcdir, "chapters").glob("[0-9][0-9]_*.ipynb")
    stale = [
        p.stem for p in chapters if records.status(records.read_notebook(p)) == "stale"
    ]
    if stale:
        config.suppress_warnings = [*config.suppress_warnings, "mystnb.glue"]


def setup(app: Any) -> dict[str, Any]:
    app.connect("config-inited", tolerate_pending_glue)
    app.connect("doctree-read", add_banner)
    app.add_directive("vaebook-provenance", ProvenanceTable)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
