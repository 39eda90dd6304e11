"""Usage counters, price types and the budget cap shared by teachers and translators."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from factory.errors import StopRun

@dataclass(frozen=True)
class TokenPrice:
    """USD per one million prompt (input) and completion (output) tokens.

    Prices belong to the plugin that knows its vendor: a teacher class may define
    ``price_for(options) -> TokenPrice``; a recipe's ``teacher.price`` overrides it.
    A teacher without a price (local, self-hosted) costs nothing.
    """

    input_per_1m: float = 0.0
    output_per_1m: float = 0.0

    def cost(self, prompt_tokens: float, completion_tokens: float) -> float:
        return (prompt_tokens * self.input_per_1m + completion_tokens * self.output_per_1m) / 1_000_000


@dataclass(frozen=True)
class CharacterPrice:
    """USD per one million billed characters (translation engines); ``price_for(options)`` on a translator class."""

    per_1m_characters: float = 0.0

    def cost(self, characters: float) -> float:
        return characters * self.per_1m_characters / 1_000_000


@dataclass
class Usage:
    """Counters for one stage; merged into stats.json."""

    requests: int = 0
    cached_requests: int = 0
    failed_requests: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    billed_characters: int = 0
    cached_characters: int = 0
    cost_usd: float = 0.0
    #: streamed teacher replies: how many, their summed time to first token, and tokens over generation seconds
    streamed_requests: int = 0
    time_to_first_token_s: float = 0.0
    streamed_completion_tokens: int = 0
    stream_generation_s: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **amounts: float) -> None:
        with self._lock:
            for name, amount in amounts.items():
                setattr(self, name, getattr(self, name) + amount)

    def add_stream(self, completion: Any) -> None:
        """Count one streamed reply (a :class:`~factory.teachers.Completion` with stream timings)."""
        self.add(streamed_requests=1, time_to_first_token_s=completion.time_to_first_token_s or 0.0,
                 streamed_completion_tokens=completion.completion_tokens,
                 stream_generation_s=completion.generation_s or 0.0)

    def as_dict(self) -> dict[str, Any]:
        data = {k: (round(v, 6) if isinstance(v, float) else v) for k, v in self.__dict__.items() if not k.startswith("_")}
        if self.streamed_requests:  # derived, for stats.json readers (load() ignores them)
            data["mean_time_to_first_token_s"] = round(self.time_to_first_token_s / self.streamed_requests, 4)
            if self.stream_generation_s > 0:
                data["stream_tokens_per_s"] = round(self.streamed_completion_tokens / self.stream_generation_s, 2)
        return data

    def load(self, data: dict[str, Any]) -> None:
        for key, value in data.items():
            if hasattr(self, key) and not key.startswith("_"):
                setattr(self, key, value)


class BudgetExceeded(StopRun):
    """Spending the next request would pass ``budget_usd``."""


@dataclass
class Budget:
    """A spending cap checked BEFORE each paid call, so the cap is never exceeded."""

    limit_usd: float | None
    spent_usd: float = 0.0
    reserved_usd: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def reserve(self, estimate_usd: float) -> None:
        """Reserve an upper estimate for a call about to be made, or raise BudgetExceeded."""
        with self._lock:
            if self.limit_usd is not None and self.spent_usd + self.reserved_usd + estimate_usd > self.limit_usd:
                raise BudgetExceeded(
                    f"budget_usd {self.limit_usd:.4f} reached: spent ${self.spent_usd:.4f}; "
                    f"the next call could cost up to ${estimate_usd:.4f}. Raise budget_usd and rerun to resume."
                )
            self.reserved_usd += estimate_usd

    def settle(self, estimate_usd: float, actual_usd: float) -> None:
        with self._lock:
            self.reserved_usd = max(0.0, self.reserved_usd - estimate_usd)
            self.spent_usd += actual_usd
