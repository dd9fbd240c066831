"""Running a chat adapter until a signal: the start-up and shutdown both adapters share.

An adapter is anything with `async run(stop)`: it connects (retrying within the
start-up budget), serves until `stop` is set, then finishes or hands back its
in-flight sends and flushes its state. This module owns the rest: SIGINT/SIGTERM
at any moment (during login and the first sync too) end the run with exit status 0;
a second signal, or an adapter that does not finish within the grace period, is
cancelled; the heartbeat is kept fresh; fatal errors become one log line and a
non-zero exit status.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import Protocol

from faqbot.backoff import GaveUp
from faqbot.health import Health, Heartbeat, Status

log = logging.getLogger("faqbot")

EXIT_OK = 0
EXIT_FATAL = 1
SHUTDOWN_GRACE_SECONDS = 10.0


class FatalPlatformError(RuntimeError):
    """The bot cannot go on (credentials refused, server gone for good); retrying would not help.
    The message is one line an operator can act on."""


class Adapter(Protocol):
    async def run(self, stop: asyncio.Event) -> None: ...


async def run_until_stopped(
    adapter: Adapter,
    health: Health,
    heartbeat: Heartbeat | None,
    heartbeat_seconds: float,
    stop: asyncio.Event | None = None,
    grace: float = SHUTDOWN_GRACE_SECONDS,
) -> int:
    """Run `adapter` until it ends or `stop` is set (by a signal); the process exit status."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = 0

    def on_signal(signum: int) -> None:
        nonlocal signals
        signals += 1
        log.info("received %s: shutting down", signal.Signals(signum).name)
        stop.set()
        if signals > 1 and not running.done():
            running.cancel()

    installed = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):  # not the main thread
            loop.add_signal_handler(signum, on_signal, signum)
            installed.append(signum)
    beats = asyncio.create_task(_keep_beating(heartbeat, heartbeat_seconds), name="faqbot-heartbeat")
    running = asyncio.create_task(adapter.run(stop), name="faqbot-adapter")
    try:
        return await _supervise(running, stop, health, grace)
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)
        beats.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beats
        health.status = Status.STOPPED
        if heartbeat is not None:
            heartbeat.beat()


async def _supervise(running: asyncio.Task[None], stop: asyncio.Event, health: Health, grace: float) -> int:
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not running.done():
            if health.status is Status.STARTING:
                running.cancel()  # nothing to hand back yet: a login may wait minutes for a server
            with contextlib.suppress(asyncio.CancelledError, TimeoutError, Exception):
                await asyncio.wait_for(asyncio.shield(running), grace)
            if not running.done():
                log.warning("the adapter did not stop within %.0f s; cancelling it", grace)
                running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running
    finally:
        stopping.cancel()
    if running.cancelled():
        return EXIT_OK if stop.is_set() else EXIT_FATAL
    error = running.exception()
    if error is None:
        return EXIT_OK
    if isinstance(error, FatalPlatformError | GaveUp):
        log.error("%s", error)
        return EXIT_FATAL
    log.error("the bot stopped on an unexpected error", exc_info=error)
    return EXIT_FATAL


async def _keep_beating(heartbeat: Heartbeat | None, period: float) -> None:
    if heartbeat is None:
        return
    while True:
        heartbeat.beat()
        await asyncio.sleep(period)


def run_adapter(
    make_adapter: Callable[[], Adapter],
    health: Health,
    heartbeat: Heartbeat | None,
    heartbeat_seconds: float,
    main: Callable[[Awaitable[int]], int] = asyncio.run,
) -> int:
    """`faqbot run <platform>`: the adapter in a fresh event loop; the exit status."""

    async def start() -> int:
        return await run_until_stopped(make_adapter(), health, heartbeat, heartbeat_seconds)

    try:
        return main(start())
    except KeyboardInterrupt:
        return EXIT_OK
