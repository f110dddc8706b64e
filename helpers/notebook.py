"""``glue``: hand a value computed in a chapter to its prose, with or without myst-nb.

The HTML book is built by jupyter-book, whose myst-nb pastes glued values into the
text (``{glue:text}`name```). On Colab, and anywhere else myst-nb is not installed,
the same call shows the value (or nothing) and the chapter runs on.
"""

from __future__ import annotations

from typing import Any

GLUED: dict[str, Any] = {}
"""Every value glued in this session, by name (also when myst-nb is there)."""


def glue(name: str, value: Any, display: bool = True) -> None:
    """Record ``value`` under ``name`` for the book's prose; show it when ``display``.

    With myst-nb importable this is ``myst_nb.glue`` (the value is stored in the
    cell's output, where the book's build finds it); without it the value is only
    displayed, as a plain ``display(value)`` would. Outside IPython it only records
    (and prints the value when ``display``).

    NumPy and one-element torch scalars are glued as Python numbers, whose text
    myst-nb's format specs (``{glue:text}`name:.2f```) can read.

    Example:
        >>> import numpy as np
        >>> glue("answer", np.float64(0.5), display=False)
        >>> GLUED["answer"], type(GLUED["answer"]).__name__
        (0.5, 'float')
    """
    value = plain_scalar(value)
    GLUED[name] = value
    myst_glue = _myst_glue()
    if myst_glue is not None and _in_ipython():
        myst_glue(name, value, display=display)
    elif display:
        _show(value)


def plain_scalar(value: Any) -> Any:
    """A NumPy scalar or a 0-d array/tensor as the Python number it holds; else as is.

    Example:
        >>> import numpy as np, torch
        >>> plain_scalar(np.int64(3)), plain_scalar(torch.tensor(2.5)), plain_scalar("")
        (3, 2.5, '')
    """
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        return value.item()
    return value


def _myst_glue() -> Any:
    """``myst_nb.glue``, or None where myst-nb cannot be imported (as on Colab)."""
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        return None
    return myst_glue


def _in_ipython() -> bool:
    """True inside an IPython kernel or shell (where outputs can carry glue data)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return get_ipython() is not None


def _show(value: Any) -> None:
    """``IPython.display.display`` inside IPython, else ``print``."""
    if _in_ipython():
        from IPython.display import display

        display(value)
    else:
        print(value)
