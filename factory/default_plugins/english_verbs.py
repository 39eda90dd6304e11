"""Root verb and direct object of an English instruction, offline and without a parser model.

Instructions are mostly imperatives ("Write a poem about ...", "Give me three
tips ..."), so a few rules recover what a dependency parser would call the
root verb and the head of its direct object, fast enough for a 52K dataset
(no model download, no tagger):

* sentences are tried in order; the first one that is an imperative wins
  ("I am hosting a dinner. Suggest a menu." -> suggest);
* polite and modal wrappers are skipped ("Please", "Can you", "Could you
  please", "I want you to", "Help me", "Let's"), and so is an introductory
  phrase ending in a comma ("Given a list of words, ...", "In one sentence, ...");
* a sentence opening with a question word or an auxiliary ("What is ...",
  "How do ...", "Is it ...") is a question and has no root verb here, as in
  Alpaca's verb/object sunburst;
* the verb is the first word when it is a known instruction verb, or any
  other word followed by the start of a noun phrase; common phrasal verbs
  keep their particle ("come up with", "point out", "fill in");
* the object is the last word of the noun phrase right after the verb (after
  an indirect object: "Give *me* three tips" -> tip), which ends at a
  preposition, conjunction, relative word, punctuation, a number after a
  noun, or a participle that starts its own phrase ("a reply *declining* the
  invitation", "the data *provided*"); it is singularized. No object when
  the verb is followed by a preposition, a clause ("Explain why ..."), or a
  pronoun ("group them"), or when the phrase names nothing ("the following").

Accuracy on a labelled set of 100 instructions: docs/report.md.
"""

from __future__ import annotations

import re

_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+|\n+")
_TOKEN = re.compile(r"[A-Za-z][A-Za-z'’-]*|\d+(?:[.,]\d+)*|[^\sA-Za-z\d]")

VERBS = frozenset("""
act add adapt advise analyse analyze answer apply arrange assess assign brainstorm break build calculate categorize
change check choose cite clarify classify combine come compare compile complete compose compute condense construct
continue convert correct count create critique decide decode define describe design detect determine develop devise
diagnose discuss distinguish divide do draft draw edit elaborate eliminate encode enumerate estimate evaluate examine
explain explore express extract fill find finish fix flag form format formulate gather generate give group guess help
highlight identify illustrate imagine improve infer insert interpret introduce invent justify label list locate make
map match measure mention merge modify name note offer order organize outline paraphrase pick pitch plan point predict
prepare present pretend prioritize produce proofread propose prove provide put quote rank rate read rearrange recommend
reduce refactor reformat reformulate rephrase replace report restate reverse review revise reword rewrite round say
schedule score select separate share shorten show simplify sketch solve sort spell split state suggest sum summarise
summarize supply swap take teach tell test think transform translate turn underline update use verify write
""".split())

#: verb -> particles that make a phrasal verb with it; the particle joins the verb ("point out").
PHRASAL = {
    "come": ("up with",), "point": ("out",), "figure": ("out",), "find": ("out",), "break": ("down",),
    "sum": ("up",), "fill": ("in", "out"), "write": ("down", "out"), "look": ("up",), "make": ("up",),
    "carry": ("out",), "set": ("up",), "put": ("together",), "draw": ("up",), "narrow": ("down",),
    "think": ("of", "up"), "list": ("out",), "spell": ("out",), "pick": ("out",), "rule": ("out",),
    "work": ("out",), "boil": ("down",), "lay": ("out",), "cross": ("out",), "single": ("out",),
}

#: Wrappers before the real verb, longest first; matched on lowercased words.
_WRAPPERS = tuple(tuple(w.split()) for w in sorted((
    "please", "kindly", "now", "also", "then", "next", "finally", "first", "just", "quickly", "briefly",
    "can you please", "could you please", "would you please", "will you please",
    "can you", "could you", "would you", "will you", "would you mind",
    "i want you to", "i need you to", "i would like you to", "i'd like you to", "i’d like you to",
    "help me", "help me to", "help us", "help us to", "let's", "let’s", "let us", "try to", "go ahead and",
    "make sure to", "make sure you", "be sure to",
), key=lambda w: -len(w.split())))

_QUESTION_STARTERS = frozenset("""
what who whom whose which where when why how is are was were am do does did can could would should will shall may
might must have has had isn't aren't don't doesn't didn't won't wouldn't shouldn't can't couldn't
""".split())

_DETERMINERS = frozenset("""
a an the this that these those my your our their his her its some any each every all both another several few many
much more most no such either neither following given
""".split())

_NUMBER_WORDS = frozenset("""
one two three four five six seven eight nine ten eleven twelve fifteen twenty thirty fifty hundred thousand first
second third couple
""".split())

_PRONOUNS = frozenset("""
it this that these those them they he she him her me us you we i yourself myself something anything everything
nothing someone anyone everyone one ones
""".split())

#: Indirect objects that come between the verb and its object: "Give *me* three tips".
_INDIRECT = frozenset("me us him her them you".split())

_PREPOSITIONS = frozenset("""
of for about to in into on onto with without from by at as between among than like per via over under through during
within across after before around against toward towards regarding including using based given along upon beside
""".split())

_BOUNDARIES = _PREPOSITIONS | frozenset("""
and or but nor so then if because while whereas since unless until though although that which who whom whose where
when why how what whether is are was were be been being am can could will would should may might must do does did
has have had sound sounds look looks seem seems become becomes appear appears feel feels
more less very too also again instead only here there now briefly quickly concisely clearly simply carefully formally
informally politely properly correctly accurately creatively succinctly professionally below above etc
""".split())

#: Adjectives that follow the object as its complement ("Make the sentence *shorter*"), ending the phrase.
_COMPLEMENTS = frozenset("""
shorter longer simpler clearer better easier harder stronger friendlier funnier happier smoother formal informal
polite concise positive negative professional persuasive engaging readable understandable accessible correct
""".split())

#: Heads that name nothing on their own ("Classify the following as ...").
_EMPTY_HEADS = frozenset("following given above below same other rest latter former".split())

#: Starters of an introductory phrase that the imperative follows after a comma.
_INTRO_STARTERS = _PREPOSITIONS | frozenset("if when after before once while assuming suppose considering".split())

_IRREGULAR_PLURALS = {
    "children": "child", "people": "person", "men": "man", "women": "woman", "feet": "foot", "teeth": "tooth",
    "mice": "mouse", "geese": "goose", "criteria": "criterion", "phenomena": "phenomenon", "analyses": "analysis",
    "knives": "knife", "lives": "life", "wives": "wife", "leaves": "leaf", "wolves": "wolf", "halves": "half",
    "shelves": "shelf", "loaves": "loaf", "thieves": "thief", "selves": "self", "potatoes": "potato",
    "tomatoes": "tomato", "heroes": "hero", "echoes": "echo", "headaches": "headache", "niches": "niche",
    "caches": "cache", "clichés": "cliché", "cliches": "cliche",
}
_UNCOUNTED_S = ("ss", "us", "is", "ics", "ous", "'s", "’s")
_KEEP_S = frozenset("news series species lens gas bus chaos yes always perhaps thanks means".split())


def singular(word: str) -> str:
    """A plural noun's singular by spelling rules (irregulars listed): "stories" -> "story"."""
    if word in _IRREGULAR_PLURALS:
        return _IRREGULAR_PLURALS[word]
    if len(word) <= 3 or word in _KEEP_S or word.endswith(_UNCOUNTED_S) or not word.endswith("s"):
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "shes", "ches", "xes", "zzes")):
        return word[:-2]
    return word[:-1]


def _is_word(token: str) -> bool:
    return token[:1].isalpha()


def _is_number(token: str) -> bool:
    return token[:1].isdigit() or token in _NUMBER_WORDS


def _skip_wrappers(words: list[str], i: int) -> int:
    """Index of the first word after any polite or modal wrappers starting at ``i``."""
    moved = True
    while moved:
        moved = False
        for wrapper in _WRAPPERS:
            if tuple(words[i : i + len(wrapper)]) == wrapper:
                i += len(wrapper)
                moved = True
                break
    return i


def _starts_phrase(words: list[str], i: int) -> bool:
    """True when ``words[i]`` can open a noun phrase (the object after a verb)."""
    if i >= len(words):
        return False
    word = words[i]
    return word in _DETERMINERS or _is_number(word) or word in _INDIRECT


def _object(words: list[str], i: int) -> str | None:
    """Singular head noun of the noun phrase starting at ``words[i]``, or None."""
    if i < len(words) and words[i] in _INDIRECT and i + 1 < len(words) and (
        _starts_phrase(words, i + 1) or (_is_word(words[i + 1]) and words[i + 1] not in _BOUNDARIES)
    ):
        i += 1  # "give me three tips": skip the indirect object
    phrase: list[str] = []
    content = 0  # words of the phrase that are neither determiners nor numbers
    j = i
    while j < len(words):
        word = words[j]
        nxt = words[j + 1] if j + 1 < len(words) else "."
        if not (_is_word(word) or _is_number(word)):
            break
        if word in _BOUNDARIES and not (content == 0 and word in _DETERMINERS):
            break  # "more" ends "the text more formal" but opens "more examples"
        if content and word in _COMPLEMENTS:
            break  # "the sentence shorter": the complement, not part of the phrase
        if content and _is_number(word) and word not in _NUMBER_WORDS:
            break  # "the equation 3x + 5": a number after the head starts something else
        if content and word.endswith("ing") and (nxt in _DETERMINERS or nxt in _PRONOUNS or _is_number(nxt)):
            break  # "a reply declining the invitation"
        if content and word.endswith("ed") and (not _is_word(nxt) or nxt in _BOUNDARIES):
            break  # "the data provided", "the ingredients needed for"
        phrase.append(word)
        if word not in _DETERMINERS and not _is_number(word):
            content += 1
        j += 1
    if not phrase:
        return None
    head = phrase[-1]
    if head in _PRONOUNS or head in _EMPTY_HEADS or head in _DETERMINERS or _is_number(head):
        return None
    return singular(head)


def _clause(words: list[str]) -> tuple[str | None, str | None] | None:
    """(verb, object) when the clause is an imperative, else None."""
    i = 0
    while i < len(words) and not _is_word(words[i]):
        i += 1  # list markers, quotes, dashes
    i = _skip_wrappers(words, i)
    if i >= len(words):
        return None
    first = words[i]
    if first in _QUESTION_STARTERS:
        return None
    if first in _INTRO_STARTERS or first in _DETERMINERS or first in _PRONOUNS:
        if "," in words[i:]:
            return _clause(words[words.index(",", i) + 1 :])
        return None
    if not _is_word(first) or first in _BOUNDARIES:
        return None
    if first not in VERBS and not _starts_phrase(words, i + 1):
        return None
    verb, j = first, i + 1
    for particle in PHRASAL.get(first, ()):
        parts = particle.split()
        if words[j : j + len(parts)] == parts:
            verb, j = f"{first} {particle}", j + len(parts)
            break
    return verb, _object(words, j)


def verb_object(text: str) -> tuple[str | None, str | None]:
    """(root verb, singular object head) of one instruction; (None, None) for questions and statements."""
    for sentence in _SENTENCE_END.split(text.strip()):
        words = [token.lower().replace("’", "'") for token in _TOKEN.findall(sentence)]
        found = _clause(words)
        if found is not None:
            return found
    return None, None
