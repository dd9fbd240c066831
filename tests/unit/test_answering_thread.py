"""The answering thread: the responder off the event loop, short messages first, never starved."""

from __future__ import annotations

import asyncio
import logging
import threading

import pytest

from faqbot.answering import SECONDS_PER_COST, AnsweringThread, Overloaded


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_calls_run_in_one_worker_thread_while_the_loop_goes_on() -> None:
    answering = AnsweringThread()
    release = threading.Event()
    blocked = asyncio.create_task(answering.run(release.wait, 5))
    ticks = 0
    while ticks < 3:  # the loop is free while the call blocks its thread
        await asyncio.sleep(0.01)
        ticks += 1
    release.set()
    assert await blocked is True
    names = {await answering.run(lambda: threading.current_thread().name) for _ in range(3)}
    assert names == {"faqbot-answering"}
    answering.close()


async def test_cheaper_calls_arriving_soon_after_a_costly_one_go_first_but_none_starves() -> None:
    clock = Clock()
    answering = AnsweringThread(clock=clock)
    ran: list[str] = []
    release = threading.Event()

    def record(name: str) -> None:
        ran.append(name)

    running = asyncio.create_task(answering.run(release.wait, 5))  # holds the thread
    await asyncio.sleep(0.05)  # the worker took it: the calls below all wait
    costly = asyncio.create_task(answering.run(record, "costly", cost=500))  # its turn: 0 + 0.5 s
    await asyncio.sleep(0)
    first = asyncio.create_task(answering.run(record, "short 1", cost=20))
    await asyncio.sleep(0)
    second = asyncio.create_task(answering.run(record, "short 2", cost=20))
    await asyncio.sleep(0)
    clock.now = 500 * SECONDS_PER_COST + 0.001  # arrives after the costly call's turn: goes after it
    late = asyncio.create_task(answering.run(record, "late short", cost=1))
    await asyncio.sleep(0.05)
    assert answering.pending == 4
    release.set()
    await asyncio.gather(running, costly, first, second, late)
    assert ran == ["short 1", "short 2", "costly", "late short"]
    answering.close()


async def test_an_error_in_a_call_reaches_its_caller() -> None:
    answering = AnsweringThread()

    def fails() -> None:
        raise ValueError("bad knowledge")

    with pytest.raises(ValueError, match="bad knowledge"):
        await answering.run(fails)
    assert await answering.run(lambda: 42) == 42  # the thread carries on
    answering.close()


async def test_too_many_waiting_calls_are_refused_and_said_once(caplog: pytest.LogCaptureFixture) -> None:
    answering = AnsweringThread(most_pending=2)
    release = threading.Event()
    running = asyncio.create_task(answering.run(release.wait, 5))
    await asyncio.sleep(0.05)  # the worker took it: nothing waits
    waiting = [asyncio.create_task(answering.run(lambda: "ok")) for _ in range(2)]
    await asyncio.sleep(0)
    for _ in range(3):
        with pytest.raises(Overloaded):
            await answering.run(lambda: "too many")
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1
    release.set()
    assert await asyncio.gather(running, *waiting) == [True, "ok", "ok"]
    assert await answering.run(lambda: "again") == "again"  # room again once the backlog cleared
    answering.close()
