"""Language identification (lingua) on short texts: the language, a confidence, no letters -> no language."""

from __future__ import annotations

from factory.langid import identifier


def test_short_texts_get_their_language_and_a_confidence():
    ident = identifier("ko")
    texts = ["다음 문장을 존댓말로 바꾸세요.", "Summarize the main argument of this paragraph.",
             "次の文章を三文で要約してください。", "Python에서 리스트를 정렬하는 방법을 설명해 주세요.",
             "Hãy giải thích vì sao bầu trời có màu xanh.", "1234 !!!"]
    found = ident.detect_many(texts)
    assert [d.language for d in found] == ["ko", "en", "ja", "ko", "vi", None]
    assert all(d.confidence >= 0.5 for d in found[:5]) and found[5].confidence == 0.0
    assert found[0].is_("ko", 0.9) and not found[1].is_("ko", 0.1)
    assert ident.detect(texts[1]) == found[1]  # one at a time gives the same answer
    assert identifier("ko") is ident  # built once per candidate set


def test_the_language_id_filter_judges_every_turn_and_records_its_confidence():
    from factory.filtering import FilterChain
    from factory.plugins import get_registry
    from factory.records import Record

    korean = get_registry().get("language", "ko").obj()
    turns = lambda *texts: Record([{"role": r, "content": t} for r, t in zip(["user", "assistant"] * 3, texts)], id=texts[0])  # noqa: E731
    records = [turns("서울의 날씨는 어떤가요?", "오늘은 맑고 따뜻합니다."),
               turns("서울의 날씨는 어떤가요?", "今日は晴れて暖かいです。"),
               turns("What is the weather like in Seoul today?", "It is sunny.")]
    every = FilterChain.of([("language_id", {})], korean)
    kept, rejected = every.apply_sync(records)
    assert [r.id for r in kept] == [records[0].id]
    assert [(r.id, reason) for r, reason, _ in rejected] == [(records[1].id, "wrong_language"), (records[2].id, "wrong_language")]
    assert kept[0].meta["language_id"][0]["language"] == "ko" and kept[0].meta["language_id"][0]["confidence"] > 0.9
    first_only = FilterChain.of([("language_id", {"rule": "first"})], korean)
    assert [r.id for r in first_only.apply_sync(records)[0]] == [records[0].id, records[1].id]
