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
    """Counters for one stage; merged into stats.json.

    With a ``ledger`` (the run's :class:`~factory.ledger.Ledger`) every change is
    also written there, so a resumed run counts what an earlier process paid for:
    :meth:`reserve` before a paid request leaves, :meth:`settle` when it returns.
    ``estimated_usd`` is spend known only by its estimate (requests in flight when an
    earlier process died); ``cost_usd`` never includes it.
    """

    requests: int = 0
    cached_requests: int = 0
    failed_requests: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    billed_characters: int = 0
    cached_characters: int = 0
    cost_usd: float = 0.0
    estimated_usd: float = 0.0
    unsettled_requests: int = 0
    #: streamed teacher replies: how many, their summed time to first token, and tokens over generation seconds
    streamed_requests: int = 0
    time_to_first_token_s: float = 0.0
    streamed_completion_tokens: int = 0
    stream_generation_s: float = 0.0
    stage: str = field(default="", repr=False, compare=False)
    ledger: Any = field(default=None, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def _bump(self, amounts: dict[str, float]) -> None:
        with self._lock:
            for name, amount in amounts.items():
                setattr(self, name, getattr(self, name) + amount)

    def add(self, **amounts: float) -> None:
        """Settled amounts (cache hits, failures, counts of a request with no reservation)."""
        self._bump(amounts)
        if self.ledger is not None:
            self.ledger.record(self.stage, amounts)

    def reserve(self, estimate_usd: float, key: str | None = None, **amounts: float) -> int | None:
        """A paid request about to be sent (its estimate is written down first); returns a token for :meth:`settle`."""
        self._bump(amounts)
        if self.ledger is None:
            return None
        return self.ledger.reserve(self.stage, estimate_usd, amounts, key)

    def adopt(self, key: str) -> int | None:
        """Take over an earlier process's unsettled row for request ``key`` (already counted: nothing is added)."""
        if self.ledger is None:
            return None
        token = self.ledger.adopt(key)
        if token is not None:
            self.unsettled_requests = max(0, self.unsettled_requests - 1)
        return token

    def settle(self, token: int | None, **amounts: float) -> None:
        """What a reserved request really used (zero amounts for an unbilled failure)."""
        self._bump(amounts)
        if self.ledger is not None and token is not None:
            self.ledger.settle(token, amounts)

    def add_stream(self, completion: Any) -> None:
        """Count one streamed reply (a :class:`~factory.teachers.Completion` with stream timings)."""
        self.add(streamed_requests=1, time_to_first_token_s=completion.time_to_first_token_s or 0.0,
                 streamed_completion_tokens=completion.completion_tokens,
                 stream_generation_s=completion.generation_s or 0.0)

    def as_dict(self) -> dict[str, Any]:
        data = {k: (round(v, 9) if isinstance(v, float) else v) for k, v in self.__dict__.items()
                if not k.startswith("_") and k not in ("stage", "ledger")}
        if self.streamed_requests:  # derived, for stats.json readers (load() ignores them)
            data["mean_time_to_first_token_s"] = round(self.time_to_first_token_s / self.streamed_requests, 4)
            if self.stream_generation_s > 0:
                data["stream_tokens_per_s"] = round(self.streamed_completion_tokens / self.stream_generation_s, 2)
        return data

    def load(self, data: dict[str, Any]) -> None:
        for key, value in data.items():
            if key in self.__dataclass_fields__ and not key.startswith("_") and key not in ("stage", "ledger"):
                setattr(self, key, type(getattr(self, key))(value))


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
