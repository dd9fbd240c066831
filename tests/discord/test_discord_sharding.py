"""Sharding: one deployment serving many guilds over several gateway connections (shards),
in one process or split across processes, against the fake's shard-aware gateway.

Discord sends each guild's events on one shard, `(guild_id >> 22) % shard_count`, and direct
messages on shard 0; the fake does the same, so a bot answering on the wrong shard, or twice,
shows here."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from faqbot.bot import Bot
from faqbot.platforms.discord_bot import DiscordBot
from faqbot.responder import Responder
from faqbot.settings import load_settings
from tests.discord.conftest import TOKEN, StartBot
from tests.discord.fake_discord import (
    CHANNEL_ID,
    DM_CHANNEL_ID,
    GUILD_ID,
    SECOND_GUILD_CHANNEL_ID,
    SECOND_GUILD_ID,
    FakeDiscord,
    shard_of,
)
from tests.discord.test_discord_bot import barrier, reply_to, run_main, sent_messages

QUESTION = "how do I reset my password?"


@pytest.fixture
def two_guilds(fake: FakeDiscord) -> FakeDiscord:
    assert (shard_of(GUILD_ID, 2), shard_of(SECOND_GUILD_ID, 2)) == (0, 1)
    fake.guild_ids.append(SECOND_GUILD_ID)
    return fake


async def ask_everywhere(fake: FakeDiscord) -> None:
    """A question in each guild and a direct message, each answered exactly once."""
    for where in ({"channel_id": CHANNEL_ID}, {"channel_id": SECOND_GUILD_CHANNEL_ID}):
        await reply_to(fake, await fake.member_says(QUESTION, **where))
    await reply_to(fake, await fake.member_says(QUESTION, channel_id=DM_CHANNEL_ID, guild=False))
    await barrier(fake)
    await barrier(fake, channel_id=SECOND_GUILD_CHANNEL_ID)
    assert len(sent_messages(fake)) == 5  # three answers and two barriers: nothing twice


async def test_two_processes_split_the_shards(
    two_guilds: FakeDiscord, start_bot: StartBot, responder: Responder
) -> None:
    fake = two_guilds
    # Each process has its own responder, as two processes would.
    first = await start_bot(responder.knowledge, FAQBOT_DISCORD_SHARD_COUNT="2", FAQBOT_DISCORD_SHARD_IDS="0")
    second = await start_bot(responder.knowledge, FAQBOT_DISCORD_SHARD_COUNT="2", FAQBOT_DISCORD_SHARD_IDS="1")
    await fake.wait_connected(shard=1)

    assert sorted(fake.identified_shards) == [(0, 2), (1, 2)]
    assert [g.id for g in first.guilds] == [GUILD_ID] and [g.id for g in second.guilds] == [SECOND_GUILD_ID]
    await ask_everywhere(fake)
    # each process heard only its own guilds' channels (and shard 0 the direct messages)
    assert first.speakers.called(CHANNEL_ID, "alice") and first.speakers.called(DM_CHANNEL_ID, "alice")
    assert not first.speakers.called(SECOND_GUILD_CHANNEL_ID, "alice")
    assert second.speakers.called(SECOND_GUILD_CHANNEL_ID, "alice") and not second.speakers.called(CHANNEL_ID, "alice")
    # slash commands are the application's, registered once, by the process that runs shard 0
    assert len(fake.requests_to("PUT", r"/applications/\d+/commands")) == 1


async def test_one_process_runs_every_shard(two_guilds: FakeDiscord, start_bot: StartBot) -> None:
    fake = two_guilds
    bot = await start_bot(FAQBOT_DISCORD_SHARD_COUNT="2")
    await fake.wait_connected(shard=1)
    assert sorted(fake.identified_shards) == [(0, 2), (1, 2)]
    assert set(bot.shards) == {0, 1} and {g.id for g in bot.guilds} == {GUILD_ID, SECOND_GUILD_ID}
    await ask_everywhere(fake)


async def test_without_shard_settings_the_bot_runs_the_shards_discord_recommends(
    two_guilds: FakeDiscord, start_bot: StartBot
) -> None:
    fake = two_guilds
    fake.recommended_shards = 2
    bot = await start_bot()
    await fake.wait_connected(shard=1)
    assert bot.shard_count == 2 and sorted(fake.identified_shards) == [(0, 2), (1, 2)]
    await ask_everywhere(fake)


async def test_a_dropped_shard_resumes_and_the_other_carries_on(two_guilds: FakeDiscord, start_bot: StartBot) -> None:
    fake = two_guilds
    await start_bot(FAQBOT_DISCORD_SHARD_COUNT="2")
    await fake.wait_connected(shard=1)
    await fake.drop_gateway(shard=1)
    meanwhile = await fake.member_says(QUESTION)  # shard 0 is up: answered at once
    await reply_to(fake, meanwhile)
    missed = await fake.member_says(QUESTION, channel_id=SECOND_GUILD_CHANNEL_ID)  # replayed on RESUME
    await reply_to(fake, missed, timeout=10)
    assert fake.resume_count == 1 and fake.identify_count == 2


async def test_a_bot_discord_wants_sharded_stops_with_one_line(
    two_guilds: FakeDiscord, responder: Responder, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    fake = two_guilds
    fake.guilds_per_shard = 1  # Discord's 2,500, scaled down: two guilds on one shard are too many
    env = {"FAQBOT_DISCORD_TOKEN": TOKEN, "FAQBOT_DISCORD_API_BASE": fake.api_base}
    with caplog.at_level(logging.INFO):
        status = await asyncio.wait_for(asyncio.to_thread(run_main, responder, env, tmp_path / "state"), 20)
    assert status == 1
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.getMessage() for r in errors][-1].startswith("Discord requires sharding for this bot")
    assert errors[-1].exc_info is None  # one line, no traceback


def test_shard_settings_go_to_discord_py(responder: Responder) -> None:
    settings = load_settings(
        environ={"FAQBOT_DISCORD_TOKEN": TOKEN, "FAQBOT_DISCORD_SHARD_COUNT": "4", "FAQBOT_DISCORD_SHARD_IDS": "2,3"}
    )
    bot = DiscordBot(Bot(responder, "discord"), settings.require_discord())
    assert (bot.shard_count, bot.shard_ids) == (4, [2, 3])
