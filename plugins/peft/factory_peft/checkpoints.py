"""Find the checkpoint to resume from, and refuse to resume a different run.

A checkpoint folder counts only when its ``trainer_state.json`` (written
last by the Trainer) parses, so a process killed while saving falls back to
the previous complete checkpoint instead of crashing on a half-written one.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from factory.errors import UserError

OPTIONS_FILE = "train_options.json"
_CHECKPOINT_RE = re.compile(r"^checkpoint-(\d+)$")
#: Options that may change between a kill and its resume without changing the optimisation.
RESUME_SAFE = {"logging_steps", "save_steps", "save_total_limit", "eval_steps", "launcher", "merge_adapter"}


def latest_checkpoint(output_dir: Path) -> Path | None:
    best: tuple[int, Path] | None = None
    if not output_dir.is_dir():
        return None
    for child in output_dir.iterdir():
        match = _CHECKPOINT_RE.match(child.name)
        if not match or not child.is_dir():
            continue
        try:
            json.loads((child / "trainer_state.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # incomplete: killed while saving
        step = int(match.group(1))
        if best is None or step > best[0]:
            best = (step, child)
    return best[1] if best else None


def record_options(output_dir: Path, options: dict[str, Any], resuming: bool, write: bool = True,
                   defaults: dict[str, Any] | None = None) -> None:
    """Record the run's options (``write``: main process only); when resuming, fail if one that matters changed.

    ``defaults``: option defaults, standing in for options a checkpoint's file does not list
    (written before the option existed), so upgrading the plugin does not refuse a resume.
    """
    path = output_dir / OPTIONS_FILE
    defaults = defaults or {}
    if resuming and path.exists():
        previous = json.loads(path.read_text(encoding="utf-8"))
        changed = sorted(k for k in set(previous) | set(options)
                         if k not in RESUME_SAFE and previous.get(k, defaults.get(k)) != options.get(k))
        if changed:
            raise UserError(f"{output_dir}: holds checkpoints of a run with other options (changed: {', '.join(changed)}); "
                            "use a new output_dir or delete its checkpoints")
    if write:
        output_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(options, indent=2, sort_keys=True), encoding="utf-8")
