"""The ROUGE-L index must give rouge_score's answers, float for float.

The reference everywhere is a brute force over ``rouge_scorer._score_lcs``
(what Alpaca's filter calls on pre-tokenized instructions), scanning the pool
in insertion order and keeping the first entry that reaches the maximum.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from rouge_score import rouge_scorer, tokenize

from factory.default_plugins.english import English
from factory.similarity import RougeLIndex, f_from_lcs, greedy_dedup, lcs_length, rouge_l_f

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def reference_f(target, prediction) -> float:
    return rouge_scorer._score_lcs(target, prediction).fmeasure


def brute_max(candidate, pool) -> tuple[float, int | None]:
    best, where = 0.0, None
    for j, other in enumerate(pool):
        score = reference_f(candidate, other)
        if score > best:
            best, where = score, j
    return best, where


def brute_greedy(items, threshold, against=()):
    pool = list(against)
    keys = [("against", j) for j in range(len(pool))]
    out = []
    for i, tokens in enumerate(items):
        score, where = brute_max(tokens, pool)
        kept = not score > threshold
        out.append((kept, score, None if where is None else keys[where]))
        if kept:
            pool.append(tokens)
            keys.append(i)
    return out


@st.composite
def token_lists(draw, alphabet_size=None, max_len=None):
    """Token sequences over a small alphabet (so overlaps and ties are common)."""
    size = alphabet_size or draw(st.integers(1, 8))
    alphabet = [f"t{i}" for i in range(size)]
    length = draw(st.sampled_from([0, 1, 2, 3, 5, 8, 13, 30])) if max_len is None else draw(st.integers(0, max_len))
    return draw(st.lists(st.sampled_from(alphabet), min_size=length, max_size=length))


@st.composite
def pools(draw):
    """A pool and candidates over one shared alphabet, some long (up to 300 tokens)."""
    size = draw(st.integers(1, 6))
    seqs = st.one_of(
        token_lists(alphabet_size=size),
        token_lists(alphabet_size=size, max_len=300),
        token_lists(alphabet_size=size + 20, max_len=40),  # tokens the pool may never have seen
    )
    pool = draw(st.lists(seqs, max_size=25))
    candidates = draw(st.lists(seqs, min_size=1, max_size=6))
    # Exact copies and prefixes of pool entries exercise scores of 1 and near 1.
    if pool:
        candidates.append(draw(st.sampled_from(pool)))
        entry = draw(st.sampled_from(pool))
        candidates.append(entry[: draw(st.integers(0, len(entry)))])
    return pool, candidates


@SETTINGS
@given(token_lists(), token_lists())
def test_rouge_l_f_is_bit_identical_to_rouge_score(a, b):
    assert rouge_l_f(a, b) == reference_f(a, b)
    assert rouge_l_f(b, a) == reference_f(b, a)
    assert lcs_length(a, b) == rouge_scorer._lcs_table(a, b)[-1][-1]


@SETTINGS
@given(pools(), st.floats(0.0, 1.0), st.sampled_from([1, 3, 256]))
def test_index_max_score_and_decisions_equal_brute_force(pool_and_candidates, threshold, dense_min):
    pool, candidates = pool_and_candidates
    index = RougeLIndex(dense_min=dense_min)  # 1: every token in dense rows; 256: none
    for j, tokens in enumerate(pool):
        assert index.add(tokens, key=j) == j
    assert len(index) == len(pool)
    for candidate in candidates:
        expected = brute_max(candidate, pool)
        assert index.max_score(candidate) == expected
        # Thresholds at the achieved score itself are where float exactness decides.
        for t in {threshold, 0.0, 0.7, 1.0, expected[0]}:
            exceeded, score, key = index.exceeds(candidate, t)
            assert exceeded == (expected[0] > t)
            if exceeded:
                assert score > t and score == reference_f(candidate, pool[key])
            else:
                assert (score, key) == expected


@SETTINGS
@given(st.lists(token_lists(), max_size=30), st.lists(token_lists(), max_size=5), st.sampled_from([0.0, 0.5, 0.7, 0.9, 1.0]))
def test_greedy_dedup_equals_brute_force_greedy(items, against, threshold):
    assert greedy_dedup(items, threshold=threshold, against=against) == brute_greedy(items, threshold, against)


def test_adding_while_querying_matches_brute_force():
    """Interleaved add/query (the generation loop) never needs a rebuild to stay exact."""
    import random

    rng = random.Random(7)
    alphabet = [f"w{i}" for i in range(12)]
    index, pool = RougeLIndex(dense_min=64), []
    for step in range(300):
        tokens = [rng.choice(alphabet) for _ in range(rng.randint(0, 25))]
        assert index.max_score(tokens) == brute_max(tokens, pool)
        index.add(tokens, key=step)
        pool.append(tokens)
        assert index.max_score(tokens) == brute_max(tokens, pool)  # finds itself (or an earlier copy)
        if step % 60 == 0:  # a long query: overlaps no longer fit a byte
            long_query = [rng.choice(alphabet + ["new"]) for _ in range(300)]
            assert index.max_score(long_query) == brute_max(long_query, pool)
    # Tokens most entries share have moved to dense rows by now: both paths were exercised.
    assert index._dense_rows and index._postings


def test_threshold_boundary_follows_rouge_score_float_not_the_rational():
    """Two pairs with real F exactly 0.7: rouge_score's floats put one above 0.7, one not."""
    candidate = [f"c{i}" for i in range(9)] + ["z"]                  # 10 tokens
    same_len = [f"c{i}" for i in range(7)] + ["x", "y", "w"]         # 10 tokens, LCS 7
    longer = [f"c{i}" for i in range(7)] + ["x", "y", "w", "v"]      # 11 tokens, LCS 7
    short_candidate = candidate[:9]                                  # 9 tokens
    for cand, entry in ((candidate, same_len), (short_candidate, longer)):
        expected = reference_f(cand, entry)
        assert Fraction(2 * 7, len(cand) + len(entry)) == Fraction(7, 10)
        index = RougeLIndex()
        index.add(entry, "e")
        assert index.max_score(cand) == (expected, "e")
        assert index.exceeds(cand, 0.7)[0] == (expected > 0.7)
    # The two cases really do fall on both sides of 0.7 (this is what makes the test meaningful).
    assert reference_f(candidate, same_len) <= 0.7 < reference_f(short_candidate, longer)


def test_equal_rationals_with_different_floats_report_the_larger_float():
    """Entries tied in exact F can differ by an ulp through rouge_score's formula; the max is the float max."""
    found = None
    for la in range(1, 12):
        by_ratio: dict[Fraction, list[tuple[int, int]]] = {}
        for lb in range(1, 40):
            for lcs in range(1, min(la, lb) + 1):
                by_ratio.setdefault(Fraction(2 * lcs, la + lb), []).append((lcs, lb))
        for pairs in by_ratio.values():
            floats = {f_from_lcs(lcs, la, lb) for lcs, lb in pairs}
            if len(floats) > 1:
                found = (la, pairs)
                break
        if found:
            break
    assert found, "no ulp-level tie found: the formula changed?"
    la, pairs = found
    candidate = [f"c{i}" for i in range(la)]
    index, pool = RougeLIndex(), []
    # Add in increasing float order so the best float is not the earliest entry.
    for n, (lcs, lb) in enumerate(sorted(pairs, key=lambda p: f_from_lcs(p[0], la, p[1]))):
        entry = candidate[:lcs] + [f"e{n}_{k}" for k in range(lb - lcs)]
        index.add(entry, key=n)
        pool.append(entry)
    score, key = index.max_score(candidate)
    assert (score, key) == brute_max(candidate, pool)
    assert score == max(f_from_lcs(lcs, la, lb) for lcs, lb in pairs)
    assert key > 0  # the winner is not the first entry reaching the same rational


def test_empty_pool_and_empty_query():
    index = RougeLIndex()
    assert index.max_score(["a"]) == (0.0, None)
    assert index.exceeds(["a"], 0.7) == (False, 0.0, None)
    index.add([], key="empty")
    index.add(["a", "b"], key="ab")
    assert index.max_score([]) == (0.0, None)
    assert index.max_score(["c"]) == (0.0, None)  # nothing shared: no most-similar entry
    assert index.max_score(["b", "a"]) == (reference_f(["b", "a"], ["a", "b"]), "ab")
    # A negative threshold is exceeded by any score, even 0 (same as max_score > threshold).
    assert index.exceeds(["c"], -0.5) == (True, 0.0, None)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80) | st.text(alphabet="aZ09 _-.,İıKßéÅ\t\n\u00a0\u212a한국어１２", max_size=80))
def test_english_tokens_equal_rouge_score_tokenizer(text):
    assert English().tokenize(text) == tokenize.tokenize(text, None)


def test_english_tokens_scored_like_rouge_scorer_on_text():
    """End to end on text: en tokens in the index = RougeScorer(['rougeL']).score on the strings."""
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    english = English()
    pool = [
        "Write a short poem about the sea.",
        "Explain photosynthesis to a ten-year-old, step by step.",
        "List 5 tips for saving money on groceries!",
    ]
    candidates = ["Write a short poem about the ocean.", "Give 5 tips to save money on groceries", "Hello"]
    index = RougeLIndex()
    for j, text in enumerate(pool):
        index.add(english.tokenize(text), j)
    for cand in candidates:
        scores = [scorer.score(text, cand)["rougeL"].fmeasure for text in pool]
        best = max(scores)
        assert index.max_score(english.tokenize(cand)) == (best, scores.index(best) if best > 0 else None)


def test_vocabulary_is_not_grown_by_queries():
    index = RougeLIndex()
    index.add(["a", "b"])
    index.max_score(["x", "y", "z"])
    index.exceeds(["q"], 0.5)
    assert index.vocabulary_size == 2
    with pytest.raises(IndexError):
        index.key(5)
