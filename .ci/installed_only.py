"""pytest plugin for .ci/wheels: the tests must use the installed wheels, and no module may be skipped.

Why: a conformance test that imports ``factory`` from the checkout, or a test
module skipped because a dependency is missing (``pytest.importorskip``), would
pass while proving nothing about the wheels. Loaded with ``-p installed_only``.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

PACKAGES = ("factory", "koalpaca_factory", "factory_openai", "factory_deepl", "factory_hub", "factory_ko",
            "factory_ja", "factory_peft", "factory_transformers")


def pytest_sessionstart(session: pytest.Session) -> None:
    site = Path(sys.prefix).resolve()
    for name in PACKAGES:
        origin = Path(importlib.import_module(name).__file__).resolve()
        if site not in origin.parents or "site-packages" not in origin.parts:
            raise pytest.UsageError(f"{name} is imported from {origin}, not from the wheel installed in {site}")


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.skipped:
        raise pytest.UsageError(f"{report.nodeid}: a test module was skipped: {report.longrepr}")
