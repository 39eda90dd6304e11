"""Usage counters, prices and the budget cap shared by teachers and translators."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from factory.errors import StopRun

#: USD per 1M tokens (input, output); the recipe's ``teacher.price`` overrides.
#: Local and self-hosted teachers cost nothing unless the recipe says otherwise.
TEACHER_PRICES: dict[str, tuple[float, float]] = {
    "gpt-3.5-turbo-instruct": (1.50, 2.00),
    "gpt-3.5-turbo": (0.50, 1.50),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1": (2.00, 8.00),
    "text-davinci-003": (20.00, 20.00),
}

#: USD per 1M characters billed by a translation engine.
TRANSLATOR_PRICES: dict[str, float] = {"deepl": 25.00}


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
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **amounts: float) -> None:
        with self._lock:
            for name, amount in amounts.items():
                setattr(self, name, getattr(self, name) + amount)

    def as_dict(self) -> dict[str, Any]:
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in self.__dict__.items() if not k.startswith("_")}

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


def teacher_price(model: str, override: tuple[float, float] | None = None) -> tuple[float, float]:
    """USD per 1M (input, output) tokens for ``model``; unknown models are free (local/self-hosted)."""
    if override is not None:
        return override
    if model in TEACHER_PRICES:
        return TEACHER_PRICES[model]
    for name, price in TEACHER_PRICES.items():
        if model.startswith(name + "-"):  # dated snapshots such as gpt-4o-mini-2024-07-18
            return price
    return (0.0, 0.0)
