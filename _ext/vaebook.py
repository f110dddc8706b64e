"""The book's Sphinx extension: under each chapter's title, where its outputs come from
(its record, ``tools/book.py``); the ``vaebook-provenance`` directive, every chapter's
record as a table; each ``<script>`` of a page once."""

import json
import os
import sys
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.util.docutils import SphinxDirective

# tools/ sits beside this folder (the build copies both); book.py imports no torch.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import book  # noqa: E402

_QUICK = os.environ.get("VAEBOOK_QUICK", "0").strip().lower()
SHORT_RUN = _QUICK not in {"", "0", "false", "no"}  # a short-run build


def banner_text(notebook: dict[str, Any], number: str) -> tuple[str, str]:
    """(admonition class, sentence) for a chapter page; `...` spans are commands."""
    record, state = book.record_of(notebook), book.status(notebook)
    if SHORT_RUN:
        return "warning", (
            "Short-run build: the numbers and figures on this page come from a short "
            "run on a data subset (VAEBOOK_QUICK=1) and may not match the text, "
            "which describes the full run."
        )
    if record is None or state == "short-run":
        return "warning", (
            "This chapter has not been executed in full mode yet: its outputs are "
            f"missing. Run it with `make execute CHAPTERS={number}`."
        )
    text = (
        f"Running this chapter costs {book.cost_sentence(record)}. The outputs "
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
    kind, text = banner_text(json.loads(path.read_bytes()), path.name[:2])
    node = nodes.admonition(classes=[kind, "vaebook-provenance"])
    node += nodes.title(text="Short run" if SHORT_RUN else "Cost and provenance")
    parts = enumerate(text.split("`"))  # odd parts: commands
    node += nodes.paragraph(
        "", "", *(nodes.literal(text=p) if i % 2 else nodes.Text(p) for i, p in parts)
    )
    section.insert(1 if isinstance(section[0], nodes.title) else 0, node)


class ProvenanceTable(SphinxDirective):
    """Every chapter's execution record as a table, with the book's total time."""

    def run(self) -> list[nodes.Node]:
        rows = [["chapter", "CPU", "speed index (s)", "date", "minutes", "outputs"]]
        total = 0.0
        for path in book.chapters(self.env.srcdir):
            notebook = json.loads(path.read_bytes())
            record, state = book.record_of(notebook), book.status(notebook)
            cost = book.cpu_cost(record) if record else None
            if cost is None or state == "short-run":
                rows.append([path.stem, "not executed", "", "", "", state])
                continue
            total += cost["seconds"]
            cpu = f"{cost['device']}, {cost.get('cpu_threads', '?')} threads"
            index = f"{cost['speed_index']:.2f}" if cost["speed_index"] else ""
            minutes = f"{cost['seconds'] / 60:.1f}"
            rows.append([path.stem, cpu, index, record["date"][:10], minutes, state])
        rows.insert(1, ["---"] * 6)
        table = "\n".join(f"| {' | '.join(row)} |" for row in rows)
        text = (
            f"Total: {total / 60:.0f} minutes ({total / 3600:.1f} hours) on a CPU, "
            "each chapter run alone from an empty cache."
        )
        return self.parse_text_to_nodes(f"{table}\n\n{text}")


def drop_repeated_scripts(app: Any, page: str, template: str, context: dict, _) -> None:
    """Sphinx 7 (jupyter-book 1.x pins it) lists twice an inline script added after the
    builder started (as file ``None`` and ``''``), and sphinx-thebe's then throws a
    SyntaxError in every reader's browser (sphinx-doc/sphinx#13402, fixed in 8.2)."""
    scripts = context.get("script_files") or []
    keys = [(js.filename or "", js.priority, *js.attributes.items()) for js in scripts]
    scripts[:] = [js for i, js in enumerate(scripts) if keys[i] not in keys[:i]]


def setup(app: Any) -> dict[str, Any]:
    app.connect("doctree-read", add_banner)
    app.add_directive("vaebook-provenance", ProvenanceTable)
    app.connect("html-page-context", drop_repeated_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
