"""The plugin system: listing, distributions, conflicts, autoload switches and third-party plugins."""

from __future__ import annotations

import json
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

from factory.errors import PluginError
from factory.plugins import PluginEntry, Registry
from factory.testing.helpers import read_journal_rows

REPO = Path(__file__).resolve().parents[1]
HEAVY = ["torch", "transformers", "peft", "openai", "deepl", "kiwipiepy", "datasets", "huggingface_hub", "ray",
         "datasketch"]


def _builtin_distributions() -> dict[str, str]:
    """distribution name -> plugins/<dir> for every built-in plugin distribution."""
    found = {}
    for pyproject in sorted(REPO.glob("plugins/*/pyproject.toml")):
        data = tomllib.loads(pyproject.read_text())
        found[data["project"]["name"]] = pyproject.parent.name
    return found


def test_plugins_json_lists_every_builtin_with_its_distribution(cli):
    result = cli("plugins", "--json")
    assert result.returncode == 0, result.stderr
    entries = json.loads(result.stdout)
    assert all(set(e) == {"name", "kind", "distribution", "version"} for e in entries)
    by_key = {(e["kind"], e["name"]): e for e in entries}
    assert by_key[("language", "en")]["distribution"] == "koalpaca-factory"
    assert by_key[("method", "self-instruct")]["distribution"] == "koalpaca-factory"
    listed = {e["distribution"] for e in entries}
    missing = set(_builtin_distributions()) - listed
    assert not missing, f"built-in plugin distributions not registered: {missing}"


def test_plugins_table(cli):
    result = cli("plugins")
    assert result.returncode == 0
    header, *rows = result.stdout.strip().splitlines()
    assert header.split() == ["NAME", "KIND", "DISTRIBUTION", "VERSION"]
    assert any(row.split()[:3] == ["en", "language", "koalpaca-factory"] for row in rows)


def test_same_name_twice_is_an_error_naming_both_distributions():
    registry = Registry()
    registry.add(PluginEntry("ko", "language", "koalpaca-factory-ko", "1.0", object))
    with pytest.raises(PluginError) as info:
        registry.add(PluginEntry("ko", "language", "acme-korean", "0.3", object))
    message = str(info.value)
    assert "koalpaca-factory-ko" in message and "acme-korean" in message and "'ko'" in message


def test_disable_autoload_keeps_only_core_plugins(cli):
    result = cli("plugins", "--json", env={"FACTORY_DISABLE_PLUGIN_AUTOLOAD": "1"})
    entries = json.loads(result.stdout)
    assert entries and {e["distribution"] for e in entries} == {"koalpaca-factory"}


def test_importing_factory_and_help_load_no_heavy_module():
    import subprocess

    code = textwrap.dedent(f"""
        import sys
        import factory, factory.cli
        try:
            factory.cli.main(["--help"])
        except SystemExit:
            pass
        print("HEAVY:" + ",".join(m for m in {HEAVY!r} if m in sys.modules))
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Commands:" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == "HEAVY:"


THIRD_PARTY_MODULE = '''
from typing import ClassVar
from factory.hookspecs import hookimpl
from factory.languages import Language, PromptWording


class Shouting(Language):
    """A toy language whose texts are written in capitals."""

    code: ClassVar[str] = "xx"
    name: ClassVar[str] = "Shouting"
    script_pattern: ClassVar[str] = r"[A-Z]"
    min_instruction_words: ClassVar[int] = 2
    prompt: ClassVar[PromptWording] = PromptWording(header="WRITE TASKS.")

    def tokenize(self, text):
        return text.upper().split()


@hookimpl
def register_languages(register):
    register("xx", Shouting)
'''


@pytest.fixture
def third_party_site(tmp_path) -> Path:
    """A third-party distribution 'acme-shouting' with a `factory` entry point, put on the path."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "acme_shouting.py").write_text(THIRD_PARTY_MODULE)
    info = site / "acme_shouting-0.3.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-shouting\nVersion: 0.3.0\n")
    (info / "entry_points.txt").write_text("[factory]\nshouting = acme_shouting\n")
    return site


def test_third_party_plugin_is_discovered_listed_usable_and_blockable(tmp_path, cli, third_party_site):
    env = {"PYTHONPATH": str(third_party_site)}
    listed = json.loads(cli("plugins", "--json", env=env).stdout)
    assert {"name": "xx", "kind": "language", "distribution": "acme-shouting", "version": "0.3.0"} in listed

    source = tmp_path / "in.jsonl"
    rows = [{"instruction": "NAME THREE RIVERS", "output": "NILE, AMAZON, HAN"},
            {"instruction": "NAME THREE RIVERS PLEASE", "output": "NILE, AMAZON, HAN"},  # near-duplicate
            {"instruction": "quietly count to five", "output": "1 2 3 4 5"},  # not in the language
            {"instruction": "SPELL YOUR NAME", "output": "F-A-C-T-O-R-Y"}]
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    recipe = tmp_path / "xx.yaml"
    recipe.write_text(f"name: shout\nlanguage: xx\nsource:\n  path: {source}\nexport:\n  enabled: false\n")
    result = cli("run", str(recipe), "--out", str(tmp_path / "run"), "--quiet", env=env)
    assert result.returncode == 0, result.stderr
    kept = [r["instruction"] for r in read_journal_rows(tmp_path / "run" / "accepted.jsonl")]
    assert kept == ["NAME THREE RIVERS", "SPELL YOUR NAME"]
    reasons = [json.loads(line)["reason"] for line in (tmp_path / "run" / "rejected.jsonl").read_text().splitlines()]
    assert sorted(reasons) == ["near_duplicate", "wrong_language"]

    blocked = cli("validate", str(recipe), env={**env, "FACTORY_PLUGINS": "koalpaca-factory-openai"})
    assert blocked.returncode == 2
    assert "no language plugin named 'xx' is installed" in blocked.stderr
    allowed = cli("validate", str(recipe), env={**env, "FACTORY_PLUGINS": "acme-shouting"})
    assert allowed.returncode == 0, allowed.stderr


BUILTINS = [
    ("teacher", "openai", "koalpaca-factory-openai"),
    ("teacher", "transformers", "koalpaca-factory-transformers"),
    ("translator", "deepl", "koalpaca-factory-deepl"),
    ("translator", "llm", "koalpaca-factory"),
    ("language", "en", "koalpaca-factory"),
    ("language", "ko", "koalpaca-factory-ko"),
    ("trainer", "peft", "koalpaca-factory-peft"),
    ("publisher", "hub", "koalpaca-factory-hub"),
    ("method", "self-instruct", "koalpaca-factory"),
]


@pytest.mark.parametrize("kind,name,distribution", BUILTINS)
def test_builtin_registered_through_its_kind_hook(kind, name, distribution):
    from factory.plugins import get_registry

    entry = get_registry(refresh=True).get(kind, name)
    assert entry.distribution == distribution
    assert isinstance(entry.obj, type)
    if kind != "language":
        assert hasattr(entry.obj, "options_model"), f"{kind} {name} declares no options_model"


def test_two_distributions_with_the_same_entry_point_name_conflict_cleanly(tmp_path, cli, third_party_site):
    clone = tmp_path / "site2"
    clone.mkdir()
    (clone / "other_shouting.py").write_text(THIRD_PARTY_MODULE)
    info = clone / "other_shouting-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: other-shouting\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[factory]\nshouting = other_shouting\n")
    result = cli("plugins", env={"PYTHONPATH": f"{third_party_site}:{clone}"})
    assert result.returncode == 2
    assert "acme-shouting" in result.stderr and "other-shouting" in result.stderr and "'xx'" in result.stderr
    assert "Traceback" not in result.stderr
