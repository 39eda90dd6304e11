"""The language plugin contract.

A language plugin tells the core how to treat text in one language: how to
tokenize it for near-duplicate filtering, how to count its words for length
filters, whether a text is written in it, how generation prompts are worded,
which tasks a text model cannot do, and which formats training uses: single-turn
prompt templates (``templates``) and multi-turn chat formats for base models
without a chat template (``chat_formats``, see :mod:`factory.chat_formats`).
Subclass :class:`Language`, override what differs, and register the class
from the ``register_languages`` hook.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Sequence

from factory.contracts import Options, Plugin
from factory import chat_formats as _chat_formats
from factory.chat_formats import ChatFormat


@dataclass(frozen=True)
class PromptWording:
    """How the self-instruct prompt is worded in this language.

    ``header`` precedes the numbered demonstrations; ``{count}`` in it becomes
    the number of new tasks the prompt asks for (it follows ``num_tasks``).
    The labels name the parts of each numbered task (``1. Instruction:``);
    ``noinput`` marks a task without input, and ``noinput_aliases`` are other
    spellings a teacher may produce for that marker (localized equivalents).
    List explicit markers only: a word such as "None" or "N/A" can be a real
    input or answer, and every alias empties an input and rejects an output.
    """

    header: str
    instruction_label: str = "Instruction"
    input_label: str = "Input"
    output_label: str = "Output"
    noinput: str = "<noinput>"
    noinput_aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class PromptTemplate:
    """A training/serving prompt format; ``{instruction}`` and ``{input}`` are filled in.

    The response follows ``prompt`` directly; ``with_input`` is used when
    the record has an input, ``without_input`` otherwise. ``response_prefix``
    is text the training format puts between the prompt and the response
    that the serving prompt does not end with (the Korean plugin's KoAlpaca:
    ``"### 답변:"`` is served, ``"### 답변: {output}"`` is trained).
    """

    name: str
    with_input: str
    without_input: str
    description: str = ""
    response_prefix: str = ""

    def render(self, instruction: str, input: str = "") -> str:
        if input:
            return self.with_input.format(instruction=instruction, input=input)
        return self.without_input.format(instruction=instruction)


# Training templates shared by every language (the community formats models are served with).
ALPACA_TEMPLATE = PromptTemplate(
    name="alpaca",
    with_input=(
        "Below is an instruction that describes a task, paired with an input that provides further "
        "context. Write a response that appropriately completes the request.\n\n"
        "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n"
    ),
    without_input=(
        "Below is an instruction that describes a task. Write a response that appropriately "
        "completes the request.\n\n### Instruction:\n{instruction}\n\n### Response:\n"
    ),
    description="The Alpaca format as alpaca-lora and most servers use it (a newline after '### Response:').",
)

#: Stanford Alpaca's train.py: the same text with no newline after "### Response:".
ALPACA_STANFORD_TEMPLATE = PromptTemplate(
    name="alpaca-stanford",
    with_input=ALPACA_TEMPLATE.with_input.removesuffix("\n"),
    without_input=ALPACA_TEMPLATE.without_input.removesuffix("\n"),
    description="Stanford Alpaca's own training format (no newline after '### Response:').",
)

class Language(Plugin):
    """Base class of language plugins; the defaults suit space-separated scripts.

    Built as ``cls(options)`` from the recipe's ``language_options`` (validated by
    ``options_model``, empty for languages without options); the options are part
    of the run's identity, since they change which records the filters keep.
    """

    kind: ClassVar[str] = "language"
    options_model: ClassVar[type[Options]] = Options
    code: ClassVar[str] = ""
    name: ClassVar[str] = ""
    #: Regex of characters that count as "in this language" for the script check.
    script_pattern: ClassVar[str] = r"[A-Za-z]"
    #: Minimum share of letters that must match ``script_pattern``.
    script_min_share: ClassVar[float] = 0.5
    prompt: ClassVar[PromptWording]
    #: Instruction length limits in ``count_words`` units (Alpaca: drop <= 3 or > 150 words).
    min_instruction_words: ClassVar[int] = 4
    max_instruction_words: ClassVar[int] = 150
    blacklist: ClassVar[tuple[str, ...]] = ()
    #: Instruction prefixes of "write a program" tasks a text model should not get.
    program_task_prefixes: ClassVar[tuple[str, ...]] = ()
    #: Single-turn training formats (instruction, optional input -> response).
    templates: ClassVar[dict[str, PromptTemplate]] = {
        "alpaca": ALPACA_TEMPLATE,
        "alpaca-stanford": ALPACA_STANFORD_TEMPLATE,
    }
    default_template: ClassVar[str] = "alpaca"
    #: PyPI packages shipping fonts for this script, for report figures: (import name, folder, font files).
    report_fonts: ClassVar[tuple[tuple[str, str, tuple[str, ...]], ...]] = ()
    #: Multi-turn formats for base models whose tokenizer has no chat template.
    chat_formats: ClassVar[dict[str, ChatFormat]] = dict(_chat_formats.BUILTIN)
    default_chat_format: ClassVar[str] = _chat_formats.VICUNA_V11.name
    #: Path of the seed set shipped with the plugin (seed_tasks.jsonl), if any.
    default_seeds: ClassVar[Path | None] = None
    #: Instruction templates instructions and benchmarks share ("Read the passage and answer the question"):
    #: n-grams inside them are not contamination (the ``decontaminate`` filter's built-in allow-list).
    instruction_templates: ClassVar[tuple[str, ...]] = ()
    #: Wording of prompts beyond self-instruct, by the key the method or filter documents ("evol-instruct",
    #: "judge", ...): objects of the type that method or filter defines. Without one, it uses its English
    #: wording and asks for replies in this language.
    wordings: ClassVar[dict[str, Any]] = {}

    # -- similarity -------------------------------------------------------
    def tokenize(self, text: str) -> list[str]:
        """Tokens used for ROUGE-L near-duplicate filtering."""
        return text.lower().split()

    def tokenize_many(self, texts: Sequence[str]) -> list[list[str]]:
        """Batch tokenization; override when the tokenizer has a faster batch path."""
        return [self.tokenize(text) for text in texts]

    def ngram_tokens_many(self, texts: Sequence[str]) -> list[list[str]]:
        """Tokens for n-gram overlap (decontamination): content tokens, so texts that differ only in function
        morphemes (Korean particles) share their n-grams; default: the similarity tokens."""
        return self.tokenize_many(texts)

    def wording(self, key: str, default: Any) -> Any:
        """This language's wording for ``key`` (see ``wordings``), or ``default`` (the English one)."""
        return self.wordings.get(key, default)

    # -- length filters ---------------------------------------------------
    def count_words(self, text: str) -> int:
        """The length measure of length filters (Alpaca: whitespace words)."""
        return len(text.split())

    # -- script check -----------------------------------------------------
    def is_in_language(self, text: str) -> bool:
        """True when most letters of ``text`` are written in this language's script."""
        letters = [ch for ch in text if ch.isalpha()]
        if not letters:
            return False
        matching = sum(1 for ch in letters if re.match(self.script_pattern, ch))
        return matching / len(letters) >= self.script_min_share

    # -- task filters -----------------------------------------------------
    def blacklisted(self, instruction: str) -> str | None:
        """The blacklist word found in ``instruction`` (a task a text model cannot do), or None."""
        for word in self.blacklist:
            if re.search(rf"\b{re.escape(word)}\b", instruction, flags=re.IGNORECASE):
                return word
        return None

    def is_program_task(self, instruction: str) -> bool:
        stripped = instruction.strip().lower()
        return any(stripped.startswith(prefix.lower()) for prefix in self.program_task_prefixes)

    # -- templates --------------------------------------------------------
    def template(self, name: str | None = None) -> PromptTemplate:
        """A single-turn training format (default: ``default_template``)."""
        return self._named(self.templates, name or self.default_template, "prompt template")

    def chat_format(self, name: str | None = None) -> ChatFormat:
        """A multi-turn format for tokenizers without a chat template (default: ``default_chat_format``)."""
        return self._named(self.chat_formats, name or self.default_chat_format, "chat format")

    def _named(self, table: dict[str, Any], name: str, kind: str) -> Any:
        from factory.errors import UserError

        if name not in table:
            raise UserError(f"unknown {kind} '{name}' for language '{self.code}' (known: {', '.join(sorted(table))})")
        return table[name]

    # -- report -----------------------------------------------------------
    def verb_objects(self, texts: Sequence[str]) -> list[tuple[str | None, str | None]]:
        """(root verb, direct object) of each instruction, for the diversity sunburst."""
        raise NotImplementedError(f"language '{self.code}' does not extract verbs and objects")
