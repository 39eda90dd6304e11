"""Named multi-turn chat formats for base models whose tokenizer has no chat template.

LLaMA-1, Polyglot-ko and most base checkpoints ship without a chat template,
so a trainer cannot render a conversation for them. A :class:`ChatFormat` is
that template, written as Jinja for ``tokenizer.apply_chat_template``: the
trainer installs it on the tokenizer, trains with it, and saves it with the
model, so serving code renders exactly the training format.

Every assistant reply, with the token that ends it, sits inside
``{% generation %}`` markers. That is what lets a trainer learn the assistant
turns only, every one of them (transformers' ``return_assistant_tokens_mask``,
TRL's ``assistant_only_loss``); the role cues (``ASSISTANT:``) stay outside,
so the model is not trained to write the user's side.

The structure of each format (role names, separators, end tokens) follows the
published format it is named after; the wording (the default system line) is
ours. Language plugins expose these through ``Language.chat_formats`` and may
add their own (the Korean plugin adds KoAlpaca's question/answer format).
This module imports nothing heavy: recipes validate without Jinja.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ChatFormat:
    """A conversation format as a Jinja chat template with generation markers.

    ``body`` renders ``messages`` (roles ``system``, ``user``, ``assistant``)
    and, with ``add_generation_prompt``, the cue that asks for the next reply.
    ``special_tokens`` are tokens the format needs as single vocabulary entries
    (added to a tokenizer that lacks them); ``stop`` is the token that ends an
    assistant reply, or None for the tokenizer's EOS.
    """

    name: str
    body: str
    description: str = ""
    special_tokens: tuple[str, ...] = ()
    stop: str | None = None

    def jinja(self, bos: bool) -> str:
        """The template text; ``bos`` writes the tokenizer's BOS first (for tokenizers that add one to any text)."""
        return ("{{- bos_token -}}" if bos else "") + self.body


#: Our default system line for Vicuna-style chats (used when a conversation has no system message).
VICUNA_SYSTEM = (
    "This is a conversation between a person and an AI assistant. "
    "The assistant answers accurately, helpfully and politely."
)

VICUNA_V11 = ChatFormat(
    name="vicuna-v1.1",
    description="Vicuna v1.1: a system line, then ' USER: ...' / ' ASSISTANT: ...' turns, each reply ending with EOS.",
    body=(
        "{%- if messages and messages[0]['role'] == 'system' -%}"
        "{%- set system = messages[0]['content'] -%}{%- set turns = messages[1:] -%}"
        "{%- else -%}{%- set system = '" + VICUNA_SYSTEM + "' -%}{%- set turns = messages -%}{%- endif -%}"
        "{{- system -}}"
        "{%- for message in turns -%}"
        "{%- if message['role'] == 'user' -%}"
        # after a reply's EOS the next turn starts directly, as Vicuna's separator scheme has it
        "{{- ('' if loop.previtem is defined and loop.previtem['role'] == 'assistant' else ' ') + 'USER: ' + message['content'] -}}"
        "{%- elif message['role'] == 'assistant' -%}"
        "{{- ' ASSISTANT:' -}}{%- generation -%}{{- ' ' + message['content'] + eos_token -}}{%- endgeneration -%}"
        "{%- endif -%}"
        "{%- endfor -%}"
        "{%- if add_generation_prompt -%}{{- ' ASSISTANT:' -}}{%- endif -%}"
    ),
)

CHATML = ChatFormat(
    name="chatml",
    description="ChatML: '<|im_start|>ROLE\\n...<|im_end|>' blocks; a reply ends with <|im_end|> (added to the vocabulary when missing).",
    special_tokens=("<|im_start|>", "<|im_end|>"),
    stop="<|im_end|>",
    body=(
        "{%- for message in messages -%}"
        "{%- if message['role'] == 'assistant' -%}"
        "{{- '<|im_start|>assistant\\n' -}}{%- generation -%}{{- message['content'] + '<|im_end|>' -}}{%- endgeneration -%}"
        "{{- '\\n' -}}"
        "{%- else -%}"
        "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' -}}"
        "{%- endif -%}"
        "{%- endfor -%}"
        "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}"
    ),
)

#: The language-neutral formats every language offers.
BUILTIN: dict[str, ChatFormat] = {f.name: f for f in (VICUNA_V11, CHATML)}
