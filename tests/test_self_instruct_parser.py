"""The self-instruct parser against Stanford Alpaca's rules on the same responses.

Alpaca's post-processing (``post_process_gpt3_response`` in its
``generate_instruction.py``) is restated below from its documented behaviour,
not copied. A generator writes responses in Alpaca's format from known tasks,
with perturbations real teachers produce. On every response our parser plus
filters must return exactly the tasks that were written (minus the ones
Alpaca's own filters reject), and Alpaca's rules must agree with us unless the
response carries one of the DELIBERATE improvements listed here: every
disagreement is one of them.
"""

from __future__ import annotations

import random
import re
import string
from dataclasses import dataclass, field

import pytest

from factory.default_plugins.english import English
from factory.default_plugins.self_instruct import SelfInstruct
from factory.default_plugins.self_instruct_parser import Garbled, Task, parse_tasks, strip_stop_echo
from factory.filtering import FilterChain
from factory.recipe import FiltersSection, SimilarityFilter
from factory.teachers import Completion

FIRST = 4  # three demonstrations, as Alpaca's num_prompt_instructions=3

#: where our parser (plus filters) deliberately decides differently from Alpaca's rules
DELIBERATE = {
    "alias_noinput": "a localized or alternative no-input marker (`<no input>`) empties the input; Alpaca keeps it as text",
    "missing_separator": "the next task's instruction label ends a task even without `###`; Alpaca merges the two "
                         "tasks into one output and, its numbering now off by one, drops every later task",
    "label_spelling": "labels are read case-insensitively, with `)` or no space after the number and a full-width "
                      "colon; Alpaca drops such tasks",
    "missing_input_label": "a task without an Input label has an empty input; Alpaca drops it",
    "markdown_heading": "`### Heading` inside an output is text (a separator must end its line); Alpaca splits there, "
                        "garbles that task and drops every later one",
    "skipped_number": "task numbers re-synchronise after each `###` (a teacher that skips a number keeps its tasks); "
                      "Alpaca drops every task after the skip",
    "stop_echo_without_separator": "a trailing echo of the stop string (`\\n20`) is removed; Alpaca appends it to the "
                                   "last output",
    "empty_output": "an empty output is rejected (empty_output); Alpaca keeps it",
    "output_before_input": "fields are taken by label name; Alpaca takes them by position and swaps input and output",
    "output_equals_input": "an output that repeats its input is rejected (output_equals_input); Alpaca keeps it",
    "length_missing_separator": "on finish_reason=length the complete task before a cut-off one is kept when the cut "
                                "one starts with its own instruction label; Alpaca drops both",
}

ALPACA_BLACKLIST = ["image", "images", "graph", "graphs", "picture", "pictures", "file", "files", "map", "maps",
                    "draw", "plot", "go to", "video", "audio", "music", "flowchart", "diagram"]


# -- Alpaca's rules, restated ---------------------------------------------------------------
def alpaca_parse(text: str, finish_reason: str, num_prompt_instructions: int = 3) -> list[tuple[str, str, str]]:
    """Alpaca's parsing of one response, from its documented behaviour.

    The response is prefixed with the first task's instruction label and cut
    at every ``###``; the last piece is dropped on ``length``; the piece at
    position i must split on ``{k+1+i}. (Instruction|Input|Output):`` (one or
    more spaces after the dot, exact case) into exactly three fields, taken in
    the order they appear; ``<noinput>`` (any case) means no input.
    """
    pieces = (f"{num_prompt_instructions + 1}. Instruction:" + text).split("###")
    tasks = []
    for position, piece in enumerate(pieces):
        if position == len(pieces) - 1 and finish_reason == "length":
            continue
        number = position + num_prompt_instructions + 1
        parts = re.split(rf"{number}\.\s+(Instruction|Input|Output):", piece)
        if len(parts) != 7:
            continue
        instruction, input_text, output = parts[2].strip(), parts[4].strip(), parts[6].strip()
        tasks.append((instruction, "" if input_text.lower() == "<noinput>" else input_text, output))
    return tasks


def alpaca_keeps(instruction: str) -> bool:
    """Alpaca's instruction filters: 4 to 150 words, no blacklisted word, not a program task, ASCII non-punctuation start."""
    words = len(instruction.split())
    if words <= 3 or words > 150:
        return False
    if any(re.search(rf"\b{re.escape(w)}\b", instruction, flags=re.IGNORECASE) for w in ALPACA_BLACKLIST):
        return False
    if instruction.startswith("Write a program"):
        return False
    return instruction[0] not in string.punctuation and instruction[0].isascii()


def alpaca(text: str, finish_reason: str) -> list[tuple[str, str, str]]:
    return [task for task in alpaca_parse(text, finish_reason) if alpaca_keeps(task[0])]


# -- ours ---------------------------------------------------------------------------------------
def ours(text: str, finish_reason: str, num_tasks: int = 20) -> list[tuple[str, str, str]]:
    english = English()
    candidates, _ = SelfInstruct(num_tasks=num_tasks).parse_text(Completion(text, finish_reason), english.prompt, FIRST, "t")
    chain = FilterChain.of(FiltersSection(similarity=SimilarityFilter(enabled=False)), english)
    kept, _ = chain.apply_sync(candidates)
    return [(r.instruction, r.input, r.output) for r in kept]


def pieces(text: str, finish_reason: str = "stop", stop: tuple[str, ...] = ()) -> list:
    return parse_tasks(text, English().prompt, FIRST, finish_reason=finish_reason, stop=stop)


# -- the response generator ---------------------------------------------------------------------
INSTRUCTIONS = [
    "Give three tips for keeping a sourdough starter healthy.",
    "Classify the sentiment of this product review as positive or negative.",
    "Rewrite the sentence in the passive voice.",
    "Explain what a mutex is to a new programmer in two sentences.",
    "Suggest a title for a blog post about saving water at home.",
    "List the steps to change a flat bicycle tyre.",
    "Summarize the paragraph below in one sentence.",
    "Is the following statement true or false? Explain why.",
    "Convert the temperature below from Celsius to Fahrenheit.",
    "Name two rivers that flow through Germany and one city on each.",
    "Write a short apology email for missing a team meeting.",
    "Sort these words.",  # too short for Alpaca
    "Describe the image of a sunset over the sea.",  # blacklisted
    "Write a program that prints the first ten primes.",  # program task
    "\"Quote\" the most famous line of Hamlet and explain it.",  # punctuation
    "Écrivez une phrase sur le printemps en français.",  # non-ASCII start
]
INPUTS = ["<noinput>", "The committee approved the plan.", "pear, apple, plum", "None", "N/A",
          "Our train left at 9:40 and arrived two hours late.", "25 degrees"]
OUTPUTS = ["Feed it daily, keep it warm and use clean jars.", "Negative", "None", "N/A",
           "1. Title\n2. Input: ingredients\n3. Output: the dish",  # a numbered list inside an output
           "First, remove the wheel.\nThen find the hole and patch it.", "77 degrees Fahrenheit.",
           "The plan was approved by the committee."]
NEUTRAL = ("inline_input_label", "length_after_separator", "length_truncated_tail", "stop_echo_after_separator",
           "repeated_label")


@dataclass
class Generated:
    text: str
    finish_reason: str
    expected: list[tuple[str, str, str]]
    applied: set[str] = field(default_factory=set)


def generate(rng: random.Random) -> Generated:
    """A response of 3 to 8 tasks in Alpaca's format with up to three perturbations."""
    count = rng.randint(3, 8)
    tasks = [(rng.choice(INSTRUCTIONS), rng.choice(INPUTS), rng.choice(OUTPUTS)) for _ in range(count)]
    kinds = rng.sample(sorted(DELIBERATE) + list(NEUTRAL) * 2, rng.randint(0, 3))
    applied: set[str] = set()
    target = rng.randrange(count)  # the task a per-task perturbation changes
    finish = "stop"
    expected = []
    parts = []
    number = FIRST
    for index, (instruction, input_text, output) in enumerate(tasks):
        if index and "skipped_number" in kinds and index == max(target, 1):
            number += 1
            applied.add("skipped_number")
        labels = ["Instruction", "Input", "Output"]
        dots = [". ", ". ", ". "]
        colon = ":"
        keep = True
        if index == target and "alias_noinput" in kinds:
            input_text = "<no input>"
            applied.add("alias_noinput")
        if index == target and "empty_output" in kinds:
            output = ""
            applied.add("empty_output")
        if index == target and "markdown_heading" in kinds:
            output = "### Steps\n" + output
            applied.add("markdown_heading")
        if index == target and "label_spelling" in kinds:
            labels, dots, colon = ["instruction", "Input", "OUTPUT"], [".", ") ", " . "], "："
            applied.add("label_spelling")
        head = f" {instruction}" if index == 0 else f"{number}{dots[0]}{labels[0]}{colon} {instruction}"
        input_part = f"{number}{dots[1]}{labels[1]}{colon}\n{input_text}\n"
        if index == target and "inline_input_label" in kinds:
            input_part = f" {number}{dots[1]}{labels[1]}{colon} {input_text}\n"
            applied.add("inline_input_label")
        if index == target and "missing_input_label" in kinds:
            input_text, input_part = "<noinput>", ""
            applied.add("missing_input_label")
        output_part = f"{number}{dots[2]}{labels[2]}{colon}\n{output}\n"
        if index == target and "repeated_label" in kinds:
            output_part += f"{number}. Output:\n{output}\n"
            applied.add("repeated_label")
            keep = False
        if index == target and "output_before_input" in kinds and input_part and input_text not in ("<noinput>", "<no input>") \
                and "inline_input_label" not in applied:
            body = f"{head}\n{output_part}{input_part}"
            applied.add("output_before_input")
        else:
            body = f"{head}\n{input_part}{output_part}" if not input_part.startswith(" ") else f"{head}{input_part}{output_part}"
        last = index == count - 1
        separator = "###\n"
        if not last and index == target and "missing_separator" in kinds and "skipped_number" not in kinds:
            separator = ""
            applied.add("missing_separator")
        parts.append(body + separator)
        normalized_input = "" if input_text in ("<noinput>", "<no input>") else input_text
        if keep and output.strip() and normalized_input == output.strip():
            applied.add("output_equals_input")
            keep = False
        if keep and output.strip() and alpaca_keeps(instruction):
            expected.append((instruction, normalized_input, output.strip()))
        number += 1
    text = "".join(parts)
    tail_number = number
    if "length_missing_separator" in kinds:
        text = text.removesuffix("###\n") + f"{tail_number}. Instruction: Summarize the"
        finish = "length"
        applied.add("length_missing_separator")
    elif "length_truncated_tail" in kinds:
        text += f"{tail_number}. Instruction: Summarize the"
        finish = "length"
        applied.add("length_truncated_tail")
    elif "length_after_separator" in kinds:
        finish = "length"
        applied.add("length_after_separator")
    elif "stop_echo_without_separator" in kinds:
        text = text.removesuffix("###\n") + f"\n{tail_number}"
        applied.add("stop_echo_without_separator")
    elif "stop_echo_after_separator" in kinds:
        text += f"{tail_number}"
        applied.add("stop_echo_after_separator")
    return Generated(text, finish, expected, applied)


def test_every_disagreement_with_alpaca_is_a_documented_improvement():
    rng = random.Random(20240518)
    disagreements: dict[str, int] = {}
    agreed_with_perturbation = 0
    for _ in range(400):
        case = generate(rng)
        mine = ours(case.text, case.finish_reason, num_tasks=_stop_number(case.text))
        assert mine == case.expected, (case.applied, case.text)
        theirs = alpaca(case.text, case.finish_reason)
        improvements = case.applied & set(DELIBERATE)
        if theirs != mine:
            assert improvements, f"an undocumented disagreement: {case.applied}\n{case.text}"
            for name in improvements:
                disagreements[name] = disagreements.get(name, 0) + 1
        elif case.applied:
            agreed_with_perturbation += 1
    # the corpus really exercises every documented difference, and the neutral perturbations agree
    assert set(disagreements) == set(DELIBERATE), set(DELIBERATE) - set(disagreements)
    assert agreed_with_perturbation > 20


def _stop_number(text: str) -> int:
    """num_tasks for a generated response: one after its highest task number (the stop the request carried)."""
    numbers = [int(n) for n in re.findall(r"(?m)^(\d+)\s*[.)]", text)] or [FIRST]
    return max(max(numbers) + 1, FIRST + 1)


# -- the cases from the issue -------------------------------------------------------------------
def test_a_numbered_list_inside_an_output_survives_like_alpaca():
    text = (" Plan a dinner menu for four guests.\n4. Input:\n<noinput>\n4. Output:\n1. Title\n2. Input: ingredients\n"
            "3. Output: the dish\n###\n5. Instruction: Name the capital city of Japan.\n5. Input:\n<noinput>\n"
            "5. Output:\nTokyo\n###\n")
    expected = [("Plan a dinner menu for four guests.", "", "1. Title\n2. Input: ingredients\n3. Output: the dish"),
                ("Name the capital city of Japan.", "", "Tokyo")]
    assert ours(text, "stop") == expected == alpaca(text, "stop")


def test_none_and_na_are_kept_as_answers_and_inputs():
    text = (" Which planet in the list has rings like Saturn?\n4. Input:\nMercury, Mars\n4. Output:\nNone\n###\n"
            "5. Instruction: Write the given word in capital letters.\n5. Input:\nNone\n5. Output:\nNONE\n###\n"
            "6. Instruction: Give the area code of the following country.\n6. Input:\nAntarctica\n6. Output:\nN/A\n###\n")
    kept = ours(text, "stop")
    assert kept == alpaca(text, "stop") == [
        ("Which planet in the list has rings like Saturn?", "Mercury, Mars", "None"),
        ("Write the given word in capital letters.", "None", "NONE"),
        ("Give the area code of the following country.", "Antarctica", "N/A"),
    ]


def test_a_complete_last_task_is_kept_on_length_when_it_ends_with_a_separator():
    text = " Name the largest ocean on Earth.\n4. Input:\n<noinput>\n4. Output:\nThe Pacific.\n###\n"
    assert ours(text, "length") == alpaca(text, "length") == [("Name the largest ocean on Earth.", "", "The Pacific.")]
    cut = text + "5. Instruction: Name the smallest"
    assert [p.reason for p in pieces(cut, "length") if isinstance(p, Garbled)] == ["truncated"]
    assert ours(cut, "length") == alpaca(cut, "length") == [("Name the largest ocean on Earth.", "", "The Pacific.")]


def test_an_unterminated_last_task_on_length_is_truncated():
    text = " Name the largest ocean on Earth.\n4. Input:\n<noinput>\n4. Output:\nThe Pac"
    (piece,) = pieces(text, "length")
    assert isinstance(piece, Garbled) and piece.reason == "truncated" and piece.number == 4
    assert "The Pac" in piece.text


def test_an_inline_input_label_on_the_instruction_line_is_split():
    text = (" Translate the greeting into French. 4. Input: Good morning\n4. Output:\nBonjour\n###\n"
            "5. Instruction: Spell the word backwards. 5. Input: stressed 5. Output: desserts\n###\n")
    assert ours(text, "stop") == [("Translate the greeting into French.", "Good morning", "Bonjour"),
                                  ("Spell the word backwards.", "stressed", "desserts")]


def test_one_garbled_task_gives_exactly_one_rejection():
    text = (" Explain recursion to a child.\n4. Input:\n<noinput>\n4. Output:\nA thing that uses itself.\n###\n"
            "5. Instruction: Describe a rainbow.\n2. Instruction: nested\n5. Input: none given\n###\n"
            "no labels here at all\n###\n")
    result = pieces(text)
    assert [type(p).__name__ for p in result] == ["Task", "Garbled", "Garbled"]
    assert [(p.reason, p.detail) for p in result if isinstance(p, Garbled)] == [
        ("bad_format", "missing labels: output"), ("bad_format", "missing labels")]
    candidates, rejected = SelfInstruct().parse_text(Completion(text, "stop"), English().prompt, FIRST, "t")
    assert len(candidates) == 1 and [r.id for r, _, _ in rejected] == ["t-1", "t-2"]


def test_a_repeated_label_is_one_bad_format_row():
    text = " Name a colour.\n4. Input:\n<noinput>\n4. Output:\nRed\n4. Output:\nBlue\n###\n"
    (piece,) = pieces(text)
    assert isinstance(piece, Garbled) and piece.detail == "repeated label: output"


@pytest.mark.parametrize("echo", ["\n7", "\n7.", "\n7. ", "7", "7. "])
def test_an_echoed_stop_string_is_not_a_rejection(echo):
    text = " Name the largest ocean on Earth.\n4. Input:\n<noinput>\n4. Output:\nThe Pacific.\n###\n"
    method = SelfInstruct(num_tasks=7)
    candidates, rejected = method.parse_text(Completion(text + echo, "stop"), English().prompt, FIRST, "t")
    assert rejected == [] and [c.output for c in candidates] == ["The Pacific."]


def test_only_a_line_initial_stop_echo_is_removed():
    stop = ("\n20", "20.", "20. ")
    assert strip_stop_echo("Output:\nIt costs 20.", stop) == "Output:\nIt costs 20."
    assert strip_stop_echo("Output:\nx\n###\n20.", stop) == "Output:\nx\n###\n"
    assert strip_stop_echo("Output:\nx\n20", stop) == "Output:\nx\n"
    assert strip_stop_echo("no echo", stop) == "no echo"


def test_a_markdown_heading_in_an_output_is_text():
    text = (" Outline a short talk about bees.\n4. Input:\n<noinput>\n4. Output:\n### Part one\nWhy bees matter.\n###\n"
            "5. Instruction: Name the capital city of Japan.\n5. Input:\n<noinput>\n5. Output:\nTokyo\n###\n")
    assert ours(text, "stop") == [("Outline a short talk about bees.", "", "### Part one\nWhy bees matter."),
                                  ("Name the capital city of Japan.", "", "Tokyo")]


def test_the_explicit_no_input_markers_still_mean_no_input():
    text = " Name a primary colour please.\n4. Input:\n<No Input>\n4. Output:\nBlue\n###\n"
    (task,) = pieces(text)
    assert isinstance(task, Task) and task.input == ""


@pytest.mark.parametrize(("num_tasks", "demos", "count"), [(20, 3, 16), (7, 3, 3), (10, 1, 8)])
def test_the_header_asks_for_as_many_tasks_as_num_tasks_allows(num_tasks, demos, count):
    from factory.plugins import get_plugin
    from factory.records import Record

    method = SelfInstruct(num_tasks=num_tasks)
    seeds = [Record.from_alpaca(f"Seed instruction number {i}.", "", "out", id=str(i)) for i in range(demos)]
    phrases = {"en": f"Write {count} new tasks", "ko": f"새 과제 {count}개를", "ja": f"タスクを{count}個"}
    for code, phrase in phrases.items():
        prompt = method.build_prompt(seeds, get_plugin("language", code)().prompt)
        assert phrase in prompt and "{count}" not in prompt, code
    custom = SelfInstruct(num_tasks=num_tasks, header="Make {count} more.").build_prompt(seeds, English().prompt)
    assert custom.startswith(f"Make {count} more.\n")
