"""A pool of OpenAI-compatible endpoints serving the same model (several vLLM servers).

``teacher.base_url`` may be a list (``- http://a:8000/v1`` or ``- {url: ..., weight: 2}``).
Each request goes to the healthy endpoint with the fewest requests in flight per unit of weight;
every endpoint has its own concurrency limit (the heaviest ``endpoint_concurrency``, the others
their weight's share), adapted by AIMD: a 429 (or 503 overload) halves it, each success
adds ``1/limit`` (one slot per round of successes) up to the teacher's concurrency. An endpoint
whose connection fails is taken out for a cool-down (doubling while it keeps failing) and the
request moves at once to another endpoint: the request was never answered, so it is not lost
and not paid twice (the core's cache and ledger see one answer per request). A pool of one
endpoint behaves like the plain teacher, apart from the adaptive limit.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

#: first cool-down of an endpoint whose connection failed (doubles per failure, capped)
COOLDOWN_S = 1.0
COOLDOWN_MAX_S = 30.0
#: statuses that mean "too much load here": the endpoint's limit is halved
OVERLOAD_STATUS = {429, 503}


@dataclass
class Endpoint:
    url: str
    weight: float
    limit: float  # adaptive concurrency (AIMD)
    max_limit: int
    in_flight: int = 0
    down_until: float = 0.0
    cooldown: float = COOLDOWN_S
    requests: int = 0
    succeeded: int = 0
    overloaded: int = 0
    failed: int = 0
    failovers: int = 0
    min_limit_seen: float = field(default=0.0)

    def __post_init__(self) -> None:
        self.min_limit_seen = self.limit

    def healthy(self, now: float) -> bool:
        return now >= self.down_until

    def free(self) -> bool:
        return self.in_flight < int(self.limit)

    def load(self) -> float:
        """Requests in flight per unit of weight, counting the one being placed."""
        return (self.in_flight + 1) / self.weight

    def stats(self) -> dict[str, Any]:
        return {"url": self.url, "weight": self.weight, "requests": self.requests, "succeeded": self.succeeded,
                "overloaded": self.overloaded, "failed": self.failed, "failovers": self.failovers,
                "concurrency": round(self.limit, 2), "min_concurrency": round(self.min_limit_seen, 2)}


def parse_endpoints(value: Any) -> list[tuple[str, float]]:
    """``base_url`` as ``[(url, weight)]``: a string, or a list of strings and ``{url, weight}`` mappings."""
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if isinstance(item, dict):
            out.append((str(item["url"]).rstrip("/"), float(item.get("weight", 1.0))))
        else:
            out.append((str(item).rstrip("/"), 1.0))
    return out


class EndpointPool:
    """Picks an endpoint per request and adapts each endpoint's concurrency (module docstring)."""

    def __init__(self, endpoints: list[tuple[str, float]], concurrency: int) -> None:
        heaviest = max(weight for _, weight in endpoints)
        # the heaviest endpoint may hold `concurrency` requests, the others their weight's share of it
        ceilings = [max(1, round(concurrency * weight / heaviest)) for _, weight in endpoints]
        self.endpoints = [Endpoint(url, weight, float(ceiling), ceiling)
                          for (url, weight), ceiling in zip(endpoints, ceilings)]
        self._changed: asyncio.Condition | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _condition(self) -> asyncio.Condition:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._changed, self._loop = asyncio.Condition(), loop
        return self._changed

    def _pick(self, exclude: set[str]) -> Endpoint | None:
        now = time.monotonic()
        candidates = [e for e in self.endpoints if e.url not in exclude and e.healthy(now) and e.free()]
        return min(candidates, key=lambda e: e.load(), default=None)

    async def acquire(self, exclude: set[str] = frozenset()) -> Endpoint:
        changed = self._condition()
        async with changed:
            while True:
                endpoint = self._pick(set(exclude)) or (self._pick(set()) if exclude else None)
                if endpoint is not None:
                    endpoint.in_flight += 1
                    endpoint.requests += 1
                    return endpoint
                soonest = min((e.down_until for e in self.endpoints), default=0.0) - time.monotonic()
                try:
                    await asyncio.wait_for(changed.wait(), timeout=max(0.05, min(soonest, 1.0)))
                except asyncio.TimeoutError:
                    pass

    async def release(self, endpoint: Endpoint, outcome: str) -> None:
        """``outcome``: ok, overloaded (429/503: halve the limit), down (connection failed), error (other)."""
        endpoint.in_flight -= 1
        if outcome == "ok":
            endpoint.succeeded += 1
            endpoint.cooldown = COOLDOWN_S
            endpoint.limit = min(endpoint.max_limit, endpoint.limit + 1.0 / max(1.0, endpoint.limit))
        elif outcome == "overloaded":
            endpoint.overloaded += 1
            endpoint.limit = max(1.0, endpoint.limit / 2)
            endpoint.min_limit_seen = min(endpoint.min_limit_seen, endpoint.limit)
        elif outcome == "down":
            endpoint.failed += 1
            endpoint.down_until = time.monotonic() + endpoint.cooldown
            endpoint.cooldown = min(COOLDOWN_MAX_S, endpoint.cooldown * 2)
        else:
            endpoint.failed += 1
        changed = self._condition()
        async with changed:
            changed.notify_all()

    def any_other_healthy(self, url: str) -> bool:
        now = time.monotonic()
        return any(e.url != url and e.healthy(now) for e in self.endpoints)

    def stats(self) -> list[dict[str, Any]]:
        return [e.stats() for e in self.endpoints]
