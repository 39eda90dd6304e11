"""Vicuna's cleaning path on a ShareGPT file: every conversation kept or rejected with a reason, HTML turned
into Markdown with fenced code, turn order repaired, duplicates dropped, long conversations split."""

from __future__ import annotations

import json
import re

import pytest

from factory.conversations import html_to_markdown, split_turns
from factory.testing.helpers import run_cli

pytest.importorskip("lingua")
pytest.importorskip("markdownify")


def h(text):
    return {"from": "human", "value": text}


def g(text):
    return {"from": "gpt", "value": text}


HTML_ANSWER = ("<div><p>파이썬에서 리스트를 <strong>뒤집는</strong> 방법은 여러 가지가 있습니다. 가장 간단한 방법은 다음과 같습니다.</p>"
               "<pre><div class=\"bg-black\"><div>python</div><button>Copy code</button></div>"
               "<div><code class=\"!whitespace-pre hljs language-python\">numbers = [1, 2, 3]\n"
               "numbers.reverse()\nprint(numbers[::-1])\n</code></div></pre>"
               "<ol><li>reverse 메서드는 원래 리스트를 바꿉니다.</li><li>슬라이싱은 새 리스트를 만듭니다.</li></ol></div>")

#: thirty different questions, so the parts of the split conversation are not near-duplicates of each other
LONG_QUESTIONS = [
    "사과를 냉장고에 넣어 두면 얼마나 오래 가나요?", "고양이가 밤마다 우는 이유가 궁금해요.", "자전거 체인에 기름은 언제 칠하나요?",
    "겨울철 실내 습도는 몇 퍼센트가 적당할까요?", "면접 전날 긴장을 푸는 방법이 있을까요?", "된장국에 어울리는 채소를 알려 주세요.",
    "노트북 배터리를 오래 쓰는 요령은 무엇인가요?", "아이에게 책 읽는 습관을 들이고 싶어요.", "등산화는 어떤 기준으로 고르면 좋죠?",
    "화분 흙이 하얗게 변하면 문제가 있는 건가요?", "영어 발음을 혼자 교정할 수 있을까요?", "전세 계약할 때 꼭 확인할 서류는요?",
    "커피를 마시면 왜 잠이 안 올까요?", "수영을 처음 배울 때 무엇부터 연습하나요?", "엑셀에서 중복 값을 찾는 기능이 있나요?",
    "강아지 산책은 하루에 몇 번이 좋을까요?", "감기에 걸렸을 때 먹으면 좋은 음식은?", "사진을 찍을 때 역광을 피하는 법은?",
    "부모님 생신 선물로 무엇이 좋을까요?", "비 오는 날 빨래를 빨리 말리는 방법이 궁금합니다.", "피아노를 성인이 되어 시작해도 늦지 않나요?",
    "제주도 여행은 몇 월이 가장 좋을까요?", "운동 후 근육통을 줄이려면 어떻게 하나요?", "중고차를 살 때 주의할 점을 정리해 주세요.",
    "아침 식사를 거르면 건강에 나쁜가요?", "회의록을 잘 쓰는 요령을 알려 주세요.", "밤하늘에서 북극성을 찾는 방법은요?",
    "어항 물은 얼마나 자주 갈아야 하나요?", "발표 자료에 글자를 얼마나 넣어야 할까요?", "집에서 빵을 구울 때 반죽이 안 부풀어요.",
]


def long_conversation():
    turns = []
    for i, question in enumerate(LONG_QUESTIONS):  # 60 turns
        turns.append(h(question))
        turns.append(g(f"좋은 질문입니다. {i + 1}번 질문에 대해서는 상황에 따라 다르지만 기본 원칙을 지키면 대부분 해결할 수 있습니다."))
    return turns


CONVERSATIONS = [
    {"id": "html", "conversations": [h("파이썬에서 리스트를 뒤집는 방법을 알려 주세요."), g(HTML_ANSWER)]},
    {"id": "leading", "conversations": [g("안녕하세요! 오늘은 무엇을 도와드릴까요?"),
                                        h("서울에서 가볼 만한 조용한 박물관을 추천해 주세요."),
                                        g("국립중앙박물관의 상설 전시실은 평일 오전에 비교적 한산해서 조용히 둘러보기 좋습니다.")]},
    {"id": "twice", "conversations": [h("김치찌개를 끓이려고 합니다."), h("돼지고기 대신 참치를 넣어도 맛있을까요?"),
                                      g("네, 참치 김치찌개도 많이 끓여 먹는 요리이고 국물이 깔끔해서 맛있습니다.")]},
    {"id": "empty", "conversations": []},
    {"id": "fieldless", "conversations": [{"from": "human"}, g("값이 없는 차례입니다.")]},
    {"id": "english", "conversations": [h("What is a good way to learn to play the guitar as an adult beginner?"),
                                        g("Start with a few basic chords, practise for fifteen minutes every day, and "
                                          "learn songs you enjoy so that you keep going.")]},
    {"id": "japanese", "conversations": [h("東京で静かに読書ができるおすすめのカフェを教えてください。"),
                                         g("神保町には古い喫茶店が多く、落ち着いた雰囲気の中でゆっくり本を読むことができます。")]},
    {"id": "twice-again", "conversations": [h("김치찌개를 끓이려고 합니다."), h("돼지고기 대신 참치를 넣어도 맛있을까요?"),
                                            g("네, 참치 김치찌개도 많이 끓여 먹는 요리이고 국물이 깔끔해서 맛있습니다.")]},
    {"id": "long", "conversations": long_conversation()},
]

MAX_TOKENS = 100


def write_recipe(tmp_path, data_path):
    recipe = tmp_path / "vicuna-ko.yaml"
    recipe.write_text(f"""name: vicuna-ko
language: ko
source:
  path: {data_path}
  format: sharegpt
conversations:
  same_role: merge
  max_tokens: {MAX_TOKENS}
filters:
  - language_id: {{rule: every, min_confidence: 0.5}}
  - near_duplicate: {{target: instruction, threshold: 0.7}}
export:
  formats: [jsonl]
""", encoding="utf-8")
    return recipe


@pytest.fixture(scope="module")
def vicuna_run(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("vicuna")
    data = tmp_path / "sharegpt.json"
    data.write_text(json.dumps(CONVERSATIONS, ensure_ascii=False), encoding="utf-8")
    recipe = write_recipe(tmp_path, data)
    assert run_cli("validate", str(recipe)).returncode == 0
    result = run_cli("run", str(recipe), "--out", str(tmp_path / "run"), "-q")
    assert result.returncode == 0, result.stderr
    return tmp_path


def test_a_sharegpt_file_gives_exactly_the_expected_split_with_reasons(vicuna_run):
    tmp_path = vicuna_run
    kept = [json.loads(line) for line in (tmp_path / "run" / "accepted.jsonl").read_text().splitlines()]
    rejected = [json.loads(line) for line in (tmp_path / "run" / "rejected.jsonl").read_text().splitlines()]

    reasons = {row["id"]: row["reason"] for row in rejected}
    assert reasons == {"empty": "empty_conversation", "fieldless": "missing_fields", "english": "wrong_language",
                       "japanese": "wrong_language", "twice-again": "exact_duplicate"}
    assert "same as twice" in next(r["detail"] for r in rejected if r["id"] == "twice-again")
    assert "value" in next(r["detail"] for r in rejected if r["id"] == "fieldless")
    assert next(r for r in rejected if r["id"] == "fieldless")["meta"]["raw"]["conversations"][0] == {"from": "human"}
    # the language decision carries lingua's confidence
    japanese = next(r for r in rejected if r["id"] == "japanese")
    assert japanese["meta"]["language_id"][0]["language"] == "ja" and japanese["meta"]["language_id"][0]["confidence"] > 0.5

    by_id = {row["id"]: row for row in kept}
    parts = sorted((i for i in by_id if i.startswith("long-part")), key=lambda i: int(i.rsplit("part", 1)[1]))
    assert set(by_id) == {"html", "leading", "twice", *parts}
    assert len(parts) > 1  # the 60-turn conversation was split

    # HTML became Markdown: a python fence, a list, no tag left, the "Copy code" header gone
    answer = by_id["html"]["messages"][1]["content"]
    assert "```python\nnumbers = [1, 2, 3]\nnumbers.reverse()\nprint(numbers[::-1])\n```" in answer
    assert "**뒤집는**" in answer and "1. reverse 메서드는" in answer
    assert "Copy code" not in answer
    for row in kept:
        for turn in row["messages"]:
            assert not re.search(r"</?[a-zA-Z][^>]*>", turn["content"]), turn["content"]

    # a leading assistant turn dropped, consecutive user turns merged with a blank line
    assert [m["role"] for m in by_id["leading"]["messages"]] == ["user", "assistant"]
    assert by_id["leading"]["meta"]["cleaning"] == ["dropped_leading_assistant:1"]
    twice = by_id["twice"]["messages"]
    assert [m["role"] for m in twice] == ["user", "assistant"]
    assert twice[0]["content"] == "김치찌개를 끓이려고 합니다.\n\n돼지고기 대신 참치를 넣어도 맛있을까요?"

    # the long conversation: parts at turn boundaries, each starting with a user turn, each within max_tokens
    # (the language plugin's measure), together exactly the original 60 turns in order
    from factory.plugins import get_registry

    korean = get_registry().get("language", "ko").obj()
    joined = []
    for number, part_id in enumerate(parts, start=1):
        row = by_id[part_id]
        messages = row["messages"]
        assert messages[0]["role"] == "user" and messages[-1]["role"] == "assistant"
        assert sum(korean.count_words(m["content"]) for m in messages) <= MAX_TOKENS
        assert row["meta"]["part"] == number and row["meta"]["parts"] == len(parts)
        assert row["meta"]["source_id"] == "long"
        joined += messages
    original = [{"role": "user" if t["from"] == "human" else "assistant", "content": t["value"]}
                for t in long_conversation()]
    assert joined == original

    # nothing silently lost: every source conversation is in one journal or the other
    assert {r["id"] for r in rejected} | {i.split("-part")[0] for i in by_id} == {c["id"] for c in CONVERSATIONS}
    summary = (tmp_path / "run" / "stats.json").read_text()
    assert "exact_duplicate" in summary and "missing_fields" in summary


def test_the_report_shows_turns_tokens_per_role_language_mix_and_the_funnel(vicuna_run, tmp_path):
    out = tmp_path / "report.html"
    done = run_cli("report", str(vicuna_run / "run"), "-o", str(out), "--samples", "3")
    assert done.returncode == 0, done.stderr
    page = out.read_text(encoding="utf-8")
    section = page[page.index('id="conversations"'):]
    section = section[: section.index("</section>")]
    kept = len((vicuna_run / "run" / "accepted.jsonl").read_text().splitlines())
    assert f"{kept:,} conversations" in section
    assert "ko tokens per turn" in section and ">user<" in section and ">assistant<" in section
    assert ">ja<" in section and ">en<" in section  # the language mix names the rejected languages
    for reason in ("missing_fields", "empty_conversation", "exact_duplicate", "wrong_language"):
        assert f">{reason}<" in section


def test_same_role_reject_rejects_instead_of_merging(tmp_path):
    data = tmp_path / "two.jsonl"
    data.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in CONVERSATIONS[1:3]), encoding="utf-8")
    recipe = write_recipe(tmp_path, data)
    result = run_cli("run", str(recipe), "--out", str(tmp_path / "run"), "-q", "--set", "conversations.same_role=reject")
    assert result.returncode == 0, result.stderr
    rejected = [json.loads(line) for line in (tmp_path / "run" / "rejected.jsonl").read_text().splitlines()]
    assert [(r["id"], r["reason"]) for r in rejected] == [("twice", "same_role_turns")]


def test_text_without_tags_is_left_as_written():
    text = "if a < b and b > c:\n    print('x_y *z*')"
    assert html_to_markdown(text) == text


def test_an_exchange_longer_than_the_limit_stays_whole_and_is_marked():
    turns = [{"role": "system", "content": "s"}, {"role": "user", "content": "a b c"},
             {"role": "assistant", "content": "d e f g h"}, {"role": "user", "content": "i"},
             {"role": "assistant", "content": "j"}]
    parts = split_turns(turns, 4, lambda text: len(text.split()))
    assert [([m["content"] for m in p], over) for p, over in parts] == [
        (["s", "a b c", "d e f g h"], True), (["s", "i", "j"], False)]


def test_a_named_tokenizer_counts_the_split(tmp_path):
    """``conversations.tokenizer``: the split counts that tokenizer's tokens, not the language's words."""
    tokenizers = pytest.importorskip("tokenizers")
    transformers = pytest.importorskip("transformers")
    from factory.conversations import word_counter
    from factory.plugins import get_registry

    vocab = {"[UNK]": 0, "a": 1, "b": 2, ",": 3, ".": 4}
    tok = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()  # punctuation is a token of its own
    transformers.PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]").save_pretrained(tmp_path / "tok")
    english = get_registry().get("language", "en").obj()
    assert word_counter(english)("a, b.") == 2
    count = word_counter(english, str(tmp_path / "tok"))
    assert count("a, b.") == 4
    turns = [{"role": r, "content": "a, b."} for r in ("user", "assistant", "user", "assistant")]
    assert len(split_turns(turns, 8, count)) == 2 and len(split_turns(turns, 8, word_counter(english))) == 1
    from factory.errors import UserError

    with pytest.raises(UserError, match="conversations.tokenizer: could not load"):
        word_counter(english, str(tmp_path / "nowhere"))


def test_cleaning_keeps_every_record_apart_and_what_the_record_holds():
    """Records sharing a source_id stay apart; an Alpaca input and preference fields survive; a preference
    record is never split (one prompt with its judged replies)."""
    from types import SimpleNamespace

    from factory.conversations import clean_conversations
    from factory.plugins import get_registry
    from factory.records import Record

    options = SimpleNamespace(html_to_markdown=True, same_role="merge", exact_duplicates=True, max_tokens=3,
                              tokenizer=None)
    english = get_registry().get("language", "en").obj()
    alpaca = Record.from_alpaca("Summarize the text.", "Cats sleep a lot.", "They sleep.", id="a",
                                meta={"source_id": "same"})
    other = Record.from_alpaca("Name a colour.", "", "Red.", id="b", meta={"source_id": "same"})
    pair = Record([{"role": "user", "content": "one two"}, {"role": "assistant", "content": "three four"},
                   {"role": "user", "content": "five six"}], id="p", chosen="seven eight", rejected="nine")
    result = clean_conversations([alpaca, other, pair], options, english)
    kept = result.kept
    assert [r.id for r in kept] == ["a", "b", "p"] and not result.rejected
    assert kept[0].input == "Cats sleep a lot." and kept[0].instruction == "Summarize the text."
    assert kept[2].chosen == "seven eight" and kept[2].rejected == "nine"
    assert [m["content"] for m in kept[2].messages] == ["one two", "three four", "five six"]  # prompt intact
    prompt_only = Record([{"role": "user", "content": "Which is better?"}], id="q", chosen="This.", rejected="That.")
    assert clean_conversations([prompt_only], options, english).kept[0].messages == prompt_only.messages


def test_split_invariants_hold_for_any_conversation():
    """Whatever the turn lengths: parts start with a user turn, cut only before one, repeat the system prompt,
    give back the turns in order, and exceed the limit only when one exchange alone does."""
    pytest.importorskip("hypothesis")
    from hypothesis import given, settings
    from hypothesis import strategies as st

    def count(text):
        return len(text.split())

    exchanges = st.lists(st.tuples(st.integers(1, 12), st.lists(st.integers(1, 12), min_size=1, max_size=2)),
                         min_size=1, max_size=30)

    @settings(max_examples=150, deadline=None)
    @given(exchanges, st.integers(1, 40), st.booleans())
    def check(shape, limit, with_system):
        system = [{"role": "system", "content": "s"}] if with_system else []
        turns = list(system)
        for user, replies in shape:
            turns.append({"role": "user", "content": " ".join(["u"] * user)})
            turns += [{"role": "assistant", "content": " ".join(["a"] * n)} for n in replies]
        parts = split_turns(turns, limit, count)
        body = []
        for part, over in parts:
            assert part[: len(system)] == system
            rest = part[len(system):]
            assert rest[0]["role"] == "user"
            size = sum(count(m["content"]) for m in part)
            assert over == (size > limit)
            if over:  # only a single exchange may pass the limit
                assert sum(m["role"] == "user" for m in rest) == 1
            body += rest
        assert system + body == turns

    check()
