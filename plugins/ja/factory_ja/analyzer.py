"""Japanese morphological analysis with SudachiPy and the SudachiDict core dictionary.

Why Sudachi: on the project's measurements (docs/japanese.md, ``bench_tokenizers.py``)
it separates the labelled paraphrase pairs at least as well as fugashi +
unidic-lite, installs from wheels only (unidic-lite is a 47 MB sdist) and its
``normalized_form`` folds spelling variants (下さい/ください, 子供/子ども,
クエリ/クエリー) into one form, which is what paraphrase detection needs.

The dictionary is memory-mapped once per process on first use (never at
import time, so ``factory plugins`` stays fast). A Sudachi tokenizer must not
be shared between threads, so each thread gets its own per split mode.
Text is NFKC-normalized first: full-width Latin letters and digits
(ＳＮＳ, １４０) become ASCII, as a user would mean them.
"""

from __future__ import annotations

import threading
import unicodedata
from typing import TYPE_CHECKING, NamedTuple, Sequence

if TYPE_CHECKING:  # pragma: no cover
    from sudachipy import Dictionary

#: Split modes: A (shortest units: 東京/都/知事/選挙), B (middle), C (named-entity units: 東京都知事選挙).
SPLIT_MODES = ("A", "B", "C")

_LOCK = threading.Lock()
_DICTIONARY: "Dictionary | None" = None
_LOCAL = threading.local()


class Morpheme(NamedTuple):
    """One morpheme, independent of the analyzer that produced it.

    ``pos`` follows the UniDic tag set that Sudachi (and unidic-lite) use:
    (pos1, pos2, pos3, pos4, conjugation type, conjugation form), e.g.
    ("動詞", "非自立可能", "*", "*", "五段-ラ行", "連用形-一般").
    """

    surface: str
    normalized: str  # spelling-normalized lemma: 下さる for 下さい and ください
    base: str  # dictionary form in the text's own spelling: くださる
    pos: tuple[str, ...]
    start: int  # character offsets in the NFKC-normalized text
    end: int


def normalize_text(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def get_dictionary() -> "Dictionary":
    """The process-wide Sudachi dictionary (loaded, thread-safely, on first use)."""
    global _DICTIONARY
    if _DICTIONARY is None:
        with _LOCK:
            if _DICTIONARY is None:
                from sudachipy import Dictionary

                _DICTIONARY = Dictionary(dict="core")
    return _DICTIONARY


def _tokenizer(mode: str):
    tokenizers = getattr(_LOCAL, "tokenizers", None)
    if tokenizers is None:
        tokenizers = _LOCAL.tokenizers = {}
    if mode not in tokenizers:
        tokenizers[mode] = get_dictionary().tokenizer(mode=mode)
    return tokenizers[mode]


def analyze(text: str, mode: str = "A") -> list[Morpheme]:
    """Morphemes of ``text`` (after NFKC); blank text has none."""
    text = normalize_text(text)
    if not text.strip():
        return []
    return [
        Morpheme(m.surface(), m.normalized_form(), m.dictionary_form(), tuple(m.part_of_speech()), m.begin(), m.end())
        for m in _tokenizer(mode).tokenize(text)
    ]


def analyze_many(texts: Sequence[str], mode: str = "A") -> list[list[Morpheme]]:
    return [analyze(text, mode) for text in texts]
