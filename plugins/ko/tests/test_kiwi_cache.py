"""One Kiwi analysis per text: the report's tokens and verbs, and the filters' checks, share it."""

from __future__ import annotations

import time
from collections import OrderedDict

import pytest

from factory_ko import Korean
from factory_ko import kiwi

TEXTS = [
    "다음 문장을 요약해 주세요.",
    "파이썬으로 소수를 판별하는 프로그램을 작성하세요.",
    "우리 동네 지도를 만들어 줘.",
    "한국의 수도는 어디인가요?",
    "이 Python 코드의 버그 3개를 찾아줘!",
]


class CountingKiwi:
    """The real Kiwi, recording every text it is asked to analyse."""

    def __init__(self, real):
        self.real = real
        self.analysed: list[str] = []
        self.calls = 0

    def tokenize(self, texts, **options):
        batch = [texts] if isinstance(texts, str) else list(texts)
        self.analysed += batch
        self.calls += 1
        return self.real.tokenize(texts if isinstance(texts, str) else batch, **options)


@pytest.fixture
def spy(monkeypatch) -> CountingKiwi:
    counting = CountingKiwi(kiwi.get_kiwi())
    monkeypatch.setattr(kiwi, "get_kiwi", lambda: counting)
    monkeypatch.setattr(kiwi, "_CACHE", OrderedDict())
    return counting


def test_tokens_verbs_blacklist_and_program_check_share_one_batch_analysis(spy):
    ko = Korean()
    tokens = ko.tokenize_many(TEXTS + TEXTS[:2])  # repeated texts are analysed once too
    assert spy.analysed == TEXTS and spy.calls == 1
    pairs = ko.verb_objects(TEXTS)
    assert [ko.blacklisted(t) for t in TEXTS] == [None, None, "지도", None, None]
    assert [ko.is_program_task(t) for t in TEXTS] == [False, True, False, False, False]
    assert [ko.tokenize(t) for t in TEXTS] == tokens[:5]
    assert spy.analysed == TEXTS and spy.calls == 1
    assert tokens[0] == ["다음", "문장", "을", "요약", "하", "주"]
    assert pairs[0] == ("요약하다", "문장") and pairs[3] == (None, None)


def test_results_are_the_same_without_the_cache(spy, monkeypatch):
    ko = Korean()
    cached = (ko.tokenize_many(TEXTS), ko.verb_objects(TEXTS), [ko.blacklisted(t) for t in TEXTS])
    monkeypatch.setattr(kiwi, "CACHE_SIZE", 0)
    monkeypatch.setattr(kiwi, "_CACHE", OrderedDict())
    before = len(spy.analysed)
    uncached = (ko.tokenize_many(TEXTS), ko.verb_objects(TEXTS), [ko.blacklisted(t) for t in TEXTS])
    assert uncached == cached
    assert len(spy.analysed) - before == 3 * len(TEXTS)  # nothing kept: every call analyses again
    assert not kiwi._CACHE


def test_the_cache_keeps_only_the_newest_texts(spy, monkeypatch):
    monkeypatch.setattr(kiwi, "CACHE_SIZE", 3)
    first = kiwi.analyze(TEXTS)
    assert list(kiwi._CACHE) == TEXTS[-3:]
    again = kiwi.analyze(TEXTS[:1] + TEXTS[-1:])
    assert spy.analysed == TEXTS + TEXTS[:1]  # the oldest was dropped, the newest kept
    assert [[(m.form, m.tag) for m in ms] for ms in again] == [[(m.form, m.tag) for m in ms]
                                                                for ms in (first[0], first[-1])]
    assert len(kiwi._CACHE) == 3


@pytest.mark.parametrize("text", [
    "", "   ", "가 - 나 ... 3", "a_b __ _ x", "½ ① ٣ —", "x\u00a0y\u3000가\u2028나", "(주) 3,200만 원!", "ㅋㅋ ~~ ^^",
])
def test_count_words_is_the_words_that_hold_a_letter_or_digit(text):
    expected = sum(1 for word in text.split() if any(ch.isalnum() for ch in word))
    assert Korean().count_words(text) == expected


def test_count_words_stays_linear_on_long_runs_of_symbols():
    text = "-" * 100_000 + " 끝"
    started = time.perf_counter()
    assert Korean().count_words(text) == 1
    assert time.perf_counter() - started < 0.5  # a pattern free to start mid-word takes minutes here


def test_kiwi_runs_one_thread_in_an_executors_worker_and_every_core_elsewhere(monkeypatch):
    from factory.executors import ANALYSIS_THREADS_ENV, enter_worker

    monkeypatch.delenv(ANALYSIS_THREADS_ENV, raising=False)
    assert kiwi.kiwi_threads() == kiwi.NUM_WORKERS == -1  # a process of its own: Kiwi's thread per core
    monkeypatch.setenv(ANALYSIS_THREADS_ENV, "")  # so that teardown removes what enter_worker sets
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    enter_worker()
    assert kiwi.kiwi_threads() == 1  # a worker sharing the machine with its peers
    # and that Kiwi analyses a batch (its 0, no thread, could not)
    monkeypatch.setattr(kiwi, "_KIWI", None)
    monkeypatch.setattr(kiwi, "_CACHE", OrderedDict())
    assert kiwi.get_kiwi().num_workers == 1
    summary, program = Korean().tokenize_many(TEXTS[:2])
    assert "문장" in summary and "요약" in summary and "파이썬" in program
