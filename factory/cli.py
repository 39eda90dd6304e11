"""The ``factory`` command line. Subcommands are imported lazily so ``factory --help`` stays fast."""

from __future__ import annotations

import importlib
import importlib.util
import sys

import click

from factory import __version__
from factory.errors import FactoryError, RecipeError

#: command name -> (module, attribute, one-line help)
COMMANDS = {
    "run": ("factory.commands.run", "run_command", "Run a recipe into a run folder (resumes when rerun)."),
    "validate": ("factory.commands.validate", "validate_command", "Check recipes without running them."),
    "schema": ("factory.commands.validate", "schema_command", "Print the recipe JSON schema (for editor completion)."),
    "plugins": ("factory.commands.plugins", "plugins_command", "List installed plugins."),
    "dedup": ("factory.commands.dedup", "dedup_command", "Drop ROUGE-L near-duplicates from a JSONL file."),
    "decontaminate": ("factory.commands.decontaminate", "decontaminate_command",
                      "Drop records that overlap benchmark prompts (n-grams)."),
    "push": ("factory.commands.push", "push_command", "Publish a run folder's dataset (e.g. to the Hugging Face Hub)."),
    "train": ("factory.commands.train", "train_command", "Finetune a backbone as a recipe's train section says."),
    "report": ("factory.commands.report", "report_command", "Write an HTML report of a run folder."),
    "new-plugin": ("factory.commands.new_plugin", "new_plugin_command", "Scaffold a new plugin distribution."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name, (module, _, _) in COMMANDS.items() if importlib.util.find_spec(module) is not None]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module_name, attribute, _ = COMMANDS[name]
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                return None
            raise
        return getattr(module, attribute)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="factory")
@click.option("--verbose", "-v", is_flag=True, help="Show details: retries, and the traceback behind an error.")
def cli(verbose: bool) -> None:
    """factory: build multilingual instruction datasets (self-instruct, translation), filter
    near-duplicates, publish them and finetune on them. Every part is a plugin."""
    import logging
    import os

    if verbose:
        os.environ["FACTORY_DEBUG"] = "1"
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    else:  # retries and other details go to RUN/run.log, not between the lines that matter
        from factory.runlog import quiet_terminal

        quiet_terminal()


def _debug() -> bool:
    import os

    return os.environ.get("FACTORY_DEBUG", "").strip() not in ("", "0", "false")


#: set when SIGTERM arrived: it is handled as Ctrl-C is, but exits 143
_terminated = False


def _on_sigterm(signum: int, frame: object) -> None:
    """SIGTERM behaves like Ctrl-C: raised as SIGINT, so asyncio and every stage stop the way they do for
    a Ctrl-C (what is complete is committed) and the user gets the same one line."""
    import os
    import signal

    global _terminated
    _terminated = True
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM ends the process at once
    os.kill(os.getpid(), signal.SIGINT)


def _interrupted_line(argv: list[str]) -> str:
    import shlex

    how = "terminated (SIGTERM)" if _terminated else "interrupted"
    if argv and argv[0] == "run":
        resume = [arg for arg in argv if arg != "--restart"]  # resuming must not start over again
        return f"{how}: everything committed so far is saved; resume with: {shlex.join(['factory', *resume])}"
    return f"{how}: stopped before finishing"


def main(argv: list[str] | None = None) -> None:
    import signal

    args = list(sys.argv[1:] if argv is None else argv)
    try:
        signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread (an embedding program): leave its handling alone
        pass
    try:
        cli.main(args=argv, prog_name="factory", standalone_mode=False)
    except RecipeError as exc:
        for line in exc.problems:
            click.echo(line, err=True)
        sys.exit(exc.exit_code)
    except FactoryError as exc:
        if _debug():
            import traceback

            traceback.print_exception(exc)
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo(_interrupted_line(_without_global_options(args)), err=True)
        sys.exit(143 if _terminated else 130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2 if isinstance(exc, click.UsageError) else exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)


def _without_global_options(args: list[str]) -> list[str]:
    """``args`` from the subcommand on (``-v`` and the like come before it)."""
    for index, arg in enumerate(args):
        if not arg.startswith("-"):
            return args[index:]
    return []
