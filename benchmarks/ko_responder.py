"""A Korean self-instruct teacher for the Korean generation benchmark (run inside the loopback server).

:func:`factory.testing.responders.self_instruct_responder` has word banks small enough that a Korean run
stalls after about a hundred records; this one writes its tasks with ``korean_text`` (realistic lengths,
a long tail of words, and light rewrites of its own tasks, so the near-duplicate filter still works),
answering in the prompt's own numbered format, deterministically per prompt.
"""

from __future__ import annotations

import hashlib
import random
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import korean_text  # noqa: E402 - sibling benchmark module
from factory.testing.responders import _labels, _next_number  # noqa: E402


def respond(request: dict[str, Any], tasks: int = 20) -> str:
    prompt = request.get("prompt")
    if prompt is None:
        prompt = str((request.get("messages") or [{}])[-1].get("content", ""))
    rng = random.Random(hashlib.sha256(prompt.encode("utf-8")).hexdigest())
    first = _next_number(prompt)
    label_i, label_in, label_out = _labels(prompt)
    parts: list[str] = []
    written: list[str] = []
    for number in range(first, tasks + 1):
        if written and rng.random() < 0.15:
            instruction = korean_text.edited(rng.choice(written), rng)
        else:
            instruction = korean_text.fresh(rng)
        written.append(instruction)
        input_text = korean_text.sentence(rng) if rng.random() < 0.4 else "<noinput>"
        output = " ".join(korean_text.sentence(rng) for _ in range(rng.randint(1, 3)))
        head = f" {instruction}" if number == first else f"{number}. {label_i}: {instruction}"
        parts.append(f"{head}\n{number}. {label_in}:\n{input_text}\n{number}. {label_out}:\n{output}\n###\n")
    return "".join(parts)
