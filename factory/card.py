"""The dataset card (README.md): Hub metadata plus how the data was made.

The card is rebuilt from the run's (already scrubbed) ``stats.json`` and
``recipe.yaml`` on every export and never contains a timestamp of its own,
so an unchanged run gives an unchanged card.

Merging with an existing README.md (one that ``datasets`` wrote, or one a
person edited):

- keys we *own* are always ours because they must match the data:
  ``configs``, ``dataset_info``, ``size_categories``, ``language``, plus
  ``license`` / ``pretty_name`` when the recipe sets them explicitly
  (``export.license``, ``publish.pretty_name``, or at the top level);
- list keys ``tags``, ``task_categories``, ``source_datasets`` are unioned
  (theirs first);
- every other key already present is kept as it is (ours fills gaps);
- the body between :data:`BEGIN` and :data:`END` markers is replaced; text
  outside the markers is kept. A body without markers is kept below ours.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from factory import __version__, secrets_scan

BEGIN = "<!-- factory:card:begin (generated; edit outside these markers) -->"
END = "<!-- factory:card:end -->"
OWNED_KEYS = ("configs", "dataset_info", "size_categories", "language")
UNION_KEYS = ("tags", "task_categories", "source_datasets")
KEY_ORDER = ("pretty_name", "language", "license", "task_categories", "size_categories", "source_datasets",
             "tags", "configs", "dataset_info")
SAMPLE_CHARS = 400
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)^---[ \t]*\r?\n?", re.DOTALL | re.MULTILINE)


@dataclass
class CardContext:
    """Everything the card says; ``stats`` and ``recipe`` must already be scrubbed."""

    stats: dict[str, Any]
    recipe: dict[str, Any]
    splits: dict[str, int]  # split -> rows
    data_files: dict[str, list[str]]  # split -> paths relative to the card
    meta_fields: dict[str, str] = field(default_factory=dict)
    samples: list[dict[str, Any]] = field(default_factory=list)
    columns: list[str] = field(default_factory=lambda: ["id", "messages", "instruction", "input", "output"])
    dataset_info: dict[str, Any] | None = None
    #: factory.conversation_stats.summarize of the exported records
    conversations: dict[str, Any] | None = None
    #: export views written (data/views/<view>/)
    views: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- small helpers


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _provenance(ctx: CardContext) -> dict[str, Any]:
    return _dict(ctx.stats.get("provenance"))


def _card_options(ctx: CardContext) -> dict[str, Any]:
    """Card settings from the recipe: ``export.license`` (the lead's schema), ``publish.*`` or top level."""
    options: dict[str, Any] = {}
    for section in (ctx.recipe, _dict(ctx.recipe.get("publish")), _dict(ctx.recipe.get("export"))):
        for key in ("license", "pretty_name", "tags", "source_datasets"):
            if section.get(key):
                options[key] = section[key]
    return options


def _source_datasets(ctx: CardContext) -> list[str]:
    explicit = _card_options(ctx).get("source_datasets")
    if explicit:
        return [str(s) for s in explicit]
    hub_id = _dict(ctx.recipe.get("source")).get("hub_dataset")
    return [str(hub_id)] if hub_id else ["original"]


def language_code(ctx: CardContext) -> str | None:
    lang = ctx.stats.get("language") or ctx.recipe.get("language")
    if isinstance(lang, dict):
        lang = lang.get("code") or lang.get("name")
    return str(lang) if lang else None


def language_name(code: str | None) -> str:
    """The language plugin's display name, or the code when it is not installed."""
    if not code:
        return "an unspecified language"
    try:
        from factory.plugins import get_plugin

        name = getattr(get_plugin("language", code), "name", None)
    except Exception:  # a card must not fail because a plugin does
        name = None
    return f"{name} ({code})" if name else code


def size_category(rows: int) -> str:
    """The Hub's ``size_categories`` bucket for a row count."""
    labels = ["n<1K", "1K<n<10K", "10K<n<100K", "100K<n<1M", "1M<n<10M", "10M<n<100M", "100M<n<1B",
              "1B<n<10B", "10B<n<100B", "100B<n<1T"]
    for power, label in enumerate(labels, start=3):
        if rows < 10**power:
            return label
    return "n>1T"


def _pretty_name(ctx: CardContext) -> str:
    explicit = _card_options(ctx).get("pretty_name")
    if explicit:
        return str(explicit)
    name = str(ctx.stats.get("recipe") or ctx.recipe.get("name") or "factory dataset")
    return " ".join(part.capitalize() if part.islower() else part for part in re.split(r"[-_\s]+", name) if part)


def _fmt_int(value: Any) -> str:
    return f"{int(value):,}" if isinstance(value, (int, float)) and not isinstance(value, bool) else "—"


def _fmt_cost(value: Any) -> str:
    return f"${value:,.4f}" if isinstance(value, (int, float)) and not isinstance(value, bool) else "—"


def _fmt(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, (dict, list)):
        return "`" + json.dumps(value, ensure_ascii=False, sort_keys=True) + "`"
    return str(value).replace("|", "\\|").replace("\n", " ")


def _flatten(mapping: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"similarity": {"threshold": 0.7}}`` -> ``{"similarity.threshold": 0.7}``."""
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


# ---------------------------------------------------------------- metadata


def build_metadata(ctx: CardContext) -> dict[str, Any]:
    """Our YAML metadata, in :data:`KEY_ORDER`."""
    prov = _provenance(ctx)
    options = _card_options(ctx)
    method = prov.get("method")
    tags = ["synthetic", "instruction-tuning", "factory"]
    if isinstance(method, str) and method:
        tags.append(method)
    if prov.get("translator"):
        tags.append("machine-translated")
    tags += [str(t) for t in options.get("tags") or [] if str(t) not in tags]
    configs = [{
        "config_name": "default",
        "data_files": [{"split": split, "path": paths[0] if len(paths) == 1 else paths}
                       for split, paths in ctx.data_files.items()],
    }]
    meta: dict[str, Any] = {
        "pretty_name": _pretty_name(ctx),
        "language": language_code(ctx),  # a single code, written `language: ko`
        "license": str(options.get("license") or "other"),
        "task_categories": ["text-generation"],
        "size_categories": [size_category(sum(ctx.splits.values()))],
        "source_datasets": _source_datasets(ctx),
        "tags": tags,
        "configs": configs,
        "dataset_info": ctx.dataset_info,
    }
    return {k: v for k, v in meta.items() if v is not None}


def owned_keys(ctx: CardContext) -> set[str]:
    explicit = {k for k in ("license", "pretty_name") if k in _card_options(ctx)}
    return set(OWNED_KEYS) | explicit


def merge_metadata(theirs: dict[str, Any], ours: dict[str, Any], owned: set[str]) -> dict[str, Any]:
    """Theirs wins except for owned keys; list keys in :data:`UNION_KEYS` are unioned."""
    merged: dict[str, Any] = {}
    for key in list(KEY_ORDER) + [k for k in theirs if k not in KEY_ORDER] + [k for k in ours if k not in KEY_ORDER]:
        if key in merged or (key not in theirs and key not in ours):
            continue
        if key in owned and key in ours:
            merged[key] = ours[key]
        elif key in UNION_KEYS and isinstance(theirs.get(key), list) and isinstance(ours.get(key), list):
            merged[key] = list(dict.fromkeys([*theirs[key], *ours[key]]))
        elif key in theirs:
            merged[key] = theirs[key]
        else:
            merged[key] = ours[key]
    return merged


# ---------------------------------------------------------------- body


def _summary(ctx: CardContext) -> list[str]:
    prov = _provenance(ctx)
    teacher = _dict(prov.get("teacher"))
    total = sum(ctx.splits.values())
    language = language_name(language_code(ctx))
    version = prov.get("factory_version") or __version__
    if prov.get("method"):
        how = f"generated with {prov['method']} by a teacher model ({teacher.get('model') or 'unrecorded'})"
    elif prov.get("translator"):
        how = f"machine-translated with {_dict(prov['translator']).get('plugin') or 'an unrecorded engine'}"
    else:
        how = "filtered from existing records"
    lines = [f"{total:,} instruction-following examples in {language}, {how}, built with factory {version}.", ""]
    description = ctx.recipe.get("description")
    if isinstance(description, str) and description.strip():
        lines += [secrets_scan.redact(description.strip()), ""]
    lines += _table(["split", "rows", "file"],
                    [[s, f"{n:,}", ", ".join(f"`{p}`" for p in ctx.data_files.get(s, []))]
                     for s, n in ctx.splits.items()])
    return lines


#: column -> (type, meaning) for the data fields table
COLUMN_DOCS = {
    "id": ("string", "stable record id"),
    "messages": ("list of {role, content}", "the conversation (system, user and assistant turns): what chat "
                 "trainers (TRL, axolotl, LLaMA-Factory) read"),
    "instruction": ("string", "the task (the first user turn, without its input)"),
    "input": ("string", "optional context for the task (empty when none)"),
    "output": ("string", "the teacher's answer (the first assistant turn)"),
    "chosen": ("string", "the preferred assistant reply to the conversation"),
    "rejected": ("string", "the dispreferred assistant reply"),
    "score": ("float64", "a judged score of the record"),
    "label": ("bool", "whether the last assistant turn is desirable (unpaired preference data)"),
}


def _fields(ctx: CardContext) -> list[str]:
    lines = ["## Data fields", ""]
    rows = [[name, *COLUMN_DOCS.get(name, ("string", ""))] for name in ctx.columns if name != "meta"]
    for key, kind in ctx.meta_fields.items():
        note = "JSON-encoded (the values had mixed types)" if kind == "json" else "provenance"
        rows.append([f"meta.{key}", "string" if kind == "json" else kind, note])
    return lines + _table(["field", "type", "meaning"], rows)


def _how_made(ctx: CardContext) -> list[str]:
    prov = _provenance(ctx)
    teacher = _dict(prov.get("teacher"))
    seeds = _dict(prov.get("seed_set"))
    translator = prov.get("translator")
    rows = [
        ["method", _fmt(prov.get("method"))],
        ["teacher plugin", _fmt(teacher.get("plugin"))],
        ["teacher model", _fmt(teacher.get("model"))],
        ["teacher endpoint kind", _fmt(teacher.get("endpoint_kind"))],
        ["teacher endpoint", _fmt(teacher.get("endpoint"))],
        ["seed set", _fmt(seeds.get("path"))],
        ["seed set sha256", _fmt(seeds.get("sha256"))],
        ["seed tasks", _fmt_int(seeds.get("count"))],
        ["prompt template sha256", _fmt(prov.get("prompt_sha256"))],
    ]
    source = _dict(prov.get("source"))
    if source:
        rows += [[f"source {k}", _fmt(v)] for k, v in source.items()]
    for role, judge in _dict(prov.get("teachers")).items():
        judge = _dict(judge)
        rows.append([f"{role} model", _fmt(f"{judge.get('plugin')}: {judge.get('model')}")])
    if isinstance(translator, dict):
        rows.append(["translator", _fmt(translator.get("plugin"))])
        rows += [[f"translator {k}", _fmt(translator.get(k))] for k in ("engine", "server") if translator.get(k)]
        rows += [[f"translator {k}", _fmt(v)] for k, v in _dict(translator.get("settings")).items()]
        rows += [[f"translation {k}", _fmt(v)] for k, v in _dict(prov.get("translation")).items()]
    else:
        rows.append(["translator", "none"])
    rows += [
        ["run started", _fmt(ctx.stats.get("started_at"))],
        ["run finished", _fmt(ctx.stats.get("finished_at"))],
        ["tool", f"factory {_fmt(prov.get('factory_version') or __version__)}"],
    ]
    lines = ["## How the data was made", ""] + _table(["", ""], rows)
    filters = prov.get("filters")
    if isinstance(filters, list) and filters:  # in the order they ran
        rows = []
        for item in filters:
            item = _dict(item)
            name = item.get("plugin", "?")
            settings = {k: v for k, v in item.items() if k != "plugin"}
            rows += [[_fmt(f"{name}.{k}"), _fmt(v)] for k, v in _flatten(settings).items()] or [[_fmt(name), "on"]]
        lines += ["", "### Filters", ""] + _table(["filter", "setting"], rows)
    elif _dict(filters):  # a manifest written by an older factory
        lines += ["", "### Filters", ""]
        lines += _table(["filter", "setting"], [[_fmt(k), _fmt(v)] for k, v in _flatten(_dict(filters)).items()])
    return lines


def _counts(ctx: CardContext) -> list[str]:
    lines: list[str] = []
    stages = _dict(ctx.stats.get("stages"))
    if stages:
        lines += ["", "### Stages", ""]
        lines += _table(["stage", "accepted", "rejected", "seconds"],
                        [[_fmt(name), _fmt_int(_dict(s).get("accepted")), _fmt_int(_dict(s).get("rejected")),
                          _fmt(_dict(s).get("seconds"))] for name, s in stages.items()])
    rejections = _dict(ctx.stats.get("rejections"))
    lines += ["", "### Rejections by reason", ""]
    if rejections:
        lines += _table(["reason", "records"], [[_fmt(r), _fmt_int(n)] for r, n in rejections.items()])
    else:
        lines.append("No record was rejected (or the run recorded no reasons).")
    return lines


def _preferences(ctx: CardContext) -> list[str]:
    """Who judged, on what rubric, with which margins, and how biased the judge was by position."""
    summary = _dict(ctx.stats.get("method_summary"))
    if "pairs" not in summary:
        return []
    prov = _provenance(ctx)
    identity = _dict(prov.get("method_identity"))
    judges = summary.get("judges") or []
    rows = [["made by", _fmt(", ".join(summary.get("methods") or []) or prov.get("method") or "a source")],
            ["judge models", _fmt(", ".join(judges) or "none (human votes or ranks)")],
            ["pairs kept", _fmt_int(summary.get("pairs"))]]
    if identity.get("rubric_version"):
        rows.append(["rubric", f"the language plugin's 0-5 quality rubric, version {identity['rubric_version']} "
                               f"(prompt sha256 {_fmt(prov.get('prompt_sha256'))[:16]})"])
    if identity.get("wording_version"):
        rows.append(["comparison wording", f"A/B in both orders, version {identity['wording_version']} "
                                           f"(prompt sha256 {_fmt(prov.get('prompt_sha256'))[:16]})"])
    if isinstance(identity.get("margin"), (int, float)):
        rows.append(["margin threshold", f"{identity['margin']:g}"])
    margins = _dict(summary.get("margins"))
    if margins.get("count"):
        rows.append(["margins", f"min {margins['min']:g}, median {margins['median']:g}, mean {margins['mean']:g}, "
                                f"max {margins['max']:g}"])
    for reason, count in _dict(summary.get("dropped")).items():
        rows.append([f"dropped: {reason}", _fmt_int(count)])
    lines = ["", "### Preference pairs", ""] + _table(["", ""], rows)
    scores = _dict(summary.get("scores_by_teacher"))
    if scores:
        lines += ["", "Judge scores (0-5) by answering teacher:", ""]
        lines += _table(["teacher", "answers", "mean", "median", "histogram"],
                        [[_fmt(t), _fmt_int(_dict(s).get("count")), _fmt(_dict(s).get("mean")),
                          _fmt(_dict(s).get("median")),
                          _fmt(", ".join(f"{k}: {v}" for k, v in _dict(_dict(s).get("histogram")).items()))]
                         for t, s in scores.items()])
    bias = _dict(summary.get("position_bias"))
    if bias:
        lines += ["", "Position bias of the judge (each pair compared in both orders):", ""]
        lines += _table(["", ""], [
            ["judgements", _fmt_int(bias.get("judgements"))],
            ["first position won", _fmt_int(bias.get("first_position_wins"))],
            ["second position won", _fmt_int(bias.get("second_position_wins"))],
            ["ties", _fmt_int(bias.get("ties"))],
            ["first-position share of decided judgements (0.5 = no bias)", _fmt(bias.get("first_position_share"))],
            ["pairs whose two orders agreed", f"{_fmt_int(bias.get('orders_agree'))} of "
                                              f"{_fmt_int(bias.get('pairs_compared'))} ({_fmt(bias.get('agreement'))})"]])
    return lines


def _conversations(ctx: CardContext) -> list[str]:
    """Turns and sources, for multi-turn data or a mix of sources."""
    from factory.conversation_stats import is_conversational

    summary = ctx.conversations or {}
    if not summary or not is_conversational(summary):
        return []
    spread = _dict(summary.get("turns_per_conversation"))
    lines = ["", "### Conversations", "",
             f"{_fmt_int(summary.get('conversations'))} conversations, {_fmt_int(summary.get('multi_turn'))} with "
             f"more than one user turn; turns per conversation (system prompt not counted): min {_fmt(spread.get('min'))}, "
             f"median {_fmt(spread.get('median'))}, mean {_fmt(spread.get('mean'))}, max {_fmt(spread.get('max'))}."]
    if summary.get("split_parts"):
        lines += ["", f"{_fmt_int(summary['split_parts'])} records are parts of longer conversations split at turn "
                  "boundaries (`meta.part` of `meta.parts`, `meta.source_id` names the original)."]
    roles = _dict(summary.get("tokens_per_turn"))
    if roles:
        lines += ["", "Words per turn, by role:", ""]
        lines += _table(["role", "min", "median", "mean", "max"],
                        [[_fmt(role), *(_fmt(_dict(v).get(k)) for k in ("min", "median", "mean", "max"))]
                         for role, v in roles.items()])
    sources = _dict(summary.get("sources"))
    if sources:
        lines += ["", "Records by source (`meta.source_name`):", ""]
        lines += _table(["source", "records"], [[_fmt(k), _fmt_int(v)] for k, v in sources.items()])
    if ctx.views:
        lines += ["", "Views for other trainers (under `views/`): " + ", ".join(f"`{v}`" for v in ctx.views) + "."]
    return lines


def _usage(ctx: CardContext) -> list[str]:
    usage = _dict(ctx.stats.get("usage"))
    totals = _dict(ctx.stats.get("totals"))
    rows = [[_fmt(stage), _fmt_int(_dict(u).get("requests")), _fmt_int(_dict(u).get("prompt_tokens")),
             _fmt_int(_dict(u).get("completion_tokens")), _fmt_int(_dict(u).get("billed_characters")),
             _fmt_cost(_dict(u).get("cost_usd"))] for stage, u in usage.items()]
    if totals:
        rows.append(["**total**", _fmt_int(totals.get("requests")), _fmt_int(totals.get("prompt_tokens")),
                     _fmt_int(totals.get("completion_tokens")), _fmt_int(totals.get("billed_characters")),
                     _fmt_cost(totals.get("cost_usd"))])
    if not rows:
        return ["", "### Usage and cost", "", "The run recorded no usage."]
    header = ["stage", "requests", "prompt tokens", "completion tokens", "billed characters", "cost (USD)"]
    estimated = [_dict(u).get("estimated_usd") or 0 for u in usage.values()]
    if not any(estimated):
        return ["", "### Usage and cost", ""] + _table(header, rows)
    # spend the servers never confirmed (requests in flight when a process died) stays apart from settled spend
    for row, value in zip(rows, estimated + [totals.get("estimated_usd") or sum(estimated)]):
        row.append(_fmt_cost(value))
    return ["", "### Usage and cost", "", "Cost is settled spend, as the servers reported it. Estimated is the spend "
            "of requests that were in flight when a run was killed, counted at their estimate: paid, but never "
            "reported back. The budget counted both.", ""] + _table(header + ["estimated (USD)"], rows)


def _fence(text: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _samples(ctx: CardContext) -> list[str]:
    if not ctx.samples:
        return []
    lines = ["## Sample records", ""]
    for row in ctx.samples:
        shown = {k: (v[:SAMPLE_CHARS] + " …" if isinstance(v, str) and len(v) > SAMPLE_CHARS else v)
                 for k, v in row.items() if k != "meta"}
        text = json.dumps(shown, ensure_ascii=False, indent=2)
        fence = _fence(text)
        lines += [f"{fence}json", text, fence, ""]
    return lines


def _limitations(ctx: CardContext) -> list[str]:
    prov = _provenance(ctx)
    lines = [
        "## Known limitations",
        "",
        "- Every instruction and answer was written by a language model and no person has checked them: "
        "expect factual mistakes, shallow or wrong reasoning, and the teacher's biases.",
        "- The filters are heuristics (length, blocked words, near-duplicate similarity); they remove "
        "obvious failures, not subtle ones.",
        "- The tasks grow from a small seed set, so their topics and styles lean towards the seeds'.",
    ]
    if prov.get("translator"):
        lines.append("- Part of the text was machine-translated; translation errors and unnatural "
                     "phrasing remain, and culture-specific content follows the source language.")
    return lines


def _license_note(ctx: CardContext, license_id: str) -> list[str]:
    prov = _provenance(ctx)
    teacher = _dict(prov.get("teacher"))
    translator = prov.get("translator")
    lines = [
        "## License note",
        "",
        f"The dataset is released under `{license_id}`. Its content was produced by "
        f"{teacher.get('model') or 'a teacher model'} ({teacher.get('plugin') or 'unrecorded provider'}); "
        "the terms of use of that model and its provider apply to its outputs and may restrict how they "
        "can be used (for example, to train competing models). Check them before any commercial use.",
    ]
    if isinstance(translator, dict):
        lines += ["", f"Translations were made with {translator.get('plugin') or 'a translation engine'}; "
                  "its terms of service apply as well."]
    return lines


def build_body(ctx: CardContext, license_id: str) -> str:
    """The generated part of the card (between the markers)."""
    parts = [
        _summary(ctx), [""], _how_made(ctx), _counts(ctx), _conversations(ctx), _preferences(ctx), _usage(ctx),
        [""], _fields(ctx), [""],
        _samples(ctx), _limitations(ctx), [""], _license_note(ctx, license_id), [""],
        ["## Reproducing", "",
         "`recipe.yaml` (secrets removed) and `stats.json` next to this card record the exact settings and "
         "counts of the run."],
    ]
    text = "\n".join(line for part in parts for line in part)
    return secrets_scan.redact(text)


# ---------------------------------------------------------------- README assembly


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """``(metadata, body)`` of a README; no front matter gives ``({}, text)``."""
    import yaml

    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    try:
        data = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError:
        data = {}
    return (data if isinstance(data, dict) else {}), text[match.end():]


def merge_body(theirs: str, generated: str, title: str) -> str:
    """Replace our marked section in ``theirs``, or put it first when there is none."""
    section = f"{BEGIN}\n{generated}\n{END}"
    if BEGIN in theirs and END in theirs:
        head, rest = theirs.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        return head + section + tail
    body = f"# {title}\n\n{section}\n"
    if theirs.strip():
        body += "\n" + theirs.strip() + "\n"
    return body


def render_card(metadata: dict[str, Any], body: str) -> str:
    import yaml

    front = yaml.safe_dump(metadata, sort_keys=False, allow_unicode=True, width=1000)
    return f"---\n{front}---\n\n{body.lstrip()}"


def card_text(ctx: CardContext, existing: str | None = None) -> str:
    """The full README.md for ``ctx``, merged into ``existing`` when given."""
    theirs_meta, theirs_body = split_front_matter(existing or "")
    ours = build_metadata(ctx)
    metadata = merge_metadata(theirs_meta, ours, owned_keys(ctx))
    body = merge_body(theirs_body, build_body(ctx, str(metadata.get("license", "other"))),
                      str(metadata.get("pretty_name") or ours["pretty_name"]))
    return render_card(metadata, body)


def write_card(folder: str | Path, ctx: CardContext) -> Path:
    """Write (or merge into) ``folder/README.md``."""
    path = Path(folder) / "README.md"
    existing = path.read_text(encoding="utf-8") if path.exists() else None
    path.write_text(card_text(ctx, existing), encoding="utf-8")
    return path
