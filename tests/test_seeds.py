"""The shipped seed task sets (seeds/<lang>/seed_tasks.jsonl) are well formed and varied.

Seeds are the demonstrations every self-instruct run starts from, so a broken
line, a duplicated task or two near-identical instructions would quietly skew
every generated dataset. The near-duplicate check uses the same rule the
generation filter applies (ROUGE-L F above 0.7 on the language's own
similarity tokens), so a seed set never contains a pair the pipeline itself
would reject.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Callable, Sequence

import pytest

from factory.plugins import get_registry
from factory.records import load_records, load_seed_tasks

SEEDS_DIR = Path(__file__).resolve().parents[1] / "seeds"
MIN_COUNTS = {"en": 120, "ko": 120, "ja": 60}
LANGUAGES = sorted(MIN_COUNTS)
REQUIRED_KEYS = {"id", "name", "instruction", "instances", "is_classification"}
NEAR_DUPLICATE = 0.7
INPUT_SHARE = (0.30, 0.50)
CLASSIFICATION_SHARE = (0.05, 0.25)
NAME_RE = re.compile(r"[a-z0-9]+(?:_[a-z0-9]+)*")


def seed_path(code: str) -> Path:
    return SEEDS_DIR / code / "seed_tasks.jsonl"


def raw_lines(code: str) -> list[dict]:
    with seed_path(code).open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


# -- ROUGE-L over a whole set --------------------------------------------------
def _lcs(a: Sequence[str], b: Sequence[str]) -> int:
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def _f(a: Sequence[str], b: Sequence[str]) -> float:
    if not a or not b:
        return 0.0
    lcs = _lcs(a, b)
    return 0.0 if lcs == 0 else 2 * lcs / (len(a) + len(b))


def most_similar_pair(token_lists: Sequence[Sequence[str]]) -> tuple[float, int, int]:
    """Highest ROUGE-L F over all pairs, with the indexes of that pair.

    Uses the project's RougeLIndex when it is available (the engine's own
    scorer), otherwise a plain LCS over every pair.
    """
    try:
        from factory.similarity import RougeLIndex
    except ImportError:
        RougeLIndex = None
    best = (0.0, -1, -1)
    if RougeLIndex is not None:
        index = RougeLIndex()
        for i, tokens in enumerate(token_lists):
            score, key = index.max_score(tokens)
            if key is not None and score > best[0]:
                best = (score, key, i)
            index.add(tokens, i)
        return best
    for i in range(len(token_lists)):
        for j in range(i):
            score = _f(token_lists[i], token_lists[j])
            if score > best[0]:
                best = (score, j, i)
    return best


def tokenizer_for(code: str) -> Callable[[Sequence[str]], list[list[str]]]:
    """The similarity tokenizer of ``code``: its language plugin, or a stand-in for ko."""
    registry = get_registry()
    if registry.has("language", code):
        language = registry.get("language", code).obj()
        return language.tokenize_many
    if code == "ko":
        kiwipiepy = pytest.importorskip("kiwipiepy")
        kiwi = kiwipiepy.Kiwi()
        return lambda texts: [[token.form for token in kiwi.tokenize(text)] for text in texts]
    pytest.skip(f"no '{code}' language plugin is registered")


# -- tests ---------------------------------------------------------------------
def test_pair_finder_flags_near_duplicates() -> None:
    """The pairwise check itself can fail: a paraphrase pair scores above 0.7."""
    english = get_registry().get("language", "en").obj()
    tokens = english.tokenize_many(
        [
            "Summarize the following email in one sentence.",
            "List three uses of baking soda.",
            "Summarize the following email in a single sentence.",
        ]
    )
    score, first, second = most_similar_pair(tokens)
    assert (first, second) == (0, 2)
    assert score == pytest.approx(2 * 6 / (7 + 8))
    assert score > NEAR_DUPLICATE


@pytest.mark.parametrize("code", LANGUAGES)
def test_seed_file_loads_with_required_fields(code: str) -> None:
    tasks = load_seed_tasks(seed_path(code))
    raw = raw_lines(code)
    assert len(tasks) == len(raw) >= MIN_COUNTS[code]
    for line, data in enumerate(raw, start=1):
        assert set(data) == REQUIRED_KEYS, f"{code} line {line}: keys {sorted(data)}"
        assert isinstance(data["is_classification"], bool), f"{code} line {line}"
        assert isinstance(data["instances"], list) and data["instances"], f"{code} line {line}"
        for instance in data["instances"]:
            assert set(instance) == {"input", "output"}, f"{code} line {line}"
            assert isinstance(instance["input"], str), f"{code} line {line}"
            assert isinstance(instance["output"], str) and instance["output"].strip(), f"{code} line {line}"
    for task in tasks:
        instruction = task.instruction
        assert instruction == instruction.strip() and instruction, task.id
        assert instruction[0].isalnum(), f"{task.id} starts with punctuation: {instruction!r}"
        assert NAME_RE.fullmatch(task.name), f"{task.id}: name {task.name!r} is not snake_case"


@pytest.mark.parametrize("code", LANGUAGES)
def test_ids_names_and_instructions_are_unique(code: str) -> None:
    tasks = load_seed_tasks(seed_path(code))
    assert [t.id for t in tasks] == [f"seed_task_{i}" for i in range(len(tasks))]
    names = [t.name for t in tasks]
    assert len(set(names)) == len(names), sorted(n for n in names if names.count(n) > 1)
    normalized = [" ".join(t.instruction.lower().split()) for t in tasks]
    assert len(set(normalized)) == len(normalized), sorted(n for n in normalized if normalized.count(n) > 1)


@pytest.mark.parametrize("code", LANGUAGES)
def test_mix_of_inputs_and_classification(code: str) -> None:
    tasks = load_seed_tasks(seed_path(code))
    with_input = sum(1 for t in tasks if t.instances[0]["input"].strip()) / len(tasks)
    classification = sum(1 for t in tasks if t.is_classification) / len(tasks)
    assert INPUT_SHARE[0] <= with_input <= INPUT_SHARE[1], f"{code}: {with_input:.2f} of tasks have an input"
    assert CLASSIFICATION_SHARE[0] <= classification <= CLASSIFICATION_SHARE[1], f"{code}: {classification:.2f}"


@pytest.mark.parametrize("code", LANGUAGES)
def test_seeds_load_as_records(code: str) -> None:
    """load_records reads a seed file as one record per task (its first instance)."""
    records = load_records(seed_path(code))
    tasks = load_seed_tasks(seed_path(code))
    assert [r.instruction for r in records] == [t.instruction for t in tasks]
    assert [r.output for r in records] == [t.instances[0]["output"] for t in tasks]
    assert all(r.meta["source"] == "seed" for r in records)


@pytest.mark.parametrize("code", LANGUAGES)
def test_no_near_duplicate_instructions(code: str) -> None:
    tokenize_many = tokenizer_for(code)
    tasks = load_seed_tasks(seed_path(code))
    token_lists = tokenize_many([t.instruction for t in tasks])
    assert all(token_lists), f"{code}: an instruction has no similarity tokens"
    score, first, second = most_similar_pair(token_lists)
    assert score <= NEAR_DUPLICATE, (
        f"{code}: ROUGE-L {score:.3f} between {tasks[first].instruction!r} and {tasks[second].instruction!r}"
    )


@pytest.mark.parametrize("code", LANGUAGES)
def test_seeds_pass_the_task_filters(code: str) -> None:
    """No seed would be dropped by its language's blacklist or write-a-program filter."""
    registry = get_registry()
    if not registry.has("language", code):
        pytest.skip(f"no '{code}' language plugin is registered")
    language = registry.get("language", code).obj()
    for task in load_seed_tasks(seed_path(code)):
        assert language.blacklisted(task.instruction) is None, task.instruction
        assert not language.is_program_task(task.instruction), task.instruction
        assert language.is_in_language(task.instruction), task.instruction


@pytest.mark.parametrize("code", LANGUAGES)
def test_language_plugin_ships_this_seed_set_as_package_data(code: str) -> None:
    """A registered language's default seeds are package data of its plugin, and that package data is the
    repository's seeds/<code>/ itself (a link, so there is one source), not a copy that can drift."""
    registry = get_registry()
    if not registry.has("language", code):
        pytest.skip(f"no '{code}' language plugin is registered")
    language = registry.get("language", code).obj
    package_dir = Path(sys.modules[language.__module__].__file__).parent
    assert language.default_seeds == package_dir / "seeds" / code / "seed_tasks.jsonl"
    assert language.default_seeds.resolve() == seed_path(code).resolve()
