"""Report training progress (loss, the objective's metrics, tokens/s, ETA) to the job's progress callback.

Events are plain dicts so the core can print them, log them or ignore them:
``{"event": "train_start" | "step" | "eval" | "train_end" | "warning", ...}``.
A step event carries the objective's key metrics under TRL's names
(``rewards/margins``, ``rewards/accuracies``, ``accuracy``...) when logged.
Throughput and ETA are measured from this process's start, so a resumed run
reports its own speed rather than averaging in the time before the kill.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Sequence

from transformers import TrainerCallback

Progress = Callable[[dict[str, Any]], None]


class ProgressCallback(TrainerCallback):
    def __init__(self, progress: Progress | None, metrics: Sequence[str] = ()) -> None:
        self.progress = progress
        self.metrics = [name for name in metrics if name != "loss"]
        self.start_time = 0.0
        self.start_step = 0
        self.start_tokens = 0
        self.last: dict[str, Any] = {}
        self.summary: dict[str, Any] = {}  # this process's tokens/s and elapsed time, set at train end

    def _emit(self, event: dict[str, Any]) -> None:
        if self.progress is not None:
            self.progress(event)

    def on_train_begin(self, args, state, control, **kwargs):
        self.start_time = time.monotonic()
        self.start_step = state.global_step
        self.start_tokens = state.num_input_tokens_seen
        self._emit({"event": "train_start", "step": state.global_step, "max_steps": state.max_steps,
                    "resumed": state.global_step > 0})

    def throughput(self, state) -> tuple[float, float | None, float]:
        """(tokens/s, ETA seconds, elapsed seconds) of this process's share of the run."""
        elapsed = max(time.monotonic() - self.start_time, 1e-9)
        tokens_per_s = (state.num_input_tokens_seen - self.start_tokens) / elapsed
        done = state.global_step - self.start_step
        eta = elapsed / done * (state.max_steps - state.global_step) if done > 0 else None
        return tokens_per_s, eta, elapsed

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        tokens_per_s, eta, elapsed = self.throughput(state)
        common = {"step": state.global_step, "max_steps": state.max_steps, "epoch": state.epoch}
        if "loss" in logs:
            self.last = {**common, "event": "step", "loss": logs["loss"], "learning_rate": logs.get("learning_rate"),
                         "grad_norm": logs.get("grad_norm"), "tokens_per_s": round(tokens_per_s, 1),
                         "eta_s": None if eta is None else round(eta, 1), "elapsed_s": round(elapsed, 1),
                         **{name: logs[name] for name in self.metrics if name in logs}}
            self._emit(self.last)
        if "eval_loss" in logs:
            self._emit({**common, "event": "eval", "eval_loss": logs["eval_loss"]})

    def on_train_end(self, args, state, control, **kwargs):
        tokens_per_s, _, elapsed = self.throughput(state)
        self.summary = {"tokens_per_s": round(tokens_per_s, 1), "elapsed_s": round(elapsed, 1)}
        self._emit({"event": "train_end", "step": state.global_step, "max_steps": state.max_steps, **self.summary})
