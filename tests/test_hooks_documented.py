"""Every hook has a section in docs/plugins.md and at least one test that exercises it."""

from __future__ import annotations

import re
from pathlib import Path

from factory import hookspecs

REPO = Path(__file__).resolve().parents[1]


def _hooks() -> list[str]:
    return list(hookspecs.KIND_HOOKS.values())


def test_every_kind_has_a_hookspec():
    for hook in _hooks():
        assert callable(getattr(hookspecs, hook)), hook
        assert getattr(hookspecs, hook).__doc__, f"{hook} has no docstring"


def test_every_hook_is_documented():
    docs = (REPO / "docs" / "plugins.md").read_text(encoding="utf-8")
    sections = set(re.findall(r"^### (\w+)$", docs, flags=re.MULTILINE))
    missing = [hook for hook in _hooks() if hook not in sections]
    assert missing == [], f"hooks without a section in docs/plugins.md: {missing}"
    for hook in _hooks():
        body = docs.split(f"### {hook}\n", 1)[1].split("\n### ", 1)[0]
        assert len(body.split()) >= 30, f"docs for {hook} are too thin"


def test_every_hook_has_a_test():
    """A hook counts as tested when some test names it, or looks a plugin of its kind up in the
    registry by a ``("<kind>", "<name>")`` pair, which only works through the hook."""
    test_files = list(REPO.glob("tests/test_*.py")) + list(REPO.glob("plugins/*/tests/test_*.py"))
    texts = [p.read_text(encoding="utf-8") for p in test_files if p.name != Path(__file__).name]
    untested = []
    for kind, hook in hookspecs.KIND_HOOKS.items():
        lookup = re.compile(rf"""["']{kind}["']\s*,\s*["'][\w-]+["']""")
        if not any(hook in text or lookup.search(text) for text in texts):
            untested.append(hook)
    assert untested == [], f"hooks without a test: {untested}"
