"""Make a report: load the run folder, measure it, draw the figures, write the page and PNGs.

The measuring is separate from the markup (:mod:`factory.report.sections`)
so the numbers can be tested, and each phase is timed: the report of a 52K
run must take under a minute (``benchmarks/report.py``).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, TypeVar

from factory.errors import UserError
from factory.languages import Language
from factory.records import Record, load_records
from factory.report import similarity
from factory.report.rejections import Funnel, funnel
from factory.report.rundata import RunData, load_run
from factory.report.usage import StageUsage, stage_usage
from factory.report.verbs import VerbTree, verb_tree

T = TypeVar("T")
FIELDS = ("instruction", "input", "output")


@dataclass
class Analysis:
    """Everything measured about one run folder; the sections are made from it."""

    data: RunData
    language: Language
    to_rest: similarity.Nearest
    seeds: list[Record] | None
    to_seeds: similarity.Nearest | None
    pairs: list[tuple[str | None, str | None]] | None  # (verb, object) per record
    tree: VerbTree | None
    lengths: dict[str, list[int]]
    funnel: Funnel
    stages: list[StageUsage]
    sample: list[int]  # positions of the random sample, in file order
    similar_pairs: list[tuple[float, int, int]]
    notes: list[str] = field(default_factory=list)
    #: factory.conversation_stats.summarize of the kept records, turns measured by the language plugin
    conversations: dict = field(default_factory=dict)


@dataclass
class ReportResult:
    html_path: Path
    figure_paths: dict[str, Path]
    records: int
    seconds: float
    timings: dict[str, float]
    notes: list[str]


class _Timer:
    def __init__(self) -> None:
        self.timings: dict[str, float] = {}

    def run(self, phase: str, work: Callable[[], T]) -> T:
        started = time.perf_counter()
        try:
            return work()
        finally:
            self.timings[phase] = self.timings.get(phase, 0.0) + time.perf_counter() - started


def _load_seeds(data: RunData, notes: list[str]) -> list[Record] | None:
    if data.seeds_path is None:
        return None
    try:
        return load_records(data.seeds_path)
    except UserError as exc:
        notes.append(f"seed set unreadable, the similarity-to-seeds histogram is left out: {exc}")
        return None


def analyze(data: RunData, *, samples: int = 20, top_verbs: int = 20, top_objects: int = 4,
            timer: _Timer | None = None, executor: Any = None) -> Analysis:
    """Measure a loaded run folder; ``executor`` (a factory.executors.Executor; default: this process) runs the
    language's analyses."""
    from factory.conversation_stats import summarize
    from factory.plugins import get_plugin

    timer = timer or _Timer()
    notes = list(data.notes)
    from factory.contracts import validate_options
    from factory.report.fonts import use_font_packages

    cls = get_plugin("language", data.language_code)
    # the run's own language options, so the report's similarities are the filter's
    language: Language = cls(validate_options(cls.options_model, data.language_options, "language_options"))
    use_font_packages(language.report_fonts)
    records = data.records
    field_name = data.similarity_field
    if executor is None:
        from factory.executors import Executor

        executor = Executor()  # this process
    instructions = [r.instruction for r in records]
    seeds = _load_seeds(data, notes)
    # The seeds ride along in the records' batch: analysed in the workers with the rest, so the driver never
    # loads an analyser of its own (Kiwi: 3 s and 500 MB) for a few hundred seed tasks.
    seed_texts = [getattr(s, field_name) for s in seeds] if seeds else []
    # One pass per text: the tokens and verb/object pairs of an instruction come from the same analysis (in
    # the worker that made it, when analysis is spread), never from a second analysis on the driver.
    if field_name == "instruction":
        both = timer.run("tokens, verbs and objects", lambda: executor.analyze_many(
            language, instructions + seed_texts, ("tokenize_many", "verb_objects")))
        all_tokens, pairs = both["tokenize_many"], both["verb_objects"]
        pairs = pairs[:len(records)] if pairs is not None else None
    else:
        all_tokens = timer.run("tokenize", lambda: executor.tokenize_many(
            language, [getattr(r, field_name) for r in records] + seed_texts))
        pairs = timer.run("verbs and objects",
                          lambda: executor.analyze_many(language, instructions, ("verb_objects",))["verb_objects"])
    tokens, seed_tokens = all_tokens[:len(records)], all_tokens[len(records):]
    to_rest = timer.run("similarity to the rest", lambda: similarity.nearest_in_rest(tokens, executor))
    to_seeds = None
    if seeds:
        to_seeds = timer.run("similarity to seeds", lambda: similarity.nearest_in_pool(tokens, seed_tokens))
    tree = verb_tree(pairs, top_verbs, top_objects) if pairs is not None else None
    if pairs is None:
        notes.append(f"the '{language.code}' language plugin does not extract verbs and objects "
                     "(Language.verb_objects): no sunburst")
    lengths = timer.run("lengths", lambda: {f: [language.count_words(getattr(r, f)) for r in records] for f in FIELDS})
    sample = sorted(random.Random(data.seed).sample(range(len(records)), min(samples, len(records))))
    return Analysis(
        data=data, language=language, to_rest=to_rest, seeds=seeds, to_seeds=to_seeds, pairs=pairs, tree=tree,
        lengths=lengths, funnel=funnel(data.stats, data.rejected, len(records)), stages=stage_usage(data.stats),
        sample=sample, similar_pairs=similarity.top_pairs(to_rest, samples), notes=notes,
        conversations=timer.run("conversations", lambda: summarize(records, language.count_words)),
    )


def default_output(run_dir: Path) -> Path:
    return run_dir / "report.html"


def build_report(run_dir: str | Path, output: str | Path | None = None, *, samples: int = 20, top_verbs: int = 20,
                 top_objects: int = 4, executor: Any = None) -> ReportResult:
    """Write the HTML report of ``run_dir`` to ``output`` and each figure to ``<output stem>_files/NAME.png``."""
    from factory.report import sections
    from factory.report.html import page

    started = time.perf_counter()
    timer = _Timer()
    data = timer.run("load", lambda: load_run(run_dir))
    html_path = Path(output) if output is not None else default_output(data.path)
    if html_path.is_dir():
        raise UserError(f"{html_path}: is a folder; give the report's file name (e.g. {html_path / 'report.html'})")
    result = analyze(data, samples=samples, top_verbs=top_verbs, top_objects=top_objects, timer=timer,
                     executor=executor)
    body = timer.run("figures", lambda: sections.build_sections(result))
    text = timer.run("html", lambda: page(f"Report: {data.name}", sections.subtitle(result), body, result.notes))
    figures_dir = html_path.with_name(f"{html_path.stem}_files")
    try:
        figures_dir.mkdir(parents=True, exist_ok=True)
        figure_paths = {}
        for figure in sections.figures_of(body):
            path = figures_dir / f"{figure.name}.png"
            path.write_bytes(figure.png)
            figure_paths[figure.name] = path
        for name in sections.FIGURE_NAMES:  # a figure left out this time must not linger from an earlier report
            if name not in figure_paths:
                (figures_dir / f"{name}.png").unlink(missing_ok=True)
        html_path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UserError(f"{html_path}: cannot write the report ({exc.strerror or exc})") from None
    return ReportResult(html_path=html_path, figure_paths=figure_paths, records=len(data.records),
                        seconds=time.perf_counter() - started, timings=timer.timings, notes=result.notes)
