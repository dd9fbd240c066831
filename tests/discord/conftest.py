"""Fixtures: a fake Discord on loopback, a small knowledge folder, and running bots with real stores."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import discord.gateway
import discord.http
import pytest
import yaml

from faqbot.bot import Bot
from faqbot.matching.matchers import load_matcher
from faqbot.platforms.discord_bot import DiscordBot, point_at_server
from faqbot.responder import Responder, ResponderSettings
from faqbot.settings import Settings, load_settings
from faqbot.sources.loader import load_knowledge
from faqbot.sources.model import Knowledge
from faqbot.state_folder import StateFolder
from faqbot.store import BackgroundRecorder
from tests.discord.fake_discord import SUPPORT_ROLE_ID, FakeDiscord

TOKEN = "MTAwMDAwMDAwMDAwMDAwMDAx.fake-secret.do-not-log-me"
LIST_PAGE_SIZE = 5
FILLER_TOPICS = 28  # with the real entries: more than 25 (autocomplete cap) and several list pages

KNOWLEDGE = [
    {
        "id": "reset-password",
        "question": "How do I reset my password?",
        "alternates": ["I forgot my password", "how can I change my password"],
        "answer": "Open **Settings → Account** and choose *Reset password*; a link arrives by email.",
        "link": "https://docs.example.org/account#reset-password",
    },
    {
        "id": "ping-moderators",
        "question": "How do I reach the moderators?",
        "alternates": ["how do I contact a moderator", "who are the moderators"],
        "answer": "Please never write @everyone or @here for this, and not <@&400000000000000001> either: "
        "open a ticket in #support and a moderator will answer.",
        "link": "https://docs.example.org/moderation",
    },
    {
        "id": "crowd-title",
        "question": "Can I use @everyone in announcements?",
        "answer": "Only staff can announce to the whole server.",
    },
    *[
        {
            "id": f"topic-{n:02d}",
            "question": f"What does the {word} setting do?",
            "answer": f"The {word} setting changes how {word} works.",
        }
        for n, word in enumerate(
            [
                "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliett",
                "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango",
                "uniform", "victor", "whiskey", "xray", "yankee", "zulu", "amber", "bronze",
            ][:FILLER_TOPICS]
        )
    ],
]  # fmt: skip


@pytest.fixture
def knowledge_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "knowledge"
    folder.mkdir()
    (folder / "faq.yml").write_text(yaml.safe_dump(KNOWLEDGE, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return folder


def settings_from(env: dict[str, str]) -> Settings:
    """Settings as `faqbot run discord` reads them, from an environment only."""
    return load_settings(environ={"FAQBOT_CHAT_LIST_PAGE_SIZE": str(LIST_PAGE_SIZE), **env})


@pytest.fixture
def responder(knowledge_dir: Path) -> Responder:
    knowledge = load_knowledge([knowledge_dir])
    assert not knowledge.errors, knowledge.errors
    return Responder(knowledge, ResponderSettings(list_page_size=LIST_PAGE_SIZE, cooldown_seconds=600))


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    """The fake server, with discord.py pointed at it (and pointed back afterwards).

    A test fails if the bot sent anything Discord would refuse, unless it took the refusal out."""
    saved = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    server = FakeDiscord(TOKEN)
    await server.start()
    point_at_server(server.api_base, server.gateway_url)
    yield server
    await server.stop()
    discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = saved
    assert not server.refusals, f"Discord would have refused what the bot sent: {server.refusals}"
    handoffs = [path for path, mention in server.pings if mention == f"<@&{SUPPORT_ROLE_ID}>"]
    others = [ping for ping in server.pings if ping[1] != f"<@&{SUPPORT_ROLE_ID}>"]
    assert not others, f"the bot pinged: {others}"
    assert len(handoffs) == len(set(handoffs)), f"the helpers were pinged twice in a post: {handoffs}"


GRACE_SECONDS = "0.3"  # a help post's grace period in these tests (60 s by default)


class BotRunner:
    """Starts `DiscordBot`s in the test's loop, each built the way `faqbot run discord` builds it
    (from an environment): a `Bot` over its own responder and a real SQLite store in its state
    folder (`state_dir`; the test's own by default, so a second bot on it is a restart).
    `!faq reload` reads `knowledge_dir` again (or gives back the `knowledge` a test passed)."""

    def __init__(self, fake: FakeDiscord, knowledge_dir: Path, state_dir: Path) -> None:
        self.fake = fake
        self.knowledge_dir = knowledge_dir
        self.state_dir = state_dir
        self._running: dict[int, tuple[DiscordBot, asyncio.Task[None]]] = {}

    async def __call__(
        self, knowledge: Knowledge | None = None, *, state_dir: Path | None = None, **env: str
    ) -> DiscordBot:
        environment = {
            "FAQBOT_DISCORD_TOKEN": TOKEN,
            "FAQBOT_DISCORD_API_BASE": self.fake.api_base,
            "FAQBOT_DISCORD_GATEWAY": self.fake.gateway_url,
            "FAQBOT_STATE_DIR": str(state_dir or self.state_dir),
            "FAQBOT_CHAT_HELP_GRACE_SECONDS": GRACE_SECONDS,
            **env,
        }
        settings = settings_from(environment)
        config = settings.require_discord()
        point_at_server(config.api_base, config.gateway)
        StateFolder.open(settings.state_dir)
        recorder = BackgroundRecorder(settings.store.open).start()

        def reload() -> Knowledge:
            return knowledge or load_knowledge([self.knowledge_dir])

        # The tests' matcher is lexical (fast, and the tests are about Discord); a test that sets
        # FAQBOT_MATCHER gets that matcher, as `faqbot run` would.
        vectors = load_matcher(settings.matcher) if "FAQBOT_MATCHER" in env else None
        responder = Responder(reload(), settings.chat, vectors=vectors)
        core = Bot(responder, "discord", recorder=recorder, reload=reload)
        bot = DiscordBot(
            core,
            config,
            help_grace_seconds=settings.help_grace_seconds,
            guild_ready_timeout=0.05,
            identify_spacing=0.05,
        )
        task = asyncio.create_task(bot.start(config.token))
        self._running[id(bot)] = (bot, task)
        ready = asyncio.create_task(bot.wait_until_ready())
        await asyncio.wait([ready, task], timeout=10, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            ready.cancel()
            task.result()  # raises what stopped the bot
        assert ready.done(), "bot did not become ready"
        await self.fake.wait_connected()
        await asyncio.wait_for(bot.restored.wait(), 10)  # so a test's first message meets what the store kept
        return bot

    async def stop(self, bot: DiscordBot) -> None:
        """Shut `bot` down as `faqbot run` does: its replies finish, its store is written and closed."""
        bot, task = self._running.pop(id(bot))
        await bot.drain()
        await bot.close()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 5)
        bot.core.close()
        if bot.core.recorder is not None:
            await asyncio.to_thread(bot.core.recorder.close)
        assert not task.cancelled()
        if task.exception() is not None:
            raise task.exception()  # type: ignore[misc]

    async def stop_all(self) -> None:
        for bot, _ in list(self._running.values()):
            await self.stop(bot)


StartBot = BotRunner


@pytest.fixture
async def start_bot(fake: FakeDiscord, knowledge_dir: Path, tmp_path: Path) -> AsyncIterator[BotRunner]:
    """Start bots against the fake; each one is stopped at the end of the test."""
    runner = BotRunner(fake, knowledge_dir, tmp_path / "state")
    yield runner
    await runner.stop_all()


@pytest.fixture
async def bot(start_bot: StartBot) -> DiscordBot:
    return await start_bot()
