"""The peft trainer passes the trainer conformance suite every trainer plugin runs.

Only the public contract is used (``TrainerConformance``, the registered
``peft`` trainer, its options), so the suite keeps checking whatever
implements the trainer underneath. The tiny LLaMA comes from conftest.py;
a few LoRA steps keep it to seconds on a CPU.
"""

from __future__ import annotations

import pytest

from factory.plugins import get_registry
from factory.testing.conformance import TrainerConformance


class TestPeftTrainerConformance(TrainerConformance):
    language_code = "en"

    @pytest.fixture
    def make_trainer(self):
        return get_registry(refresh=True).get("trainer", "peft").obj

    @pytest.fixture
    def train_options(self, llama_dir):
        return {"base_model": str(llama_dir), "method": "lora", "lora_r": 4, "max_steps": 2, "batch_size": 2,
                "micro_batch_size": 2, "max_length": 64, "logging_steps": 1, "save_steps": 100}
