"""The self-instruct method: prompts are reproducible, responses become records with reasons for every
rejection (the parser's agreement with Alpaca's rules is tests/test_self_instruct_parser.py)."""

from __future__ import annotations

import asyncio

from factory.default_plugins.english import English
from factory.default_plugins.self_instruct import SelfInstruct
from factory.filtering import FilterChain
from factory.plugins import get_registry
from factory.recipe import FiltersSection, SimilarityFilter
from factory.records import Record
from factory.teachers import Completion

TASKS = [
    ("Give three tips for keeping a sourdough starter healthy.", "<noinput>", "Feed it daily, keep it warm, use clean jars."),
    ("Sort these words.", "pear, apple", "apple, pear"),  # 3 words: too short
    ("Describe the image of a sunset over the sea.", "<noinput>", "Orange light on water."),  # blacklist
    ("Write a program that prints the first ten primes.", "<noinput>", "for ..."),
    ("\"Quote\" the most famous line of Hamlet and explain it.", "<noinput>", "To be or not to be."),
    ("Écrivez une phrase sur le printemps en français.", "<noinput>", "Le printemps arrive."),
    ("Classify the sentiment of this product review as positive or negative.", "The blender broke after two days.", "Negative"),
    ("Plot the growth of the population over ten years.", "<noinput>", "..."),  # blacklist: plot
    ("Explain what a mutex is to a new programmer in two sentences.", "<noinput>", "A mutex is a lock..."),
    ("Rewrite the sentence in the passive voice.", "The committee approved the plan.", "The plan was approved by the committee."),
]


def alpaca_response(tasks, start: int = 4, truncated_tail: bool = False) -> str:
    parts = []
    for offset, (instruction, input_text, output) in enumerate(tasks):
        number = start + offset
        head = f" {instruction}" if offset == 0 else f"{number}. Instruction: {instruction}"
        parts.append(f"{head}\n{number}. Input:\n{input_text}\n{number}. Output:\n{output}\n###\n")
    text = "".join(parts)
    if truncated_tail:
        text += f"{start + len(tasks)}. Instruction: Summarize the"
    return text


def test_rejection_reasons_are_recorded():
    method, english = SelfInstruct(), English()
    candidates, _ = method.parse_text(Completion(alpaca_response(TASKS), "stop"), english.prompt, 4, "t")
    chain = FilterChain.of(FiltersSection(similarity=SimilarityFilter(enabled=False)), english)
    _, rejected = chain.apply_sync(candidates)
    assert [reason for _, reason, _ in rejected] == [
        "too_short", "blacklisted", "program_task", "starts_with_punctuation", "wrong_language", "blacklisted"]


def test_parser_tolerates_spacing_missing_separator_and_localized_noinput():
    text = (" Name two rivers that flow through Seoul or nearby cities.\n4 .  Input :\n<no input>\n4. Output:\nHan, Jungnang\n"
            "5.Instruction: Give an antonym for the word below, with a short example.\n5. Input:\nbright\n5. Output:\ndark\n"
            "###\n6. Instruction: Tell me a fact about octopuses that surprises most people.\n6. Output:\nThey have three hearts.")
    candidates, rejected = SelfInstruct().parse_text(Completion(text, "stop"), English().prompt, 4, "t")
    assert rejected == []
    assert [(c.instruction, c.input) for c in candidates] == [
        ("Name two rivers that flow through Seoul or nearby cities.", ""),
        ("Give an antonym for the word below, with a short example.", "bright"),
        ("Tell me a fact about octopuses that surprises most people.", ""),
    ]


def test_bad_format_chunks_are_rejected_with_a_reason():
    text = " Explain recursion to a child.\n4. Input:\n<noinput>\n4. Output:\nA thing that uses itself.\n###\nno labels here at all\n###\n"
    candidates, rejected = SelfInstruct().parse_text(Completion(text, "stop"), English().prompt, 4, "t")
    assert len(candidates) == 1
    assert [(reason, r.instruction) for r, reason, _ in rejected] == [("bad_format", "no labels here at all")]


def test_prompts_are_reproducible_for_a_seed_and_differ_across_seeds():
    seeds = [Record.from_alpaca(f"Seed instruction number {i} about a topic.", "", f"out {i}", id=str(i)) for i in range(10)]
    method, english = SelfInstruct(), English()
    a = method.requests_for_batch(3, 4, seeds, english, recipe_seed=7)
    b = method.requests_for_batch(3, 4, seeds, english, recipe_seed=7)
    c = method.requests_for_batch(3, 4, seeds, english, recipe_seed=8)
    assert [r.prompt for r in a] == [r.prompt for r in b]
    assert [r.prompt for r in a] != [r.prompt for r in c]
    prompt = a[0].prompt
    assert prompt.count("###\n") == 4 and prompt.endswith("4. Instruction:")
    assert a[0].stop == ("\n20", "20.", "20. ")
    assert "<noinput>" in prompt


def test_method_is_registered_through_the_hook():
    entry = get_registry().get("method", "self-instruct")
    assert entry.distribution == "koalpaca-factory" and entry.obj is SelfInstruct


def test_an_output_that_is_only_the_noinput_marker_counts_as_empty():
    chain = FilterChain.of(FiltersSection(similarity=SimilarityFilter(enabled=False)), English())
    kept, rejected = chain.apply_sync([Record.from_alpaca("Name the largest planet in our solar system.", "", "<noinput>", id="a"),
                                  Record.from_alpaca("Name the smallest planet in our solar system.", "", "Mercury", id="b")])
    assert [r.id for r in kept] == ["b"] and [(r.id, reason) for r, reason, _ in rejected] == [("a", "empty_output")]


def test_output_rules_can_wait_for_outputs_written_later():
    chain = FilterChain.of(FiltersSection(), English())
    early = [Record.from_alpaca("Write a haiku about the first snow in the city.", "", "", id="a"),
             Record.from_alpaca("Write a haiku about the first snow in the city!", "", "", id="b")]
    kept, rejected = chain.apply_sync(early, outputs=False)
    assert [r.id for r in kept] == ["a"] and [(r.id, why) for r, why, _ in rejected] == [("b", "near_duplicate")]
    kept[0].output = ""  # the teacher wrote nothing
    good, bad = asyncio.run(chain.check_outputs(kept))
    assert good == [] and [(r.id, why) for r, why, _ in bad] == [("a", "empty_output")]
