"""Root verb and direct object of a Korean instruction, from Kiwi's POS tags.

Korean is head-final: the predicate that carries the task ("요약하세요",
"찾아 주세요") comes last, and the object before it is marked by the object
particle 을/를 (JKO). So the rule is:

* predicate: the last verb or adjective stem (VV*, VA*) or noun + verb suffix
  (요약 + 하/XSV -> 요약하다), given in dictionary form (stem + 다). Auxiliaries
  never count (VX: 해 *주*세요, 해 *보*세요), nor do the politeness and modal
  wrappers "-ㄹ 수 있다/없다" and "-기 바라다", nor stems that only modify a
  noun ("주어진 글", "좋은 제목": followed by an adnominal ending, ETM);
* object: the head noun of the last JKO-marked phrase before the predicate,
  not looking past the sentence start or into a clause with its own object
  ("다음 문장을" -> 문장; "장점 세 가지를" -> 장점), or, when no particle
  marks one (casual "이 글 요약해 줘"), the noun right before the predicate.

Questions built on the copula ("수도는 어디인가요?") have no predicate here
and give ``(None, None)``, as in Alpaca's verb/object sunburst.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:  # pragma: no cover
    from kiwipiepy import Token

_NOUN_TAGS = ("NNG", "NNP", "NNB", "NR", "NP", "SL", "SH", "XR")
_NUMERAL_TAGS = ("NR", "SN", "MM")
#: (previous morpheme, stem) pairs that wrap the real predicate: "할 수 있나요", "해 주시기 바랍니다".
_WRAPPERS = {("수", "있"), ("수", "없"), ("기", "바라")}
#: Dependent nouns after which an adnominal ending still ends the task: "제안할 것", "할 수 있다".
_ENDING_NOUNS = {"것", "수"}
#: Particles that can stand in for 을/를 right before the predicate: "제목 다섯 개*만* 뽑아 줘".
_LIMITING_PARTICLES = {"만", "도"}


def _is_noun(token: "Token") -> bool:
    return token.tag.startswith(_NOUN_TAGS)


def _closes_clause(tokens: Sequence["Token"], j: int) -> bool:
    """True when ``tokens[j]`` ends a clause that keeps its own object.

    That is a verb modifying a noun ("스트레스를 줄이*는* 방법": 스트레스 is
    줄이다's object) or an embedded question ("무엇을 하*는지* 설명"). An
    adjective's adnominal ("문장을 자연스러*운* 한국어로") and "-ㄹ 수 있다" do not.
    """
    token = tokens[j]
    if token.tag in ("EC", "EF") and token.form.endswith("지"):
        return True
    if token.tag != "ETM" or j == 0:
        return False
    after = tokens[j + 1].form if j + 1 < len(tokens) else ""
    return tokens[j - 1].tag.startswith(("VV", "XSV")) and after not in _ENDING_NOUNS


def _predicate_at(tokens: Sequence["Token"], i: int) -> str | None:
    """The dictionary form of the predicate whose stem is ``tokens[i]``, if it is one."""
    token = tokens[i]
    tag = token.tag
    prev = tokens[i - 1] if i > 0 else None
    if tag.startswith(("VV", "VA")):
        if prev is not None and (prev.form, token.form) in _WRAPPERS:
            return None
        lemma = token.form + "다"
    elif tag in ("XSV", "XSA") and prev is not None and _is_noun(prev):
        lemma = prev.form + token.form + "다"
    else:
        return None
    following = tokens[i + 1] if i + 1 < len(tokens) else None
    after = tokens[i + 2] if i + 2 < len(tokens) else None
    if following is not None and following.tag == "ETM" and (after is None or after.form not in _ENDING_NOUNS):
        return None  # only modifies a noun: "주어진 글", "결정된 사항"
    return lemma


def _object_head(tokens: Sequence["Token"], end: int) -> str | None:
    """Head noun of the phrase ending just before ``tokens[end]``.

    Skips noun suffixes (단어*들*), and joins nouns written as one word
    ("건배사" is analyzed 건배 + 사): the object reads as the user wrote it.
    """
    j = end - 1
    while j >= 0 and tokens[j].tag.startswith("XSN"):
        j -= 1
    if j < 0 or not _is_noun(tokens[j]):
        return None
    # "장점 세 가지를": the counter noun stands for the noun it counts.
    if tokens[j].tag == "NNB" and j >= 2 and tokens[j - 1].tag in _NUMERAL_TAGS and _is_noun(tokens[j - 2]):
        j -= 2
    first = j
    while first > 0 and _is_noun(tokens[first - 1]) and tokens[first - 1].end == tokens[first].start:
        first -= 1
    return "".join(token.form for token in tokens[first : j + 1])


def verb_object(tokens: Sequence["Token"]) -> tuple[str | None, str | None]:
    """(predicate in dictionary form, object head noun) of one analyzed instruction."""
    verb, verb_at = None, -1
    for i in range(len(tokens)):
        lemma = _predicate_at(tokens, i)
        if lemma is not None:
            verb, verb_at = lemma, i
    if verb is None:
        return None, None
    # A noun + 하다 predicate starts at its noun: "글 [요약]하다".
    start = verb_at - 1 if tokens[verb_at].tag in ("XSV", "XSA") else verb_at
    for j in range(start - 1, -1, -1):
        if tokens[j].tag == "SF" or _closes_clause(tokens, j):
            break  # an earlier object belongs to another sentence or to an embedded clause
        if tokens[j].tag == "JKO":
            return verb, _object_head(tokens, j)
    limited = start > 0 and tokens[start - 1].tag == "JX" and tokens[start - 1].form in _LIMITING_PARTICLES
    before = start - 1 if limited else start
    return verb, _object_head(tokens, before)
