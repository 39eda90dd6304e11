"""Helpers for tests of factory and of third-party plugins: seed files and the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

EN_SEED_INSTRUCTIONS = [
    "Give me three tips for keeping houseplants alive indoors.",
    "Explain why the sky looks blue during the day.",
    "Classify each animal as a mammal or a bird.",
    "Rewrite this sentence so it sounds more formal.",
    "Suggest a name for a small coffee shop near a university.",
]


def write_seeds(path: Path, instructions: list[str] = EN_SEED_INSTRUCTIONS) -> Path:
    """Write a small seed_tasks.jsonl file with the given instructions."""
    rows = [
        {"id": f"seed_task_{i}", "name": f"task_{i}", "instruction": text,
         "instances": [{"input": "", "output": f"An answer to task {i}."}], "is_classification": False}
        for i, text in enumerate(instructions)
    ]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def run_cli(*args: str, cwd: Path | str | None = None, env: dict | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the real ``factory`` CLI in a subprocess, the way users run it."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "factory", *args], cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=timeout)


def read_journal(path: Path) -> list:
    """The records of a run journal (``accepted.jsonl`` / ``rejected.jsonl``) as :class:`~factory.records.Record`."""
    from factory.records import Record

    return [Record.from_dict(json.loads(line)) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def read_journal_rows(path: Path) -> list[dict]:
    """Journal lines as dicts, each with its Alpaca view (``instruction``/``input``/``output``) added."""
    from factory.records import Record

    rows = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            data = json.loads(line)
            rows.append({**data, **Record.from_dict(data).alpaca()})
    return rows
