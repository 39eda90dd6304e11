"""Files a recipe names are found beside the recipe, then in the current directory, then in packaged data.

The shipped recipes name ``seeds/<code>/seed_tasks.jsonl`` relative to the
repository, so before this rule they ran only from the repository root;
``validate`` said ok where ``run`` then failed. These tests run them from
elsewhere, and check that both commands find (or miss) the same files.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from factory.errors import UserError
from factory.paths import find_input, resolve_input
from factory.plugins import get_registry
from factory.testing.helpers import write_seeds
from factory.testing.responders import self_instruct_responder
from factory_openai.loopback import LoopbackOpenAI

REPO = Path(__file__).resolve().parents[1]

RECIPE = """\
name: paths-demo
language: en
batch_size: 2
method:
  seeds: {seeds}
  target: 4
teacher:
  plugin: openai
  model: loopback-model
  api: completions
  base_url: {url}
"""


def test_shipped_recipes_validate_and_estimate_from_any_directory(tmp_path, cli):
    recipes = sorted(str(p) for p in (REPO / "recipes").glob("*.yaml"))
    validated = cli("validate", *recipes, cwd=tmp_path)
    assert validated.returncode == 0, validated.stderr
    estimate = cli("run", str(REPO / "recipes" / "alpaca-en.yaml"), "--estimate", cwd=tmp_path)
    assert estimate.returncode == 0, estimate.stderr
    assert "requests" in estimate.stdout and not (tmp_path / "runs").exists()


def test_beside_the_recipe_comes_before_the_current_directory_then_packaged_data(tmp_path, monkeypatch):
    recipe_dir, cwd = tmp_path / "recipes", tmp_path / "cwd"
    recipe_dir.mkdir()
    (cwd / "seeds" / "en").mkdir(parents=True)
    recipe = recipe_dir / "r.yaml"
    monkeypatch.chdir(cwd)
    beside = write_seeds(recipe_dir / "seeds.jsonl")
    here = write_seeds(cwd / "seeds.jsonl")
    assert resolve_input("seeds.jsonl", recipe, "en", "method.seeds").path.resolve() == beside
    beside.unlink()
    assert resolve_input("seeds.jsonl", recipe, "en", "method.seeds").path.resolve() == here

    # seeds/<code>/<file>: a copy in the current directory wins, else the package's own
    local = write_seeds(cwd / "seeds" / "en" / "seed_tasks.jsonl")
    assert resolve_input("seeds/en/seed_tasks.jsonl", recipe, "en", "method.seeds").path.resolve() == local
    local.unlink()
    found = resolve_input("seeds/en/seed_tasks.jsonl", recipe, "en", "method.seeds")
    assert found.path == get_registry().get("language", "en").obj.default_seeds and found.label == "en:seed_tasks.jsonl"


def test_packaged_seed_sets_by_name():
    registry = get_registry()
    found, _ = find_input("default", [], "ko")
    assert found.path == registry.get("language", "ko").obj.default_seeds and found.label == "ko:default"
    found, _ = find_input("ja:default", [], "en")
    assert found.path == registry.get("language", "ja").obj.default_seeds and found.label == "ja:default"
    assert find_input("xx:default", [], "en") == (None, [
        "packaged seed sets of language 'xx' (no such language plugin is installed)"])
    assert find_input("en:nope.jsonl", [], "en")[0] is None


def test_a_miss_names_every_place_tried(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "recipes").mkdir()
    with pytest.raises(UserError) as info:
        resolve_input("seeds/ko/other.jsonl", tmp_path / "recipes" / "r.yaml", "ko", "r.yaml: method.seeds")
    message = str(info.value)
    assert message.startswith("r.yaml: method.seeds: 'seeds/ko/other.jsonl' not found (tried: ")
    assert f"{tmp_path}/recipes/seeds/ko/other.jsonl; {tmp_path}/seeds/ko/other.jsonl; " in message
    assert "packaged seed sets of language 'ko' (other.jsonl is not one of them)" in message


@pytest.mark.parametrize("section", ["method", "source"])
def test_validate_and_run_both_refuse_a_missing_input_file_on_one_located_line(tmp_path, cli, section):
    recipe = tmp_path / "r.yaml"
    text = RECIPE.format(seeds="nowhere.jsonl", url="http://127.0.0.1:9/v1")
    if section == "source":
        text = text.replace("method:\n  seeds: nowhere.jsonl\n  target: 4\n", "source:\n  path: nowhere.jsonl\n")
    recipe.write_text(text)
    field = "method.seeds" if section == "method" else "source.path"
    for command in (["validate", str(recipe)], ["run", str(recipe), "--out", str(tmp_path / "run")]):
        result = cli(*command, cwd=REPO)
        assert result.returncode == 2, result.stdout + result.stderr
        line, = result.stderr.strip().splitlines()
        assert line.startswith(f"{recipe}:5:") and f"{field}: 'nowhere.jsonl' not found (tried: {tmp_path}/nowhere.jsonl; {REPO}/nowhere.jsonl)" in line
    assert not (tmp_path / "run").exists()


def test_a_run_on_the_default_seed_set_records_it_by_name(tmp_path, cli):
    recipe = tmp_path / "r.yaml"
    with LoopbackOpenAI(self_instruct_responder) as server:
        recipe.write_text(RECIPE.format(seeds="default", url=server.base_url) + "export:\n  enabled: false\n")
        result = cli("run", str(recipe), "--out", str(tmp_path / "run"), "--quiet", cwd=tmp_path, env={"OPENAI_API_KEY": ""})
    assert result.returncode == 0, result.stderr
    seed_set = json.loads((tmp_path / "run" / "stats.json").read_text())["provenance"]["seed_set"]
    english = get_registry().get("language", "en").obj.default_seeds
    assert seed_set["path"] == "en:default" and seed_set["count"] == sum(1 for line in english.open() if line.strip())
    assert str(tmp_path) not in json.dumps(seed_set)  # no local folder in provenance (and so in a dataset card)
    from factory.report.rundata import load_run

    assert load_run(tmp_path / "run").seeds_path == english  # the report finds the set by that name
