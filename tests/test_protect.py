"""Protected spans: detection, masking in both forms, restoring, and catching lost spans."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from factory.protect import ProtectedSpanLost, find_spans, mask

KEEP = ("<keep>", "</keep>")


@pytest.mark.parametrize(
    ("text", "kind", "span"),
    [
        ("Fix this:\n```python\nprint('hi')\n```\nthanks", "fenced_code", "```python\nprint('hi')\n```"),
        ("Run `pip install -U pkg` first.", "inline_code", "`pip install -U pkg`"),
        ("See https://example.com/a?b=1&c=2.", "url", "https://example.com/a?b=1&c=2"),
        ("Docs (https://en.wikipedia.org/wiki/Foo_(bar)) say so", "url", "https://en.wikipedia.org/wiki/Foo_(bar)"),
        ("Go to www.example.org, then log in.", "url", "www.example.org"),
        ("Write to jane.doe+news@mail.example.co.kr today.", "email", "jane.doe+news@mail.example.co.kr"),
        ("Hello {name}, welcome!", "placeholder", "{name}"),
        ("Item {0} of {1}", "placeholder", "{0}"),
        ("Value: {price:.2f} total", "placeholder", "{price:.2f}"),
        ("Dear %s, you owe %d dollars", "placeholder", "%s"),
        ("User %(user)s logged in", "placeholder", "%(user)s"),
        ("Template {{ title }} here", "placeholder", "{{ title }}"),
        ("Input: <noinput>", "placeholder", "<noinput>"),
        ("Path is ${HOME}/bin", "placeholder", "${HOME}"),
        ("It weighs 3.5 kg and costs $12.99.", "number_unit", "3.5 kg"),
        ("It weighs 3.5 kg and costs $12.99.", "number_unit", "$12.99"),
        ("Growth was 45% last year", "number_unit", "45%"),
        ("Set the CPU to 2.4GHz", "number_unit", "2.4GHz"),
    ],
)
def test_find_spans_detects_each_kind(text, kind, span):
    found = [(s.kind, s.text) for s in find_spans(text)]
    assert (kind, span) in found
    for s in find_spans(text):
        assert text[s.start : s.end] == s.text


@pytest.mark.parametrize(
    "text",
    [
        "Give three tips for staying healthy.",
        "I woke up at 5 in the morning and ate 3 apples.",
        "Explain why the sky is blue, in simple words.",
        "The ratio is 3 to 4; 100 percent sure.",
    ],
)
def test_plain_prose_has_no_spans(text):
    assert find_spans(text) == []


def test_overlapping_matches_keep_the_earlier_kind():
    text = "Call `fetch('https://api.example.com/v1')` with {token}"
    spans = find_spans(text)
    assert [s.kind for s in spans] == ["inline_code", "placeholder"]
    assert spans[0].text == "`fetch('https://api.example.com/v1')`"


def test_url_trailing_punctuation_is_not_part_of_the_url():
    spans = find_spans("Links: https://a.example/x, https://b.example/y; and (https://c.example/z).")
    assert [s.text for s in spans] == ["https://a.example/x", "https://b.example/y", "https://c.example/z"]


SAMPLE = (
    "Use `grep -r foo .` on https://example.com/docs?q=1&x=2 and mail ops@example.com. "
    "It costs $5.99 for 3 GB; greet {name} with %s. Input: <noinput> a<b & c>d"
)


def test_marker_mask_hides_every_span_and_restores_it():
    masked = mask(SAMPLE)
    assert masked.markup is None
    for span in masked.spans:
        assert span not in masked.text
    assert re.findall(r"⟦(\d+)⟧", masked.text) == [str(i) for i in range(1, len(masked.spans) + 1)]
    assert masked.restore(masked.text) == SAMPLE


def test_markup_mask_escapes_free_text_and_sends_no_span():
    masked = mask(SAMPLE, KEEP)
    outside = re.sub(r'<keep i="\d+"/>', "", masked.text)
    assert "<" not in outside and ">" not in outside
    assert "&amp;" in outside and "a&lt;b" in outside
    for span in masked.spans:  # the spans stay here: an engine billing text outside tags bills only the prose
        assert span not in masked.text
    assert re.findall(r'<keep i="(\d+)"/>', masked.text) == [str(i) for i in range(1, len(masked.spans) + 1)]
    assert masked.prose == re.sub(r"`grep -r foo .`|https://\S+2|ops@example.com|\$5.99|3 GB|\{name\}|%s|<noinput>",
                                  "", SAMPLE)
    assert masked.restore(masked.text) == SAMPLE


def test_engines_may_move_spans():
    masked = mask("Send {a} to {b} now", KEEP)
    moved = "Now to <keep i='2'></keep> send <keep i=\"1\" />"
    assert masked.restore(moved) == "Now to {b} send {a}"
    marked = mask("Send {a} to {b} now")
    assert marked.restore("⟦2⟧에게 ⟦1⟧ 보내기") == "{b}에게 {a} 보내기"


def test_markers_tolerate_spaces_inside_brackets():
    marked = mask("Hello {name}")
    assert marked.restore("안녕 ⟦ 1 ⟧") == "안녕 {name}"


@pytest.mark.parametrize(
    "translated",
    [
        'Send to <keep i="2"/> now',  # one span dropped
        'Send <keep i="3"/> to <keep i="2"/>',  # one span renumbered
        'Send <keep i="1"/> <keep i="1"/> <keep i="2"/>',  # one span duplicated
        'Send <keep i="1"/> to <keep i="2"> now',  # tag broken
    ],
)
def test_markup_restore_catches_lost_spans(translated):
    with pytest.raises(ProtectedSpanLost) as info:
        mask("Send {a} to {b} now", KEEP).restore(translated)
    assert info.value.reason == "protected_span_lost"


@pytest.mark.parametrize("translated", ["⟦1⟧ 보내기", "⟦1⟧ ⟦1⟧ ⟦2⟧", "⟦1⟧ ⟦2⟧ ⟦3⟧", "아무것도 없음"])
def test_marker_restore_catches_lost_spans(translated):
    with pytest.raises(ProtectedSpanLost):
        mask("Send {a} to {b} now").restore(translated)


def test_source_text_with_marker_brackets_cannot_fake_a_marker():
    text = "Literal ⟦1⟧ in the source and {x}"
    masked = mask(text)
    assert masked.restore(masked.text) == text
    # A translation that drops the literal brackets is caught, not silently accepted.
    with pytest.raises(ProtectedSpanLost):
        masked.restore(masked.text.replace("⟦1⟧", "", 1))


_pieces = st.sampled_from(
    ["word ", "{x}", "%s", "`code`", "https://e.example/p?a=1&b=2", " a<b ", "&", "<noinput>", "5 kg", "\n", "⟦", "한국어 ", "x@y.io"]
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(_pieces, st.text(max_size=8)), max_size=12))
def test_mask_restore_round_trips_in_both_forms(parts):
    text = "".join(parts)
    for markup in (None, KEEP):
        masked = mask(text, markup)
        assert masked.restore(masked.text) == text
        assert [s for s in masked.spans] == [s.text for s in find_spans(text) if markup is None or s.kind != "marker_char"]
