"""The rejection funnel (candidates left after each reason) and the count of each reason."""

from __future__ import annotations

from typing import TYPE_CHECKING

from factory.report.canvas import PALETTE, render_png
from factory.report.rejections import Funnel

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure


def _draw(figure: "Figure", funnel: Funnel) -> None:
    left, right = figure.subplots(1, 2, width_ratios=(3, 2))
    labels = [f"{funnel.stage}: candidates"] + [f"- {step.reason}" for step in funnel.steps] + ["kept"]
    remaining = [funnel.candidates] + [step.remaining for step in funnel.steps] + [funnel.kept]
    colors = [PALETTE[0]] + [PALETTE[7]] * len(funnel.steps) + [PALETTE[2]]
    y = list(range(len(labels)))[::-1]
    width = max(funnel.candidates, 1)
    # Centred bars: a funnel that narrows by what each filter removed.
    left.barh(y, remaining, left=[(width - r) / 2 for r in remaining], color=colors, height=0.7)
    for yi, value in zip(y, remaining):
        left.text(width / 2, yi, f"{value:,}", ha="center", va="center", fontsize=8, color="white",
                  fontweight="bold")
    left.set_yticks(y, labels)
    left.set_xticks([])
    left.grid(False)
    left.set_title(f"Funnel: {funnel.candidates:,} candidates -> {funnel.kept:,} kept")
    right.set_title("Rejections by reason")
    if not funnel.steps:
        right.text(0.5, 0.5, "nothing was rejected", ha="center", va="center", transform=right.transAxes,
                   color="#777777")
        right.set_axis_off()
        return
    reasons = [step.reason for step in funnel.steps][::-1]
    counts = [step.rejected for step in funnel.steps][::-1]
    right.barh(reasons, counts, color=PALETTE[3], height=0.6)
    for yi, count in enumerate(counts):
        right.text(count, yi, f" {count:,} ({count / max(funnel.candidates, 1):.1%})", va="center", fontsize=8)
    right.set_xlim(0, max(counts) * 1.35)
    right.set_xlabel("records")


def render(funnel: Funnel) -> tuple[bytes, str]:
    height = 1.6 + 0.35 * (len(funnel.steps) + 2)
    return render_png(lambda figure: _draw(figure, funnel), (12, height), [step.reason for step in funnel.steps])
