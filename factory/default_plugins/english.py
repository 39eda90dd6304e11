"""The English language (``en``), the default.

Tokens match rouge_score's default tokenizer with ``use_stemmer=False``
(lowercase; every character outside ``[a-z0-9]`` separates tokens), so
near-duplicate decisions on English equal the Alpaca pipeline's.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar, Sequence

from factory.default_plugins.english_verbs import verb_object
from factory.hookspecs import hookimpl
from factory.languages import Language, PromptWording
from factory.paths import packaged_seeds

_TOKEN_RE = re.compile(r"[a-z0-9]+")
#: seeds/en/seed_tasks.jsonl, shipped as package data of factory.default_plugins (seeds/en links to the repository's)
SEEDS = packaged_seeds("factory.default_plugins", "en")


class English(Language):
    code: ClassVar[str] = "en"
    name: ClassVar[str] = "English"
    script_pattern: ClassVar[str] = r"[A-Za-z]"
    prompt: ClassVar[PromptWording] = PromptWording(
        header=(
            "You are helping build a varied set of tasks for teaching a language model to follow "
            "instructions. Write {count} new tasks. Rules:\n"
            "1. Vary the main verb of each instruction, and do not repeat the same kind of task twice.\n"
            "2. Cover many task types: open questions, classification, rewriting, extraction, "
            "brainstorming, step-by-step reasoning, arithmetic, explaining code, and so on.\n"
            "3. Mix direct questions with imperative requests; keep each instruction to one or two sentences.\n"
            "4. Every task must be doable by a text-only model: nothing that needs pictures, sound, "
            "files, browsing or actions in the world.\n"
            "5. Where a task needs an input, give a concrete, realistic one (a short paragraph, a list, "
            "a sentence, a snippet) of at most 100 words; otherwise write \"<noinput>\".\n"
            "6. Give a correct, helpful output of fewer than 100 words.\n\n"
            "Tasks:\n"
        ),
        instruction_label="Instruction",
        input_label="Input",
        output_label="Output",
        noinput="<noinput>",
        noinput_aliases=("<no input>", "no input", "<none>"),
    )
    # The words Alpaca's filter uses for tasks a text model cannot do.
    blacklist: ClassVar[tuple[str, ...]] = (
        "image", "images", "graph", "graphs", "picture", "pictures", "file", "files",
        "map", "maps", "draw", "plot", "go to", "video", "audio", "music", "flowchart", "diagram",
    )
    program_task_prefixes: ClassVar[tuple[str, ...]] = ("Write a program",)
    #: Templates instructions and benchmarks share (the decontaminate filter's built-in allow-list).
    instruction_templates: ClassVar[tuple[str, ...]] = (
        "Read the following passage and answer the question that follows.",
        "Read the passage below and answer the questions based on the passage.",
        "Choose the correct answer from the options below and explain your choice.",
        "Which of the following statements is true? Choose one of the options.",
        "Answer the following multiple choice question with the letter of the correct option.",
        "Answer the question below. Think step by step and then give the final answer.",
        "Given the context below, answer the question using only the information in the context.",
        "Fill in the blank with the most appropriate word from the choices given.",
        "Select the best answer to the question from the choices A, B, C and D.",
        "Let's think step by step and write the final answer on the last line.",
    )
    default_seeds: ClassVar[Path | None] = SEEDS

    def tokenize(self, text: str) -> list[str]:
        return _TOKEN_RE.findall(text.lower())

    def is_in_language(self, text: str) -> bool:
        # Alpaca's rule (first character ASCII) plus a Latin-letter majority, so English decisions match Alpaca's
        return text[:1].isascii() and super().is_in_language(text)

    def verb_objects(self, texts: Sequence[str]) -> list[tuple[str | None, str | None]]:
        # Offline rules, no parser model (accuracy: docs/report.md)
        return [verb_object(text) for text in texts]


@hookimpl
def register_languages(register):
    register("en", English)
