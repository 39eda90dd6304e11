"""Export views of conversations for the trainers people use, written under ``RUN/data/views/<view>/``.

- ``messages``: TRL's conversational format, ``{"messages": [{"role", "content"}]}`` a line (SFTTrainer reads it
  as it is, and applies the tokenizer's chat template);
- ``sharegpt``: ``{"conversations": [{"from": "system"|"human"|"gpt", "value"}]}`` a line (FastChat, most
  ShareGPT tooling);
- ``llama-factory``: the ShareGPT rows as ``<split>.json`` plus a ``dataset_info.json`` entry describing them
  (``formatting: sharegpt`` and its tags), to copy or merge into LLaMA-Factory's ``data/dataset_info.json``;
- ``axolotl``: the ``messages`` rows plus ``axolotl.yaml``, a ``datasets:`` snippet for axolotl's
  ``chat_template`` loader that trains on the assistant turns.

Every file holds only the conversation (and its id), so each loads with ``datasets.load_dataset("json", ...)``.
"""

from __future__ import annotations

import json
from pathlib import Path

from factory.export_views import Splits, View, register_view, write_split_rows
from factory.records import Record

#: canonical role -> ShareGPT speaker
SPEAKERS = {"system": "system", "user": "human", "assistant": "gpt"}


def _sharegpt_row(record: Record) -> dict:
    return {"id": record.id, "conversations": [{"from": SPEAKERS.get(m["role"], m["role"]), "value": m["content"]}
                                               for m in record.messages]}


def _messages_row(record: Record) -> dict:
    return {"id": record.id, "messages": [{"role": m["role"], "content": m["content"]} for m in record.messages]}


def _write_messages(splits: Splits, folder: Path) -> list[str]:
    return write_split_rows(splits, folder, lambda record: [_messages_row(record)])


def _write_sharegpt(splits: Splits, folder: Path) -> list[str]:
    return write_split_rows(splits, folder, lambda record: [_sharegpt_row(record)])


def _dataset_name(folder: Path) -> str:
    """The run folder's name (``RUN/data/views/<view>``), the name a trainer's config refers to."""
    parts = folder.resolve().parts
    return parts[-4] if len(parts) >= 4 else "factory_dataset"


def _write_llama_factory(splits: Splits, folder: Path) -> list[str]:
    name = _dataset_name(folder)
    info = {}
    written = []
    for split, records in splits.items():
        path = folder / f"{split}.json"
        path.write_text(json.dumps([_sharegpt_row(r) for r in records], ensure_ascii=False, indent=1), encoding="utf-8")
        written.append(path.name)
        info[name if split == "train" else f"{name}_{split}"] = {
            "file_name": path.name,
            "formatting": "sharegpt",
            "columns": {"messages": "conversations"},
            "tags": {"role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt",
                     "system_tag": "system"},
        }
    (folder / "dataset_info.json").write_text(json.dumps(info, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return written + ["dataset_info.json"]


def _write_axolotl(splits: Splits, folder: Path) -> list[str]:
    written = _write_messages(splits, folder)
    lines = ["# axolotl dataset entries for this export; paths are relative to this file's folder",
             "# (run axolotl from here, or make them absolute). Loss on the assistant turns only."]
    for split in splits:
        lines += ["datasets:" if split == "train" else "test_datasets:",
                  f"  - path: {split}.jsonl", "    ds_type: json", "    split: train", "    type: chat_template",
                  "    field_messages: messages", "    message_property_mappings:", "      role: role",
                  "      content: content", "    roles_to_train: [assistant]"]
    (folder / "axolotl.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return written + ["axolotl.yaml"]


for _view in (
    View("messages", "TRL conversational rows: {messages: [{role, content}]}", _write_messages),
    View("sharegpt", "ShareGPT rows: {conversations: [{from, value}]}", _write_sharegpt),
    View("llama-factory", "ShareGPT JSON files and a LLaMA-Factory dataset_info.json entry", _write_llama_factory),
    View("axolotl", "messages rows and an axolotl datasets snippet (chat_template, assistant turns trained)",
         _write_axolotl),
):
    register_view(_view)
