"""``factory report``: look at a dataset before training on it.

A self-contained HTML page (figures embedded, opens offline) and one PNG per
figure: the verb/object sunburst, ROUGE-L similarity against the rest of the
dataset and against the seeds, length distributions, the rejection funnel,
usage and cost per stage, random samples and the most similar pairs kept.
Importing this package is cheap: matplotlib loads when a figure is drawn.
"""

from factory.report.build import ReportResult, build_report

__all__ = ["ReportResult", "build_report"]
