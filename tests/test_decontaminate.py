"""Decontamination: n-gram overlap with benchmark prompts on the language's tokens, the allow-list of shared
templates, benchmarks as JSONL/parquet/folders, the ``decontaminate`` filter in a run and ``factory decontaminate``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from factory.decontamination import BenchmarkIndex, build_index, load_benchmarks
from factory.default_plugins.decontaminate_filter import Decontaminate
from factory.errors import UserError
from factory.plugins import get_plugin
from factory.testing.conformance import FilterConformance
from factory.testing.helpers import read_journal_rows, run_cli

DATA = Path(__file__).resolve().parent / "data" / "curation"
BENCH_EN = DATA / "bench_en.jsonl"
BENCH_KO = DATA / "bench_ko.jsonl"


@pytest.fixture(scope="module")
def en():
    return get_plugin("language", "en")()


@pytest.fixture(scope="module")
def ko():
    pytest.importorskip("factory_ko")
    return get_plugin("language", "ko")()


def match(language, index, text):
    return index.match(language.ngram_tokens_many([text])[0])


def test_a_copied_benchmark_question_is_caught_with_the_item_it_matched(en):
    index = build_index(en, [BENCH_EN])
    found = match(en, index, "Solve this: a baker makes 24 muffins in the morning and 18 in the afternoon. If she "
                             "sells 30 muffins, how many are left at the end of the day? Show your work.")
    assert found is not None and (found.item.benchmark, found.item.id) == ("bench_en", "q1")
    assert found.score == 1.0 and "muffins" in found.phrase
    assert match(en, index, "A farmer picks 40 apples and sells 25 of them; how many does he keep?") is None


def test_an_english_template_phrase_is_not_flagged_and_would_be_without_the_allow_list(en):
    template_only = "Read the following passage and answer the question that follows. Passage: Tea is popular."
    assert match(en, build_index(en, [BENCH_EN]), template_only) is None
    items = load_benchmarks([BENCH_EN])
    bare = BenchmarkIndex(items, en.ngram_tokens_many([i.text for i in items]), allowed=[])
    found = bare.match(en.ngram_tokens_many([template_only])[0])
    assert found is not None and found.item.id in ("q3", "q4")  # the template alone would have been "contamination"


def test_a_template_many_benchmark_items_share_is_not_contamination(en):
    stem = "Which of the following is the best description of a comet?"
    items = load_benchmarks([BENCH_EN])
    tokens = en.ngram_tokens_many([i.text for i in items])
    assert BenchmarkIndex(items, tokens, template_items=5).match(en.ngram_tokens_many([stem])[0]) is None
    assert BenchmarkIndex(items, tokens, template_items=0).match(en.ngram_tokens_many([stem])[0]) is not None


def test_a_korean_hit_through_different_particles(ko):
    index = build_index(ko, [BENCH_KO])
    # the benchmark says 조선을 ... 왕은 ... 이유는; the record 조선이 ... 왕은 ... 이유가, with other endings
    record = "조선이 건국한 왕은 누구였으며 그가 도읍을 한양으로 옮긴 이유가 무엇인가요?"
    found = match(ko, index, record)
    assert found is not None and found.item.id == "k1" and found.score == 1.0
    # an index on whitespace words (eojeols, which carry the particles) misses it
    items = load_benchmarks([BENCH_KO])
    words = BenchmarkIndex(items, [i.text.replace("?", "").split() for i in items])
    assert words.match(record.replace("?", "").split()) is None
    assert match(ko, index, "다음 글을 읽고 물음에 답하시오. 영희는 어제 시장에서 고등어를 샀다. 영희가 산 것은?") is None
    assert match(ko, index, "세종대왕이 만든 글자의 장점을 세 가지 설명해 주세요.") is None


def test_benchmarks_load_from_parquet_files_and_dataset_folders(tmp_path, en):
    pyarrow = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    folder = tmp_path / "quiz" / "data"
    folder.mkdir(parents=True)
    pq.write_table(pyarrow.table({"prompt": ["Name the longest river that flows through the city of Cairo in Egypt."],
                                  "answer": ["The Nile"]}), folder / "test-00000.parquet")
    (folder / "extra.jsonl").write_text(json.dumps({"messages": [
        {"role": "user", "content": "List the seven colours of the rainbow in the order they appear in the sky."},
        {"role": "assistant", "content": "Red, orange, yellow, green, blue, indigo, violet."}]}) + "\n")
    items = load_benchmarks([tmp_path / "quiz"])
    assert [(i.benchmark, i.id) for i in items] == [("quiz", "line 1"), ("quiz", "row 0")]
    index = build_index(en, [tmp_path / "quiz"])
    assert match(en, index, "Please name the longest river that flows through the city of Cairo in Egypt.") is not None


def test_a_benchmark_row_without_a_prompt_is_one_clear_error(tmp_path, en):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "What is two plus two, written in words?"}\n{"answer": "four"}\n')
    with pytest.raises(UserError, match=r"bad.jsonl:2: no prompt field"):
        load_benchmarks([bad])
    with pytest.raises(UserError, match="benchmark file not found"):
        load_benchmarks([tmp_path / "missing.jsonl"])


def test_the_decontaminate_command_works_on_any_file_like_dedup(tmp_path):
    rows = [{"instruction": "Explain why the moon always shows the same face to the Earth, in terms of tidal locking.",
             "input": "", "output": "Tidal forces slowed its spin."},
            {"instruction": "Suggest a name for a bakery.", "input": "", "output": "Rise & Shine"},
            {"instruction": "Answer the question.", "input": "Tom has three times as many stamps as Lena. Together "
             "they have 96 stamps. How many stamps does Lena have?", "output": "24"}]
    source = tmp_path / "data.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out, rejected = tmp_path / "clean.jsonl", tmp_path / "dropped.jsonl"
    result = run_cli("decontaminate", str(source), "-o", str(out), "--language", "en", "--benchmark", str(BENCH_EN),
                     "--rejected", str(rejected))
    assert result.returncode == 0, result.stderr
    assert "kept 1 of 3 records" in result.stdout and "bench_en: 2" in result.stdout
    assert out.read_bytes() == source.read_bytes().splitlines(keepends=True)[1]  # kept lines copied byte for byte
    dropped = [json.loads(line) for line in rejected.read_text().splitlines()]
    assert [(d["contamination"]["benchmark"], d["contamination"]["item"]) for d in dropped] == [
        ("bench_en", "q12"), ("bench_en", "q11")]

    only_instruction = run_cli("decontaminate", str(source), "-o", str(out), "--language", "en",
                               "--benchmark", str(BENCH_EN), "--field", "instruction")
    assert "kept 2 of 3 records" in only_instruction.stdout  # the stamps question sits in the input
    missing = run_cli("decontaminate", str(source), "-o", str(tmp_path / "x.jsonl"), "--language", "en",
                      "--benchmark", str(tmp_path / "nope.jsonl"))
    assert missing.returncode == 2 and missing.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'nope.jsonl'}: benchmark file not found"]
    assert not (tmp_path / "x.jsonl").exists()


def test_the_decontaminate_filter_in_a_run_reports_the_benchmark_item(tmp_path):
    rows = [{"instruction": "Which planet in our solar system has the longest day, lasting longer than its own year?",
             "output": "Venus."},
            {"instruction": "Read the following passage and answer the question that follows. Passage: Cats purr.",
             "output": "They purr."},
            {"instruction": "Give two reasons to learn to cook at home.", "output": "It saves money and is healthy."}]
    source = tmp_path / "rows.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    recipe = tmp_path / "clean.yaml"
    recipe.write_text(f"name: clean\nlanguage: en\nsource: {{path: {source.name}}}\nexport: {{enabled: false}}\n"
                      f"filters:\n  - decontaminate: {{benchmarks: [data/bench_en.jsonl]}}\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "bench_en.jsonl").write_bytes(BENCH_EN.read_bytes())
    result = run_cli("run", str(recipe), "--out", str(tmp_path / "run"), "-q")
    assert result.returncode == 0, result.stderr
    accepted = read_journal_rows(tmp_path / "run" / "accepted.jsonl")
    [rejected] = read_journal_rows(tmp_path / "run" / "rejected.jsonl")
    assert len(accepted) == 2 and rejected["reason"] == "contaminated"
    assert rejected["detail"].startswith("bench_en:q2 score=1.00")
    assert rejected["meta"]["contamination"]["item"] == "q2"

    recipe.write_text(recipe.read_text().replace("data/bench_en.jsonl", "data/nope.jsonl"))
    bad = run_cli("validate", str(recipe))
    assert bad.returncode == 2 and "filters.0.decontaminate.benchmarks.0" in bad.stderr and "nope.jsonl" in bad.stderr


class TestDecontaminateConformance(FilterConformance):
    plugin = Decontaminate
    options = {"benchmarks": [str(BENCH_EN)]}
    identity_changes = {"target": "instruction", "benchmarks": [str(BENCH_KO)], "benchmark_fields": ["question"],
                        "n": 6, "threshold": 0.8, "min_item_tokens": 3, "allow": ["a shared template phrase here"],
                        "allow_file": str(DATA / "bench_en.jsonl"), "template_items": 0}
    kept = [{"instruction": "Write a haiku about autumn leaves falling.", "output": "..."}]
    rejected = [{"instruction": "A train leaves the station at 9:40 and arrives at 13:15. How long is the journey "
                 "in minutes?", "output": "215"}]
