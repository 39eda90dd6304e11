"""Registers the built-in ``local`` executor (:class:`factory.executors.LocalExecutor`)."""

from __future__ import annotations

from factory.executors import LocalExecutor
from factory.hookspecs import hookimpl


@hookimpl
def register_executors(register):
    register("local", LocalExecutor)
