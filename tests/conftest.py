"""Shared fixtures: a quiet, offline, single-threaded environment and tiny recipes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_XET"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own user cache dir, so no test sees another's translations or models."""
    monkeypatch.setenv("FACTORY_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


from factory.testing.helpers import run_cli, write_seeds  # noqa: E402


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture
def en_seeds(tmp_path) -> Path:
    return write_seeds(tmp_path / "seeds.jsonl")


@pytest.fixture(scope="session")
def ray_cluster():
    """One small local Ray cluster for the whole test session (skipped when the ray extra is absent)."""
    ray = pytest.importorskip("ray")
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()
