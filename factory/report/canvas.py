"""Drawing a figure to PNG bytes: matplotlib loaded on first use, no pyplot, no global backend.

Figures are built on :class:`matplotlib.figure.Figure` and printed with the
Agg renderer, so making a report never opens a window, never needs a
display, and never changes the backend of a program that imports factory.
Fonts and the house style apply only inside :func:`render_png`.
"""

from __future__ import annotations

import io
import warnings
from typing import TYPE_CHECKING, Callable, Iterable

from factory.report.fonts import font_family

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

DPI = 100
#: One colour per series; the same order in every figure.
PALETTE = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C",
           "#CCB974", "#64B5CD")
STYLE = {
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
}


def render_png(draw: Callable[["Figure"], None], size: tuple[float, float], texts: Iterable[str] = ()) -> tuple[bytes, str]:
    """Run ``draw`` on a new figure of ``size`` inches and return (PNG bytes, characters no font could draw).

    ``texts`` are the labels the figure will show, so fonts covering their
    scripts can be chosen before any text object is made.
    """
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    families, missing = font_family(texts)
    with rc_context({**STYLE, "font.family": families}), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from font")
        figure = Figure(figsize=size, dpi=DPI, layout="constrained")
        draw(figure)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue(), missing
