"""Requests, tokens, characters and cost per stage, as grouped bars."""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from factory.report.canvas import PALETTE, render_png
from factory.report.usage import StageUsage

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: (panel title, [(usage key, legend label)], value format)
PANELS = (
    ("Requests", [("requests", "sent"), ("cached_requests", "from cache"), ("failed_requests", "failed"),
                  ("retries", "retries")], "{:,.0f}"),
    ("Tokens", [("prompt_tokens", "prompt"), ("completion_tokens", "completion")], "{:,.0f}"),
    ("Characters", [("billed_characters", "billed"), ("cached_characters", "from cache")], "{:,.0f}"),
    ("Cost (USD)", [("cost_usd", "cost")], "${:,.4f}"),
)


def _panel(ax: "Axes", rows: Sequence[StageUsage], title: str, series: list[tuple[str, str]], fmt: str) -> None:
    ax.set_title(title)
    stages = [row.stage for row in rows]
    if not any(row.get(key) for row in rows for key, _ in series):
        ax.text(0.5, 0.5, "none", ha="center", va="center", transform=ax.transAxes, color="#777777")
        ax.set_xticks(range(len(rows)), stages)
        ax.set_xlim(-0.5, len(rows) - 0.5)
        ax.set_yticks([])
        return
    width = 0.8 / len(series)
    for k, (key, label) in enumerate(series):
        xs = [i - 0.4 + width * (k + 0.5) for i in range(len(rows))]
        values = [row.get(key) for row in rows]
        bars = ax.bar(xs, values, width=width, color=PALETTE[k], label=label)
        ax.bar_label(bars, labels=[fmt.format(v) if v else "" for v in values], fontsize=7, rotation=90,
                     padding=2)
    ax.set_xticks(range(len(rows)), stages)
    ax.margins(y=0.3)
    ax.yaxis.get_major_locator().set_params(integer=key != "cost_usd")
    if len(series) > 1:
        ax.legend(fontsize=7, frameon=False)


def _draw(figure: "Figure", rows: Sequence[StageUsage]) -> None:
    for ax, (title, series, fmt) in zip(figure.subplots(1, len(PANELS)), PANELS):
        _panel(ax, rows, title, series, fmt)


def render(rows: Sequence[StageUsage]) -> tuple[bytes, str]:
    return render_png(lambda figure: _draw(figure, rows), (13, 3.8), [row.stage for row in rows])
