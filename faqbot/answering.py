"""The responder's own thread: matching off the event loop, short messages first.

Matching a message takes time per word (a typo search for each unknown one, the
sentence encoder), up to `max_question_chars`. On the event loop every room waits for
it: with ten 500-character asks in ten other rooms, a one-line question's answer took
175 ms instead of 7 ms (lexical matcher; 966 ms instead of 9 with the encoder), and
21 ms (69 ms) with this thread (medians of 40 rounds, `python bench/discord_latency.py
--rounds 40 [--matcher encoder]`). Here the responder runs in one worker thread, so the
loop keeps reading the gateway and sending replies, and the responder's state is only
ever touched by that thread (knowledge reloads swap it whole, from their own thread).

One thread still does one message at a time, so the order matters: each call waits
for the ones that arrived earlier, except that a costly call (a long message) lets
cheaper ones that arrive shortly after it go first. Precisely: a call's turn is its
arrival time plus `SECONDS_PER_COST` times its cost, earliest turn first. A one-line
question then waits for at most the call in progress, and a long message can be
delayed but never starved: everything arriving later than its turn goes after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

# A message may wait for cheaper ones that arrive up to 1 ms per character it is longer.
# The costliest ask (500 characters) thus yields to questions for half a second at most.
SECONDS_PER_COST = 0.001
# Calls waiting their turn, at most; past this the bot is far behind, and a new call is refused.
MOST_PENDING = 1000


class Overloaded(RuntimeError):
    """Too many calls are waiting: the caller should drop the message (silence), not queue it."""


@dataclass(order=True)
class _Call:
    turn: float
    order: int
    work: Callable[[], Any] = field(compare=False)
    done: Callable[[Any, BaseException | None], None] = field(compare=False)


class AnsweringThread:
    """Runs calls (to the responder) in one worker thread, earliest turn first."""

    def __init__(self, most_pending: int = MOST_PENDING, clock: Callable[[], float] = time.monotonic) -> None:
        self.most_pending = most_pending
        self._clock = clock
        self._pending: list[_Call] = []
        self._order = itertools.count()
        self._changed = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None
        self._overloaded_told = False

    async def run(self, work: Callable[..., T], *args: Any, cost: float = 0.0) -> T:
        """`work(*args)` in the worker thread, in its turn; its result (or exception) here.

        `cost` is how long the call may take compared to others (for the responder: the
        length of the message's text)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()

        def done(result: Any, error: BaseException | None) -> None:
            with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits any more
                loop.call_soon_threadsafe(_settle, future, result, error)

        with self._changed:
            if self._closed:
                raise RuntimeError("the answering thread is closed")
            if len(self._pending) >= self.most_pending:
                if not self._overloaded_told:
                    log.warning(
                        "%d messages are waiting to be matched: dropping new ones until it clears", len(self._pending)
                    )
                self._overloaded_told = True
                raise Overloaded(f"{len(self._pending)} calls are waiting")
            self._overloaded_told = False
            turn = self._clock() + SECONDS_PER_COST * max(0.0, cost)
            heapq.heappush(self._pending, _Call(turn, next(self._order), lambda: work(*args), done))
            self._changed.notify()
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="faqbot-answering", daemon=True)
                self._thread.start()
        return await future

    def close(self) -> None:
        """Take no more calls; the thread finishes those waiting, then ends (without blocking here)."""
        with self._changed:
            self._closed = True
            self._changed.notify()

    @property
    def pending(self) -> int:
        with self._changed:
            return len(self._pending)

    def _work(self) -> None:
        while True:
            with self._changed:
                while not self._pending and not self._closed:
                    self._changed.wait()
                if not self._pending:
                    return
                call = heapq.heappop(self._pending)
            try:
                result = call.work()
            except BaseException as error:  # handed to the caller, whatever it is
                call.done(None, error)
            else:
                call.done(result, None)


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():  # the caller gave up waiting (cancelled at shutdown)
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
