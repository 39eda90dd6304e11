"""The verb/object tree behind the diversity sunburst: top root verbs and their top direct objects.

Extraction belongs to the language plugin (``Language.verb_objects``), since
finding a root verb is different in every language; this module only counts.
A plugin without it gives no tree (the executor's analyses return None for it,
:func:`factory.executors.run_methods`), and the report says so instead of failing.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Sequence


Pair = tuple[str | None, str | None]


@dataclass(frozen=True)
class VerbBranch:
    verb: str
    count: int  # instructions with this root verb
    objects: list[tuple[str, int]]  # its most frequent direct objects, most frequent first


@dataclass(frozen=True)
class VerbTree:
    instructions: int
    with_verb: int
    distinct_verbs: int
    branches: list[VerbBranch]


def verb_tree(pairs: Sequence[Pair], top_verbs: int = 20, top_objects: int = 4) -> VerbTree:
    """Count root verbs and, under each of the ``top_verbs`` most frequent, its ``top_objects`` objects."""
    verbs = Counter(verb for verb, _ in pairs if verb)
    objects: dict[str, Counter] = {}
    for verb, obj in pairs:
        if verb and obj:
            objects.setdefault(verb, Counter())[obj] += 1
    # Ties break alphabetically so the figure is the same on every run.
    ranked = sorted(verbs.items(), key=lambda item: (-item[1], item[0]))[:top_verbs]
    branches = [
        VerbBranch(verb, count, sorted((objects.get(verb) or Counter()).items(),
                                       key=lambda item: (-item[1], item[0]))[:top_objects])
        for verb, count in ranked
    ]
    return VerbTree(instructions=len(pairs), with_verb=sum(verbs.values()), distinct_verbs=len(verbs),
                    branches=branches)
