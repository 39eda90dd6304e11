"""The script check and starting texts of ``factory new-plugin language`` (``--script``).

Why: a scaffold whose script check treats text like English passes its own
tests while accepting English as the new language, so the ``wrong_language``
filter does nothing. The scaffold is therefore written for the language's
script: a Latin-script language gets :class:`factory.latin.LatinScriptLanguage`
with distinct letters and function words (the language's own when
``language/samples.json`` knows it, Indonesian placeholders otherwise); any
other script gets that script's letter class. Both reject English from the
start, and the sample texts are in that language or script.
"""

from __future__ import annotations

import json
import textwrap
from functools import lru_cache
from pathlib import Path
from typing import Any

TEMPLATES = Path(__file__).resolve().parent / "templates"
LATIN = "latin"
_LATIN_IMPORTS = ("from factory.languages import ALPACA_TEMPLATE, PromptTemplate, PromptWording\n"
                  "from factory.latin import LatinScriptLanguage\n"
                  "from factory.paths import packaged_seeds")
_SCRIPT_IMPORTS = ("from factory.languages import ALPACA_TEMPLATE, Language, PromptTemplate, PromptWording\n"
                   "from factory.paths import packaged_seeds")


@lru_cache(maxsize=1)
def _samples() -> dict[str, Any]:
    return json.loads((TEMPLATES / "language" / "samples.json").read_text(encoding="utf-8"))


def scripts() -> list[str]:
    """The ``--script`` choices: ``latin`` and every script samples.json has texts for."""
    return [LATIN, *_samples()["scripts"]]


def _literal(text: str) -> str:
    """A Python string literal of ``text`` (JSON's escapes are Python's)."""
    return json.dumps(text, ensure_ascii=False)


def _latin(code: str, language_name: str) -> tuple[dict[str, Any], dict[str, str]]:
    samples = _samples()
    primary = code.replace("_", "-").split("-")[0].lower()
    known = primary in samples["latin"]
    entry = samples["latin"][primary if known else samples["latin_placeholder"]]
    placeholder = "" if known else f" (these are {entry['name']}'s, placeholders: write {language_name}'s)"
    return entry, {
        "base_class": "LatinScriptLanguage",
        "factory_imports": _LATIN_IMPORTS,
        "script_block": (TEMPLATES / "language" / "script_latin.py.tmpl").read_text(encoding="utf-8"),
        "distinct_letters": entry["distinct_letters"],
        "function_words": textwrap.fill(entry["function_words"], width=96, initial_indent=" " * 8,
                                        subsequent_indent=" " * 8),
        "evidence_note": placeholder,
        "script_note": "letters and function words that English lacks decide",
        "script_readme": ("`distinct_letters` and `function_words` (see `factory.latin`) are weighed against "
                          f"English's function words{placeholder}."),
        "samples_note": f"the generated ones are {entry['name']}" + ("" if known else ", as placeholders"),
        "latin_check_note": "",
    }


def _other_script(script: str) -> tuple[dict[str, Any], dict[str, str]]:
    entry = _samples()["scripts"][script]
    return entry, {
        "base_class": "Language",
        "factory_imports": _SCRIPT_IMPORTS,
        "script_block": (TEMPLATES / "language" / "script_other.py.tmpl").read_text(encoding="utf-8"),
        "script_pattern": entry["pattern"],
        "script_pattern_note": f"{entry['example']} is written in it",
        "script_note": f"a share of {script} letters decides",
        "script_readme": (f"`script_pattern` holds the {script} letters; override `is_in_language` to tell "
                          "languages of that script apart."),
        "samples_note": f"the generated ones are {entry['example']}, as placeholders written in the {script} script",
        "latin_check_note": " and Latin-script text",
    }


def language_values(code: str, script: str, language_name: str) -> dict[str, str]:
    """Template values of a language scaffold for ``script``; ``script_block`` is itself a template."""
    entry, values = _latin(code, language_name) if script == LATIN else _other_script(script)
    values["script"] = script
    for key in ("sample", "paraphrase", "different", "mixed"):
        values[f"{key}_literal"] = _literal(entry[key])
    return values
