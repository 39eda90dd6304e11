"""Fonts for figure labels in any script: DejaVu Sans first, then fonts that cover what it lacks.

matplotlib ships only DejaVu, which has no Hangul, kana or CJK ideographs, so
a Korean sunburst would draw empty boxes. A language plugin names the PyPI
packages that ship fonts for its script (``Language.report_fonts``; the ko and
ja plugins name ``koreanize-matplotlib``, which ships NanumGothic); their font
files are registered with matplotlib's font manager directly, without importing
the package (which could change global settings). Fonts installed on the
system (``fonts-noto-cjk``...) are used too. matplotlib falls back glyph by
glyph along ``font.family``, so mixed Korean/English labels render with each
script's font.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import Iterable

BASE_FAMILY = "DejaVu Sans"
#: (importable package, folder inside it, font files) of PyPI packages that ship fonts: the run's language
#: plugin adds its own (see :func:`use_font_packages`).
FONT_PACKAGES: list[tuple[str, str, tuple[str, ...]]] = []
#: Name fragments of system fonts worth checking for coverage (checking every font would be slow).
SYSTEM_HINTS = ("CJK", "Nanum", "Gothic", "Mincho", "Noto Sans", "Malgun", "IPA", "Takao", "Unifont",
                "Droid Sans Fallback", "WenQuanYi", "Baekmuk", "UnDotum")
INSTALL_HINT = "install the language plugin's report fonts (its [full] extra) or apt-get install fonts-noto-cjk"


def use_font_packages(packages) -> None:
    """Make the fonts a language plugin names (``Language.report_fonts``) available to figures."""
    added = [tuple(p) for p in packages if tuple(p) not in FONT_PACKAGES]
    if added:
        FONT_PACKAGES.extend(added)
        _candidates.cache_clear()


def _packaged_fonts() -> list[Path]:
    found = []
    for package, folder, files in FONT_PACKAGES:
        spec = importlib.util.find_spec(package)  # locates the package without running it
        for location in (spec.submodule_search_locations or []) if spec else []:
            found += [path for name in files if (path := Path(location) / folder / name).is_file()]
    return found


@lru_cache(maxsize=None)
def _charmap(path: str) -> frozenset[int]:
    from matplotlib.ft2font import FT2Font

    try:
        return frozenset(FT2Font(path).get_charmap())
    except (OSError, RuntimeError, ValueError):
        return frozenset()


@lru_cache(maxsize=1)
def _candidates() -> tuple[tuple[str, str], ...]:
    """(family name, file) of fonts that may cover non-Latin scripts, packaged fonts first."""
    from matplotlib import font_manager

    candidates: list[tuple[str, str]] = []
    for path in _packaged_fonts():
        font_manager.fontManager.addfont(str(path))
        candidates.append((font_manager.FontProperties(fname=str(path)).get_name(), str(path)))
    known = set()
    for entry in font_manager.fontManager.ttflist:
        known.add(entry.fname)
        if any(hint.lower() in entry.name.lower() for hint in SYSTEM_HINTS):
            candidates.append((entry.name, entry.fname))
    # Fonts installed after matplotlib cached its font list (apt-get install fonts-noto-cjk) are not in it.
    hints = [hint.lower().replace(" ", "") for hint in SYSTEM_HINTS]
    for path in sorted(font_manager.findSystemFonts()):
        name = Path(path).name.lower()
        if path not in known and any(hint in name for hint in hints):
            try:
                font_manager.fontManager.addfont(path)
                candidates.append((font_manager.FontProperties(fname=path).get_name(), path))
            except (OSError, RuntimeError, ValueError):
                continue
    return tuple(candidates)


def _base_charmap() -> frozenset[int]:
    from matplotlib import font_manager

    return _charmap(font_manager.findfont(BASE_FAMILY, fallback_to_default=True))


def font_family(texts: Iterable[str]) -> tuple[list[str], str]:
    """``font.family`` for figures showing ``texts``, and the characters no font has (empty when none).

    Fonts are added greedily, each covering the most characters still missing.
    """
    needed = {ord(ch) for text in texts for ch in text if not ch.isspace() and ord(ch) > 0x7F}
    missing = needed - _base_charmap()
    families = [BASE_FAMILY]
    while missing:
        best: tuple[str, str] | None = None
        best_cover = 0
        for name, path in _candidates():
            cover = 0 if name in families else len(missing & _charmap(path))
            if cover > best_cover:
                best, best_cover = (name, path), cover
        if best is None:
            break
        families.append(best[0])
        missing -= _charmap(best[1])
    return families, "".join(sorted(chr(code) for code in missing))
