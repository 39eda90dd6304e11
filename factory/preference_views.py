"""Export views of preference data: TRL's preference and unpaired formats, and a LLaMA-Factory ranking dataset.

- ``trl-preference``: ``{prompt, chosen, rejected}`` in TRL's conversational form (the prompt a list of
  messages, chosen and rejected each a one-message assistant list), what ``DPOTrainer``, ``ORPOTrainer`` and
  ``RewardTrainer`` read with the chat template; ``trl-preference-plain``: the same as plain strings (the
  prompt's turns joined, for base models without a chat template).
- ``trl-unpaired``: ``{prompt, completion, label}`` (``KTOTrainer``): a pair gives two rows, chosen true and
  rejected false; a record with its own ``label`` gives one row.
- ``llama-factory-ranking``: ``<split>.json`` in LLaMA-Factory's ShareGPT ranking layout
  (``conversations``, ``chosen`` and ``rejected`` as ``{from, value}``) and the ``dataset_info.json`` entry
  that declares it (``ranking: true``), so ``dataset: NAME`` in a LLaMA-Factory config finds it.

Records that are not preference data (no chosen/rejected or label) are left out of every view.
"""

from __future__ import annotations

import json
from pathlib import Path

from factory.export_views import Splits, View, register_view, write_split_rows
from factory.records import Record

LLAMA_FACTORY_ROLES = {"user": "human", "assistant": "gpt", "system": "system"}


def _pair(record: Record) -> bool:
    return record.chosen is not None and record.rejected is not None


def _prompt_turns(record: Record) -> list[dict[str, str]]:
    """The prompt of a pair (its messages), or of an unpaired example (every turn before its last reply)."""
    messages = [dict(m) for m in record.messages]
    if not _pair(record) and messages and messages[-1]["role"] == "assistant":
        messages = messages[:-1]
    return messages


def _plain(turns: list[dict[str, str]]) -> str:
    if len(turns) == 1 and turns[0]["role"] == "user":
        return turns[0]["content"]
    return "\n\n".join(f"{m['role']}: {m['content']}" for m in turns)


def _assistant(text: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": text}]


def preference_rows(record: Record, conversational: bool = True) -> list[dict]:
    if not _pair(record):
        return []
    prompt = _prompt_turns(record)
    if conversational:
        return [{"prompt": prompt, "chosen": _assistant(record.chosen), "rejected": _assistant(record.rejected)}]
    return [{"prompt": _plain(prompt), "chosen": record.chosen, "rejected": record.rejected}]


def unpaired_rows(record: Record) -> list[dict]:
    prompt = _prompt_turns(record)
    if _pair(record):
        return [{"prompt": prompt, "completion": _assistant(record.chosen), "label": True},
                {"prompt": prompt, "completion": _assistant(record.rejected), "label": False}]
    if record.label is not None and record.messages and record.messages[-1]["role"] == "assistant":
        return [{"prompt": prompt, "completion": _assistant(record.messages[-1]["content"]), "label": record.label}]
    return []


def llama_factory_row(record: Record) -> list[dict]:
    if not _pair(record):
        return []
    turns = [{"from": LLAMA_FACTORY_ROLES[m["role"]], "value": m["content"]} for m in record.messages
             if m["role"] != "system"]
    system = next((m["content"] for m in record.messages if m["role"] == "system"), None)
    row = {"conversations": turns, "chosen": {"from": "gpt", "value": record.chosen},
           "rejected": {"from": "gpt", "value": record.rejected}}
    return [{**row, "system": system} if system else row]


def write_llama_factory(splits: Splits, folder: Path) -> list[str]:
    info: dict[str, dict] = {}
    written = []
    for split, records in splits.items():
        rows = [row for record in records for row in llama_factory_row(record)]
        if not rows and split != "train":
            continue
        (folder / f"{split}.json").write_text(json.dumps(rows, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        columns = {"messages": "conversations", "chosen": "chosen", "rejected": "rejected"}
        if any("system" in row for row in rows):
            columns["system"] = "system"
        info[f"factory_{split}"] = {"file_name": f"{split}.json", "formatting": "sharegpt", "ranking": True,
                                    "columns": columns,
                                    "tags": {"role_tag": "from", "content_tag": "value", "user_tag": "human",
                                             "assistant_tag": "gpt", "system_tag": "system"}}
        written.append(f"{split}.json")
    (folder / "dataset_info.json").write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
    return written + ["dataset_info.json"]


register_view(View("trl-preference", "TRL preference rows (prompt, chosen, rejected), conversational",
                   lambda splits, folder: write_split_rows(splits, folder, preference_rows, skip_empty=True)))
register_view(View("trl-preference-plain", "TRL preference rows (prompt, chosen, rejected) as plain strings",
                   lambda splits, folder: write_split_rows(splits, folder, lambda r: preference_rows(r, False),
                                                           skip_empty=True)))
register_view(View("trl-unpaired", "TRL unpaired rows (prompt, completion, label) for KTO",
                   lambda splits, folder: write_split_rows(splits, folder, unpaired_rows, skip_empty=True)))
register_view(View("llama-factory-ranking", "LLaMA-Factory ranking dataset (ShareGPT) with its dataset_info.json",
                   write_llama_factory))
