from __future__ import annotations

import json

import click


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of {name, kind, distribution, version}.")
@click.option("--kind", type=click.Choice(["teacher", "translator", "language", "trainer", "publisher", "method"]), help="Only this kind.")
def plugins_command(as_json: bool, kind: str | None) -> None:
    """List every registered plugin, built-ins included."""
    from factory.plugins import get_registry

    entries = get_registry().entries(kind)
    if as_json:
        click.echo(json.dumps([e.as_json() for e in entries], indent=2))
        return
    rows = [("NAME", "KIND", "DISTRIBUTION", "VERSION")] + [(e.name, e.kind, e.distribution, e.version) for e in entries]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        click.echo("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
