"""The plumbing both adapters share: backoff, bounded memory, health, the lifecycle, the log."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from pathlib import Path

import pytest

from faqbot.backoff import Backoff, Deadline, GaveUp, retry_until
from faqbot.bounded import BoundedDict
from faqbot.health import Health, Heartbeat, Status, check
from faqbot.logging_setup import REDACTED, configure_logging
from faqbot.platforms.lifecycle import FatalPlatformError, run_until_stopped
from faqbot.state_folder import StateFolder

# -- backoff ---------------------------------------------------------------------------------


def test_backoff_grows_to_its_maximum_with_bounded_jitter() -> None:
    backoff = Backoff(initial=1, maximum=8, factor=2, jitter=0.25, rng=random.Random(1))
    delays = [backoff.next_delay() for _ in range(7)]
    for delay, nominal in zip(delays, [1, 2, 4, 8, 8, 8, 8], strict=True):
        assert nominal * 0.75 <= delay <= nominal * 1.25
    assert len({round(d, 6) for d in delays[3:]}) > 1  # jittered, not in lockstep
    backoff.reset()
    assert backoff.next_delay() <= 1.25


async def test_retry_until_retries_what_can_be_retried_then_gives_up(caplog: pytest.LogCaptureFixture) -> None:
    attempts = 0

    async def refuse() -> None:
        nonlocal attempts
        attempts += 1
        raise ConnectionRefusedError("refused")

    log = logging.getLogger("test.retry")
    with caplog.at_level(logging.WARNING), pytest.raises(GaveUp, match=r"cannot reach https://x.org: refused"):
        await retry_until(
            refuse,
            deadline=Deadline.after(0.3),
            failure=lambda e: f"cannot reach https://x.org: {e}",
            log=log,
            backoff=Backoff(initial=0.05, maximum=0.05),
        )
    assert attempts >= 3
    assert "retrying in" in caplog.text and "giving up in" in caplog.text


async def test_retry_until_raises_at_once_what_retrying_cannot_fix() -> None:
    attempts = 0

    async def refuse() -> None:
        nonlocal attempts
        attempts += 1
        raise PermissionError("bad token")

    with pytest.raises(PermissionError):
        await retry_until(refuse, deadline=Deadline.after(5), failure=lambda e: None, log=logging.getLogger("t"))
    assert attempts == 1


async def test_retry_until_returns_once_it_works() -> None:
    results = iter([OSError("down"), OSError("down"), "up"])

    async def attempt() -> str:
        result = next(results)
        if isinstance(result, Exception):
            raise result
        return result

    found = await retry_until(
        attempt,
        deadline=Deadline.after(5),
        failure=str,
        log=logging.getLogger("t"),
        backoff=Backoff(initial=0.01),
    )
    assert found == "up"


# -- bounded memory ------------------------------------------------------------------------------


def test_bounded_dict_forgets_the_least_recently_used_past_its_count() -> None:
    memory: BoundedDict[str, int] = BoundedDict(3)
    for n, key in enumerate("abc"):
        memory[key] = n
    assert memory["a"] == 0  # "a" is now recent
    memory["d"] = 3
    assert list(memory) == ["c", "a", "d"]
    # Reading every item (to save them, say) keeps their order and makes none recent.
    assert list(memory.items()) == [("c", 2), ("a", 0), ("d", 3)] and list(memory.values()) == [2, 0, 3]
    assert list(memory) == ["c", "a", "d"]


def test_bounded_dict_is_bounded_by_bytes_too() -> None:
    memory: BoundedDict[str, str] = BoundedDict(1_000_000, max_bytes=10_000, size_of=lambda k, v: len(k) + len(v))
    for n in range(1_000):
        memory[f"k{n}"] = "x" * 500
    assert memory.bytes <= 10_000 and len(memory) <= 20
    memory["huge"] = "x" * 20_000  # bigger than the whole budget: not kept, nothing else lost for it
    assert "huge" not in memory and len(memory) > 0


# -- health --------------------------------------------------------------------------------------


def test_the_heartbeat_says_running_degraded_or_stale(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = StateFolder.open(tmp_path)
    health = Health("matrix")
    heartbeat = Heartbeat(folder, health)
    assert check(folder, 15)[0] is False  # never started
    heartbeat.beat()
    healthy, why = check(folder, 15)
    assert not healthy and "starting" in why
    health.ready()
    heartbeat.beat()
    assert check(folder, 15) == (True, "matrix bot is running (heartbeat 0 s ago)")
    with caplog.at_level(logging.ERROR):
        health.problem("sync-token", "cannot save the sync position: disk full")
        health.problem("sync-token", "cannot save the sync position: disk full")
    assert caplog.text.count("disk full") == 1  # said loudly, once
    heartbeat.beat()
    healthy, why = check(folder, 15)
    assert not healthy and why == "matrix bot is degraded: cannot save the sync position: disk full"
    health.clear("sync-token")
    heartbeat.beat()
    assert check(folder, 15)[0] is True
    assert check(folder, 15, now=time.time() + 61)[0] is False  # stale: stuck or gone


def test_faqbot_health_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from faqbot.cli import main

    monkeypatch.setenv("FAQBOT_STATE_DIR", str(tmp_path))
    assert main(["health"]) == 1
    health = Health("discord")
    health.ready()
    Heartbeat(StateFolder.open(tmp_path), health).beat()
    assert main(["health"]) == 0
    assert "discord bot is running" in capsys.readouterr().out


# -- lifecycle -----------------------------------------------------------------------------------


class Adapter:
    """An adapter that takes `login` seconds to start, then serves until stopped."""

    def __init__(self, health: Health, login: float = 0.0, fail: Exception | None = None) -> None:
        self.health = health
        self.login = login
        self.fail = fail
        self.flushed = False

    async def run(self, stop: asyncio.Event) -> None:
        await asyncio.sleep(self.login)
        if self.fail is not None:
            raise self.fail
        self.health.ready()
        await stop.wait()
        await asyncio.sleep(0.01)  # hand back in-flight work
        self.flushed = True


async def test_a_stop_during_login_ends_the_run_at_once_with_status_0(tmp_path: Path) -> None:
    health = Health("matrix")
    adapter = Adapter(health, login=600)
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(0.05, stop.set)
    started = time.monotonic()
    assert await run_until_stopped(adapter, health, Heartbeat(StateFolder.open(tmp_path), health), 1, stop) == 0
    assert time.monotonic() - started < 2
    assert json.loads((tmp_path / "heartbeat.json").read_text())["status"] == "stopped"


async def test_a_stop_while_running_lets_the_adapter_finish() -> None:
    health = Health("discord")
    adapter = Adapter(health)
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(0.05, stop.set)
    assert await run_until_stopped(adapter, health, None, 1, stop) == 0
    assert adapter.flushed and health.status is Status.STOPPED


async def test_a_fatal_error_is_one_line_and_status_1(caplog: pytest.LogCaptureFixture) -> None:
    health = Health("matrix")
    adapter = Adapter(health, fail=FatalPlatformError("the homeserver refused the token"))
    assert await run_until_stopped(adapter, health, None, 1) == 1
    assert caplog.records[-1].getMessage() == "the homeserver refused the token"
    assert caplog.records[-1].exc_info is None


async def test_sigterm_sets_the_stop(tmp_path: Path) -> None:
    import os
    import signal

    health = Health("matrix")
    adapter = Adapter(health, login=600)
    asyncio.get_running_loop().call_later(0.05, os.kill, os.getpid(), signal.SIGTERM)
    assert await run_until_stopped(adapter, health, None, 1) == 0


# -- the log -------------------------------------------------------------------------------------


def test_the_log_never_carries_secrets_reply_tokens_or_member_text(capfd: pytest.CaptureFixture[str]) -> None:
    configure_logging("DEBUG", secrets=["syt_super_secret_token"])
    try:
        gateway = logging.getLogger("discord.gateway")
        payload = {"t": "INTERACTION_CREATE", "d": {"token": "aW50ZXJhY3Rpb246MTIzNDU2Nzg5", "content": "my secret"}}
        gateway.debug("For Shard ID %s: WebSocket Event: %s", None, payload)
        logging.getLogger("discord.http").debug(
            "%s %s has received %s",
            "POST",
            "https://x/api/v10/interactions/123/aW50ZXJhY3Rpb246MTIzNDU2Nzg5/callback",
            {},
        )
        logging.getLogger("faqbot").warning("login with syt_super_secret_token failed")
    finally:
        logging.getLogger().handlers.clear()
    err = capfd.readouterr().err
    assert "aW50ZXJhY3Rpb246MTIzNDU2Nzg5" not in err and "my secret" not in err and "syt_super_secret_token" not in err
    assert err.count(REDACTED) >= 4 and "INTERACTION_CREATE" in err


def test_json_logs_are_one_object_per_line(capfd: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", json_lines=True)
    try:
        logging.getLogger("faqbot").error("cannot reach %s", "https://matrix.example.org")
    finally:
        logging.getLogger().handlers.clear()
    (line,) = capfd.readouterr().err.strip().splitlines()
    entry = json.loads(line)
    assert entry["level"] == "ERROR" and entry["message"] == "cannot reach https://matrix.example.org"


def test_library_noise_stays_out_at_info(capfd: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO")
    try:
        logging.getLogger("discord.client").warning("PyNaCl is not installed, voice will NOT be supported")
        logging.getLogger("nio.responses").warning("Error validating response: 'x' is a required property")
    finally:
        logging.getLogger().handlers.clear()
        for name in ("discord.client", "nio.responses"):
            logging.getLogger(name).setLevel(logging.NOTSET)
    assert capfd.readouterr().err == ""


def test_the_heartbeat_is_written_at_once_when_the_status_changes(tmp_path: Path) -> None:
    """An orchestrator asking right after the bot connected (or hit a full disk) hears it then,
    not one period later."""
    folder = StateFolder.open(tmp_path)
    health = Health("matrix")
    Heartbeat(folder, health)
    health.ready()
    assert check(folder, 3600)[0] is True
    health.problem("disk", "cannot save the sync position: disk full")
    assert check(folder, 3600) == (False, "matrix bot is degraded: cannot save the sync position: disk full")
