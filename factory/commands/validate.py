from __future__ import annotations

import json

import click

from factory.errors import RecipeError


@click.command("validate")
@click.argument("recipes", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a field, e.g. --set method.target=50.")
def validate_command(recipes: tuple[str, ...], overrides: tuple[str, ...]) -> None:
    """Check recipes: schema, types, unknown keys and that every named plugin is installed."""
    from factory.recipe import load_recipe

    problems: list[str] = []
    for path in recipes:
        try:
            load_recipe(path, list(overrides))
            click.echo(f"{path}: ok")
        except RecipeError as exc:
            problems.extend(exc.problems)
    if problems:
        raise RecipeError(problems)


@click.command("schema")
def schema_command() -> None:
    """Print the JSON schema of recipes."""
    from factory.recipe import recipe_json_schema

    click.echo(json.dumps(recipe_json_schema(), indent=2))
