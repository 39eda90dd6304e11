"""KoAlpaca's training formats: the single-turn question/answer template and its multi-turn form.

Korean-specific, so they live in the Korean plugin rather than on every
language. KoAlpaca trains ``### 질문: {instruction}\\n\\n### 답변: {output}``
(an optional ``### 맥락:`` section carries an input) and serves the prompt up
to ``### 답변:``. The multi-turn form repeats question/answer blocks, one
blank line apart, each answer ending with EOS; for a single-turn record
without input it renders exactly the single-turn text, so a model trained on
either serves with the same prompt.
"""

from __future__ import annotations

from factory.chat_formats import ChatFormat
from factory.languages import PromptTemplate

KOALPACA_TEMPLATE = PromptTemplate(
    name="koalpaca",
    with_input="### 질문: {instruction}\n\n### 맥락: {input}\n\n### 답변:",
    without_input="### 질문: {instruction}\n\n### 답변:",
    description="KoAlpaca's question/answer format, with an optional context section.",
    response_prefix=" ",
)

KOALPACA_CHAT = ChatFormat(
    name="koalpaca-chat",
    description="KoAlpaca's format over several turns: '### 질문: ...' and '### 답변: ...' blocks a blank line apart, "
                "each answer ending with EOS.",
    body=(
        "{%- for message in messages -%}"
        "{%- if message['role'] == 'system' -%}{{- message['content'] + '\\n\\n' -}}"
        "{%- elif message['role'] == 'user' -%}{{- '### 질문: ' + message['content'] + '\\n\\n' -}}"
        "{%- elif message['role'] == 'assistant' -%}"
        "{{- '### 답변:' -}}{%- generation -%}{{- ' ' + message['content'] + eos_token -}}{%- endgeneration -%}"
        "{%- if not loop.last -%}{{- '\\n\\n' -}}{%- endif -%}"
        "{%- endif -%}"
        "{%- endfor -%}"
        "{%- if add_generation_prompt -%}{{- '### 답변:' -}}{%- endif -%}"
    ),
)
