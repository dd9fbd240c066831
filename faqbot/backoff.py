"""Retrying with exponential backoff and jitter, within a time budget.

Both chat adapters retry the same way: connecting at start-up, syncing, sending.
Jitter keeps many bots (or shards) that failed together from retrying in lockstep;
the budget turns "retry forever, silently" into "retry for a while, saying so, then
give up with a clear error".
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")


@dataclass
class Backoff:
    """Delays of `initial`, then `factor` times more each time up to `maximum`, each
    shifted by up to ±`jitter` of itself."""

    initial: float = 1.0
    maximum: float = 60.0
    factor: float = 2.0
    jitter: float = 0.2
    rng: random.Random = field(default_factory=random.Random)
    _next: float = field(init=False, default=0.0)

    def __post_init__(self) -> None:
        self._next = self.initial

    def next_delay(self) -> float:
        delay = self._next
        self._next = min(self.maximum, self._next * self.factor)
        spread = delay * self.jitter
        return max(0.0, delay + self.rng.uniform(-spread, spread))

    def reset(self) -> None:
        self._next = self.initial


class GaveUp(Exception):
    """Retrying ran out of time; the message says what kept failing."""


@dataclass(frozen=True)
class Deadline:
    """A point in (monotonic) time after which retrying stops."""

    at: float

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        return cls(time.monotonic() + seconds)

    def remaining(self) -> float:
        return max(0.0, self.at - time.monotonic())


async def retry_until(
    attempt: Callable[[], Awaitable[T]],
    *,
    deadline: Deadline,
    failure: Callable[[Exception], str | None],
    log: logging.Logger,
    backoff: Backoff | None = None,
) -> T:
    """Await `attempt()` until it succeeds or `deadline` passes.

    `failure(error)` describes an error worth retrying in one line (e.g. "cannot reach
    https://matrix.example.org: connection refused"), or returns None for an error that
    retrying cannot fix, which is raised at once. Each retry is logged once, with the wait
    and the time left; when time runs out, `GaveUp` carries the last description."""
    backoff = backoff or Backoff()
    while True:
        try:
            return await attempt()
        except asyncio.CancelledError:
            raise
        except Exception as error:
            described = failure(error)
            if described is None:
                raise
            left = deadline.remaining()
            if left <= 0:
                raise GaveUp(described) from error
            wait = min(backoff.next_delay(), left)
            log.warning("%s; retrying in %.0f s (giving up in %.0f s)", described, wait, left)
            await asyncio.sleep(wait)
