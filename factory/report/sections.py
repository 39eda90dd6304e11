"""The report's sections, made from an :class:`~factory.report.build.Analysis`: figures, tables, text.

Every section is always present (a run without usage says so), so a reader
finds the same page layout for every dataset.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from typing import TYPE_CHECKING, Iterator, Sequence

from factory.report.figures import funnel as funnel_figure
from factory.report.figures import lengths as lengths_figure
from factory.report.figures import similarity as similarity_figure
from factory.report.figures import sunburst as sunburst_figure
from factory.report.figures import usage as usage_figure
from factory.report.fonts import INSTALL_HINT
from factory.report.html import Figure, Paragraph, Section, Table
from factory.report.rejections import describe, examples
from factory.report.usage import has_usage

if TYPE_CHECKING:  # pragma: no cover
    from factory.report.build import Analysis

FIGURE_NAMES = ("verbs", "similarity", "lengths", "rejections", "usage")
FIELDS = ("instruction", "input", "output")


class _Figures:
    """Renders figures and remembers characters that no font could draw."""

    def __init__(self) -> None:
        self.missing: set[str] = set()

    def make(self, name: str, rendered: tuple[bytes, str], caption: str) -> Figure:
        png, missing = rendered
        self.missing.update(missing)
        return Figure(name=name, png=png, caption=caption)


def _pct(part: float, whole: float) -> str:
    return f"{part / whole:.1%}" if whole else "-"


def _quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def subtitle(a: "Analysis") -> str:
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return (f"{a.data.path} · {len(a.data.records):,} records · language {a.language.code} "
            f"({a.language.name}) · generated {stamp}")


def _overview(a: "Analysis") -> Section:
    stats, prov = a.data.stats, a.data.provenance
    totals = stats.get("totals") or {}
    teacher = prov.get("teacher") or {}
    translator = prov.get("translator") or {}
    seed_set = prov.get("seed_set") or {}
    rows = [
        ("recipe", a.data.name),
        ("status", stats.get("status", "unknown")),
        ("language", f"{a.language.code} ({a.language.name})"),
        ("accepted records", f"{len(a.data.records):,}"),
        ("rejected records", f"{a.funnel.candidates - a.funnel.kept:,}"),
        ("target", stats.get("target")),
        ("method", prov.get("method")),
        ("teacher", teacher.get("identity") or teacher.get("model") or teacher.get("plugin")
         if isinstance(teacher, dict) else teacher),
        ("translator", (translator.get("identity") or translator.get("plugin")) if isinstance(translator, dict) else translator),
        ("seed set", f"{seed_set.get('path')} ({seed_set.get('count')} tasks)" if seed_set.get("path") else None),
        ("started / finished", f"{stats.get('started_at') or '-'} / {stats.get('finished_at') or '-'}"),
        ("requests", f"{totals.get('requests', 0):,}" if totals else None),
        ("tokens (prompt + completion)",
         f"{totals.get('prompt_tokens', 0):,} + {totals.get('completion_tokens', 0):,}" if totals else None),
        ("billed characters", f"{totals.get('billed_characters', 0):,}" if totals else None),
        ("cost", f"${totals.get('cost_usd', 0):,.4f}" if totals else None),
        ("factory version", prov.get("factory_version")),
    ]
    return Section("overview", "Overview", [Table(("", ""), [(k, v) for k, v in rows if v not in (None, "")])])


def _verbs(a: "Analysis", figures: _Figures) -> Section:
    section = Section("verbs", "Verbs and objects")
    tree = a.tree
    if tree is None:
        section.parts.append(Paragraph(f"The '{a.language.code}' language plugin does not extract root verbs "
                                       "and objects, so there is no sunburst for this dataset."))
        return section
    section.parts.append(Paragraph(
        f"{tree.with_verb:,} of {tree.instructions:,} instructions ({_pct(tree.with_verb, tree.instructions)}) "
        f"have a root verb ({tree.distinct_verbs:,} distinct verbs); questions and statements have none. "
        f"Extracted by the '{a.language.code}' language plugin."))
    if not tree.branches:
        section.parts.append(Paragraph("No instruction has a root verb: nothing to draw."))
        return section
    section.parts.append(figures.make("verbs", sunburst_figure.render(tree),
                                      "Root verbs (inner ring) and their most frequent direct objects (outer ring)"))
    rows = [(b.verb, f"{b.count:,}", _pct(b.count, tree.instructions),
             ", ".join(f"{obj} ({n:,})" for obj, n in b.objects)) for b in tree.branches]
    section.parts.append(Table(("verb", "instructions", "share", "top objects"), rows, ("", "num", "num", "text")))
    return section


def _similarity_rows(name: str, scores: Sequence[float], threshold: float | None) -> tuple:
    above_half = sum(1 for s in scores if s > 0.5)
    above = sum(1 for s in scores if threshold is not None and s > threshold)
    return (name, f"{statistics.median(scores):.3f}", f"{statistics.fmean(scores):.3f}",
            f"{_quantile(scores, 0.9):.3f}", f"{max(scores):.3f}", _pct(above_half, len(scores)),
            _pct(above, len(scores)) if threshold is not None else "-")


def _similarity(a: "Analysis", figures: _Figures) -> Section:
    threshold = a.data.threshold
    field = a.data.similarity_field
    section = Section("similarity", "Similarity (ROUGE-L)", [Paragraph(
        f"Each record's highest ROUGE-L F on the {field} field, against every other record and against "
        f"the seed tasks, on the '{a.language.code}' plugin's similarity tokens"
        + (f"; the run's near-duplicate threshold is {threshold:g}." if threshold is not None else "."))])
    seeds_missing = "no seed set in this run" if a.seeds is None else "empty seed set"
    if a.data.seeds_path is None and a.data.provenance.get("seed_set"):
        seeds_missing = "seed set not found"
    to_seeds = a.to_seeds.scores if a.to_seeds else None
    section.parts.append(figures.make(
        "similarity", similarity_figure.render(a.to_rest.scores, to_seeds, threshold, seeds_missing),
        "Max ROUGE-L F of each record against the rest of the dataset (left) and against the seeds (right)"))
    rows = []
    if len(a.to_rest.scores) > 1:
        rows.append(_similarity_rows("against the rest", a.to_rest.scores, threshold))
    if to_seeds:
        rows.append(_similarity_rows(f"against {len(a.seeds or ()):,} seed tasks", to_seeds, threshold))
    if rows:
        section.parts.append(Table(("", "median", "mean", "90th percentile", "max", "> 0.5",
                                    "> threshold"), rows, ("",) + ("num",) * 6))
    return section


def _lengths(a: "Analysis", figures: _Figures) -> Section:
    unit = f"{a.language.name} words (count_words)"
    length = next((f for f in a.data.provenance.get("filters") or [] if isinstance(f, dict) and f.get("plugin") == "length"
                   and f.get("target", "instruction") == "instruction"), {})
    limits = (length.get("min_words"), length.get("max_words"))
    section = Section("lengths", "Lengths", [Paragraph(
        f"Lengths in the '{a.language.code}' plugin's own measure (Language.count_words), the unit of the "
        "length filters; dashed lines on the instruction panel are the run's limits.")])
    section.parts.append(figures.make("lengths", lengths_figure.render(a.lengths, unit, limits),
                                      "Instruction, input and output lengths"))
    rows = []
    for field in FIELDS:
        values = a.lengths[field]
        present = [v for v in values if v]
        if not present:
            rows.append((field, "-", "-", "-", "-", _pct(len(values), len(values))))
            continue
        rows.append((field, f"{statistics.fmean(present):.1f}", f"{statistics.median(present):g}",
                     f"{_quantile(present, 0.95):g}", f"{max(present):,}", _pct(len(values) - len(present), len(values))))
    section.parts.append(Table(("field", "mean", "median", "95th percentile", "max", "empty"), rows,
                               ("",) + ("num",) * 5))
    return section


def _rejections(a: "Analysis", figures: _Figures) -> Section:
    f = a.funnel
    section = Section("rejections", "Rejections", [Paragraph(
        f"The {f.stage} stage produced {f.candidates:,} candidates and kept {f.kept:,} "
        f"({_pct(f.kept, f.candidates)}); each step removes one rejection reason, in the order the filters run.")])
    section.parts.append(figures.make("rejections", funnel_figure.render(f),
                                      "Rejection funnel (left) and rejections by reason (right)"))
    found = examples(a.data.rejected, [step.reason for step in f.steps])
    rows = []
    for step in f.steps:
        example = found.get(step.reason) or {}
        rows.append((step.reason, f"{step.rejected:,}", _pct(step.rejected, f.candidates), describe(step.reason),
                     example.get("instruction", ""), example.get("detail", "")))
    if rows:
        section.parts.append(Table(("reason", "rejected", "of candidates", "meaning", "example", "detail"), rows,
                                   ("", "num", "num", "text", "text", "text")))
    return section


def _language_mix(rows: Sequence[dict]) -> Counter:
    """Per conversation, the language most of its identified turns are in (``meta.language_id``)."""
    mix: Counter = Counter()
    for meta in rows:
        found = [d.get("language") or "none" for d in meta.get("language_id") or [] if isinstance(d, dict)]
        mix[Counter(found).most_common(1)[0][0] if found else "not identified"] += 1
    return mix


def _conversations(a: "Analysis") -> Section:
    """Turns per conversation, length of a turn by role, language mix and the cleaning funnel."""
    from factory.conversations import REASONS

    summary = a.conversations
    section = Section("conversations", "Conversations")
    if not summary or not summary.get("multi_turn"):
        section.parts.append(Paragraph("Every kept record is a single exchange: no multi-turn conversation."))
        return section
    spread = summary["turns_per_conversation"]
    section.parts.append(Paragraph(
        f"{summary['conversations']:,} conversations, {summary['multi_turn']:,} with more than one user turn; turns "
        f"per conversation (system prompt not counted): median {spread['median']:g}, mean {spread['mean']:g}, "
        f"max {spread['max']:g}" + (f"; {summary['split_parts']:,} are parts of longer conversations split at turn "
                                     "boundaries" if summary.get("split_parts") else "") + "."))
    total = summary["conversations"]
    section.parts.append(Table(("turns", "conversations", "share"),
                               [(str(n), f"{c:,}", _pct(c, total)) for n, c in summary["turn_histogram"].items()],
                               ("num", "num", "num")))
    section.parts.append(Table(
        (f"{a.language.code} tokens per turn", "turns", "min", "median", "mean", "max"),
        [(role, f"{sum(1 for r in a.data.records for m in r.messages if m['role'] == role):,}",
          *(f"{v[k]:g}" for k in ("min", "median", "mean", "max"))) for role, v in summary["tokens_per_turn"].items()],
        ("", "num", "num", "num", "num", "num")))
    kept_mix = _language_mix([r.meta for r in a.data.records])
    dropped_mix = _language_mix([row.get("meta") or {} for row in a.data.rejected
                                 if row.get("reason") == "wrong_language"])
    languages = sorted(set(kept_mix) | set(dropped_mix), key=lambda k: -(kept_mix[k] + dropped_mix[k]))
    section.parts.append(Table(("language (most turns)", "kept", "rejected as wrong_language"),
                               [(code, f"{kept_mix[code]:,}", f"{dropped_mix[code]:,}") for code in languages],
                               ("", "num", "num")))
    if summary.get("sources"):
        section.parts.append(Table(("source", "kept"), [(k, f"{v:,}") for k, v in summary["sources"].items()],
                                   ("", "num")))
    reasons = {step.reason: step.rejected for step in a.funnel.steps}
    remaining = a.funnel.candidates
    rows = [("source records and candidates", "", f"{remaining:,}")]
    for reason in [*(r for r in REASONS if r in reasons), *(r for r in reasons if r not in REASONS)]:
        remaining -= reasons[reason]
        rows.append((reason, f"{reasons[reason]:,}", f"{remaining:,}"))
    section.parts.append(Paragraph("The funnel: conversation cleaning first (malformed, empty, duplicates), then "
                                   "the recipe's filters in their order."))
    section.parts.append(Table(("step", "removed", "left"), rows, ("", "num", "num")))
    return section


def _judge_scores(a: "Analysis") -> Section:
    """The distribution of judge scores (``meta.judge``, written by the judge_score filter) over kept and dropped records."""
    section = Section("judge-scores", "Judge scores")
    kept = [r.meta["judge"]["score"] for r in a.data.records
            if isinstance(r.meta.get("judge"), dict) and isinstance(r.meta["judge"].get("score"), (int, float))]
    dropped = [row["meta"]["judge"]["score"] for row in a.data.rejected
               if isinstance((row.get("meta") or {}).get("judge"), dict)
               and isinstance(row["meta"]["judge"].get("score"), (int, float))]
    if not kept and not dropped:
        section.parts.append(Paragraph("No judge filter scored this run's records."))
        return section
    judge = next((f for f in a.data.provenance.get("filters") or [] if isinstance(f, dict)
                  and f.get("plugin") == "judge_score"), {})
    threshold = judge.get("threshold")
    every = kept + dropped
    section.parts.append(Paragraph(
        f"{len(every):,} records scored by judge_score ({judge.get('judge', 'a judge')}) on the '{a.language.code}' "
        f"rubric, 0 to 5" + (f"; threshold {threshold:g}" if isinstance(threshold, (int, float)) else "")
        + f": median {statistics.median(every):g}, mean {statistics.fmean(every):.2f}; {len(kept):,} kept."))
    rows = [(f"{score:g}", f"{kept.count(score):,}", f"{dropped.count(score):,}", _pct(every.count(score), len(every)))
            for score in sorted(set(every), reverse=True)]
    section.parts.append(Table(("score", "kept", "rejected", "share"), rows, ("", "num", "num", "num")))
    return section


def _histogram_rows(histogram: dict, total: int) -> list[tuple]:
    return [(value, f"{count:,}", _pct(count, total), "█" * max(1, round(40 * count / max(total, 1))))
            for value, count in histogram.items()]


def _preferences(a: "Analysis") -> Section:
    """Preference data (:mod:`factory.preferences`): judge scores per answering teacher, the margins of the kept
    pairs, and how often the judge agreed with itself when the two answers swapped places."""
    from factory.preferences import summarize

    section = Section("preferences", "Preference pairs")
    summary = a.data.stats.get("method_summary")
    if not isinstance(summary, dict) or "pairs" not in summary:
        summary = summarize([r.to_dict() for r in a.data.records], a.data.rejected)
    if not summary:
        section.parts.append(Paragraph("This run made no preference pairs."))
        return section
    judges = ", ".join(summary.get("judges") or []) or "no model (human votes or ranks)"
    section.parts.append(Paragraph(
        f"{summary['pairs']:,} pairs kept by {', '.join(summary.get('methods') or ['a source'])}; judged by {judges}; "
        + (", ".join(f"{n:,} dropped as {r}" for r, n in (summary.get("dropped") or {}).items()) or "none dropped")
        + "."))
    for teacher, scores in (summary.get("scores_by_teacher") or {}).items():
        section.parts.append(Paragraph(f"Judge scores of {teacher}'s answers: {scores['count']:,} scored, "
                                       f"mean {scores['mean']:g}, median {scores['median']:g}."))
        section.parts.append(Table(("score", "answers", "share", ""),
                                   _histogram_rows(scores.get("histogram") or {}, scores["count"]),
                                   ("num", "num", "num", "")))
    margins = summary.get("margins") or {}
    if margins.get("count"):
        section.parts.append(Paragraph(f"Margins of the kept pairs (chosen minus rejected score): min "
                                       f"{margins['min']:g}, median {margins['median']:g}, max {margins['max']:g}."))
        section.parts.append(Table(("margin", "pairs", "share", ""),
                                   _histogram_rows(margins.get("histogram") or {}, margins["count"]),
                                   ("num", "num", "num", "")))
    bias = summary.get("position_bias")
    if bias:
        section.parts.append(Paragraph(
            f"Judge agreement across orders: {bias['orders_agree']:,} of {bias['pairs_compared']:,} pairs got the same "
            f"verdict with the answers swapped ({bias['agreement']}); of {bias['judgements']:,} judgements the answer "
            f"shown first won {bias['first_position_wins']:,}, the second {bias['second_position_wins']:,}, "
            f"{bias['ties']:,} ties (first-position share {bias['first_position_share']}; 0.5 is no bias)."))
        section.parts.append(Table(("", "count"), [
            ("orders agree", f"{bias['orders_agree']:,}"), ("orders disagree", f"{bias['orders_disagree']:,}"),
            ("first position won", f"{bias['first_position_wins']:,}"),
            ("second position won", f"{bias['second_position_wins']:,}"), ("ties", f"{bias['ties']:,}")],
            ("", "num")))
    return section


def _usage(a: "Analysis", figures: _Figures) -> Section:
    section = Section("usage", "Cost and usage")
    if not a.stages:
        section.parts.append(Paragraph("No stage recorded timings or usage (stats.json is missing or empty)."))
        return section
    if has_usage(a.stages):
        section.parts.append(figures.make("usage", usage_figure.render(a.stages),
                                          "Requests, tokens, characters and cost per stage"))
    else:
        section.parts.append(Paragraph("No stage sent requests to a teacher or translator."))
    headers = ("stage", "seconds", "accepted", "rejected", "requests", "cached", "failed", "retries",
               "prompt tokens", "completion tokens", "billed chars", "cached chars", "cost (USD)")
    rows = []
    for s in a.stages:
        rows.append((s.stage, "-" if s.seconds is None else f"{s.seconds:,.1f}",
                     "-" if s.accepted is None else f"{s.accepted:,}", "-" if s.rejected is None else f"{s.rejected:,}",
                     *(f"{s.get(k):,.0f}" for k in ("requests", "cached_requests", "failed_requests", "retries",
                                                    "prompt_tokens", "completion_tokens", "billed_characters",
                                                    "cached_characters")),
                     f"${s.get('cost_usd'):,.4f}"))
    section.parts.append(Table(headers, rows, ("",) + ("num",) * 12))
    return section


def _samples(a: "Analysis") -> Section:
    records = a.data.records
    section = Section("samples", "Random samples", [Paragraph(
        f"{len(a.sample)} records drawn at random (seed {a.data.seed}), in file order.")])
    rows = []
    for i in a.sample:
        r = records[i]
        verb, obj = a.pairs[i] if a.pairs is not None else (None, None)
        rows.append((r.id, r.instruction, r.input, r.output, " / ".join(x or "-" for x in (verb, obj)),
                     f"{a.to_rest.scores[i]:.3f}"))
    section.parts.append(Table(("id", "instruction", "input", "output", "verb / object", "max ROUGE-L"), rows,
                               ("", "text", "text", "text", "", "num")))
    return section


def _similar_pairs(a: "Analysis") -> Section:
    records = a.data.records
    field = a.data.similarity_field
    section = Section("similar-pairs", "Most similar pairs kept", [Paragraph(
        f"The kept records closest to each other on the {field} field: candidates for a manual look or a "
        "stricter threshold.")])
    rows = [(f"{score:.3f}", records[i].id, getattr(records[i], field), records[j].id, getattr(records[j], field))
            for score, i, j in a.similar_pairs]
    section.parts.append(Table(("ROUGE-L", "id", field, "id", field), rows, ("num", "", "text", "", "text")))
    return section


def build_sections(a: "Analysis") -> list[Section]:
    """All sections in page order (figures are rendered here)."""
    figures = _Figures()
    result = [_overview(a), _verbs(a, figures), _similarity(a, figures), _lengths(a, figures),
              _rejections(a, figures), _conversations(a), _judge_scores(a), _preferences(a),
              _usage(a, figures), _samples(a), _similar_pairs(a)]
    if figures.missing:
        shown = "".join(sorted(figures.missing))[:40]
        a.notes.append(f"no installed font draws these characters, so figures show boxes for them: {shown} "
                       f"(install one: {INSTALL_HINT})")
    return result


def figures_of(sections: Sequence[Section]) -> Iterator[Figure]:
    for section in sections:
        for part in section.parts:
            if isinstance(part, Figure):
                yield part
