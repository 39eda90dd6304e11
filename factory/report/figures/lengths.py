"""Length distributions of instruction, input and output, in the language's own measure.

Lengths are ``Language.count_words`` (whitespace words for English, eojeols
for Korean...), the unit the length filters use, so the plot and the
filter limits (drawn as dashed lines on the instruction panel) agree.
Empty inputs are counted in the title, not drawn as a spike at zero.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from factory.report.canvas import PALETTE, render_png

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

FIELDS = ("instruction", "input", "output")
BINS = 40


def _draw(figure: "Figure", lengths: dict[str, Sequence[int]], unit: str, limits: tuple[int | None, int | None]) -> None:
    import numpy as np

    axes = figure.subplots(1, len(FIELDS))
    for k, (ax, field) in enumerate(zip(axes, FIELDS)):
        values = np.asarray(lengths.get(field, ()), dtype=float)
        empty = int((values == 0).sum())
        shown = values[values > 0]
        title = field
        if empty:
            title += f" ({empty:,} empty, {empty / len(values):.0%})"
        ax.set_title(title)
        ax.set_xlabel(unit)
        ax.set_ylabel("records" if k == 0 else "")
        if not len(shown):
            ax.text(0.5, 0.5, "all empty", ha="center", va="center", transform=ax.transAxes, color="#777777")
            continue
        top = max(1.0, float(np.percentile(shown, 99)))  # a long tail would squash the bulk; clip it
        # Lengths are whole numbers: one bin per value while that is few enough bins.
        bins = np.arange(0, top + 2) - 0.5 if top < BINS else np.linspace(0, top, BINS + 1)
        ax.hist(np.minimum(shown, top), bins=bins, color=PALETTE[k], edgecolor="white", linewidth=0.5)
        median = float(np.median(shown))
        ax.axvline(median, color="#333333", linewidth=1)
        ax.text(median, 0.97, f" median {median:g}", transform=ax.get_xaxis_transform(), va="top", fontsize=8)
        if field == "instruction":
            for limit in limits:
                if limit is not None and limit <= top:
                    ax.axvline(limit, color=PALETTE[3], linestyle="--", linewidth=1)
    figure.suptitle(f"Lengths ({unit}; the last bin holds everything above the 99th percentile)", fontsize=10)


def render(lengths: dict[str, Sequence[int]], unit: str,
           limits: tuple[int | None, int | None] = (None, None)) -> tuple[bytes, str]:
    return render_png(lambda figure: _draw(figure, lengths, unit, limits), (12, 3.8), [unit])
