"""Errors that reach the user as one line and a non-zero exit, never a traceback."""

from __future__ import annotations


class FactoryError(Exception):
    """Base class of every error the CLI turns into a clean message."""

    exit_code = 1


class UserError(FactoryError):
    """A mistake in the user's input (recipe, file, option): exit status 2."""

    exit_code = 2


class RecipeError(UserError):
    """A recipe failed validation; carries one message line per problem."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


class PluginError(UserError):
    """A plugin is missing, conflicting or misconfigured."""


class StopRun(FactoryError):
    """The run must stop now (budget, quota, fatal remote error); work so far is saved."""

    exit_code = 3
