"""Turn an Alpaca record into (prompt text, response text).

The split matters more than the text: everything in the prompt is masked
from the loss, everything in the response is learned. Two sources of
formats exist: a language plugin's :class:`~factory.languages.PromptTemplate`
(Alpaca, KoAlpaca, ...) and the tokenizer's own chat template.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from factory.errors import UserError
from factory.records import Record

from factory_peft.options import CHAT_TEMPLATE


class Formatter(Protocol):
    #: whether the tokenizer should add its own special tokens (BOS); chat templates write them as text
    add_special_tokens: bool
    name: str

    def split(self, record: Record) -> tuple[str, str]: ...


@dataclass
class TemplateFormatter:
    """A language plugin's template: the response follows the rendered prompt."""

    template: Any  # factory.languages.PromptTemplate
    add_special_tokens: bool = True

    @property
    def name(self) -> str:
        return self.template.name

    def split(self, record: Record) -> tuple[str, str]:
        prompt = self.template.render(record.instruction, record.input)
        # KoAlpaca trains "### 답변: {output}": a separator the serving prompt ("### 답변:") does not carry.
        prefix = getattr(self.template, "response_prefix", "")
        return prompt, prefix + record.output


@dataclass
class ChatTemplateFormatter:
    """The tokenizer's chat template: the user turn (and the generation cue) is the prompt."""

    tokenizer: Any
    add_special_tokens: bool = False
    name: str = CHAT_TEMPLATE

    def split(self, record: Record) -> tuple[str, str]:
        user = record.instruction if not record.input else f"{record.instruction}\n\n{record.input}"
        turns = [{"role": "user", "content": user}]
        prompt = self.tokenizer.apply_chat_template(turns, tokenize=False, add_generation_prompt=True)
        full = self.tokenizer.apply_chat_template(
            turns + [{"role": "assistant", "content": record.output}], tokenize=False
        )
        if not full.startswith(prompt):
            raise UserError(
                "the tokenizer's chat template renders the conversation differently from its generation prompt; "
                "choose a language template (template: alpaca) instead"
            )
        return prompt, full[len(prompt):]


def choose_formatter(template_name: str | None, language: Any) -> TemplateFormatter | None:
    """The language template (checked before any model is loaded), or None for the chat template."""
    if template_name == CHAT_TEMPLATE:
        return None
    if language is None:  # no language plugin resolved: the templates every language shares
        from factory.languages import Language

        name = template_name or Language.default_template
        if name not in Language.templates:
            known = ", ".join([*sorted(Language.templates), CHAT_TEMPLATE])
            raise UserError(f"unknown prompt template '{name}' (known: {known})")
        return TemplateFormatter(Language.templates[name])
    return TemplateFormatter(language.template(template_name))


def chat_formatter(tokenizer: Any) -> ChatTemplateFormatter:
    if not getattr(tokenizer, "chat_template", None):
        raise UserError(f"template '{CHAT_TEMPLATE}' was chosen but the base model's tokenizer has no chat template")
    return ChatTemplateFormatter(tokenizer)
