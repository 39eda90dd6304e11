"""The ``factory`` console script: check the ``factory`` package, then hand over to its CLI."""

from __future__ import annotations

import sys

from koalpaca_factory.guard import problem

#: exit status when the installation itself is broken (bad user input is 2, like the CLI's)
EXIT_BROKEN_INSTALL = 2


def main() -> None:
    found = problem()
    if found:
        print(f"error: {found}", file=sys.stderr)
        sys.exit(EXIT_BROKEN_INSTALL)
    from factory.cli import main as cli_main

    cli_main()
