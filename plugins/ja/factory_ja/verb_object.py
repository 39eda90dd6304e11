"""Root verb and direct object of a Japanese instruction, from Sudachi's UniDic tags.

Japanese is head-final: the verb that carries the task comes last
(要約して*ください*, 教えて*いただけますか*) and its direct object is the
phrase marked by the particle を. The rule:

* predicate: the last verb that is not an auxiliary (ください, なさい, いる,
  みる after the te-form: see :func:`factory_ja.tokens.is_auxiliary`) and does
  not only modify a noun (燃える*ごみ*). A light verb after a verbal noun
  makes a する-verb (要約 + し -> 要約する, 翻訳 + でき -> 翻訳する). Verbs
  are given in their dictionary form as written (挙げる, not 上げる);
* object: the noun phrase right before the nearest を before the predicate,
  in the same sentence, unless another verb ends a clause in between (in
  "文章を読んで答えてください", 文章 is what you read, not what you answer).
  Nouns written together form one phrase (商品レビュー), and a formal noun
  after a する-verb (準備する*こと*を) stands for its verbal noun (準備).

Sentences without a verb (首都はどこですか) give ``(None, None)``, as in
Alpaca's verb/object sunburst; a verb without a を-object gives ``(verb, None)``.
"""

from __future__ import annotations

from typing import Sequence

from factory_ja.analyzer import Morpheme
from factory_ja.tokens import LIGHT_VERBS, is_auxiliary

_NOUN_POS = ("名詞", "接尾辞")
_SENTENCE_END = ("。", "!", "?", "！", "？")
#: Formal nouns that turn a clause into an object: 準備すること, 気をつけるもの.
_FORMAL_NOUNS = ("こと", "もの", "の", "ところ")


def _is_light_verb(morphemes: Sequence[Morpheme], i: int) -> bool:
    return i > 0 and morphemes[i].normalized in LIGHT_VERBS and morphemes[i - 1].pos[0] == "名詞"


def _modifies_noun(morphemes: Sequence[Morpheme], i: int) -> bool:
    """A verb in attributive form directly before a noun: 燃える|ごみ, 減らす|方法."""
    j = i + 1
    while j < len(morphemes) and morphemes[j].pos[0] == "助動詞":
        j += 1  # 決められた|ルール
    return (morphemes[i].pos[5].startswith("連体形") or (j > i + 1 and morphemes[j - 1].pos[5].startswith("連体形"))) \
        and j < len(morphemes) and morphemes[j].pos[0] == "名詞"


def _verb_lemma(morphemes: Sequence[Morpheme], i: int) -> str:
    if _is_light_verb(morphemes, i):
        return morphemes[i - 1].surface + "する"
    return morphemes[i].base


def _is_predicate(morphemes: Sequence[Morpheme], i: int) -> bool:
    m = morphemes[i]
    if m.pos[0] != "動詞":
        return False
    if is_auxiliary(morphemes, i) and not _is_light_verb(morphemes, i):
        return False
    return not _modifies_noun(morphemes, i)


def _noun_phrase(morphemes: Sequence[Morpheme], end: int) -> str | None:
    """The noun phrase ending at ``morphemes[end]`` (nouns and suffixes written together)."""
    if end < 0:
        return None
    head = morphemes[end]
    if head.pos[0] not in _NOUN_POS:
        return None
    if head.surface in _FORMAL_NOUNS and _is_light_verb(morphemes, end - 1):
        return morphemes[end - 2].surface  # 準備(する)こと -> 準備
    first = end
    while first > 0 and morphemes[first - 1].pos[0] in _NOUN_POS and morphemes[first - 1].end == morphemes[first].start:
        first -= 1
    while first < end and morphemes[first].pos[0] == "接尾辞":
        first += 1
    return "".join(m.surface for m in morphemes[first:end + 1])


def verb_object(morphemes: Sequence[Morpheme]) -> tuple[str | None, str | None]:
    """(predicate in dictionary form, object noun phrase) of one analyzed instruction."""
    at = next((i for i in range(len(morphemes) - 1, -1, -1) if _is_predicate(morphemes, i)), None)
    if at is None:
        return None, None
    verb = _verb_lemma(morphemes, at)
    start = at - 1 if _is_light_verb(morphemes, at) else at
    for j in range(start - 1, -1, -1):
        m = morphemes[j]
        if m.surface in _SENTENCE_END:
            break
        if m.pos[0] == "動詞" and (_is_light_verb(morphemes, j) or not is_auxiliary(morphemes, j)) \
                and not _modifies_noun(morphemes, j):
            break  # an earlier clause with its own verb: 文章を*読んで*答える
        if m.surface == "を" and m.pos[:2] == ("助詞", "格助詞"):
            return verb, _noun_phrase(morphemes, j - 1)
    return verb, None
