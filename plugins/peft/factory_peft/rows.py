"""Records into the row shapes TRL's trainers read, one function per objective family.

TRL documents its dataset types: language modeling (``messages``),
prompt/completion, preference (``prompt``/``chosen``/``rejected``) and
unpaired preference (``prompt``/``completion``/``label``), each either plain
text or conversational (lists of ``{role, content}``). A record becomes the
conversational form under a chat format and the plain-text form under a
single-turn prompt template, where the template renders the prompt and its
``response_prefix`` starts every reply. TRL adds the EOS text to plain replies
itself; chat formats write their own end tokens.

Records that cannot serve the objective are errors naming the first one and
the count, checked before any model is loaded (:func:`check_records`), except
SFT records without any reply text, which are skipped and counted as before.
SFT on preference pairs learns the chosen replies (the usual step before DPO).
"""

from __future__ import annotations

from typing import Any, Callable

from factory.errors import UserError
from factory.records import Record, message

from factory_peft.training_format import TrainingFormat

Row = dict[str, Any]


def _has_reply(record: Record) -> bool:
    return any(m["content"].strip() for m in record.messages if m["role"] == "assistant")


def _is_pair(record: Record) -> bool:
    return record.chosen is not None and record.rejected is not None


def _ends_on_user(record: Record) -> bool:
    return bool(record.messages) and record.messages[-1]["role"] == "user"


def _is_labelled(record: Record) -> bool:
    return record.label is not None and bool(record.messages) and record.messages[-1]["role"] == "assistant"


#: objective -> (what each record must hold, how to say it)
_REQUIREMENTS: dict[str, tuple[Callable[[Record], bool], str]] = {
    "sft": (lambda r: bool(r.messages), "messages"),
    "dpo": (lambda r: _is_pair(r) and _ends_on_user(r), "a prompt ending on a user turn with `chosen` and `rejected`"),
    "orpo": (lambda r: _is_pair(r) and _ends_on_user(r), "a prompt ending on a user turn with `chosen` and `rejected`"),
    "reward": (lambda r: _is_pair(r) and _ends_on_user(r), "a prompt ending on a user turn with `chosen` and `rejected`"),
    "kto": (lambda r: _is_labelled(r) or (_is_pair(r) and _ends_on_user(r)),
            "a reply with a `label` (or a `chosen`/`rejected` pair, split into two labelled replies)"),
}


def check_records(objective: str, records: list[Record], where: str) -> None:
    """Fail in one line when records lack what ``objective`` learns from."""
    fits, needs = _REQUIREMENTS[objective]
    bad = [r for r in records if not fits(r)]
    if bad:
        raise UserError(f"train.objective {objective}: {len(bad)} of {len(records)} record(s) in {where} do not hold "
                        f"{needs} (first: '{bad[0].id}')")


def _prompt_text(record: Record, fmt: TrainingFormat) -> str:
    return fmt.prompt_template.render(record.instruction, record.input)


def _reply_text(text: str, fmt: TrainingFormat) -> str:
    return fmt.prompt_template.response_prefix + text


def _with_chosen(record: Record) -> Record:
    """A preference record as a conversation ending on its chosen reply (SFT on the chosen side of pairs)."""
    if _is_pair(record) and _ends_on_user(record):
        return Record([*record.messages, message("assistant", record.chosen)], id=record.id, input=record.input)
    return record


def sft_rows(records: list[Record], fmt: TrainingFormat) -> tuple[list[Row], int]:
    """(rows, records skipped for having no reply text); a preference pair trains its chosen reply."""
    kept = [r for r in map(_with_chosen, records) if _has_reply(r)]
    if fmt.prompt_template is not None:
        rows = [{"prompt": _prompt_text(r, fmt), "completion": _reply_text(r.output, fmt)} for r in kept]
    elif fmt.assistant_masks:
        rows = [{"messages": r.messages} for r in kept]
    else:  # a template TRL cannot mask: single-turn records as a conversational prompt/completion pair
        rows = [{"prompt": r.messages[:-1], "completion": r.messages[-1:]} for r in kept]
    return rows, len(records) - len(kept)


def preference_rows(records: list[Record], fmt: TrainingFormat) -> list[Row]:
    """Paired rows for dpo, orpo and reward."""
    if fmt.prompt_template is not None:
        return [{"prompt": _prompt_text(r, fmt), "chosen": _reply_text(r.chosen, fmt),
                 "rejected": _reply_text(r.rejected, fmt)} for r in records]
    return [{"prompt": r.messages, "chosen": [message("assistant", r.chosen)],
             "rejected": [message("assistant", r.rejected)]} for r in records]


def unpaired_rows(records: list[Record], fmt: TrainingFormat) -> list[Row]:
    """Labelled rows for kto; a pair gives two rows (chosen desirable, rejected not), as TRL's unpairing does."""
    units: list[tuple[Record, list[dict[str, str]], str, bool]] = []  # (record, prompt turns, reply, label)
    for r in records:
        if _is_pair(r):
            units += [(r, r.messages, r.chosen, True), (r, r.messages, r.rejected, False)]
        else:
            units.append((r, r.messages[:-1], r.messages[-1]["content"], bool(r.label)))
    if fmt.prompt_template is not None:  # the record's Alpaca view renders the prompt (instruction and input)
        return [{"prompt": _prompt_text(r, fmt), "completion": _reply_text(text, fmt), "label": label}
                for r, _, text, label in units]
    return [{"prompt": turns, "completion": [message("assistant", text)], "label": label}
            for _, turns, text, label in units]
