"""A local Sphinx extension: write each ``<script>`` of a page once.

Sphinx 7.x (which jupyter-book 1.x pins) lists an inline script twice when an
extension adds it after the builder has started: once as registered (file name
``None``) and once more when the page is written (file name ``''``). sphinx-thebe's
``const THEBE_JS_URL = ...`` then runs twice, and the second copy throws a SyntaxError
in every reader's browser. Sphinx 8.2 fixes this upstream (sphinx-doc/sphinx#13402);
until jupyter-book allows it, this drops the repeats from each page's script list.
"""

from __future__ import annotations

from typing import Any


def _key(script: Any) -> tuple:
    """What makes two script entries the same tag.

    Their source (``None`` and ``''`` alike), priority and attributes.
    """
    attributes = getattr(script, "attributes", {})
    return (
        getattr(script, "filename", script) or "",
        getattr(script, "priority", 0),
        *sorted(attributes.items()),
    )


def drop_repeated_scripts(
    app: Any, pagename: str, templatename: str, context: dict, doctree: Any
) -> None:
    """Keep the first of each group of identical entries in ``script_files``."""
    scripts = context.get("script_files")
    if not isinstance(scripts, list):
        return
    seen: set[tuple] = set()
    unique = []
    for script in scripts:
        key = _key(script)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique


def setup(app: Any) -> dict[str, Any]:
    app.connect("html-page-context", drop_repeated_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
