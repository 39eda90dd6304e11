"""Histograms of each record's highest ROUGE-L F: against the rest of the dataset, and against the seeds.

Self-instruct plotted the second to show generated tasks are not copies of
the seeds; the first shows how much of the dataset sits just under the
near-duplicate threshold (drawn as a dashed line) and is worth a look.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from factory.report.canvas import PALETTE, render_png

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

BINS = 40


def _panel(ax: "Axes", scores: Sequence[float] | None, title: str, color: str, threshold: float | None,
           missing: str) -> None:
    import numpy as np

    ax.set_title(title)
    ax.set_xlim(0, 1)
    ax.set_xlabel("max ROUGE-L F")
    ax.set_ylabel("records")
    if not scores:
        ax.text(0.5, 0.5, missing, ha="center", va="center", transform=ax.transAxes, color="#777777")
        return
    values = np.asarray(scores, dtype=float)
    ax.hist(values, bins=np.linspace(0, 1, BINS + 1), color=color, edgecolor="white", linewidth=0.5)
    median = float(np.median(values))
    ax.axvline(median, color="#333333", linewidth=1)
    ax.text(median, 0.97, f" median {median:.2f}", transform=ax.get_xaxis_transform(), va="top", fontsize=8)
    if threshold is not None:
        ax.axvline(threshold, color=PALETTE[3], linestyle="--", linewidth=1.2)
        ax.text(threshold, 0.88, f" threshold {threshold:g}", transform=ax.get_xaxis_transform(), va="top",
                fontsize=8, color=PALETTE[3])


def _draw(figure: "Figure", to_rest: Sequence[float], to_seeds: Sequence[float] | None, threshold: float | None,
          seeds_missing: str) -> None:
    left, right = figure.subplots(1, 2, sharex=True)
    _panel(left, to_rest, "Against the rest of the dataset", PALETTE[0], threshold, "fewer than two records")
    _panel(right, to_seeds, "Against the seed tasks", PALETTE[1], threshold, seeds_missing)


def render(to_rest: Sequence[float], to_seeds: Sequence[float] | None, threshold: float | None,
           seeds_missing: str = "no seed set") -> tuple[bytes, str]:
    return render_png(lambda figure: _draw(figure, to_rest, to_seeds, threshold, seeds_missing), (11, 4))
