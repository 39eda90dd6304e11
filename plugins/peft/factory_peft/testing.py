"""Small data sets and helpers shared by the plugin's tests and benchmarks/training.py.

Tiny offline backbones come from :mod:`factory_peft.tiny`; these are the
records trained on and the measurements taken from a trained model.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from factory.trainers import TrainJob

TRAIN_RECORDS = [
    {"instruction": "Name three primary colors.", "input": "", "output": "Red, yellow and blue."},
    {"instruction": "Add the two numbers and give the sum.", "input": "4 and 5", "output": "Nine."},
    {"instruction": "한국의 수도는 어디인가요?", "input": "", "output": "한국의 수도는 서울입니다."},
    {"instruction": "Give a synonym for the word happy.", "input": "", "output": "Glad."},
    {"instruction": "다음 문장을 영어로 번역하세요.", "input": "고양이가 잠을 잡니다.", "output": "The cat sleeps."},
    {"instruction": "좋은 아침 습관을 알려 주세요.", "input": "", "output": "일찍 일어나기, 물 마시기."},
]


def _turns(*pairs: tuple[str, str], system: str | None = None) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": system}] if system else []
    for user, assistant in pairs:
        messages += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    return messages


#: canonical `messages` rows: multi-turn conversations, one with a system message, one single-turn
CONVERSATIONS = [
    _turns(("Name three primary colors.", "Red, yellow and blue."), ("Add four and five.", "Nine.")),
    _turns(("한국의 수도는 어디인가요?", "한국의 수도는 서울입니다."), ("다음 문장을 영어로 번역하세요.", "The cat sleeps."),
           ("Give a synonym for the word happy.", "Glad.")),
    _turns(("좋은 아침 습관을 알려 주세요.", "일찍 일어나기, 물 마시기."), system="The assistant answers in Korean."),
    _turns(("Summarize the paragraph in one sentence.", "Rivers carry water from mountains to the sea.")),
]

#: TRL preference rows (plain prompts): the chosen reply answers, the rejected one does not
PAIRS = [
    {"prompt": "Name three primary colors.", "chosen": "Red, yellow and blue.", "rejected": "The cat sleeps."},
    {"prompt": "Add four and five.", "chosen": "Nine.", "rejected": "Glad is a synonym of happy."},
    {"prompt": "한국의 수도는 어디인가요?", "chosen": "한국의 수도는 서울입니다.", "rejected": "고양이가 따뜻한 바닥에서 잠을 잡니다."},
    {"prompt": "Give a synonym for the word happy.", "chosen": "Glad.", "rejected": "Rivers carry water from mountains to the sea."},
]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path


def tiny_options(base: Path, **overrides) -> dict:
    options = dict(base_model=str(base), method="lora", lora_r=8, lora_dropout=0.0, learning_rate=2e-2,
                   max_steps=12, batch_size=2, micro_batch_size=2, max_length=256, logging_steps=3,
                   save_steps=100, lr_scheduler="constant", seed=7)
    options.update(overrides)
    return options


def job_for(base: Path, data: Path, out: Path, events: list | None = None, language: Any = None,
            **overrides: Any) -> TrainJob:
    from factory.default_plugins.english import English

    return TrainJob(data_files=[data], output_dir=out, options=tiny_options(base, **overrides),
                    language=language or English(), progress=None if events is None else events.append)


def step_losses(events: list[dict]) -> list[float]:
    return [e["loss"] for e in events if e["event"] == "step"]


def reply_logprob(model: Any, tokenizer: Any, prompt_ids: list[int], reply_ids: list[int]) -> float:
    """Sum of log p(reply token | everything before it) under ``model`` (a causal LM), in nats."""
    import torch

    ids = torch.tensor([prompt_ids + reply_ids])
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0, :-1].float()
    logprobs = torch.log_softmax(logits, dim=-1)
    targets = ids[0, 1:]
    picked = logprobs.gather(1, targets[:, None])[:, 0]
    return float(picked[len(prompt_ids) - 1:].sum())


#: unhelpful replies: what a reward model should learn to rank below an answer
REFUSALS = ["I do not know.", "No.", "Ask someone else.", "모르겠습니다.", "I cannot help with that."]


def reward_pairs(seed: int = 0) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """(training pairs, held-out pairs): an answer from the corpus chosen over a refusal.

    The held-out pairs use answers never seen in training, so ranking them
    right means the model learned the preference, not the sentences.
    """
    import random

    from factory_peft.tiny import CORPUS

    rng = random.Random(seed)
    sentences = [s for s in CORPUS if "###" not in s and "<|" not in s]
    rng.shuffle(sentences)
    seen, unseen = sentences[:16], sentences[16:]

    def pair(answer: str) -> dict[str, str]:
        return {"prompt": rng.choice(sentences), "chosen": answer, "rejected": rng.choice(REFUSALS)}

    return [pair(a) for a in seen for _ in range(3)], [pair(a) for a in unseen for _ in range(4)]
