"""The Japanese language plugin: conformance, tokens, option choice on the labelled pairs, filters,
verb/object, the dedup command on the pairs, registration."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from factory.pairs_eval import best_row, dedup_pairs_with_cli, load_pairs
from factory.testing.conformance import LanguageConformance
from factory.testing.helpers import run_cli
from factory_ja import Japanese
from factory_ja.evaluate import evaluate

DATA = Path(__file__).resolve().parent / "data"


class TestJapaneseConformance(LanguageConformance):
    code = "ja"
    distribution = "koalpaca-factory-ja"
    sample = "次の文章を三文で要約してください。"
    other = "Please summarize the following paragraph in two sentences."
    mixed = "Pythonで1から10までの合計を求めるfor文を説明してください。"
    blacklisted = "次の写真に写っている動物を答えてください。"
    identity_changes = {"split_mode": "C", "drop_particles": False, "drop_auxiliaries": False, "drop_symbols": False,
                        "normalize": False}


@pytest.fixture(scope="module")
def ja() -> Japanese:
    return Japanese()


@pytest.fixture(scope="module")
def pairs():
    return load_pairs(DATA / "ja_pairs.jsonl")


@pytest.fixture(scope="module")
def rows(pairs):
    return evaluate(pairs, threshold=0.7)


# -- tokens ---------------------------------------------------------------------
def test_default_tokens_keep_content_and_drop_function_morphemes(ja):
    assert ja.tokenize("次の文章を要約してください。") == ["次", "文章", "要約"]
    # politeness, particles, spacing and punctuation vanish: the same tokens
    variants = ["次の文章を要約しなさい", "次の文章、要約して！", "次の 文章を 要約して下さい。", "次の文章を要約していただけますか？"]
    assert all(ja.tokenize(v) == ["次", "文章", "要約"] for v in variants)
    # spelling variants meet in Sudachi's normalized form
    assert ja.tokenize("子供にも分かるように説明して") == ja.tokenize("子どもにもわかるように説明して")


def test_each_option_changes_exactly_its_morphemes():
    text = "次の文章を要約してください。"
    assert Japanese(drop_particles=False).tokenize(text) == ["次", "の", "文章", "を", "要約", "て"]
    assert Japanese(drop_auxiliaries=False).tokenize(text) == ["次", "文章", "要約", "為る", "下さる"]
    assert Japanese(drop_symbols=False).tokenize(text) == ["次", "文章", "要約", "。"]
    assert Japanese(normalize=False, drop_auxiliaries=False).tokenize(text) == ["次", "文章", "要約", "し", "ください"]
    assert Japanese(split_mode="C").tokenize("東京都知事選挙の結果") == ["東京都知事選挙", "結果"]
    assert Japanese().tokenize("東京都知事選挙の結果") == ["東京", "都", "知事", "選挙", "結果"]
    assert Japanese().options.model_dump() == {"split_mode": "A", "drop_particles": True, "drop_auxiliaries": True,
                                  "drop_symbols": True, "normalize": True}


def test_verbs_that_head_their_own_phrase_are_not_auxiliaries(ja):
    # 挙げる can be an auxiliary (〜てあげる) but here it is the task
    assert ja.tokenize("原因を三つ挙げてください") == ["原因", "3", "つ", "上げる"]
    assert ja.tokenize("子どもに本を読んであげてください") == ["子供", "本", "読む"]


def test_bad_split_mode_is_a_user_error():
    from factory.errors import UserError

    with pytest.raises(UserError, match="split_mode"):
        Japanese(split_mode="D")


def test_latin_digits_and_full_width_forms_are_kept_and_folded(ja):
    tokens = ja.tokenize("このPythonコードのバグを3つ見つけて！")
    assert "python" in tokens and "3" in tokens and "!" not in tokens
    assert ja.tokenize("ＳＮＳ向けに１４０字で書いて") == ja.tokenize("SNS向けに140字で書いて")


def test_empty_and_blank_texts_have_no_tokens(ja):
    assert ja.tokenize("") == [] and ja.tokenize("  \u3000\n") == []
    assert ja.tokenize_many([]) == []
    assert ja.tokenize_many(["", "要約して", " "]) == [[], ["要約"], []]


def test_tokenization_is_deterministic_and_batch_equals_single(ja, pairs):
    texts = [text for pair in pairs[:60] for text in (pair.a, pair.b)]
    first = ja.tokenize_many(texts)
    assert Japanese().tokenize_many(texts) == first
    assert [ja.tokenize(text) for text in texts] == first


# -- option choice on the labelled pairs -------------------------------------------------
def test_labelled_pairs_are_many_balanced_and_varied(pairs):
    assert len(pairs) >= 200
    positives = sum(p.label for p in pairs)
    assert 0.45 <= positives / len(pairs) <= 0.55
    assert {p.kind for p in pairs if p.label} == {"particles", "politeness", "spacing", "spelling", "mixed"}
    assert all(p.a != p.b for p in pairs)
    assert len({p.id for p in pairs}) == len(pairs)


def test_default_options_separate_paraphrases_at_measured_precision_and_recall(rows):
    default = next(row for row in rows if row.options == Japanese().options.model_dump())
    # measured: all 109 paraphrases caught; 4 of 109 distinct tasks flagged, 3 of them one-word
    # opposites (長所/短所, 同義語/対義語, 合計/平均) that no token overlap can tell apart (docs/japanese.md)
    assert default.confusion.tp == 109 and default.confusion.fn == 0
    assert default.confusion.fp <= 4
    assert default.confusion.precision >= 0.96


def test_defaults_are_the_best_measured_option_combination(rows):
    assert best_row(rows).options == Japanese().options.model_dump()
    assert len([row for row in rows if row.options is not None]) == 48


def test_baselines_miss_or_blur_japanese_paraphrases(rows):
    by_name = {row.name: row for row in rows}
    default = next(row for row in rows if row.options == Japanese().options.model_dump())
    # rouge_score keeps only [a-z0-9]: Japanese pairs score 0, so almost nothing is caught
    assert by_name["rouge_score default"].confusion.recall <= 0.05
    assert by_name["whitespace words"].confusion.recall <= 0.05
    # single characters catch paraphrases but flag three times as many distinct tasks
    chars = by_name["characters"].confusion
    assert chars.fp >= 3 * default.confusion.fp and chars.f1 < default.confusion.f1


def test_defaults_hold_on_pairs_written_after_they_were_chosen():
    heldout = load_pairs(DATA / "ja_pairs_heldout.jsonl")
    row = next(r for r in evaluate(heldout, modes=("A",)) if r.options == Japanese().options.model_dump())
    # measured: 20 of 20 paraphrases, 2 of 20 distinct tasks (both one-word opposites)
    assert row.confusion.tp == 20 and row.confusion.fp <= 2


def test_dedup_command_drops_the_paraphrases_of_the_labelled_set(tmp_path, pairs):
    """`factory dedup --language ja`: every second text of a paraphrase pair goes, as a near-duplicate of its first."""
    dropped = dedup_pairs_with_cli(pairs, "ja", tmp_path)
    paraphrases = [p for p in pairs if p.label == 1]
    assert all(f"b-{p.id}" in dropped for p in paraphrases)
    assert all(dropped[f"b-{p.id}"]["max_rouge_l"] > 0.7 for p in paraphrases)
    # nearly always as a near-duplicate of its own first text; the others match a first text with the
    # same tokens (日本の首都はどこですか。/？) or the same task listed in another pair
    own = sum(dropped[f"b-{p.id}"]["most_similar"] == f"a-{p.id}" for p in paraphrases)
    assert own >= 100
    # Pooled, a distinct task can also meet its twin in another pair. Measured: 99 of 109 kept; of the
    # 10 dropped, 5 are texts that appear verbatim elsewhere in the set (F = 1.0) and 5 differ from their
    # match in one slot (長所/短所, 積/最大公約数...), the same kind of pair as the table's 4 false positives.
    distinct_dropped = [dropped[f"b-{p.id}"] for p in pairs if p.label == 0 and f"b-{p.id}" in dropped]
    assert len(distinct_dropped) <= 10
    assert sum(1 for record in distinct_dropped if record["max_rouge_l"] < 1.0) <= 5
    kept_ids = [json.loads(line)["id"] for line in (tmp_path / "kept.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(kept_ids) + len(dropped) == len(pairs)


def test_a_recipe_in_japanese_filters_with_every_japanese_rule(tmp_path):
    """`factory run` on a Japanese source file: each rule of the plugin rejects its record, the rest is kept."""
    rows = [
        ("in-1", "次の文章を三行で要約してください。"),
        ("in-2", "次の文章を三行で要約しなさい。"),  # a politeness variant of in-1
        ("in-3", "この写真に写っている動物の名前を答えてください。"),
        ("in-4", "Summarize the following paragraph in three lines."),
        ("in-5", "詩を書いてください"),  # 5 morphemes: shorter than the minimum
        ("in-6", "素数を判定するプログラムを書いてください。"),
        ("in-7", "地球温暖化を防ぐために個人ができることを三つ挙げてください。"),
    ]
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"id": i, "instruction": t, "input": "", "output": "答え"}, ensure_ascii=False)
                              + "\n" for i, t in rows), encoding="utf-8")
    recipe = tmp_path / "ja.yaml"
    recipe.write_text(f"name: ja-filter\nlanguage: ja\nlanguage_options:\n  split_mode: A\nsource:\n  path: {source}\n"
                      "export:\n  enabled: false\n", encoding="utf-8")
    result = run_cli("run", str(recipe), "--out", str(tmp_path / "run"), "--quiet")
    assert result.returncode == 0, result.stderr
    kept = [json.loads(line)["id"] for line in (tmp_path / "run" / "accepted.jsonl").read_text().splitlines()]
    assert kept == ["in-1", "in-7"]
    reasons = {json.loads(line)["id"]: json.loads(line)["reason"]
               for line in (tmp_path / "run" / "rejected.jsonl").read_text().splitlines()}
    assert reasons == {"in-2": "near_duplicate", "in-3": "blacklisted", "in-4": "wrong_language",
                       "in-5": "too_short", "in-6": "program_task"}
    bad = tmp_path / "bad.yaml"
    bad.write_text(recipe.read_text(encoding="utf-8").replace("split_mode: A", "split_mode: D"), encoding="utf-8")
    refused = run_cli("validate", str(bad))
    assert refused.returncode == 2 and "split_mode" in refused.stderr and "Traceback" not in refused.stderr


# -- length, script, blacklist ------------------------------------------------------
def test_count_words_counts_morphemes_without_punctuation(ja):
    assert ja.count_words("次の文章を要約してください。") == 8
    assert ja.count_words("短い詩を書いてください。") == Japanese.min_instruction_words
    assert ja.count_words("詩を書いてください") < Japanese.min_instruction_words
    assert ja.count_words("「」、。！？") == 0
    assert Japanese.max_instruction_words == 220


def test_length_limits_follow_the_measured_morphemes_per_english_word(ja):
    rows = [json.loads(line) for line in (DATA / "ja_en_parallel.jsonl").read_text(encoding="utf-8").splitlines()]
    ratio = sum(ja.count_words(r["ja"]) for r in rows) / sum(len(r["en"].split()) for r in rows)
    assert len(rows) >= 40 and 1.35 <= ratio <= 1.55  # measured 1.45
    # English keeps 4..150 words (Alpaca); the Japanese limits are those scaled by the ratio
    assert round(4 * ratio) == Japanese.min_instruction_words
    assert abs(150 * ratio - Japanese.max_instruction_words) <= 5


def test_japanese_seed_set_passes_the_japanese_filters(ja):
    seeds = Japanese.default_seeds  # package data (tests/test_seeds.py checks it is the repository's seeds/ja)
    assert seeds is not None and seeds.is_file()
    instructions = [json.loads(line)["instruction"] for line in seeds.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(instructions) >= 60
    for text in instructions:
        assert Japanese.min_instruction_words <= ja.count_words(text) <= Japanese.max_instruction_words, text
        assert ja.is_in_language(text), text
        assert ja.blacklisted(text) is None, text
        assert not ja.is_program_task(text), text


@pytest.mark.parametrize("text", [
    "次の文章を要約してください。",
    "Pythonのlist comprehensionを使う例を示してください。",
    "次のSQLクエリを最適化してください。",
    "ＡＩとは何ですか。",
    "2024年の売上3,200万円をドルに換算してください。",
])
def test_japanese_and_mixed_japanese_pass_the_script_check(ja, text):
    assert ja.is_in_language(text)


@pytest.mark.parametrize("text", [
    "Summarize the following sentence.",
    "Translate 'ありがとう' into English, please.",
    "请总结下面的段落。",  # Chinese: kanji only, no kana
    "다음 문장을 요약하세요.",
    "",
    "123 456 !!",
])
def test_other_languages_fail_the_script_check(ja, text):
    assert not ja.is_in_language(text)


@pytest.mark.parametrize("text,word", [
    ("次の画像を説明してください。", "画像"),
    ("この写真に写っている人は誰ですか。", "写真"),
    ("月ごとの売上をグラフにしてください。", "グラフ"),
    ("手順を図にまとめてください。", "図"),
    ("近所の地図を作ってください。", "地図"),
    ("この音声ファイルを文字に起こしてください。", "音声"),
    ("猫を描いてください。", "描く"),
])
def test_blacklist_matches_whole_morphemes(ja, text, word):
    assert ja.blacklisted(text) == word


@pytest.mark.parametrize("text", [
    "図書館の上手な使い方を教えてください。",  # 図書館 is not 図
    "筆者の意図を説明してください。",  # 意図 is not 図
    "有名な写真家を三人挙げてください。",  # 写真家 is one word
    "絵本のあらすじを教えてください。",  # 絵本 is not 絵
    "次の文章を要約してください。",
    "",
])
def test_blacklist_leaves_text_tasks_alone(ja, text):
    assert ja.blacklisted(text) is None


def test_program_tasks_are_found_whatever_the_politeness(ja):
    assert ja.is_program_task("Pythonで素数を判定するプログラムを書いてください。")
    assert ja.is_program_task("数字のリストを並べ替えるコードを書いて")
    assert ja.is_program_task("バックアップ用のシェルスクリプトを作成しなさい。")
    assert not ja.is_program_task("次のコードを一文で説明してください。")
    assert not ja.is_program_task("次のプログラムの出力を予想してください。")


# -- verb/object ---------------------------------------------------------------------------
def test_verb_object_extraction_on_the_labelled_instructions(ja):
    rows = [json.loads(line) for line in (DATA / "ja_verb_object.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(rows) >= 40
    got = ja.verb_objects([row["instruction"] for row in rows])
    hits = [tuple(g) == (row["verb"], row["object"]) for row, g in zip(rows, got)]
    # measured: 40 of 40; the 15 held-out instructions were written after the rules were fixed
    assert sum(hits) / len(rows) >= 0.95
    heldout = [hit for hit, row in zip(hits, rows) if row["split"] == "heldout"]
    assert len(heldout) >= 15 and all(heldout)


def test_verb_object_handles_auxiliaries_light_verbs_and_questions(ja):
    assert ja.verb_objects([
        "次の文章を要約してください。",
        "この文を英語に翻訳できますか。",
        "次の文章を読んで答えてください。",
        "日本の首都はどこですか。",
        "",
    ]) == [("要約する", "文章"), ("翻訳する", "文"), ("答える", None), (None, None), (None, None)]


# -- prompt and templates ---------------------------------------------------------------------
def test_japanese_wording_round_trips_through_the_self_instruct_parser(ja):
    from factory.default_plugins.self_instruct import SelfInstruct
    from factory.records import Record
    from factory.teachers import Completion

    wording = ja.prompt
    assert "{count}個" in wording.header and "250字" in wording.header and "<noinput>" in wording.header
    method = SelfInstruct()
    prompt = method.build_prompt([Record.from_alpaca("次の文を要約してください。", input="", output="要約です。")], wording)
    assert "1. 指示: 次の文を要約してください。" in prompt and "1. 入力:\n<noinput>" in prompt
    assert prompt.endswith("2. 指示:")
    assert "タスクを18個" in prompt  # num_tasks 20 after one demonstration: tasks 2 to 19
    completion = Completion(
        text=" 秋を題材にした短い詩を書いてください。\n2. 入力：\n<入力なし>\n2. 出力：\n木の葉が舞う。\n###\n"
             "3. 指示: 次の語の対義語を答えてください。\n3. 入力:\n大きい\n3. 出力:\n小さい",
        finish_reason="stop",
    )
    records, rejected = method.parse_text(completion, wording, first_number=2, id_prefix="t")
    assert rejected == []
    assert [(r.instruction, r.input, r.output) for r in records] == [
        ("秋を題材にした短い詩を書いてください。", "", "木の葉が舞う。"),
        ("次の語の対義語を答えてください。", "大きい", "小さい"),
    ]


def test_default_template_is_the_japanese_alpaca_format(ja):
    template = ja.template()
    assert template.name == "alpaca-ja"
    assert template.render("要約してください", "本文") == (
        "以下は、タスクを説明する指示と、文脈のある入力の組み合わせです。要求を適切に満たす応答を書きなさい。\n\n"
        "### 指示:\n要約してください\n\n### 入力:\n本文\n\n### 応答:\n"
    )
    assert ja.template("alpaca").name == "alpaca" and set(ja.templates) == {"alpaca", "alpaca-ja"}


# -- registration ---------------------------------------------------------------------------
def test_registered_through_the_entry_point():
    from factory.plugins import get_registry

    entry = get_registry(refresh=True).get("language", "ja")
    assert entry.distribution == "koalpaca-factory-ja"
    assert entry.obj is Japanese


def test_importing_the_plugin_does_not_load_sudachi():
    code = "import sys, factory_ja; print('sudachipy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
