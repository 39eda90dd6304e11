"""Latin-script languages other than English: telling them from English by evidence, not by letters.

Why: the default script check (:meth:`Language.is_in_language`) counts letters
of the language's script. That separates Korean from English, but Vietnamese,
Indonesian, German or Turkish share English's letters, so a letter count
accepts English instructions as theirs and the ``wrong_language`` filter
silently keeps everything. What does separate them:

- letters the language uses and English does not (Vietnamese ơ ư đ and its tone
  marks, German ä ö ü ß, Turkish ç ğ ı ş); English text almost never has them;
- function words: the short words every sentence needs (Indonesian *yang, dan,
  dari*; English *the, of, to*). Instructions, even short ones, carry a few.

:class:`LatinScriptLanguage` counts both kinds of evidence for the language and
English's function words against it; a text is in the language when it is
written in Latin letters and the language's evidence outweighs English's. A
word in both lists (German *in*) counts for neither side.
"""

from __future__ import annotations

import re
import unicodedata
from typing import ClassVar

from factory.languages import Language

#: Latin letters: Basic Latin, Latin-1 Supplement, Extended-A/B, IPA, Extended Additional (Vietnamese)
LATIN_LETTERS = r"[A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u02af\u1e00-\u1eff]"
#: English function words, lowercase: articles, pronouns, prepositions, conjunctions, auxiliaries and the
#: words instructions are phrased with. Chosen to be rare as words of other Latin-script languages.
ENGLISH_FUNCTION_WORDS = frozenset("""
the an of to in on at for from with without into onto about over under between through by as and or but
nor if then than so because while which what who whom whose when where why how this that these those it its
is are was were be been being am do does did done has have had having can could should would will shall
may might must not no yes you your yours we our they their them he she his her him me my i us any some all
each every both either neither following below above please other another more most such same very also
""".split())
_WORD = re.compile(r"[^\W\d_]+")


def _words(text: str) -> list[str]:
    """Lowercased runs of letters, after NFC (so a decomposed ơ is one letter, as typed)."""
    return _WORD.findall(unicodedata.normalize("NFC", text).lower())


def is_latin_script(text: str, min_share: float = 0.5) -> bool:
    """True when at least ``min_share`` of the letters of ``text`` are Latin."""
    letters = [ch for ch in text if ch.isalpha()]
    return bool(letters) and sum(1 for ch in letters if re.match(LATIN_LETTERS, ch)) / len(letters) >= min_share


class LatinScriptLanguage(Language):
    """A language written in Latin letters, told from English by its distinct letters and function words.

    Subclass it and fill in ``distinct_letters`` (lowercase letters the language
    uses and English does not; empty when it has none, as Indonesian) and
    ``function_words`` (its frequent short words, lowercase). At least one of
    the two must be given, or nothing is ever accepted.
    """

    script_pattern: ClassVar[str] = LATIN_LETTERS
    distinct_letters: ClassVar[str] = ""
    function_words: ClassVar[frozenset[str]] = frozenset()

    def evidence(self, text: str) -> tuple[int, int]:
        """(words that speak for this language, words that speak for English) in ``text``."""
        distinct = set(unicodedata.normalize("NFC", self.distinct_letters.lower()))
        own = english = 0
        for word in _words(text):
            ours = word in self.function_words or any(ch in distinct for ch in word)
            theirs = word in ENGLISH_FUNCTION_WORDS
            if ours and not theirs:
                own += 1
            elif theirs and not ours:
                english += 1
        return own, english

    def is_in_language(self, text: str) -> bool:
        """Written in Latin letters, with more evidence for this language than for English."""
        if not is_latin_script(text, self.script_min_share):
            return False
        own, english = self.evidence(text)
        return own > english
