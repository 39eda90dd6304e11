"""Filters are plugins: a recipe lists them in order, a third party adds one with a hookimpl, the
Alpaca-era mapping stands for the built-in list, and a bad filter option is one located line."""

from __future__ import annotations

import json
import textwrap

from factory.filtering import FilterChain, legacy_filters
from factory.plugins import get_registry
from factory.records import Record
from factory.recipe import FiltersSection
from factory.testing.helpers import read_journal_rows, run_cli

SHOUT_FILTER = '''
from typing import ClassVar

from factory import hookimpl
from factory.default_plugins.filters import TargetOptions
from factory.filtering import Filter


class NoShouting(Filter):
    options_model: ClassVar = TargetOptions
    reasons: ClassVar = {"shouting": "the text is written in capitals"}

    def judge(self, records):
        return [("shouting", "all caps") if any(t.isupper() for t in r.texts(self.target)) else None
                for r in records]


@hookimpl
def register_filters(register):
    register("no_shouting", NoShouting)
'''


def test_every_built_in_filter_is_registered_with_its_reasons():
    registry = get_registry()
    names = registry.names("filter")
    assert {"length", "blacklist", "program_task", "punctuation_start", "script", "empty_output",
            "output_equals_input", "near_duplicate"} <= set(names)
    assert registry.get("filter", "near_duplicate").obj.reasons == {
        "near_duplicate": "ROUGE-L F against the pool is above the threshold"}


def test_the_alpaca_mapping_stands_for_the_builtin_list_in_alpacas_order():
    section = FiltersSection.model_validate({"similarity": {"threshold": 0.5, "field": "output"}, "blacklist": False})
    assert [name for name, _ in legacy_filters(section)] == [
        "length", "program_task", "punctuation_start", "script", "empty_output", "output_equals_input",
        "translation_qa", "copied_demonstration", "near_duplicate"]
    assert legacy_filters(section)[-1] == ("near_duplicate", {"threshold": 0.5, "target": "output", "against_seeds": True})


def test_filters_judge_the_text_their_target_names():
    from factory.default_plugins.english import English

    conversation = Record([{"role": "user", "content": "Tell me about rivers in Korea please."},
                           {"role": "assistant", "content": "The Han flows through Seoul."},
                           {"role": "user", "content": "Draw a picture of it."},
                           {"role": "assistant", "content": "I cannot draw."}], id="c1")
    first_turn = FilterChain.of([("blacklist", {})], English())
    every_turn = FilterChain.of([("blacklist", {"target": "user_turns"})], English())
    assert first_turn.apply_sync([conversation])[1] == []
    rejected = every_turn.apply_sync([conversation])[1]
    assert [(r.id, reason, detail) for r, reason, detail in rejected] == [("c1", "blacklisted", "picture")]


def test_a_third_party_filter_runs_in_the_recipes_order(tmp_path):
    (tmp_path / "shout_filter.py").write_text(SHOUT_FILTER)
    source = tmp_path / "rows.jsonl"
    rows = [{"instruction": "NAME THREE RIVERS OF KOREA", "output": "Han, Nakdong, Geum."},
            {"instruction": "Name three rivers of Korea.", "output": "Han, Nakdong, Geum."},
            {"instruction": "Name three rivers of Korea!", "output": "Han, Nakdong and Geum."},
            {"instruction": "Describe the picture of the river.", "output": "A river."}]
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    recipe = tmp_path / "f.yaml"
    recipe.write_text(textwrap.dedent(f"""\
        name: filters
        language: en
        source: {{path: {source}}}
        filters:
          - no_shouting
          - blacklist
          - near_duplicate: {{threshold: 0.7}}
        export: {{enabled: false}}
        """))
    env = {"FACTORY_PLUGIN_MODULES": "shout_filter", "PYTHONPATH": str(tmp_path)}
    result = run_cli("run", str(recipe), "--out", str(tmp_path / "run"), "-q", env=env)
    assert result.returncode == 0, result.stderr
    assert [r["instruction"] for r in read_journal_rows(tmp_path / "run" / "accepted.jsonl")] == [
        "Name three rivers of Korea."]
    reasons = [r["reason"] for r in read_journal_rows(tmp_path / "run" / "rejected.jsonl")]
    assert reasons == ["shouting", "near_duplicate", "blacklisted"]  # in the batch's order, named by the first filter
    stats = json.loads((tmp_path / "run" / "stats.json").read_text())
    assert [f["plugin"] for f in stats["provenance"]["filters"]] == ["no_shouting", "blacklist", "near_duplicate"]

    recipe.write_text(recipe.read_text().replace("threshold: 0.7", "threshold: 7").replace("- blacklist", "- blacklistt"))
    bad = run_cli("validate", str(recipe), env=env)
    lines = bad.stderr.strip().splitlines()
    assert bad.returncode == 2 and len(lines) == 2, lines
    assert lines[0].startswith(f"{recipe}:6:5: filters.1: no filter plugin named 'blacklistt' is installed")
    assert lines[1].startswith(f"{recipe}:7:33: filters.2.near_duplicate.threshold: ")
