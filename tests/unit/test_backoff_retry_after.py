"""`retry_until` and a server that asks to be tried again later (a rate limit)."""

from __future__ import annotations

import logging
import time

import pytest

from faqbot.backoff import Backoff, Deadline, GaveUp, RetryAfter, retry_until

log = logging.getLogger("test.backoff")


def _no_jitter() -> Backoff:
    return Backoff(initial=0.01, maximum=0.01, jitter=0.0)


async def test_a_requested_wait_is_honoured_logged_and_does_not_use_up_the_deadline(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="test.backoff")
    attempts = 0

    async def busy_twice() -> str:
        nonlocal attempts
        attempts += 1
        if attempts <= 2:
            raise RetryAfter("the server rate-limited the login", 0.2)
        return "logged in"

    started = time.monotonic()
    # The deadline is far shorter than the waits the server asks for: the waits still happen.
    result = await retry_until(
        busy_twice, deadline=Deadline.after(0.05), failure=lambda e: None, log=log, backoff=_no_jitter()
    )
    assert result == "logged in" and attempts == 3
    assert time.monotonic() - started >= 0.4
    waits = [r.getMessage() for r in caplog.records]
    assert len(waits) == 2
    assert all(m.startswith("the server rate-limited the login; waiting") and "as the server asks" in m for m in waits)


async def test_a_server_that_keeps_failing_after_a_wait_still_runs_out_of_time() -> None:
    attempts = 0

    async def busy_then_down() -> None:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise RetryAfter("rate-limited", 0.2)
        raise ConnectionError("refused")

    with pytest.raises(GaveUp, match="cannot reach it"):
        await retry_until(
            busy_then_down,
            deadline=Deadline.after(0.05),
            failure=lambda e: "cannot reach it",
            log=log,
            backoff=_no_jitter(),
        )
    # The wait (longer than the whole deadline) moved the deadline by as much, so the
    # 0.05 s left for a server that refuses came after it: several 0.01 s retries.
    assert attempts >= 4
