"""Over-long examples: truncated or dropped as the recipe says, and always counted.

TRL tokenizes, masks and packs; what it does not do is tell anyone how many
examples it cut. Its trainers truncate to ``max_length`` (SFT at preparation,
DPO/KTO in the collator, ORPO while tokenizing) and drop some examples (the
reward trainer drops every pair over the limit, SFT and DPO drop prompts that
fill it) without a count. So the factory trainers let TRL tokenize without a
limit, then :class:`LengthPolicy` applies the limit to the tokenized columns,
one pass, exactly as TRL would have cut (keep the start), and records what it
did in :class:`LengthStats`:

- ``truncated``: the sequence was cut to ``max_length``; the end of the reply,
  its EOS included, is lost, so the model never learns to stop there;
- ``dropped_overlong``: over the limit with ``overlong: drop``;
- ``dropped_prompt_too_long``: not one reply token fits after the prompt;
- ``dropped_empty``: nothing to learn (no reply text).

Each trainer's tokenized columns differ, so a :class:`Layout` names them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

IGNORE_INDEX = -100
KEEP, TRUNCATE, DROP_OVERLONG, DROP_PROMPT, DROP_EMPTY = range(5)


def first_learned(labels: list[int]) -> int | None:
    """Index of the first token in the loss (the prompt length of a supervised example), None when none is."""
    return next((i for i, label in enumerate(labels) if label != IGNORE_INDEX), None)


def common_prefix(a: list[int], b: list[int]) -> int:
    count = 0
    for x, y in zip(a, b):
        if x != y:
            break
        count += 1
    return count


@dataclass(frozen=True)
class Layout:
    """Where a trainer's tokenized row keeps its sequences.

    ``groups``: the columns cut together, first the token ids (a chosen and a
    rejected group for pairs). ``prompt``: the prompt's token count of a row,
    None when nothing is learned. ``with_prompt``: whether the group's ids
    include the prompt (full sequences) or follow it (completions).
    """

    groups: tuple[tuple[str, ...], ...]
    prompt: Callable[[dict[str, Any]], int | None]
    with_prompt: bool


#: SFTTrainer: input_ids + labels (-100 outside the learned turns)
SFT = Layout(groups=(("input_ids", "labels"),), prompt=lambda row: first_learned(row["labels"]), with_prompt=True)
#: DPOTrainer: prompt_ids, then the chosen and rejected completions
DPO = Layout(groups=(("chosen_ids",), ("rejected_ids",)), prompt=lambda row: len(row["prompt_ids"]), with_prompt=False)
#: KTOTrainer: prompt_ids, then one completion (its KL partner is cut by the collator)
KTO = Layout(groups=(("completion_ids",),), prompt=lambda row: len(row["prompt_ids"]), with_prompt=False)
#: RewardTrainer: two full sequences sharing the prompt
REWARD = Layout(groups=(("chosen_ids",), ("rejected_ids",)),
                prompt=lambda row: common_prefix(row["chosen_ids"], row["rejected_ids"]), with_prompt=True)
#: experimental ORPOTrainer: full chosen/rejected sequences with masks and labels, and the prompt alone
ORPO = Layout(groups=(("chosen_input_ids", "chosen_attention_mask", "chosen_labels"),
                      ("rejected_input_ids", "rejected_attention_mask", "rejected_labels")),
              prompt=lambda row: len(row["prompt_input_ids"]), with_prompt=True)


@dataclass
class LengthStats:
    """What happened to one split's examples on the way to the trainer (written to metrics.json)."""

    records: int = 0
    examples: int = 0
    truncated: int = 0
    dropped_overlong: int = 0
    dropped_prompt_too_long: int = 0
    dropped_empty: int = 0
    tokens: int = 0  # tokens of the kept examples, prompts included (a pair counts both sequences)
    longest: int = 0  # longest kept sequence
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("warnings")
        return data


@dataclass
class LengthPolicy:
    """Cuts or drops over-long tokenized examples; one :class:`LengthStats` per split name."""

    max_length: int
    overlong: str = "truncate"  # or "drop"
    stats: dict[str, LengthStats] = field(default_factory=dict)

    def _fate(self, row: dict[str, Any], layout: Layout) -> int:
        prompt = layout.prompt(row)
        if prompt is None:
            return DROP_EMPTY
        longest = max(len(row[group[0]]) + (0 if layout.with_prompt else prompt) for group in layout.groups)
        if longest <= self.max_length:
            return KEEP
        if prompt >= self.max_length:
            return DROP_PROMPT
        return DROP_OVERLONG if self.overlong == "drop" else TRUNCATE

    def _cut(self, row: dict[str, Any], layout: Layout) -> dict[str, Any]:
        room = self.max_length if layout.with_prompt else self.max_length - layout.prompt(row)
        return {column: row[column][:room] for group in layout.groups for column in group}

    def apply(self, dataset: Any, layout: Layout, split: str, skipped_empty: int = 0) -> Any:
        """The dataset with the limit applied; counts go to ``self.stats[split]``."""
        columns = [c for group in layout.groups for c in group]

        def decide(batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
            out: dict[str, list[Any]] = {c: [] for c in (*columns, "_fate", "_tokens", "_longest")}
            for index in range(len(batch[columns[0]])):
                row = {name: values[index] for name, values in batch.items()}
                fate = self._fate(row, layout)
                kept = self._cut(row, layout) if fate == TRUNCATE else row
                for c in columns:
                    out[c].append(kept[c])
                sizes = [len(kept[group[0]]) + (0 if layout.with_prompt else layout.prompt(row) or 0)
                         for group in layout.groups]
                out["_fate"].append(fate)
                out["_tokens"].append(sum(sizes))
                out["_longest"].append(max(sizes))
            return out

        marked = dataset.map(decide, batched=True, desc=f"Applying max_length to the {split} split")
        fates = Counter(marked["_fate"])
        kept = marked.filter(lambda fate: fate in (KEEP, TRUNCATE), input_columns="_fate")
        tokens, longest = kept["_tokens"], kept["_longest"]  # one int per example, not the token lists
        kept = kept.remove_columns(["_fate", "_tokens", "_longest"])
        stats = LengthStats(records=len(dataset) + skipped_empty, examples=len(kept), truncated=fates[TRUNCATE],
                            dropped_overlong=fates[DROP_OVERLONG], dropped_prompt_too_long=fates[DROP_PROMPT],
                            dropped_empty=fates[DROP_EMPTY] + skipped_empty, tokens=sum(tokens),
                            longest=max(longest, default=0))
        stats.warnings = self._warnings(stats)
        self.stats[split] = stats
        return kept

    def _warnings(self, stats: LengthStats) -> list[str]:
        warnings = []
        if stats.truncated:
            warnings.append(f"{stats.truncated} example(s) longer than max_length={self.max_length} were truncated "
                            "and lost their EOS; raise max_length or set overlong: drop")
        dropped = stats.dropped_overlong + stats.dropped_prompt_too_long
        if dropped:
            warnings.append(f"{dropped} example(s) longer than max_length={self.max_length} were dropped")
        if stats.dropped_empty:
            warnings.append(f"{stats.dropped_empty} record(s) with nothing to learn (no reply text) were skipped")
        return warnings
