"""Fixtures: tiny LLaMA and GPT-NeoX backbones saved to temporary folders, and an Alpaca data file.

The builders live in :mod:`factory_peft.tiny` (shared with benchmarks/training.py);
nothing is downloaded.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from factory_peft.tiny import save_tiny_llama, save_tiny_neox

torch.set_num_threads(1)

TRAIN_RECORDS = [
    {"instruction": "Name three primary colors.", "input": "", "output": "Red, yellow and blue."},
    {"instruction": "Add the two numbers and give the sum.", "input": "4 and 5", "output": "Nine."},
    {"instruction": "한국의 수도는 어디인가요?", "input": "", "output": "한국의 수도는 서울입니다."},
    {"instruction": "Give a synonym for the word happy.", "input": "", "output": "Glad."},
    {"instruction": "다음 문장을 영어로 번역하세요.", "input": "고양이가 잠을 잡니다.", "output": "The cat sleeps."},
    {"instruction": "좋은 아침 습관을 알려 주세요.", "input": "", "output": "일찍 일어나기, 물 마시기."},
]


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
