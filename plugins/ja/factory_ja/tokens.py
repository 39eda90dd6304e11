"""Which morphemes count for near-duplicate filtering, and which count as words.

Japanese paraphrases of one task differ mostly in function morphemes:
particles (次の文章を/次の文章、), politeness (要約してください/要約しなさい/
要約して), spelling (下さい/ください) and punctuation. The options below drop
those classes so ROUGE-L compares what the task is about. The defaults were
chosen on the labelled pairs (docs/japanese.md, ``python -m factory_ja.evaluate``).

Tags are UniDic's, as SudachiDict uses them.
"""

from __future__ import annotations

from typing import Sequence

from factory_ja.analyzer import Morpheme

SYMBOL_POS = ("補助記号", "記号", "空白")
#: Light verbs that turn a verbal noun into a verb (要約+する, 翻訳+できる): the noun carries the task.
LIGHT_VERBS = ("為る", "出来る")


def is_symbol(m: Morpheme) -> bool:
    return m.pos[0] in SYMBOL_POS


def is_auxiliary(morphemes: Sequence[Morpheme], i: int) -> bool:
    """True for morphemes that only carry tense, politeness or aspect.

    That is an auxiliary verb (助動詞: です, ます, た, ない...), a verb or
    adjective that can only be auxiliary here (非自立可能 right after a verb,
    an auxiliary or the te-form: 教えて*ください*, し*なさい*, 直して*くれる*,
    説明して*ほしい*), or a light verb after a noun (要約*し*て, 翻訳*でき*ますか).
    A 非自立可能 verb after a particle or a counter heads its own phrase
    (例を*挙げる*, 三つ*挙げる*) and is kept.
    """
    m = morphemes[i]
    if m.pos[0] == "助動詞":
        return True
    if i == 0 or m.pos[0] not in ("動詞", "形容詞"):
        return False
    prev = morphemes[i - 1].pos
    if m.pos[1] == "非自立可能" and (prev[0] in ("動詞", "助動詞") or prev[:2] == ("助詞", "接続助詞")):
        return True
    return m.normalized in LIGHT_VERBS and prev[0] == "名詞"


def similarity_tokens(morphemes: Sequence[Morpheme], *, drop_particles: bool, drop_auxiliaries: bool,
                      drop_symbols: bool, normalize: bool) -> list[str]:
    """Lowercased tokens of one analyzed text under the given options."""
    tokens = []
    for i, m in enumerate(morphemes):
        if m.pos[0] == "空白":
            continue  # spacing never carries content
        if drop_symbols and is_symbol(m):
            continue
        if drop_particles and m.pos[0] == "助詞":
            continue
        if drop_auxiliaries and is_auxiliary(morphemes, i):
            continue
        tokens.append((m.normalized if normalize else m.surface).lower())
    return tokens


def word_count(morphemes: Sequence[Morpheme]) -> int:
    """Morphemes that are not punctuation, symbols or spaces."""
    return sum(1 for m in morphemes if not is_symbol(m))
