"""Attacks on the help forums' buttons from outside, through the fake Discord: posts at
Discord's tag limit, presses whose acknowledgement fails or comes too late, changing one's
mind, and threads the bot merely joins."""

from __future__ import annotations

import asyncio

import discord
import pytest

from faqbot.platforms.discord_bot import DiscordBot
from tests.discord.conftest import StartBot
from tests.discord.fake_discord import (
    BILLING_TAG_ID,
    HELP_FORUM_ID,
    HUMAN_TAG_ID,
    MODERATOR_ID,
    OTHER_MEMBER_ID,
    SOLVED_TAG_ID,
    SUPPORT_ROLE_ID,
    TOPIC_TAG_IDS,
    FakeDiscord,
)
from tests.discord.test_discord_bot import NO_PINGS, callback_for, reply_to
from tests.discord.test_discord_help_forums import (
    FORUM,
    HUMAN_ID,
    SOLVED_ID,
    TITLE,
    after_grace,
    answer_in,
    in_post,
    tags_set,
)
from tests.discord.test_discord_moderation import store_of

CALLBACK = r"/interactions/\d+/[^/]+/callback"
FIVE_TAGS = (BILLING_TAG_ID, *TOPIC_TAG_IDS)


@pytest.fixture
async def forum_bot(start_bot: StartBot) -> DiscordBot:
    return await start_bot(**FORUM)


async def retagged(fake: FakeDiscord, bot: DiscordBot, thread_id: int, tags: tuple[int, ...]) -> None:
    """THREAD_UPDATE with the post's new tags, once the bot has taken it in."""
    await fake.update_thread(thread_id, applied_tags=tags)
    for _ in range(200):
        thread = bot.get_channel(thread_id)
        if isinstance(thread, discord.Thread) and [tag.id for tag in thread.applied_tags] == list(tags):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the bot never saw the post retagged")


async def test_a_post_with_five_tags_is_not_sent_a_sixth(
    fake: FakeDiscord, forum_bot: DiscordBot, caplog: pytest.LogCaptureFixture
) -> None:
    post = await fake.open_post(TITLE)
    answer_id, _ = await answer_in(fake, post)
    await retagged(fake, forum_bot, post.thread_id, FIVE_TAGS)  # the poster tagged it to the full
    pressed = await fake.press(answer_id, HUMAN_ID)
    await fake.wait_for_requests("POST", rf"/channels/{post.thread_id}/messages", 2)  # the notice still goes
    await after_grace(fake, post)
    assert "marked your post for a human" in (await callback_for(fake, pressed))["data"]["content"]
    assert not fake.requests_to("PATCH", rf"/channels/{post.thread_id}")  # Discord would refuse six (400)
    assert "already carries 5 tags" in caplog.text


async def test_at_five_tags_solved_still_replaces_needs_human(fake: FakeDiscord, forum_bot: DiscordBot) -> None:
    post = await fake.open_post(TITLE)
    answer_id, _ = await answer_in(fake, post)
    await retagged(fake, forum_bot, post.thread_id, (*FIVE_TAGS[:4], HUMAN_TAG_ID))
    await fake.press(answer_id, SOLVED_ID)
    await fake.wait_for_requests("PATCH", rf"/channels/{post.thread_id}")
    assert tags_set(fake, post) == [[*map(str, FIVE_TAGS[:4]), str(SOLVED_TAG_ID)]]


async def test_a_press_acknowledged_too_late_still_tags_and_hands_off(
    fake: FakeDiscord, forum_bot: DiscordBot, caplog: pytest.LogCaptureFixture
) -> None:
    post = await fake.open_post(TITLE)
    answer_id, _ = await answer_in(fake, post)
    fake.interaction_response_seconds = 0.1
    fake.delay("POST", CALLBACK, 0.3)  # the acknowledgement arrives after Discord's window: 404 Unknown interaction
    await fake.press(answer_id, HUMAN_ID)
    await fake.wait_for_requests("POST", CALLBACK, status=404)
    await fake.wait_for_requests("PATCH", rf"/channels/{post.thread_id}")
    await fake.wait_for_requests("POST", rf"/channels/{post.thread_id}/messages", 2)
    assert tags_set(fake, post) == [[str(HUMAN_TAG_ID)]]
    assert in_post(fake, post)[1].json["content"].startswith(f"<@&{SUPPORT_ROLE_ID}>")
    assert "Could not acknowledge" in caplog.text


async def test_a_press_whose_acknowledgement_is_refused_still_tags(fake: FakeDiscord, forum_bot: DiscordBot) -> None:
    post = await fake.open_post(TITLE)
    answer_id, _ = await answer_in(fake, post)
    fake.refuse("POST", CALLBACK, status=404)  # e.g. the interaction expired while the store was read
    await fake.press(answer_id, SOLVED_ID)
    await fake.wait_for_requests("PATCH", rf"/channels/{post.thread_id}")
    assert tags_set(fake, post) == [[str(SOLVED_TAG_ID)]]


async def test_a_human_asked_for_after_solved_takes_solved_off(fake: FakeDiscord, forum_bot: DiscordBot) -> None:
    post = await fake.open_post(TITLE)
    answer_id, _ = await answer_in(fake, post)
    await fake.press(answer_id, SOLVED_ID)
    await fake.wait_for_requests("PATCH", rf"/channels/{post.thread_id}")
    await fake.press(answer_id, HUMAN_ID)
    await fake.wait_for_requests("PATCH", rf"/channels/{post.thread_id}", 2)
    assert tags_set(fake, post)[-1] == [str(HUMAN_TAG_ID)]  # not "Solved" and "Needs human" at once


async def test_a_thread_the_bot_only_joins_is_not_answered(fake: FakeDiscord, forum_bot: DiscordBot) -> None:
    """THREAD_CREATE without `newly_created` is an old post the bot was added to: not a new question."""
    joined = await fake.create_thread(HELP_FORUM_ID, TITLE, newly_created=False)
    await fake.member_says(TITLE, channel_id=joined, message_id=str(joined))
    fresh = await fake.open_post(TITLE)
    await answer_in(fake, fresh)  # a post opened after it is answered, so the joined one had its chance
    assert not fake.requests_to("POST", rf"/channels/{joined}/messages")
    assert not forum_bot.help_forums._waiting


async def test_a_members_mentions_quoted_back_by_gaps_ping_nobody(fake: FakeDiscord, start_bot: StartBot) -> None:
    """`!faq gaps` quotes members' questions: their @everyone and mentions come back inert (the
    fixture fails the test on any ping the bot's message would make)."""
    bot = await start_bot()
    hostile = f"@everyone @here <@&{SUPPORT_ROLE_ID}> <@{OTHER_MEMBER_ID}> how tall is the eiffel tower"
    await reply_to(fake, await fake.member_says(f"!faq {hostile}"))
    assert (await store_of(bot)).gap_records()  # written before gaps reads it
    gaps = (await reply_to(fake, await fake.member_says("!faq gaps", author_id=MODERATOR_ID))).json
    assert "eiffel tower" in gaps["content"]
    assert gaps["allowed_mentions"] == NO_PINGS
    assert f"<@&{SUPPORT_ROLE_ID}>" not in gaps["content"] and f"<@{OTHER_MEMBER_ID}>" not in gaps["content"]
