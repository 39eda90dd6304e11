"""Fixtures: tiny LLaMA and GPT-NeoX backbones saved to temporary folders, and data files in the formats users bring.

The builders live in :mod:`factory_peft.tiny` (shared with benchmarks/training.py);
nothing is downloaded.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from factory_peft.testing import CONVERSATIONS, PAIRS, TRAIN_RECORDS, write_jsonl
from factory_peft.tiny import save_tiny_llama, save_tiny_neox

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def llama_dir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("tiny-llama")
    save_tiny_llama(path)
    return path


@pytest.fixture(scope="session")
def neox_dir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("tiny-neox")
    save_tiny_neox(path)
    return path


@pytest.fixture(scope="session")
def data_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "alpaca.json"
    path.write_text(json.dumps(TRAIN_RECORDS, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def conversations_file(tmp_path_factory) -> Path:
    return write_jsonl(tmp_path_factory.mktemp("data") / "conversations.jsonl",
                       [{"id": f"c{i}", "messages": m} for i, m in enumerate(CONVERSATIONS)])


@pytest.fixture(scope="session")
def pairs_file(tmp_path_factory) -> Path:
    return write_jsonl(tmp_path_factory.mktemp("data") / "pairs.jsonl", PAIRS)


@pytest.fixture(scope="session")
def korean():
    factory_ko = pytest.importorskip("factory_ko")
    return factory_ko.Korean()
