"""A local Sphinx extension: say on each chapter page where its outputs come from.

- Under each chapter's title, a note built from the record that ``make execute``
  stored in the notebook (``tools/records.py``): what the chapter costs to run,
  where and when the shown outputs were computed. A build with ``VAEBOOK_QUICK`` set
  (a preview, or CI's strict build of nbval's quick-mode copies) says instead, as a
  warning, that the numbers and figures come from a short run and may not match the
  text.
- The ``vaebook-provenance`` directive: a table of every chapter's record (device, date,
  minutes, fresh or stale) and the book's total, for the appendix. It is built when the
  book is rendered, so it always shows the records of the notebooks being rendered.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.util.docutils import SphinxDirective

# The records module lives in tools/ beside this folder (the build copies both); it
# needs only the standard library, so the build never imports torch.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import records as provenance  # noqa: E402


def quick_build() -> bool:
    value = os.environ.get("VAEBOOK_QUICK", "0").strip().lower()
    return value not in {"", "0", "false", "no"}


def chapter_notebook(env: Any, docname: str) -> Path | None:
    path = Path(env.doc2path(docname))
    if path.suffix != ".ipynb" or not path.name[:2].isdigit():
        return None
    return path


def banner_text(notebook: dict[str, Any]) -> tuple[str, str]:
    """(admonition class, sentence) for a chapter page."""
    if quick_build():
        return "warning", (
            "Quick-mode build: the numbers and figures on this page come from a short "
            "run on a data subset (VAEBOOK_QUICK=1) and may not match the text, which "
            "describes the full run."
        )
    record = provenance.record_of(notebook)
    state = provenance.status(notebook)
    if record is None or state == "short-run":
        return "warning", (
            "This chapter has not been executed in full mode yet: its outputs are "
            "missing. Run it with `make execute CHAPTERS=" + "NN`."
        )
    cost = provenance.cost_sentence(record)
    shown = f"{record['date'][:10]} on {record['device']}"
    text = (
        f"Running this chapter costs {cost}. The outputs shown were computed {shown}."
    )
    if state == "stale":
        return "warning", (
            "The code changed after these outputs were computed: this chapter is "
            "pending re-execution, and its numbers and figures may not match the "
            "code or the text until then. " + text
        )
    return "note", text


def add_banner(app: Any, doctree: nodes.document) -> None:
    path = chapter_notebook(app.env, app.env.docname)
    if path is None:
        return
    notebook = json.loads(path.read_text(encoding="utf-8"))
    kind, text = banner_text(notebook)
    if "NN`" in text:
        text = text.replace("NN`", path.name[:2] + "`")
    node = nodes.admonition(classes=[kind, "vaebook-provenance"])
    heading = "Quick preview" if quick_build() else "Cost and provenance"
    node += nodes.title(text=heading)
    paragraph = nodes.paragraph()
    for i, part in enumerate(text.split("`")):  # `...` spans are commands
        paragraph += nodes.literal(text=part) if i % 2 else nodes.Text(part)
    node += paragraph
    section = next(iter(doctree.findall(nodes.section)), None)
    if section is None:
        return
    title = next(iter(section.findall(nodes.title)), None)
    index = (
        section.index(title) + 1 if title is not None and title.parent is section else 0
    )
    section.insert(index, node)


class ProvenanceTable(SphinxDirective):
    """Every chapter's execution record as a table, with the book's total time."""

    def run(self) -> list[nodes.Node]:
        chapters = sorted(Path(self.env.srcdir, "chapters").glob("[0-9][0-9]_*.ipynb"))
        estimates, machine = latest_estimates(Path(self.env.srcdir))
        rows, total, estimated = [], 0.0, 0.0
        for path in chapters:
            notebook = json.loads(path.read_text(encoding="utf-8"))
            record = provenance.record_of(notebook)
            state = provenance.status(notebook)
            if record is None or state == "short-run":
                guess = estimates.get(path.name[:2])
                minutes = f"≈ {guess:.0f} (estimated)" if guess else ""
                estimated += guess or 0.0
                rows.append([path.stem, "not executed yet", "", minutes, state])
                continue
            total += record["seconds"]
            rows.append(
                [
                    path.stem,
                    record["device"],
                    record["date"][:10],
                    f"{provenance.minutes(record):.1f}",
                    state,
                ]
            )
        header = ["chapter", "device", "date", "minutes", "outputs"]
        table = build_table(header, rows)
        text = (
            f"Total of the stored executions: {total / 60:.1f} minutes "
            f"({total / 3600:.2f} hours)."
        )
        if estimated:
            text += (
                f" The chapters not executed yet are estimated at {estimated:.0f} "
                "minutes more on a quiet 2-core CPU, from timed partial runs "
                "(benchmarks/results/sizing-*/: unit costs of each model times the "
                "chapter's schedule)" + (f"; the CPU: {machine}." if machine else ".")
            )
        summary = nodes.paragraph(text=text)
        return [table, summary]


def latest_estimates(root: Path) -> tuple[dict[str, float], str]:
    """Estimated full-mode minutes per chapter from the newest sizing record, and the
    machine they are for (empty where the record does not say)."""
    records = sorted(root.glob("benchmarks/results/sizing-*/estimates.json"))
    if not records:
        return {}, ""
    record = json.loads(records[-1].read_text())
    minutes = {n: entry["minutes_corrected"] for n, entry in record["chapters"].items()}
    return minutes, record.get("machine", "")


def build_table(header: list[str], rows: list[list[str]]) -> nodes.table:
    table = nodes.table(classes=["vaebook-provenance-table"])
    group = nodes.tgroup(cols=len(header))
    table += group
    for _ in header:
        group += nodes.colspec(colwidth=1)
    head, body = nodes.thead(), nodes.tbody()
    group += head
    group += body
    for cells, parent in [(header, head)] + [(row, body) for row in rows]:
        row_node = nodes.row()
        for cell in cells:
            entry = nodes.entry()
            entry += nodes.paragraph(text=str(cell))
            row_node += entry
        parent += row_node
    return table


def setup(app: Any) -> dict[str, Any]:
    app.connect("doctree-read", add_banner)
    app.add_directive("vaebook-provenance", ProvenanceTable)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
