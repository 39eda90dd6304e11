"""Translation QA helpers: the no-input marker before translation, and what a translated record reports.

Why: a source row whose input is ``<noinput>`` (or ``No input``) is a row without input. Sent to an
engine, the marker is billed, may come back translated (``<입력 없음>``) and then reads as a real
input; so inputs that are only a no-input marker of the source language become empty before
anything is sent. After translation, a field the engine returned unchanged although it had prose is
recorded in ``meta.translation.unchanged`` for the ``translation_qa`` filter
(:mod:`factory.default_plugins.translation_qa`), which rejects such records and those whose output is
in the wrong language.
"""

from __future__ import annotations

from functools import lru_cache

#: spellings every language understands (the self-instruct prompt's own marker among them)
COMMON_NOINPUT = frozenset({"<noinput>", "<no input>", "<none>", "noinput"})


@lru_cache(maxsize=16)
def noinput_markers(language: str) -> frozenset[str]:
    """The lowercased no-input markers of ``language`` (its plugin's marker and aliases) and the common ones."""
    markers = set(COMMON_NOINPUT)
    try:
        from factory.plugins import get_registry

        registry = get_registry()
        code = language.lower().split("-")[0]
        if registry.has("language", code):
            wording = getattr(registry.get("language", code).obj, "prompt", None)
            if wording is not None:
                markers |= {wording.noinput.lower(), *(alias.lower() for alias in wording.noinput_aliases)}
    except Exception:  # noqa: BLE001 - a broken plugin must not stop a translation
        pass
    return frozenset(markers)


def is_noinput(text: str, language: str = "en") -> bool:
    return text.strip().lower() in noinput_markers(language)


def normalise_input(text: str, language: str = "en") -> str:
    """``""`` for an input that only says there is no input, else the input as it is."""
    return "" if is_noinput(text, language) else text
