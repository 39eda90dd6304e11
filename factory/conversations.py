"""Conversation cleaning (Vicuna's path over ShareGPT): each decision a rejection with a reason, nothing lost.

A recipe with a ``conversations:`` section cleans its source records before they are batched, translated and
filtered. In order, for each conversation:

1. a row the loader could not read (a turn without ``from``/``value``, a speaker it does not know) is rejected
   as ``missing_fields``, with the loader's message as the detail;
2. HTML is converted to Markdown with markdownify (only in turns that hold HTML tags: plain text keeps its
   line breaks); a ``<pre>`` block becomes a ````` fence with its language (from ``class="language-x"``),
   the "Copy code" header ShareGPT pages put in it dropped;
3. empty turns (only white space after conversion) are dropped; a conversation left with no turn is
   ``empty_conversation``, one with no assistant turn ``no_assistant_turn``, one with no user turn
   ``no_user_turn``;
4. leading assistant turns (a greeting the page showed before the user spoke) are dropped;
5. consecutive turns of the same role: ``same_role: merge`` (the default) joins them into one turn with a
   blank line between, in order, since they are one speaker's message sent in pieces; ``same_role: reject``
   rejects the conversation as ``same_role_turns`` instead; a trailing user turn without a reply is dropped
   (nothing to learn from it), except in a preference record, whose replies are ``chosen`` / ``rejected``;
6. an exact duplicate of an earlier conversation (same roles and contents after steps 2-5) is
   ``exact_duplicate``, naming the first one;
7. a conversation longer than ``max_tokens`` is split at turn boundaries into parts that each start with a
   user turn (an exchange, a user turn and its reply, is never cut; one longer than ``max_tokens`` alone is
   kept as its own part and marked ``meta.over_max_tokens``); a system prompt is repeated in every part.
   Tokens are counted by the named tokenizer (``tokenizer``, a Hugging Face name or folder) when given, else by
   the language plugin's length measure.

What each kept conversation went through is listed in ``meta.cleaning``. The language filter and the
near-duplicate filter on the first user turn are ordinary filters of the recipe's ``filters`` list
(``language_id``, ``near_duplicate``), run after translation.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from factory.contracts import Requirement
from factory.filtering import Verdict
from factory.records import Message, Record, message

REQUIREMENT = Requirement(module="markdownify", install="pip install 'koalpaca-factory[conversations]'",
                          why="HTML to Markdown in conversation turns (conversations.html_to_markdown)")

#: reason code -> meaning (summary, report, card)
REASONS = {
    "missing_fields": "a conversation row lacks a field its format needs (a turn without from/value...)",
    "empty_conversation": "no turn with any text",
    "no_assistant_turn": "the conversation has no assistant turn",
    "no_user_turn": "the conversation has no user turn",
    "same_role_turns": "two consecutive turns of the same role (same_role: reject)",
    "exact_duplicate": "the same conversation as an earlier one",
}

_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(\s[^<>]*)?/?>")


def has_html(text: str) -> bool:
    return bool(_TAG.search(text))


def _code_language(element: Any) -> str:
    """The language of a ``<pre>`` block: a ``language-x`` / ``lang-x`` class on it or its ``<code>``."""
    for node in [element, *element.find_all("code")]:
        for cls in node.get("class") or []:
            for prefix in ("language-", "lang-"):
                if cls.startswith(prefix):
                    return cls[len(prefix):]
    return ""


def html_to_markdown(text: str) -> str:
    """Markdown for a turn holding HTML (markdownify); text without tags comes back unchanged."""
    if not has_html(text):
        return text
    from bs4 import BeautifulSoup
    from markdownify import MarkdownConverter

    soup = BeautifulSoup(text, "html.parser")
    for pre in soup.find_all("pre"):
        code = pre.find("code")
        if code is not None:  # keep only the code: ShareGPT pages put a language label and "Copy code" in the <pre>
            language = _code_language(pre)
            code_text = code.get_text()
            pre.clear()
            new = soup.new_tag("code", attrs={"class": f"language-{language}"} if language else {})
            new.string = code_text
            pre.append(new)
    converter = MarkdownConverter(heading_style="ATX", bullets="-", code_language_callback=_code_language,
                                  escape_asterisks=False, escape_underscores=False, escape_misc=False)
    markdown = converter.convert_soup(soup)
    return re.sub(r"\n{3,}", "\n\n", markdown).strip()


def word_counter(language: Any, tokenizer: str | None = None) -> Callable[[str], int]:
    """Tokens of a text: the named tokenizer's when given (transformers, imported here only), else the
    language plugin's length measure."""
    if not tokenizer:
        return language.count_words
    from factory.errors import UserError

    try:
        from transformers import AutoTokenizer
    except ImportError:
        raise UserError("conversations.tokenizer needs the `transformers` package") from None
    try:
        tok = AutoTokenizer.from_pretrained(tokenizer)
    except Exception as exc:
        raise UserError(f"conversations.tokenizer: could not load '{tokenizer}' "
                        f"({type(exc).__name__}: {str(exc)[:200]})") from None
    return lambda text: len(tok(text, add_special_tokens=False)["input_ids"])


@dataclass
class CleanResult:
    """Per source record, in order: the records it became (one, or the parts of a split) or its verdict."""

    items: list[tuple[Record, list[Record], Verdict | None]] = field(default_factory=list)

    @property
    def kept(self) -> list[Record]:
        return [part for _, parts, _ in self.items for part in parts]

    @property
    def rejected(self) -> list[tuple[Record, Verdict]]:
        return [(record, verdict) for record, _, verdict in self.items if verdict is not None]

    @property
    def split(self) -> int:
        """Conversations split into parts."""
        return sum(1 for _, parts, _ in self.items if len(parts) > 1)


def _merge(turns: list[Message]) -> tuple[list[Message], int]:
    merged: list[Message] = []
    joins = 0
    for turn in turns:
        if merged and merged[-1]["role"] == turn["role"]:
            merged[-1] = message(turn["role"], merged[-1]["content"] + "\n\n" + turn["content"])
            joins += 1
        else:
            merged.append(dict(turn))
    return merged, joins


def _structure(record: Record, options: Any) -> tuple[list[Message] | None, Verdict | None, list[str]]:
    """Steps 1-5 for one record: its cleaned turns, or the verdict that rejects it."""
    if "row_error" in record.meta:
        return None, ("missing_fields", str(record.meta["row_error"])), []
    done: list[str] = []
    turns = []
    for m in record.messages:
        content = m.get("content") or ""
        if options.html_to_markdown and has_html(content):
            content = html_to_markdown(content)
            if "html_to_markdown" not in done:
                done.append("html_to_markdown")
        content = content.strip()
        if content:
            turns.append(message(m["role"], content))
    roles = {m["role"] for m in turns}
    # a preference prompt ends on a user turn: its replies are chosen / rejected (or the labelled last turn)
    replied = record.chosen is not None or record.rejected is not None
    if not turns:
        return None, ("empty_conversation", f"{len(record.messages)} turns, none with text"), done
    if "assistant" not in roles and not replied:
        return None, ("no_assistant_turn", f"{len(turns)} turns"), done
    if "user" not in roles:
        return None, ("no_user_turn", f"{len(turns)} turns"), done
    system = [m for m in turns if m["role"] == "system"][:1]
    body = [m for m in turns if m["role"] != "system"]
    leading = 0
    while body and body[0]["role"] == "assistant":
        body.pop(0)
        leading += 1
    if leading:
        done.append(f"dropped_leading_assistant:{leading}")
    if options.same_role == "reject":
        for first, second in zip(body, body[1:]):
            if first["role"] == second["role"]:
                return None, ("same_role_turns", f"two {first['role']} turns in a row"), done
    body, joins = _merge(body)
    if joins:
        done.append(f"merged_same_role:{joins}")
    if body and body[-1]["role"] == "user" and not replied:
        body.pop()
        done.append("dropped_trailing_user")
    if not replied and not any(m["role"] == "assistant" for m in body):
        return None, ("no_assistant_turn", "no assistant turn after a user turn"), done
    return system + body, None, done


def split_turns(turns: list[Message], max_tokens: int, count: Callable[[str], int]) -> list[tuple[list[Message], bool]]:
    """Parts of at most ``max_tokens`` (a system prompt repeated in each), cut only before a user turn;
    ``(turns, over_max_tokens)`` per part."""
    system = [m for m in turns if m["role"] == "system"]
    exchanges: list[list[Message]] = []
    for m in turns:
        if m["role"] == "system":
            continue
        if m["role"] == "user" or not exchanges:
            exchanges.append([m])
        else:
            exchanges[-1].append(m)
    base = sum(count(m["content"]) for m in system)
    parts: list[tuple[list[Message], bool]] = []
    current: list[Message] = []
    size = base
    for exchange in exchanges:
        tokens = sum(count(m["content"]) for m in exchange)
        if current and size + tokens > max_tokens:
            parts.append((system + current, size > max_tokens))
            current, size = [], base
        current += exchange
        size += tokens
    if current:
        parts.append((system + current, size > max_tokens))
    return parts


def clean_conversations(records: Sequence[Record], options: Any, language: Any) -> CleanResult:
    """Steps 1-7 over the whole source (see the module docstring); deterministic, so a resumed run cleans alike."""
    result = CleanResult()
    seen: dict[str, str] = {}
    count = word_counter(language, options.tokenizer) if options.max_tokens else None
    for record in records:
        turns, verdict, done = _structure(record, options)
        if verdict is None and options.exact_duplicates:
            key = json.dumps(turns, ensure_ascii=False, sort_keys=True)
            if key in seen:
                verdict = ("exact_duplicate", f"same as {seen[key]}")
            seen.setdefault(key, record.id)
        if verdict is not None:
            result.items.append((record, [], verdict))
            continue
        # a preference record is one prompt with its judged replies: never cut
        parts = split_turns(turns, options.max_tokens, count) if count and not record.is_preference else [(turns, False)]
        pieces = []
        for number, (part, over) in enumerate(parts, start=1):
            piece = record.copy()  # keeps the Alpaca input, preference fields and meta
            piece.messages = part
            piece.meta["cleaning"] = done + ([f"split:{number}/{len(parts)}"] if len(parts) > 1 else [])
            if len(parts) > 1:
                piece.id = f"{record.id}-part{number}"
                piece.meta.update({"part": number, "parts": len(parts), "source_id": record.id})
            if over:
                piece.meta["over_max_tokens"] = True
            pieces.append(piece)
        result.items.append((record, pieces, None))
    return result
