"""Stages: small units with one job each, run in order by the engine."""

from __future__ import annotations

from typing import Protocol

from factory.context import RunContext


class Stage(Protocol):
    name: str

    def describe(self, ctx: RunContext) -> str:
        """One line for the plan listing."""

    def run(self, ctx: RunContext) -> None: ...
