"""Language identification of short texts, with a confidence, through lingua.

Why lingua (``lingua-language-detector``): it is built for short text (an
instruction, one chat turn), ships its models inside the wheel (nothing is
downloaded at run time), is deterministic, and identifies Korean, Japanese,
Chinese and 70 other languages. Measured here: with the 16 candidate
languages below it loads in about 1.4 s and 230 MB and labels 1,000 short
texts in 0.04 s; with all 75 languages it takes 7 s and 930 MB, so the
candidates are a fixed common set plus the languages a recipe names.

The script-share check of the language plugins stays the cheap first pass;
this is the second opinion for texts that pass it (and the only one for
languages written in the same script, such as English and Vietnamese).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Sequence

from factory.contracts import Requirement
from factory.errors import UserError

#: languages every identifier can answer with (ISO 639-1), besides the ones a recipe asks for
DEFAULT_CANDIDATES = ("en", "ko", "ja", "zh", "es", "fr", "de", "ru", "vi", "id", "pt", "it", "ar", "hi", "th", "tr")
REQUIREMENT = Requirement(module="lingua", install="pip install 'koalpaca-factory[langid]'",
                          why="language identification (lingua)")


@dataclass(frozen=True)
class Detection:
    """The most likely language of a text (ISO 639-1, or None for no letters) and its probability."""

    language: str | None
    confidence: float

    def is_(self, code: str, min_confidence: float) -> bool:
        return self.language == code.lower().split("-")[0] and self.confidence >= min_confidence


class LanguageIdentifier:
    """One lingua detector over a fixed set of candidate languages (built once per set)."""

    def __init__(self, candidates: Iterable[str]):
        try:
            from lingua import IsoCode639_1, Language, LanguageDetectorBuilder
        except ImportError:
            raise UserError(REQUIREMENT.problem() or "lingua is not installed") from None
        codes = sorted({c.lower().split("-")[0] for c in candidates})
        languages = []
        for code in codes:
            iso = getattr(IsoCode639_1, code.upper(), None)
            if iso is None:
                raise UserError(f"language identification: lingua does not know the language code '{code}'")
            languages.append(Language.from_iso_code_639_1(iso))
        if len(languages) < 2:
            raise UserError("language identification needs at least two candidate languages")
        self.codes = tuple(codes)
        self._detector = LanguageDetectorBuilder.from_languages(*languages).build()
        self._lock = threading.Lock()

    def detect(self, text: str) -> Detection:
        return self.detect_many([text])[0]

    def detect_many(self, texts: Sequence[str]) -> list[Detection]:
        """One detection per text, in order (computed in lingua's own thread pool)."""
        if not texts:
            return []
        with self._lock:
            results = self._detector.compute_language_confidence_values_in_parallel(list(texts))
        detections = []
        for text, values in zip(texts, results):
            if not any(ch.isalpha() for ch in text) or not values:
                detections.append(Detection(None, 0.0))
                continue
            best = values[0]
            detections.append(Detection(best.language.iso_code_639_1.name.lower(), round(float(best.value), 4)))
        return detections


@lru_cache(maxsize=8)
def _identifier(codes: tuple[str, ...]) -> LanguageIdentifier:
    return LanguageIdentifier(codes)


def identifier(*languages: str) -> LanguageIdentifier:
    """The shared identifier for the default candidates plus ``languages``."""
    codes = tuple(sorted({*DEFAULT_CANDIDATES, *(c.lower().split("-")[0] for c in languages if c)}))
    return _identifier(codes)
