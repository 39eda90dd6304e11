"""Recipes: bad ones give file:line:col lines and exit 2; overrides and the schema work."""

from __future__ import annotations

import json

from factory.recipe import load_recipe

GOOD = """\
name: demo
language: en
method:
  seeds: {seeds}
  target: 10
teacher:
  plugin: openai
  model: gpt-4o-mini
  api: completions
  base_url: http://127.0.0.1:9/v1
"""


def test_good_recipe_validates(tmp_path, cli, en_seeds):
    recipe = tmp_path / "good.yaml"
    recipe.write_text(GOOD.format(seeds=en_seeds))
    result = cli("validate", str(recipe))
    assert result.returncode == 0, result.stderr
    assert f"{recipe}: ok" in result.stdout


def test_typo_wrong_type_and_unknown_plugin_each_get_a_located_line(tmp_path, cli, en_seeds):
    recipe = tmp_path / "bad.yaml"
    recipe.write_text(
        "name: demo\n"
        "language: en\n"
        "method:\n"
        f"  seeds: {en_seeds}\n"
        "  targett: 10\n"          # typo'd key, line 5 col 3
        "filters:\n"
        "  similarity:\n"
        "    threshold: high\n"    # wrong type, line 8 col 5
        "teacher:\n"
        "  plugin: gpt-magic\n"    # unknown plugin, value at line 10 col 11
        "  model: x\n"
    )
    result = cli("validate", str(recipe))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert f"{recipe}:5:3: method.targett: unknown key" in lines
    assert any(line.startswith(f"{recipe}:8:16: filters.similarity.threshold:") for line in lines), lines
    plugin_line = [line for line in lines if "teacher.plugin" in line]
    assert plugin_line and plugin_line[0].startswith(
        f"{recipe}:10:11: teacher.plugin: no teacher plugin named 'gpt-magic' is installed (installed: ")
    assert "openai" in plugin_line[0]
    assert len(lines) == 3 and "Traceback" not in result.stderr


def test_yaml_syntax_error_is_located(tmp_path, cli):
    recipe = tmp_path / "broken.yaml"
    recipe.write_text("name: demo\nmethod:\n  target: [1, 2\nteacher: {}\n")
    result = cli("validate", str(recipe))
    assert result.returncode == 2
    assert result.stderr.startswith(f"{recipe}:")
    assert "YAML syntax error" in result.stderr
    assert "Traceback" not in result.stderr


def test_plugin_option_errors_are_located(tmp_path, cli, en_seeds):
    recipe = tmp_path / "opt.yaml"
    recipe.write_text(GOOD.format(seeds=en_seeds) + "  temprature: 0.3\n  concurrency: many\n")
    result = cli("validate", str(recipe))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert f"{recipe}:11:3: teacher.temprature: unknown key" in lines
    assert any(line.startswith(f"{recipe}:12:16: teacher.concurrency:") for line in lines), lines


def test_missing_file_and_unknown_language(tmp_path, cli, en_seeds):
    result = cli("validate", str(tmp_path / "nope.yaml"))
    assert result.returncode == 2 and "file not found" in result.stderr
    recipe = tmp_path / "lang.yaml"
    recipe.write_text(GOOD.format(seeds=en_seeds).replace("language: en", "language: xx"))
    result = cli("validate", str(recipe))
    assert result.returncode == 2
    assert f"{recipe}:2:11: language: no language plugin named 'xx' is installed (installed: en" in result.stderr


def test_set_overrides_any_field_and_errors_name_the_override(tmp_path, en_seeds):
    recipe = tmp_path / "good.yaml"
    recipe.write_text(GOOD.format(seeds=en_seeds))
    loaded = load_recipe(recipe, ["method.target=25", "filters.similarity.threshold=0.5", "teacher.model=other"])
    assert loaded.recipe.method.target == 25
    assert loaded.recipe.filters.similarity.threshold == 0.5
    assert loaded.teacher.options.model == "other"
    from factory.errors import RecipeError
    import pytest

    with pytest.raises(RecipeError) as info:
        load_recipe(recipe, ["method.target=lots"])
    assert info.value.problems[0].startswith("--set method.target: method.target:")


def test_schema_command_prints_json_schema(cli):
    result = cli("schema")
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    assert schema["additionalProperties"] is False
    assert "method" in schema["properties"] and "description" in schema["properties"]["budget_usd"]


def test_every_core_field_is_documented():
    from factory import recipe as module
    from pydantic import BaseModel

    undocumented = []
    for name in dir(module):
        model = getattr(module, name)
        if isinstance(model, type) and issubclass(model, BaseModel) and model.__module__ == module.__name__:
            for field_name, field in model.model_fields.items():
                if not field.description:
                    undocumented.append(f"{name}.{field_name}")
    assert undocumented == []
