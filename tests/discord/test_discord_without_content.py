"""Without the message content intent (turned off, or refused by Discord): Discord sends no text
of channel messages that do not mention the bot, and everything that needs none keeps working:
help forum posts by title and tags, /faq, the Answer with FAQ menu, mentions (replies that
mention the bot too), direct messages, ratings. The start-up log says what is off and why."""

from __future__ import annotations

import asyncio
import logging

import pytest

from faqbot.bot import Bot
from faqbot.health import Health
from faqbot.platforms.discord_bot import DiscordAdapter, DiscordBot
from faqbot.platforms.lifecycle import run_until_stopped
from faqbot.responder import Responder
from faqbot.settings import DiscordSettings
from tests.discord.conftest import TOKEN, StartBot
from tests.discord.fake_discord import BOT_ID, DM_CHANNEL_ID, MODERATOR_ID, FakeDiscord
from tests.discord.test_discord_bot import answer_id, callback_for, reply_to, sent_messages
from tests.discord.test_discord_help_forums import FORUM, GRACE, TITLE, answer_in, in_post
from tests.discord.test_discord_menu import MENU, edited_response
from tests.discord.test_discord_moderation import store_of

CONTENT_INTENT = 1 << 15
QUESTION = "how do I reset my password?"


def identified_intents(fake: FakeDiscord) -> list[int]:
    return [frame["d"]["intents"] for frame in fake.gateway_frames if frame["op"] == 2]


async def test_with_the_intent_off_what_needs_no_text_still_works(
    fake: FakeDiscord, start_bot: StartBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    bot = await start_bot(FAQBOT_DISCORD_MESSAGE_CONTENT="0", **FORUM)
    assert [intents & CONTENT_INTENT for intents in identified_intents(fake)] == [0]
    (said,) = [r.getMessage() for r in caplog.records if "Message content intent is off" in r.getMessage()]
    assert said.startswith("Message content intent is off (FAQBOT_DISCORD_MESSAGE_CONTENT=0)")
    assert (
        "prefix commands (!faq ...), passive answers, moderators' !faq replies and help posts' first messages are off"
        in said
    )
    assert "Still working: help forum posts (by title and tags), /faq, /faq-list, the Answer with FAQ menu" in said

    # Discord sends the text of none of these: nothing to answer
    unseen = await fake.member_says("password reset pls")
    await fake.member_says(QUESTION)
    await fake.member_says("!faq reset my password")
    # ... but of these it does
    mentioned = await fake.member_says(f"<@{BOT_ID}> reset password", mentions=(BOT_ID,))
    answer = await answer_id(fake, mentioned)
    replying = await fake.member_says(
        "and who are the moderators?", replying_to=fake.messages[answer], mentions=(BOT_ID,)
    )
    direct = await fake.member_says("reset password", channel_id=DM_CHANNEL_ID, guild=False)
    assert (await reply_to(fake, replying)).json["embeds"][0]["title"] == "How do I reach the moderators?"
    assert (await reply_to(fake, direct)).json["embeds"][0]["title"] == "How do I reset my password?"
    assert len(sent_messages(fake)) == 3
    slash = await fake.slash("faq", [{"name": "question", "type": 3, "value": "reset-password"}])
    assert (await callback_for(fake, slash))["data"]["embeds"][0]["title"] == "How do I reset my password?"

    # the context menu gets the text of the message it is used on
    used = await fake.message_command(MENU, unseen, user_id=MODERATOR_ID)
    assert (await reply_to(fake, unseen)).json["embeds"][0]["title"] == "How do I reset my password?"
    assert (await edited_response(fake, used))["content"].startswith("Answered their message")

    # reactions carry no text: ratings still count
    await fake.react(answer, MODERATOR_ID, "👍")

    # help posts are read by their title and tags
    titled = await fake.open_post(TITLE, "details nobody but members can read")
    untitled = await fake.open_post("urgent", "who are the moderators here?")  # the question is in the text
    assert (await answer_in(fake, titled))[1]["embeds"][0]["title"] == TITLE
    await asyncio.sleep(GRACE + 0.2)
    await reply_to(fake, await fake.member_says(f"<@{BOT_ID}> help", channel_id=untitled.thread_id, mentions=(BOT_ID,)))
    assert len(in_post(fake, untitled)) == 1  # the mention's reply only: the bot never saw the question
    counts = {c.entry_id: c for c in (await store_of(bot)).entry_counts()}
    assert counts["reset-password"].helpful == 1


async def test_a_refused_intent_is_done_without(
    fake: FakeDiscord, responder: Responder, caplog: pytest.LogCaptureFixture
) -> None:
    fake.message_content_allowed = False  # the developer portal's switch is off, or Discord's review lapsed
    caplog.set_level(logging.INFO)
    health = Health("discord")
    config = DiscordSettings(token=TOKEN, api_base=fake.api_base, gateway=fake.gateway_url)
    bot = DiscordBot(Bot(responder, "discord"), config, guild_ready_timeout=0.05)
    adapter = DiscordAdapter(bot, health, connect_timeout=30)
    stop = asyncio.Event()
    running = asyncio.create_task(run_until_stopped(adapter, health, None, 1, stop=stop))
    await fake.wait_connected(timeout=10)

    assert [intents & CONTENT_INTENT for intents in identified_intents(fake)] == [CONTENT_INTENT, 0]
    assert "Discord refused the message content intent (close code 4014): reconnecting without it" in caplog.text
    assert "Message content intent is off (Discord refused it)" in caplog.text
    mentioned = await fake.member_says(f"<@{BOT_ID}> reset password", mentions=(BOT_ID,))
    assert (await reply_to(fake, mentioned)).json["embeds"][0]["title"] == "How do I reset my password?"
    stop.set()
    assert await asyncio.wait_for(running, 10) == 0
    assert TOKEN not in caplog.text
