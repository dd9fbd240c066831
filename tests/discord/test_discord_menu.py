"""The "Answer with FAQ" message context menu, through INTERACTION_CREATE and the callbacks:
a moderator points the bot at a member's message, the answer goes to that message, and a
pick from the choice of entries teaches the bot the member's words."""

from __future__ import annotations

from typing import Any

from faqbot.platforms.discord_bot import DiscordBot
from tests.discord.conftest import StartBot
from tests.discord.fake_discord import BOT_ID, CHANNEL_ID, MEMBER_ID, MODERATOR_ID, OTHER_MEMBER_ID, FakeDiscord
from tests.discord.test_discord_bot import NO_PINGS, answer_id, barrier, callback_for, reply_to, sent_messages
from tests.discord.test_discord_moderation import MEMBER_WORDS, store_of

MENU = "Answer with FAQ"
ORIGINAL = r"/webhooks/\d+/[^/]+/messages/@original"
UNSURE = "what does the setting do?"  # several entries fit: the bot offers a choice


async def edited_response(fake: FakeDiscord, interaction: dict[str, Any], count: int = 1) -> dict[str, Any]:
    """The interaction's response message once the bot edited it `count` times."""
    token = interaction["token"]
    await fake.wait_for_requests("PATCH", rf"/webhooks/\d+/{token}/messages/@original", count)
    response = fake.response_to(interaction)
    assert response is not None
    return response


async def test_the_menu_answers_the_members_message_with_the_best_match(fake: FakeDiscord, bot: DiscordBot) -> None:
    members = await fake.member_says("password reset pls")  # no question: no passive answer
    used = await fake.message_command(MENU, members, user_id=MODERATOR_ID)

    deferred = await callback_for(fake, used)
    assert deferred["type"] == 5 and deferred["data"]["flags"] & 64  # "thinking", seen by the moderator only
    body = (await reply_to(fake, members)).json
    assert body["embeds"][0]["title"] == "How do I reset my password?"
    assert body["allowed_mentions"] == NO_PINGS
    assert (await edited_response(fake, used))[
        "content"
    ] == "Answered their message with “How do I reset my password?”."

    store = await store_of(bot)
    (answer_id,) = [m for m, message in fake.messages.items() if message.get("message_reference")]
    record = store.find_reply("discord", answer_id)
    assert record is not None and record.question_id == members["id"] and record.entry_id == "reset-password"
    assert store.is_asker("discord", answer_id, str(MEMBER_ID))  # the member may rate or remove it
    assert store.learned_phrasings() == []  # the bot's own best match teaches nothing


async def test_unsure_the_menu_offers_entries_and_the_pick_answers_and_teaches(
    fake: FakeDiscord, start_bot: StartBot
) -> None:
    bot = await start_bot()
    members = await fake.member_says(UNSURE)
    used = await fake.message_command(MENU, members, user_id=MODERATOR_ID)
    offer = await edited_response(fake, used)
    picker = fake.component(offer, "faqbot:pick:")
    assert picker["type"] == 3 and picker["custom_id"] == f"faqbot:pick:{CHANNEL_ID}:{members['id']}"
    values = [option["value"] for option in picker["options"]]
    assert values[:1] == ["topic-00"] and "topic-01" in values
    await barrier(fake)
    assert len(sent_messages(fake)) == 1  # nothing in the channel yet: only the barrier's answer

    await start_bot.stop(bot)  # a restart between the offer and the pick: the custom id says it all
    bot = await start_bot()
    pick = await fake.choose(offer["id"], picker["custom_id"], ["topic-01"], user_id=MODERATOR_ID)
    assert (await callback_for(fake, pick))["type"] == 6  # the menu's message is updated once answered
    body = (await reply_to(fake, members)).json
    assert body["embeds"][0]["title"] == "What does the bravo setting do?"
    done = await edited_response(fake, pick)
    assert done["id"] == offer["id"]
    assert done["content"] == "Answered their message with “What does the bravo setting do?”."
    assert done["components"] == []
    store = await store_of(bot)
    assert [(p.text, p.entry_id) for p in store.learned_phrasings()] == [(UNSURE, "topic-01")]
    asked_again = await fake.member_says("!faq " + UNSURE, author_id=OTHER_MEMBER_ID)
    assert (await reply_to(fake, asked_again)).json["embeds"][0]["title"] == "What does the bravo setting do?"


async def test_only_moderators_may_use_the_menu(fake: FakeDiscord, bot: DiscordBot) -> None:
    members = await fake.member_says(MEMBER_WORDS)
    used = await fake.message_command(MENU, members, user_id=OTHER_MEMBER_ID)
    refusal = await callback_for(fake, used)
    assert refusal["type"] == 4 and refusal["data"]["flags"] & 64
    assert refusal["data"]["content"] == "Only moderators can do that."
    await barrier(fake)
    assert len(sent_messages(fake)) == 1


async def test_a_pick_by_a_member_is_refused(fake: FakeDiscord, bot: DiscordBot) -> None:
    members = await fake.member_says(UNSURE)
    offer = await edited_response(fake, await fake.message_command(MENU, members, user_id=MODERATOR_ID))
    picker = fake.component(offer, "faqbot:pick:")
    pick = await fake.choose(offer["id"], picker["custom_id"], ["topic-01"], user_id=OTHER_MEMBER_ID)
    assert (await callback_for(fake, pick))["data"]["content"] == "Only moderators can do that."
    await barrier(fake)
    assert len(sent_messages(fake)) == 1
    assert (await store_of(bot)).learned_phrasings() == []


async def test_the_menu_on_the_bots_or_ones_own_message_says_what_it_is_for(fake: FakeDiscord, bot: DiscordBot) -> None:
    own = await fake.member_says("how do I get my password back?", author_id=MODERATOR_ID)
    bots = fake.messages[await answer_id(fake, await fake.member_says("!faq help"))]
    assert bots["author"]["id"] == str(BOT_ID)
    for target in (own, bots):
        used = await fake.message_command(MENU, target, user_id=MODERATOR_ID)
        assert "on a member's message" in (await callback_for(fake, used))["data"]["content"]
