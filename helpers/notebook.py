"""``glue``: hand a value computed in a chapter to its prose, with or without myst-nb;
and the small formatters that turn such values into words (:func:`decimals`,
:func:`in_words`, :func:`with_se`).

The HTML book is built by jupyter-book, whose myst-nb pastes glued values into the
text (``{glue:text}`name```). On Colab, and anywhere else myst-nb is not installed,
the same call does nothing (or shows the value, with ``display=True``) and the
chapter runs on.
"""

from __future__ import annotations

import math
from typing import Any


def glue(name: str, value: Any, display: bool = False) -> None:
    """Hand ``value`` to the book's prose under ``name``; also show it if ``display``.

    With myst-nb importable, inside IPython, this is ``myst_nb.glue`` (the value is
    stored in the cell's output, hidden unless ``display``, where the book's build
    finds it); without myst-nb the value is only shown, and only if ``display``, as
    ``display(value)`` would.

    NumPy and one-element torch scalars are glued as Python numbers, whose text
    myst-nb's format specs (``{glue:text}`name:.2f```) can read.

    Example:
        >>> import numpy as np
        >>> glue("ch0_answer", np.float64(0.5))  # for the prose only: nothing shown
        >>> glue("ch0_answer", np.float64(0.5), display=True)  # and shown
        0.5
    """
    value = plain_scalar(value)
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


def decimals(error: float) -> int:
    """The decimal places to which two numbers that differ by ``error`` agree (15,
    as many as double precision holds here, if they are equal).

    Example:
        >>> decimals(3e-7), decimals(-0.004), decimals(0.0)
        (6, 2, 15)
    """
    error = abs(error)
    return 15 if error == 0 else min(15, math.floor(-math.log10(error)))


def in_words(x: float) -> str:
    """``x`` to one significant figure, as a reader says it.

    Example:
        >>> in_words(8_700_000), in_words(2.4e13), in_words(276.0), in_words(0.03)
        ('about 9 million', 'about 20 trillion', 'about 300', 'about 0.03')
    """
    rounded = float(f"{x:.1g}")
    for scale, name in ((1e12, "trillion"), (1e9, "billion"), (1e6, "million"),
                        (1e3, "thousand")):  # fmt: skip
        if rounded >= scale:
            return f"about {rounded / scale:,.0f} {name}"
    return f"about {rounded:g}"


def with_se(value: float, se: float) -> str:
    """The text "value ± se": ``se`` to two significant figures, ``value`` rounded
    to the same decimal place.

    Example:
        >>> with_se(87.5512, 0.2433), with_se(1234.5, 56.0)
        ('87.55 ± 0.24', '1234 ± 56')
    """
    places = max(0, 1 - math.floor(math.log10(se)))
    return f"{value:.{places}f} ± {se:.{places}f}"
