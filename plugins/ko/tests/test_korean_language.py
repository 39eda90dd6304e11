"""The Korean language plugin: tokens, option choice on the labelled pairs, filters, verb/object, registration."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from factory.default_plugins.self_instruct import SelfInstruct
from factory.pairs_eval import best_row, load_pairs
from factory.records import Record
from factory.similarity import RougeLIndex
from factory.teachers import Completion
from factory_ko import Korean
from factory_ko.evaluate import evaluate

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="module")
def ko() -> Korean:
    return Korean()


@pytest.fixture(scope="module")
def pairs():
    return load_pairs(DATA / "ko_pairs.jsonl")


@pytest.fixture(scope="module")
def rows(pairs):
    return evaluate(pairs, threshold=0.7)


# -- tokens -------------------------------------------------------------------
def test_default_tokens_keep_particles_and_drop_endings_and_punctuation(ko):
    assert ko.tokenize("다음 문장을 요약하세요.") == ["다음", "문장", "을", "요약", "하"]
    # politeness level and spacing vanish with the endings: the same tokens
    assert ko.tokenize("다음 문장을 요약해주십시오") == ko.tokenize("다음 문장을 요약해 주십시오.")
    assert ko.tokenize("다음 문장을 요약해 주세요.") == ["다음", "문장", "을", "요약", "하", "주"]


def test_each_option_changes_exactly_its_tags():
    text = "다음 문장을 요약하세요."
    assert Korean(drop_particles=True).tokenize(text) == ["다음", "문장", "요약", "하"]
    assert Korean(drop_endings=False).tokenize(text) == ["다음", "문장", "을", "요약", "하", "세요"]
    assert Korean(drop_symbols=False).tokenize(text) == ["다음", "문장", "을", "요약", "하", "."]
    assert Korean(drop_particles=True, drop_endings=False, drop_symbols=False).options.model_dump() == {
        "drop_particles": True, "drop_endings": False, "drop_symbols": False,
    }
    assert Korean().options.model_dump() == {"drop_particles": False, "drop_endings": True, "drop_symbols": True}


def test_latin_and_digits_are_kept_lowercased_in_mixed_text(ko):
    tokens = ko.tokenize("이 Python 코드의 버그 3개를 찾아줘!")
    assert tokens[:2] == ["이", "python"]
    assert "3" in tokens and "!" not in tokens and "Python" not in tokens
    assert ko.tokenize("GPT-4o를 사용해") == ["gpt", "4", "o", "를", "사용", "하"]
    # the same English term in either case is the same token
    assert ko.tokenize("SQL 쿼리를 설명하세요") == ko.tokenize("sql 쿼리를 설명하세요")


def test_empty_and_blank_texts_have_no_tokens(ko):
    assert ko.tokenize("") == []
    assert ko.tokenize("   \n") == []
    assert ko.tokenize_many([]) == []
    batch = ko.tokenize_many(["", "요약하세요", " "])
    assert batch[0] == [] and batch[2] == [] and batch[1] == ["요약", "하"]


def test_tokenization_is_deterministic_and_batch_equals_single(ko, pairs):
    texts = [text for pair in pairs[:60] for text in (pair.a, pair.b)]
    first = ko.tokenize_many(texts)
    assert ko.tokenize_many(texts) == first
    assert [ko.tokenize(text) for text in texts] == first


# -- option choice on the labelled pairs ----------------------------------------
def test_labelled_pairs_are_many_and_balanced(pairs):
    assert len(pairs) >= 200
    positives = sum(p.label for p in pairs)
    assert 0.45 <= positives / len(pairs) <= 0.55
    assert {p.kind for p in pairs if p.label} == {"particles", "endings", "spacing", "politeness", "mixed"}
    assert all(p.a != p.b for p in pairs)


def test_default_options_separate_paraphrases_at_measured_precision_and_recall(rows):
    default = next(row for row in rows if row.options == Korean().options.model_dump())
    # measured: 111 of 112 paraphrases caught, 1 of 110 distinct tasks flagged (docs/korean.md)
    assert default.confusion.recall >= 0.99
    assert default.confusion.precision >= 0.99
    assert default.confusion.tp >= 111 and default.confusion.fp <= 1


def test_defaults_are_the_best_measured_option_combination(rows):
    assert best_row(rows).options == Korean().options.model_dump()
    assert len([row for row in rows if row.options is not None]) == 8


def test_baselines_miss_korean_paraphrases(rows):
    by_name = {row.name: row for row in rows}
    default = next(row for row in rows if row.options == Korean().options.model_dump())
    # rouge_score keeps only [a-z0-9]: Hangul pairs score 0, so almost nothing is caught
    assert by_name["rouge_score default"].confusion.recall <= 0.05
    eojeols = by_name["whitespace eojeols"].confusion
    assert eojeols.recall <= 0.75 < default.confusion.recall


def test_index_with_korean_tokens_flags_a_paraphrase_but_not_a_distinct_task(ko):
    index = RougeLIndex()
    index.add(ko.tokenize("다음 글을 세 문장으로 요약하세요."), key="seed")
    paraphrase, distinct = ko.tokenize_many(["다음 글 세 문장으로 요약해 주십시오", "다음 글에 어울리는 제목을 붙이세요."])
    assert index.max_score(paraphrase)[0] > 0.7
    assert index.max_score(distinct)[0] <= 0.7


# -- length, script, blacklist ---------------------------------------------------
def test_count_words_counts_eojeols_and_keeps_short_real_instructions(ko):
    assert ko.count_words("다음 문장을 요약하세요.") == 3
    assert ko.count_words("다음 문장을 요약하세요.") >= Korean.min_instruction_words
    assert ko.count_words("요약해 주세요") < Korean.min_instruction_words
    assert ko.count_words("가 - 나 ... 3") == 3
    assert Korean.max_instruction_words == 125


def test_korean_seed_set_passes_the_korean_filters(ko):
    seeds = Korean.default_seeds  # package data (tests/test_seeds.py checks it is the repository's seeds/ko)
    assert seeds is not None and seeds.is_file()
    instructions = [json.loads(line)["instruction"] for line in seeds.read_text(encoding="utf-8").splitlines() if line.strip()]
    for text in instructions:
        assert Korean.min_instruction_words <= ko.count_words(text) <= Korean.max_instruction_words, text
        assert ko.is_in_language(text), text
        assert ko.blacklisted(text) is None, text


@pytest.mark.parametrize("text", [
    "다음 문장을 요약하세요.",
    "이 Python 코드의 버그를 찾아줘",
    "Python에서 list comprehension을 사용하는 예를 보여 주세요.",
    "2024년 매출 3,200만 원을 달러로 환산하세요.",
])
def test_korean_and_mixed_korean_pass_the_script_check(ko, text):
    assert ko.is_in_language(text)


@pytest.mark.parametrize("text", [
    "Summarize the following sentence.",
    "次の文を要約してください。",
    "Translate '안녕하세요' into English, please.",
    "",
    "123 456 !!",
])
def test_other_languages_fail_the_script_check(ko, text):
    assert not ko.is_in_language(text)


@pytest.mark.parametrize("text,word", [
    ("다음 이미지를 설명하세요.", "이미지"),
    ("이 사진에 나온 사람은 누구인가요?", "사진"),
    ("월별 매출을 그래프로 나타내 주세요.", "그래프"),
    ("다음 과정을 순서도로 정리하세요.", "순서도"),
    ("우리 동네 지도를 만들어 줘.", "지도"),
    ("고양이를 그려 주세요.", "그리다"),
])
def test_blacklist_matches_morphemes_with_particles_attached(ko, text, word):
    assert ko.blacklisted(text) == word


@pytest.mark.parametrize("text", [
    "그림자가 생기는 원리를 설명하세요.",  # 그림자 is not 그림
    "신입 사원을 지도하는 방법을 알려 주세요.",  # 지도하다: to coach, not a map
    "파일럿이 되려면 어떤 공부를 해야 하나요?",  # 파일럿 is not 파일
    "다음 문장을 요약하세요.",
    "",
])
def test_blacklist_leaves_text_tasks_alone(ko, text):
    assert ko.blacklisted(text) is None


def test_program_tasks_are_found_whatever_the_particles_and_endings(ko):
    assert ko.is_program_task("파이썬으로 소수를 판별하는 프로그램을 작성하세요.")
    assert ko.is_program_task("숫자 목록을 정렬하는 코드 짜 줘")
    assert not ko.is_program_task("다음 코드를 한 문장으로 설명하세요.")
    assert not ko.is_program_task("다음 프로그램의 출력을 예측하세요.")


# -- verb/object ---------------------------------------------------------------------
def test_verb_object_extraction_on_the_labelled_instructions(ko):
    rows = [json.loads(line) for line in (DATA / "ko_verb_object.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(rows) >= 40
    got = ko.verb_objects([row["instruction"] for row in rows])
    hits = [tuple(g) == (row["verb"], row["object"]) for row, g in zip(rows, got)]
    # measured: 78 of 80 overall, 15 of 15 on the instructions written after the rules were fixed
    assert sum(hits) / len(rows) >= 0.95
    heldout = [hit for hit, row in zip(hits, rows) if row["split"] == "heldout"]
    assert len(heldout) >= 15 and all(heldout)


def test_verb_object_handles_xsv_auxiliaries_and_questions(ko):
    assert ko.verb_objects([
        "다음 문장을 요약해 주세요.",
        "이 글 요약해 줘",
        "맞춤법이 틀린 단어를 찾아 주시기 바랍니다.",
        "한국의 수도는 어디인가요?",
        "",
    ]) == [("요약하다", "문장"), ("요약하다", "글"), ("찾다", "단어"), (None, None), (None, None)]


# -- prompt and templates ---------------------------------------------------------------
def test_korean_wording_round_trips_through_the_self_instruct_parser(ko):
    wording = ko.prompt
    assert "{count}개" in wording.header and "100단어" in wording.header and "<noinput>" in wording.header
    method = SelfInstruct()
    demo = Record.from_alpaca("다음 문장을 요약하세요.", input="", output="요약입니다.")
    prompt = method.build_prompt([demo], wording)
    assert "1. 지시문: 다음 문장을 요약하세요." in prompt and "1. 입력:\n<noinput>" in prompt
    assert prompt.endswith("2. 지시문:")
    assert "새 과제 18개" in prompt  # num_tasks 20 after one demonstration: tasks 2 to 19
    completion = Completion(
        text=" 가을에 어울리는 시를 한 편 써 주세요.\n2. 입력:\n<입력 없음>\n2. 출력:\n낙엽이 진다.\n###\n"
             "3. 지시문: 다음 단어의 반의어를 쓰세요.\n3. 입력:\n크다\n3. 출력:\n작다",
        finish_reason="stop",
    )
    records, rejected = method.parse_text(completion, wording, first_number=2, id_prefix="t")
    assert rejected == []
    assert [(r.instruction, r.input, r.output) for r in records] == [
        ("가을에 어울리는 시를 한 편 써 주세요.", "", "낙엽이 진다."),
        ("다음 단어의 반의어를 쓰세요.", "크다", "작다"),
    ]


def test_default_template_is_koalpaca_and_alpaca_is_available(ko):
    assert ko.template().name == "koalpaca"
    assert ko.template().render("요약하세요", "본문") == "### 질문: 요약하세요\n\n### 맥락: 본문\n\n### 답변:"
    assert ko.template("alpaca").name == "alpaca"


def test_koalpaca_templates_are_the_published_format(ko):
    from factory_ko.templates import KOALPACA_CHAT, KOALPACA_TEMPLATE

    assert KOALPACA_TEMPLATE.render("한국의 수도는?") == "### 질문: 한국의 수도는?\n\n### 답변:"
    assert KOALPACA_TEMPLATE.render("요약해 주세요.", "긴 글") == "### 질문: 요약해 주세요.\n\n### 맥락: 긴 글\n\n### 답변:"
    assert KOALPACA_TEMPLATE.response_prefix == " "
    assert ko.chat_format().name == "koalpaca-chat" and ko.chat_format("vicuna-v1.1").name == "vicuna-v1.1"
    assert KOALPACA_CHAT is ko.chat_formats["koalpaca-chat"] and "{%- generation -%}" in KOALPACA_CHAT.body


# -- registration -------------------------------------------------------------------
def test_registered_through_the_entry_point():
    from factory.plugins import get_registry

    entry = get_registry(refresh=True).get("language", "ko")
    assert entry.distribution == "koalpaca-factory-ko"
    assert entry.obj is Korean


def test_importing_the_plugin_does_not_load_kiwi():
    code = "import sys, factory_ko; print('kiwipiepy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
