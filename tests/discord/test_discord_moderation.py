"""Moderators' loop on Discord, through the real discord.py client against the fake and a real
SQLite store in the bot's state folder: who is a moderator, their commands, corrections sent as
replies that answer the member and teach the bot, 👍 / 👎 ratings, 🗑️ removal, and what is
kept across a restart (a second bot on the same state folder)."""

from __future__ import annotations

import asyncio

import pytest

from faqbot.platforms.discord_bot import DiscordBot
from faqbot.store.interface import Store
from faqbot.store.records import GapReason
from tests.discord.conftest import StartBot
from tests.discord.fake_discord import (
    CHANNEL_ID,
    HELPER_ID,
    HELPER_ROLE_ID,
    MEMBER_ID,
    MODERATOR_ID,
    OTHER_MEMBER_ID,
    QUIET_CHANNEL_ID,
    FakeDiscord,
)
from tests.discord.test_discord_bot import NO_PINGS, answer_id, barrier, callback_for, reply_to, sent_messages

QUESTION = "how do I reset my password?"
MEMBER_WORDS = "the sign in email never arrives?"  # the bot has nothing for these words (yet)


async def store_of(bot: DiscordBot) -> Store:
    """The bot's store, once the replies it is sending are out and everything queued is written."""
    while any(not task.done() for task in bot._in_flight):  # a reply's record follows Discord's answer
        await asyncio.sleep(0.01)
    recorder = bot.core.recorder
    assert recorder is not None
    assert await asyncio.to_thread(recorder.flush, 10)
    return recorder.store


# -- who is a moderator -----------------------------------------------------------------------


@pytest.mark.parametrize("configured", ["helpers", "@Helpers", str(HELPER_ROLE_ID)])
async def test_moderators_manage_messages_or_hold_a_configured_role(
    fake: FakeDiscord, start_bot: StartBot, configured: str
) -> None:
    await start_bot(FAQBOT_DISCORD_MODERATOR_ROLES=f"someone-else, {configured}")
    by_permission = await fake.member_says("!faq passive off", author_id=MODERATOR_ID)
    by_role = await fake.member_says("!faq passive on", author_id=HELPER_ID, channel_id=QUIET_CHANNEL_ID)
    by_member = await fake.member_says("!faq passive off", author_id=MEMBER_ID, channel_id=QUIET_CHANNEL_ID)

    assert "won't answer plain questions here" in (await reply_to(fake, by_permission)).json["content"]
    assert "answer plain questions here again" in (await reply_to(fake, by_role)).json["content"]
    assert (await reply_to(fake, by_member)).json["content"] == "Only moderators can do that."


async def test_without_configured_roles_a_role_is_not_enough(fake: FakeDiscord, start_bot: StartBot) -> None:
    await start_bot()
    refused = await fake.member_says("!faq passive off", author_id=HELPER_ID)
    assert (await reply_to(fake, refused)).json["content"] == "Only moderators can do that."


# -- their commands ---------------------------------------------------------------------------


async def test_passive_off_in_a_channel_is_kept_across_a_restart(fake: FakeDiscord, start_bot: StartBot) -> None:
    bot = await start_bot()
    await reply_to(
        fake, await fake.member_says("!faq passive off", author_id=MODERATOR_ID, channel_id=QUIET_CHANNEL_ID)
    )
    await fake.member_says(QUESTION, channel_id=QUIET_CHANNEL_ID)
    await barrier(fake, channel_id=QUIET_CHANNEL_ID)
    assert len(sent_messages(fake)) == 2  # the moderator's confirmation and the barrier's answer
    await start_bot.stop(bot)

    await start_bot()  # a restart: a new bot on the same state folder
    await fake.member_says(QUESTION, channel_id=QUIET_CHANNEL_ID)
    await barrier(fake, channel_id=QUIET_CHANNEL_ID)
    assert len(sent_messages(fake)) == 3  # only the barrier's: the channel is still quiet
    await reply_to(fake, await fake.member_says(QUESTION, channel_id=CHANNEL_ID))  # elsewhere, as before


async def test_reload_reads_the_knowledge_files_again(fake: FakeDiscord, start_bot: StartBot, knowledge_dir) -> None:
    await start_bot()
    (knowledge_dir / "more.yml").write_text("- question: Is there a dark mode?\n  answer: Yes, in Settings.\n")
    reloaded = await fake.member_says("!faq reload", author_id=MODERATOR_ID)
    assert "Reloaded the knowledge: 32 entries" in (await reply_to(fake, reloaded)).json["content"]
    answered = await fake.member_says("!faq is there a dark mode")
    assert (await reply_to(fake, answered)).json["embeds"][0]["title"] == "Is there a dark mode?"


async def test_gaps_in_a_channel_show_that_channels_questions(fake: FakeDiscord, start_bot: StartBot) -> None:
    bot = await start_bot()
    await reply_to(fake, await fake.member_says("!faq how tall is the eiffel tower"))
    await fake.member_says("how tall is the eiffel tower exactly?")  # silent, and recorded as a gap
    await reply_to(fake, await fake.member_says("!faq secret plans of the staff", channel_id=QUIET_CHANNEL_ID))
    await barrier(fake)
    reasons = {record.question: record.reason for record in (await store_of(bot)).gap_records()}
    assert reasons["how tall is the eiffel tower exactly?"] is GapReason.SILENT

    gaps = (await reply_to(fake, await fake.member_says("!faq gaps", author_id=MODERATOR_ID))).json["content"]
    assert "2× “" in gaps and "eiffel tower" in gaps  # both asks, one group
    assert "secret" not in gaps
    assert (await reply_to(fake, await fake.member_says("!faq gaps"))).json["content"] == "Only moderators can do that."


# -- corrections -------------------------------------------------------------------------------


async def test_a_moderators_reply_answers_the_member_and_teaches_their_words(
    fake: FakeDiscord, start_bot: StartBot
) -> None:
    bot = await start_bot()
    members = await fake.member_says(MEMBER_WORDS)
    await barrier(fake)
    assert len(sent_messages(fake)) == 1  # the bot had nothing to say to it

    correction = await fake.member_says("!faq reset-password", author_id=MODERATOR_ID, replying_to=members)
    body = (await reply_to(fake, members)).json  # in reply to the member's message, not the moderator's
    assert body["embeds"][0]["title"] == "How do I reset my password?"
    assert body["allowed_mentions"] == NO_PINGS
    assert not any(
        str((r.json.get("message_reference") or {}).get("message_id")) == correction["id"] for r in sent_messages(fake)
    )
    store = await store_of(bot)
    assert [(p.text, p.entry_id, p.message_id) for p in store.learned_phrasings()] == [
        (MEMBER_WORDS, "reset-password", members["id"])
    ]

    # live: the next member who asks so gets the answer, in another channel, and after a restart
    later = await fake.member_says(MEMBER_WORDS, author_id=OTHER_MEMBER_ID, channel_id=QUIET_CHANNEL_ID)
    assert (await reply_to(fake, later)).json["embeds"][0]["title"] == "How do I reset my password?"
    await start_bot.stop(bot)
    await start_bot()
    again = await fake.member_says("!faq " + MEMBER_WORDS, author_id=OTHER_MEMBER_ID)
    assert (await reply_to(fake, again)).json["embeds"][0]["title"] == "How do I reset my password?"


async def test_a_members_reply_points_the_bot_but_teaches_nothing(fake: FakeDiscord, start_bot: StartBot) -> None:
    bot = await start_bot()
    members = await fake.member_says(MEMBER_WORDS)
    await fake.member_says("!faq reset-password", author_id=OTHER_MEMBER_ID, replying_to=members)
    assert (await reply_to(fake, members)).json["embeds"][0]["title"] == "How do I reset my password?"
    assert (await store_of(bot)).learned_phrasings() == []


# -- ratings and removal ---------------------------------------------------------------------------


async def test_thumbs_on_an_answer_are_its_ratings(fake: FakeDiscord, start_bot: StartBot) -> None:
    bot = await start_bot()
    answer = await answer_id(fake, await fake.member_says("!faq reset my password"))
    await fake.react(answer, MEMBER_ID, "👍")
    await fake.react(answer, MODERATOR_ID, "👍🏽")  # a skin tone is the same thumb
    await fake.react(answer, OTHER_MEMBER_ID, "👎")
    await fake.react(answer, HELPER_ID, "🎉")  # not a rating
    members = await fake.member_says("nice")
    await fake.react(members["id"], OTHER_MEMBER_ID, "👍")  # a member's message: not the bot's to count
    await barrier(fake)
    (counts,) = (await store_of(bot)).entry_counts()
    assert (counts.entry_id, counts.helpful, counts.unhelpful) == ("reset-password", 2, 1)

    await fake.unreact(answer, OTHER_MEMBER_ID, "👎")  # taken back
    await fake.unreact(answer, MEMBER_ID, "👍")
    await barrier(fake)
    (counts,) = (await store_of(bot)).entry_counts()
    assert (counts.helpful, counts.unhelpful) == (1, 0)

    # Changed their mind: a 👎 beside their 👍 replaces it, and taking the 👍 off leaves the 👎.
    await fake.react(answer, MODERATOR_ID, "👎")
    await fake.unreact(answer, MODERATOR_ID, "👍🏽")
    await barrier(fake)
    (counts,) = (await store_of(bot)).entry_counts()
    assert (counts.helpful, counts.unhelpful) == (0, 1)
    await fake.unreact(answer, MODERATOR_ID, "👎")
    await barrier(fake)
    (counts,) = (await store_of(bot)).entry_counts()
    assert (counts.helpful, counts.unhelpful) == (0, 0)


async def test_the_asker_removes_an_answer_after_a_restart(fake: FakeDiscord, start_bot: StartBot) -> None:
    bot = await start_bot()
    answer = await answer_id(fake, await fake.member_says(QUESTION))
    await start_bot.stop(bot)

    bot = await start_bot()  # knows nothing in memory: the store says who asked
    await fake.react(answer, OTHER_MEMBER_ID)
    await barrier(fake)
    assert not fake.requests_to("DELETE", r".*")
    await fake.react(answer, MEMBER_ID)
    await fake.wait_for_requests("DELETE", rf"/channels/{CHANNEL_ID}/messages/{answer}", status=204)
    (counts,) = (await store_of(bot)).entry_counts()
    assert (counts.entry_id, counts.removed) == ("reset-password", 1)


async def test_moderators_commands_work_as_slash_commands_too(fake: FakeDiscord, bot: DiscordBot) -> None:
    # Without the message content intent, /faq is how moderators reach their commands.
    option = [{"name": "question", "type": 3, "value": "passive off"}]
    by_moderator = await fake.slash("faq", option, user_id=MODERATOR_ID, channel_id=QUIET_CHANNEL_ID)
    by_member = await fake.slash("faq", option, user_id=MEMBER_ID)
    assert "won't answer plain questions here" in (await callback_for(fake, by_moderator))["data"]["content"]
    assert (await callback_for(fake, by_member))["data"]["content"] == "Only moderators can do that."
    await fake.member_says(QUESTION, channel_id=QUIET_CHANNEL_ID)
    await barrier(fake, channel_id=QUIET_CHANNEL_ID)
    assert len(sent_messages(fake)) == 1  # the barrier's answer only: passive answers are off there
