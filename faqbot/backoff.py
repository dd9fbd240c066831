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


class RetryAfter(Exception):
    """The server answered and asked to be tried again in `seconds` (a rate limit).

    `retry_until` waits exactly that long and says so; the wait does not use up the
    deadline, which is for servers that refuse or do not answer, not for busy ones."""

    def __init__(self, description: str, seconds: float) -> None:
        super().__init__(description)
        self.description = description
        self.seconds = max(0.0, seconds)


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
    and the time left; when time runs out, `GaveUp` carries the last description. An
    attempt that raises `RetryAfter` is tried again after the wait the server asked for."""
    backoff = backoff or Backoff()
    asked_to_wait = 0.0  # rate-limit waits move the deadline: the server is there, only busy
    while True:
        try:
            return await attempt()
        except asyncio.CancelledError:
            raise
        except RetryAfter as busy:
            log.warning("%s; waiting %.0f s as the server asks", busy.description, busy.seconds)
            asked_to_wait += busy.seconds
            await asyncio.sleep(busy.seconds)
        except Exception as error:
            described = failure(error)
            if described is None:
                raise
            left = max(0.0, deadline.at + asked_to_wait - time.monotonic())
            if left <= 0:
                raise GaveUp(described) from error
            wait = min(backoff.next_delay(), left)
            log.warning("%s; retrying in %.0f s (giving up in %.0f s)", described, wait, left)
            await asyncio.sleep(wait)
