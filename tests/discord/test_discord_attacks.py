"""Attacks on the help forums' buttons from outside, through the fake Discord: posts at
Discord's tag limit, presses whose acknowledgement fails or comes too late, changing one's
mind, and threads the bot merely joins."""

from __future__ import annotations

import pytest

from faqbot.platforms.discord_bot import DiscordBot
from tests.discord.conftest import StartBot
from tests.discord.fake_discord import (
    BILLING_TAG_ID,
    HELP_FORUM_ID,
    TOPIC_TAG_IDS,
    FakeDiscord,
)
from tests.discord.test_discord_help_forums import (
    FORUM,
    TITLE,
    answer_in,
)

CALLBACK = r"/interactions/\d+/[^/]+/callback"
FIVE_TAGS = (BILLING_TAG_ID, *TOPIC_TAG_IDS)


@pytest.fixture
async def forum_bot(start_bot: StartBot) -> DiscordBot:
    return await start_bot(**FORUM)


async def test_a_thread_the_bot_only_joins_is_not_answered(fake: FakeDiscord, forum_bot: DiscordBot) -> None:
    """THREAD_CREATE without `newly_created` is an old post the bot was added to: not a new question."""
    joined = await fake.create_thread(HELP_FORUM_ID, TITLE, newly_created=False)
    await fake.member_says(TITLE, channel_id=joined, message_id=str(joined))
    fresh = await fake.open_post(TITLE)
    await answer_in(fake, fresh)  # a post opened after it is answered, so the joined one had its chance
    assert not fake.requests_to("POST", rf"/channels/{joined}/messages")
    assert not forum_bot.help_forums._waiting
