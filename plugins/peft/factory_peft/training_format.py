"""Which format renders the records for training, decided before anything is loaded.

Three kinds of format exist, all chosen with the ``template`` option:

- a language plugin's single-turn :class:`~factory.languages.PromptTemplate`
  (alpaca, koalpaca, ...): the record becomes TRL's plain prompt/completion
  pair, and the loss covers the completion (TRL's ``completion_only_loss``);
- a named :class:`~factory.chat_formats.ChatFormat` (vicuna-v1.1, chatml,
  koalpaca-chat, ...) installed as the tokenizer's chat template, for base
  models that have none;
- the tokenizer's own chat template (``chat_template``).

The last two give TRL conversational rows: every assistant turn is learned
through the template's ``{% generation %}`` markers (``assistant_only_loss``).
A tokenizer template without markers is patched by TRL when TRL knows it;
otherwise only single-turn records can use it (as a conversational
prompt/completion pair), and a multi-turn dataset fails in one line naming the fix.

:func:`choose_format` checks names and the single-turn constraint (no model
needed, so a bad recipe fails before any weight is loaded); :func:`install`
then puts the chosen format on the loaded tokenizer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from factory.chat_formats import ChatFormat
from factory.errors import UserError
from factory.languages import Language, PromptTemplate
from factory.records import Record

from factory_peft.options import CHAT_TEMPLATE


@dataclass(frozen=True)
class FormatChoice:
    """The recipe's choice, resolved against the language plugin (no tokenizer yet)."""

    name: str  # the template, chat format or CHAT_TEMPLATE; "" = the tokenizer's template, else `fallback`
    prompt_template: PromptTemplate | None = None
    chat_format: ChatFormat | None = None
    fallback: ChatFormat | None = None  # used when the tokenizer turns out to have no chat template
    single_turn: bool = True  # every record is one user turn (and at most one reply)


@dataclass
class TrainingFormat:
    """The format installed on the tokenizer: what rows look like and which tokens end a reply."""

    name: str
    prompt_template: PromptTemplate | None = None  # set for single-turn prompt templates
    chat_format: ChatFormat | None = None  # set for named chat formats
    assistant_masks: bool = False  # the chat template marks assistant turns ({% generation %}, or TRL patches it)
    stop_token: str | None = None  # the token that ends a reply
    added_tokens: list[str] = field(default_factory=list)  # special tokens the format added to the vocabulary

    @property
    def conversational(self) -> bool:
        return self.prompt_template is None


def _known_names(language: Language) -> str:
    return ", ".join([*sorted(language.templates), *sorted(language.chat_formats), CHAT_TEMPLATE])


def choose_format(option: str | None, language: Language | None, records: list[Record]) -> FormatChoice:
    """Resolve ``template`` (None: the default for this data) and check the records can use it."""
    language = language if language is not None else Language()
    single_turn = all(r.is_single_turn for r in records)
    multi = sum(1 for r in records if not r.is_single_turn)
    if option is None:
        if single_turn:
            return FormatChoice(language.default_template, prompt_template=language.template())
        return FormatChoice("", fallback=language.chat_format(), single_turn=False)
    if option == CHAT_TEMPLATE:
        return FormatChoice(CHAT_TEMPLATE, single_turn=single_turn)
    if option in language.chat_formats:
        return FormatChoice(option, chat_format=language.chat_formats[option], single_turn=single_turn)
    if option in language.templates:
        if not single_turn:
            raise UserError(f"train.template: '{option}' is a single-turn prompt template but {multi} record(s) are "
                            f"conversations (or have a system message); choose a chat format "
                            f"({', '.join(sorted(language.chat_formats))}) or {CHAT_TEMPLATE}")
        return FormatChoice(option, prompt_template=language.templates[option])
    raise UserError(f"unknown prompt template '{option}' for language '{language.code or 'default'}' "
                    f"(known: {_known_names(language)})")


def adds_bos(tokenizer: Any) -> bool:
    """True when the tokenizer puts its BOS in front of any text (LLaMA does; GPT-NeoX/Polyglot do not).

    A chat template is tokenized without special tokens, so a format installed on such
    a tokenizer writes BOS itself, exactly as the single-turn path gets it.
    """
    bos = tokenizer.bos_token_id
    if bos is None:
        return False
    with_special = tokenizer("a", add_special_tokens=True)["input_ids"]
    without = tokenizer("a", add_special_tokens=False)["input_ids"]
    return with_special[:1] == [bos] and without[:1] != [bos]


def _template_marks_generation(tokenizer: Any) -> bool:
    """Whether TRL can learn assistant turns with this tokenizer's template (it has markers or TRL patches it)."""
    from trl.chat_template_utils import has_generation_markers

    if has_generation_markers(tokenizer.chat_template):
        return True
    from trl import get_training_chat_template

    try:
        get_training_chat_template(tokenizer)
    except ValueError:
        return False
    return True


def install(choice: FormatChoice, tokenizer: Any) -> TrainingFormat:
    """Put the chosen format on the tokenizer (chat template, special tokens) and describe it."""
    if choice.prompt_template is not None:
        return TrainingFormat(choice.name, prompt_template=choice.prompt_template, stop_token=tokenizer.eos_token)
    chat = choice.chat_format
    if chat is None and not getattr(tokenizer, "chat_template", None):
        if choice.name == CHAT_TEMPLATE:
            raise UserError(f"template '{CHAT_TEMPLATE}' was chosen but the base model's tokenizer has no chat template; "
                            "choose a named chat format (vicuna-v1.1, chatml, ...) instead")
        chat = choice.fallback
    if chat is None:  # the tokenizer's own template
        marks = _template_marks_generation(tokenizer)
        if not marks and not choice.single_turn:
            raise UserError("the tokenizer's chat template has no {% generation %} markers and TRL has no training "
                            "version of it, so the assistant turns of a conversation cannot be masked; choose a named "
                            "chat format (vicuna-v1.1, chatml, ...) or train on single-turn records")
        return TrainingFormat(CHAT_TEMPLATE, assistant_masks=marks, stop_token=tokenizer.eos_token)
    vocab = tokenizer.get_vocab()
    missing = [token for token in chat.special_tokens if token not in vocab]
    if missing:
        tokenizer.add_tokens(missing, special_tokens=True)
    tokenizer.chat_template = chat.jinja(bos=adds_bos(tokenizer))
    return TrainingFormat(chat.name, chat_format=chat, assistant_masks=True,
                          stop_token=chat.stop or tokenizer.eos_token, added_tokens=missing)


def example_prompt(fmt: TrainingFormat, tokenizer: Any) -> str:
    """The serving prompt of a one-question placeholder conversation, as the model was trained on it."""
    if fmt.prompt_template is not None:
        return fmt.prompt_template.render("{instruction}")
    return tokenizer.apply_chat_template([{"role": "user", "content": "{instruction}"}], tokenize=False,
                                         add_generation_prompt=True)
