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
