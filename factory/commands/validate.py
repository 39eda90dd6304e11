from __future__ import annotations

import json

import click

from factory.errors import RecipeError


@click.command("validate")
@click.argument("recipes", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a field, e.g. --set method.target=50.")
def validate_command(recipes: tuple[str, ...], overrides: tuple[str, ...]) -> None:
    """Check recipes: schema, types, unknown keys, installed plugins, and the packages and keys a run needs."""
    from factory.plan import plan_problems
    from factory.recipe import load_recipe

    problems: list[str] = []
    for path in recipes:
        try:
            loaded = load_recipe(path, list(overrides))
        except RecipeError as exc:
            problems.extend(exc.problems)
            continue
        missing = plan_problems(loaded, env=False)
        if missing:
            problems.extend(f"{path}: {line}" for line in missing)
            continue
        click.echo(f"{path}: ok")
        # a key is only needed to run (a recipe can be checked, estimated and published without it)
        for line in plan_problems(loaded, modules=False):
            click.echo(f"{path}: note: {line} (factory run stops here before sending anything)", err=True)
    if problems:
        raise RecipeError(problems)


@click.command("schema")
def schema_command() -> None:
    """Print the JSON schema of recipes."""
    from factory.recipe import recipe_json_schema

    click.echo(json.dumps(recipe_json_schema(), indent=2))
