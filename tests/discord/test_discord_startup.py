"""Start-up faults and shutdown, as an operator meets them: `faqbot run discord` against a fake
Discord that does not answer, cannot be found, refuses, or stalls the gateway.

Each fault gives one line per retry naming the URL and what happened, then one error line
and exit status 1 once `connect.timeout_seconds` runs out. SIGTERM is honoured at any
moment (during the API check, the gateway check, discord.py's login, and while replies are
in flight) with exit status 0; the signal tests run the real command in a subprocess.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from faqbot import bot as core
from faqbot.health import Health, Status
from faqbot.platforms.discord_bot import DiscordAdapter, DiscordBot
from faqbot.platforms.lifecycle import run_until_stopped
from faqbot.responder import Responder
from faqbot.settings import DiscordSettings
from tests.discord.conftest import TOKEN
from tests.discord.fake_discord import FakeDiscord
from tests.discord.test_discord_bot import reply_to, run_main

SEND = r"/channels/\d+/messages"
BUDGET = 2.0  # FAQBOT_CONNECT_TIMEOUT_SECONDS in these tests


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def environment(fake: FakeDiscord, **overrides: str) -> dict[str, str]:
    return {
        "FAQBOT_DISCORD_TOKEN": TOKEN,
        "FAQBOT_DISCORD_API_BASE": fake.api_base,
        "FAQBOT_DISCORD_GATEWAY": fake.gateway_url,
        "FAQBOT_CONNECT_TIMEOUT_SECONDS": str(BUDGET),
        **overrides,
    }


async def run_in_thread(responder: Responder, env: dict[str, str], tmp_path: Path) -> tuple[int, float]:
    started = time.monotonic()
    status = await asyncio.wait_for(asyncio.to_thread(run_main, responder, env, tmp_path / "state"), 30)
    return status, time.monotonic() - started


def faqbot_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith("faqbot")]


def gave_up_in_one_line(caplog: pytest.LogCaptureFixture, expected: str) -> None:
    """Retries logged as warnings that say `expected`, then one error line; no traceback anywhere."""
    records = faqbot_lines(caplog)
    retries = [r.getMessage() for r in records if r.levelno == logging.WARNING]
    errors = [r.getMessage() for r in records if r.levelno >= logging.ERROR]
    assert retries and all(expected in line and "retrying in" in line for line in retries), retries
    assert len(errors) == 1 and expected in errors[0], errors
    assert not any(r.exc_info for r in caplog.records), "a traceback reached the log"
    assert all("\n" not in r.getMessage() for r in records)


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ("API never answers", "/gateway/bot did not answer within"),
        ("DNS failure", "the name nonexistent.invalid does not resolve"),
        ("connection refused", "connection refused"),
        ("gateway says nothing", "accepted the connection but said nothing"),
        ("gateway refuses", "connection refused"),
        ("API answers 502", "/gateway/bot answered HTTP 502"),
    ],
)
async def test_an_unreachable_discord_is_one_line_per_retry_then_exit_1(
    fake: FakeDiscord,
    responder: Responder,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
    fault: str,
    expected: str,
) -> None:
    env = environment(fake)
    if fault == "API never answers":
        fake.stall("GET", "/gateway/bot")
    elif fault == "DNS failure":
        env["FAQBOT_DISCORD_API_BASE"] = "http://nonexistent.invalid/api/v10"
    elif fault == "connection refused":
        env["FAQBOT_DISCORD_API_BASE"] = f"http://127.0.0.1:{closed_port()}/api/v10"
    elif fault == "gateway says nothing":
        fake.gateway_silent = True
    elif fault == "gateway refuses":  # with a shard count, discord.py connects to the configured gateway
        env.update(FAQBOT_DISCORD_GATEWAY=f"ws://127.0.0.1:{closed_port()}/gateway", FAQBOT_DISCORD_SHARD_COUNT="1")
    elif fault == "API answers 502":
        fake.refuse("GET", "/gateway/bot", times=1000, status=502)
    caplog.set_level(logging.INFO)

    status, took = await run_in_thread(responder, env, tmp_path)

    assert status == 1
    assert BUDGET - 0.5 <= took < BUDGET + 3  # retried for the budget, then stopped
    gave_up_in_one_line(caplog, expected)
    assert TOKEN not in caplog.text


async def test_a_discord_that_comes_back_within_the_budget_is_joined(
    fake: FakeDiscord, responder: Responder, caplog: pytest.LogCaptureFixture
) -> None:
    fake.refuse("GET", "/gateway/bot", times=1, status=503)
    caplog.set_level(logging.INFO)
    health = Health("discord")
    config = DiscordSettings(token=TOKEN, api_base=fake.api_base, gateway=fake.gateway_url)
    adapter = DiscordAdapter(
        DiscordBot(core.Bot(responder, "discord"), config, guild_ready_timeout=0.05), health, connect_timeout=30
    )
    stop = asyncio.Event()
    running = asyncio.create_task(run_until_stopped(adapter, health, None, 1, stop=stop))
    await fake.wait_connected(timeout=10)
    await reply_to(fake, await fake.member_says("!faq reset my password"))
    for _ in range(100):  # the bot answers as soon as the gateway is up, a moment before it says it is ready
        if health.status is Status.RUNNING:
            break
        await asyncio.sleep(0.05)
    assert health.status is Status.RUNNING
    stop.set()
    assert await asyncio.wait_for(running, 10) == 0
    retried = [r.getMessage() for r in faqbot_lines(caplog) if r.levelno == logging.WARNING]
    assert len(retried) == 1 and "/gateway/bot answered HTTP 503; retrying in" in retried[0]


async def test_a_configured_gateway_is_the_one_connected_to(fake: FakeDiscord, responder: Responder) -> None:
    fake.advertised_gateway = f"ws://127.0.0.1:{closed_port()}/gateway"  # where the API says it is: nothing
    fake.recommended_shards = 1
    health = Health("discord")
    config = DiscordSettings(token=TOKEN, api_base=fake.api_base, gateway=fake.gateway_url)
    bot = DiscordBot(core.Bot(responder, "discord"), config, guild_ready_timeout=0.05)
    stop = asyncio.Event()
    running = asyncio.create_task(run_until_stopped(DiscordAdapter(bot, health, 10), health, None, 1, stop=stop))
    await fake.wait_connected(timeout=10)
    assert fake.identified_shards == [(0, 1)]
    stop.set()
    assert await asyncio.wait_for(running, 10) == 0


# -- the real command, signalled ------------------------------------------------------------------------------


class Bot:
    """`faqbot run discord` in a subprocess, with its stderr."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.stderr = b""

    async def stop(self, timeout: float = 10) -> int:
        """SIGTERM; the exit status."""
        self.process.send_signal(signal.SIGTERM)
        return await self.wait(timeout)

    async def wait(self, timeout: float = 10) -> int:
        assert self.process.stderr is not None
        self.stderr = await asyncio.wait_for(self.process.stderr.read(), timeout)
        return await asyncio.wait_for(self.process.wait(), timeout)


StartCommand = Callable[[dict[str, str]], Awaitable[Bot]]


@pytest.fixture
async def run_command(knowledge_dir: Path, tmp_path: Path) -> AsyncIterator[StartCommand]:
    started: list[Bot] = []

    async def start(env: dict[str, str]) -> Bot:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "faqbot.cli",
            "run",
            "discord",
            "--knowledge",
            str(knowledge_dir),
            env={**{k: v for k, v in os.environ.items() if not k.startswith("FAQBOT_")}, **env},
            cwd=tmp_path,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        bot = Bot(process)
        started.append(bot)
        return bot

    yield start
    for bot in started:
        if bot.process.returncode is None:
            bot.process.kill()
            await bot.process.wait()


async def wait_until(predicate: Callable[[], bool], fake: FakeDiscord, timeout: float = 20) -> None:
    await fake.wait_for_event(predicate, timeout)


@pytest.mark.parametrize("moment", ["asking the API", "hearing the gateway", "logging in"])
async def test_sigterm_while_connecting_exits_0_at_once(
    fake: FakeDiscord, run_command: StartCommand, tmp_path: Path, moment: str
) -> None:
    if moment == "asking the API":
        fake.stall("GET", "/gateway/bot")
        reached = lambda: ("GET", "/gateway/bot") in fake.arrived  # noqa: E731
    elif moment == "hearing the gateway":
        fake.gateway_silent = True
        reached = lambda: fake.connections >= 1  # noqa: E731
    else:  # discord.py's own login, after the checks passed
        fake.stall("GET", "/users/@me")
        reached = lambda: ("GET", "/users/@me") in fake.arrived  # noqa: E731
    bot = await run_command(environment(fake, FAQBOT_CONNECT_TIMEOUT_SECONDS="600", FAQBOT_STATE_DIR=str(tmp_path)))
    await wait_until(reached, fake)

    started = time.monotonic()
    assert await bot.stop() == 0, bot.stderr.decode()
    assert time.monotonic() - started < 5
    assert b"Traceback" not in bot.stderr


@pytest.mark.parametrize("when", ["just connected", "running"])
async def test_sigterm_lets_a_reply_in_flight_finish_then_exits_0(
    fake: FakeDiscord, run_command: StartCommand, tmp_path: Path, when: str
) -> None:
    state = tmp_path / "state"
    env = environment(fake, FAQBOT_STATE_DIR=str(state), FAQBOT_HEALTH_HEARTBEAT_SECONDS="1")
    bot = await run_command({**env, "FAQBOT_CONNECT_TIMEOUT_SECONDS": "60"})
    await fake.wait_connected(timeout=20)
    if when == "running":  # discord.py calls the bot ready once the guilds have arrived
        await wait_for_heartbeat(state, "running")
    fake.delay("POST", SEND, 1.5)  # a slow answer from Discord: the reply is still in flight at SIGTERM
    await fake.member_says("!faq reset my password")
    await wait_until(lambda: any(m == "POST" and re.fullmatch(SEND, path) for m, path in fake.arrived), fake)

    assert await bot.stop() == 0, bot.stderr.decode()
    sent = fake.requests_to("POST", SEND)
    assert [r.status for r in sent] == [200]  # answered before the bot exited: it waited for Discord
    assert b"Finishing 1 reply before shutting down" in bot.stderr


async def wait_for_heartbeat(state: Path, status: str, timeout: float = 20) -> None:
    """Until the bot's heartbeat file says `status`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, ValueError):
            if json.loads((state / "heartbeat.json").read_text())["status"] == status:
                return
        await asyncio.sleep(0.1)
    raise AssertionError(f"the heartbeat never said {status}")
