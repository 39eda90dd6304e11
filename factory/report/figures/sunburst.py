"""The verb/object sunburst: root verbs on the inner ring, their direct objects on the outer ring.

Drawn as bars on polar axes. Each verb's angle is its share of the
instructions that have one of the top verbs; inside it, each object's angle
is its share of that verb's instructions, and the rest (other objects, or no
object) stays a pale band, so a verb used with one object looks different
from a verb spread over many.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from factory.report.canvas import PALETTE, render_png
from factory.report.verbs import VerbTree

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

INNER = (0.28, 0.36)  # (bottom radius, height) of the verb ring
OUTER = (0.64, 0.36)
MIN_LABEL_ANGLE = 0.045  # radians; narrower wedges stay unlabelled


def _lighten(color: str | tuple[float, float, float], amount: float) -> tuple[float, float, float]:
    from matplotlib.colors import to_rgb

    r, g, b = to_rgb(color)
    return (r + (1 - r) * amount, g + (1 - g) * amount, b + (1 - b) * amount)


def _radial_label(ax, theta: float, radius: float, text: str, size: float) -> None:
    """Text along the radius at ``theta`` (clockwise from north), kept upright."""
    angle = 90 - math.degrees(theta)  # screen angle, counter-clockwise from east
    angle = (angle + 180) % 360 - 180
    if angle < -90 or angle > 90:
        angle += 180
    ax.text(theta, radius, text, rotation=angle, rotation_mode="anchor", ha="center", va="center",
            fontsize=size, clip_on=False)


def _draw(figure: "Figure", tree: VerbTree) -> None:
    ax = figure.add_subplot(projection="polar")
    ax.set_theta_zero_location("N")
    ax.set_theta_direction(-1)
    ax.set_axis_off()
    ax.set_ylim(0, 1.0)
    total = sum(branch.count for branch in tree.branches)
    start = 0.0
    for k, branch in enumerate(tree.branches):
        color = _lighten(PALETTE[k % len(PALETTE)], 0.0 if k < len(PALETTE) else 0.35)  # second lap: paler
        width = 2 * math.pi * branch.count / total
        ax.bar(start, INNER[1], width=width, bottom=INNER[0], align="edge", color=color, edgecolor="white",
               linewidth=1)
        if width >= MIN_LABEL_ANGLE:
            _radial_label(ax, start + width / 2, INNER[0] + INNER[1] / 2, branch.verb,
                          min(11.0, 6 + 40 * width))
        inner_start = start
        for rank, (obj, count) in enumerate(branch.objects):
            obj_width = width * count / branch.count
            ax.bar(inner_start, OUTER[1], width=obj_width, bottom=OUTER[0], align="edge",
                   color=_lighten(color, 0.25 + 0.12 * rank),
                   edgecolor="white", linewidth=0.6)
            if obj_width >= MIN_LABEL_ANGLE:
                _radial_label(ax, inner_start + obj_width / 2, OUTER[0] + OUTER[1] / 2, obj,
                              min(9.0, 5 + 40 * obj_width))
            inner_start += obj_width
        if start + width - inner_start > 1e-9:  # other objects or none
            ax.bar(inner_start, OUTER[1], width=start + width - inner_start, bottom=OUTER[0], align="edge",
                   color="#EEEEEE", edgecolor="white", linewidth=0.6)
        start += width
    ax.text(0, 0, f"{tree.with_verb:,} of {tree.instructions:,}\nwith a root verb", ha="center", va="center",
            fontsize=9)
    figure.suptitle(f"Top {len(tree.branches)} root verbs (inner ring) and their most frequent direct objects "
                    "(outer ring; grey: other objects or none)", fontsize=11)


def render(tree: VerbTree) -> tuple[bytes, str]:
    """PNG of the sunburst, and any label characters no installed font could draw."""
    labels = [b.verb for b in tree.branches] + [obj for b in tree.branches for obj, _ in b.objects]
    return render_png(lambda figure: _draw(figure, tree), (9.5, 9.5), labels)
