"""The Discord adapter, driven through the real discord.py client against a fake Discord.

Every test talks to the bot only the way Discord would: gateway dispatches in, REST
requests out. "The bot stayed silent" is shown with a barrier: a later message that
does get an answer, after which nothing else may have been sent.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import string
from pathlib import Path
from typing import Any

import discord
import pytest

from faqbot.bot import Bot
from faqbot.cli import main as cli_main
from faqbot.health import Health, Heartbeat
from faqbot.platforms.discord_bot import DiscordBot, RecentSpeakers, main
from faqbot.responder import Responder
from faqbot.settings import DiscordSettings, SettingsError, load_settings
from faqbot.state_folder import StateFolder
from tests.discord.conftest import FILLER_TOPICS, LIST_PAGE_SIZE, TOKEN, StartBot
from tests.discord.fake_discord import (
    BOT_ID,
    CHANNEL_ID,
    DM_CHANNEL_ID,
    GUILD_ID,
    MEMBER_ID,
    MODERATOR_ID,
    NICKNAMED_ID,
    OTHER_BOT_ID,
    OTHER_MEMBER_ID,
    OWNER_ID,
    QUIET_CHANNEL_ID,
    FakeDiscord,
    RecordedRequest,
)

SEND = r"/channels/\d+/messages"
CALLBACK = r"/interactions/\d+/[^/]+/callback"
NO_PINGS = {"parse": [], "replied_user": False}
TOTAL_ENTRIES = 3 + FILLER_TOPICS


async def reply_to(fake: FakeDiscord, asked: dict[str, Any], timeout: float = 5.0) -> RecordedRequest:
    """The bot's message that references `asked`."""

    def answered() -> bool:
        return any(_references(r, asked) for r in fake.requests_to("POST", SEND, status=200))

    await fake.wait_for_event(answered, timeout)
    return next(r for r in fake.requests_to("POST", SEND, status=200) if _references(r, asked))


def _references(request: RecordedRequest, asked: dict[str, Any]) -> bool:
    return str((request.json.get("message_reference") or {}).get("message_id")) == asked["id"]


async def barrier(fake: FakeDiscord, **where: Any) -> RecordedRequest:
    """A question that is answered; once it is, everything injected before it was handled."""
    asked = await fake.member_says("!faq help", **where)
    await asyncio.sleep(0.05)  # let any straggler from before the barrier reach the fake too
    return await reply_to(fake, asked)


def sent_messages(fake: FakeDiscord) -> list[RecordedRequest]:
    return fake.requests_to("POST", SEND, status=200)


async def callback_for(fake: FakeDiscord, interaction: dict[str, Any]) -> dict[str, Any]:
    path = rf"/interactions/{interaction['id']}/{interaction['token']}/callback"
    (request,) = await fake.wait_for_requests("POST", path)
    return request.json


# -- answers ------------------------------------------------------------------------


async def test_passive_answer_is_an_embed_reply_that_pings_nobody(fake: FakeDiscord, bot: DiscordBot) -> None:
    asked = await fake.member_says("hey, how do I reset my password?")
    body = (await reply_to(fake, asked)).json

    (embed,) = body["embeds"]
    assert embed["title"] == "How do I reset my password?"
    assert embed["url"] == "https://docs.example.org/account#reset-password"
    assert "Settings → Account" in embed["description"]
    assert str(body["message_reference"]["message_id"]) == asked["id"]
    assert body["message_reference"]["fail_if_not_exists"] is False
    assert body["allowed_mentions"] == NO_PINGS
    assert not body.get("content")
    assert bot.allowed_mentions is not None and bot.allowed_mentions.to_dict() == {"parse": []}  # the default too
    # a passive answer offers the 🗑️ to remove it
    await fake.wait_for_requests("PUT", r"/channels/\d+/messages/\d+/reactions/[^/]+/@me", status=204)


async def test_explicit_ask_by_prefix_and_by_mention(fake: FakeDiscord, bot: DiscordBot) -> None:
    by_prefix = await fake.member_says("!faq reset my password")
    by_mention = await fake.member_says(f"<@{BOT_ID}> who are the moderators", mentions=(BOT_ID,))
    by_nick_mention = await fake.member_says(f"<@!{BOT_ID}>   I forgot my password", mentions=(BOT_ID,))

    assert (await reply_to(fake, by_prefix)).json["embeds"][0]["title"] == "How do I reset my password?"
    assert (await reply_to(fake, by_mention)).json["embeds"][0]["title"] == "How do I reach the moderators?"
    assert (await reply_to(fake, by_nick_mention)).json["embeds"][0]["title"] == "How do I reset my password?"
    for request in sent_messages(fake):
        assert request.json["allowed_mentions"] == NO_PINGS
    # explicit answers are not passive: no removal reaction offered
    await barrier(fake)
    assert not fake.requests_to("PUT", r"/channels/.*/reactions/.*")


async def test_mention_with_nothing_else_gets_help(fake: FakeDiscord, bot: DiscordBot) -> None:
    asked = await fake.member_says(f"<@{BOT_ID}>", mentions=(BOT_ID,))
    assert "!faq help" in (await reply_to(fake, asked)).json["content"]


async def test_crowd_and_role_mentions_from_knowledge_are_not_pings(fake: FakeDiscord, bot: DiscordBot) -> None:
    answer = await fake.member_says("!faq how do I reach the moderators")
    title = await fake.member_says("!faq can I use @everyone in announcements")

    answer_body = (await reply_to(fake, answer)).json
    description = answer_body["embeds"][0]["description"]
    assert "never write @" in description
    assert "@everyone" not in description and "@here" not in description
    assert "<@&400000000000000001>" not in description
    title_body = (await reply_to(fake, title)).json
    assert "@everyone" not in title_body["embeds"][0]["title"]
    for body in (answer_body, title_body):
        assert body["allowed_mentions"] == NO_PINGS


async def test_help(fake: FakeDiscord, bot: DiscordBot) -> None:
    asked = await fake.member_says("!faq help")
    body = (await reply_to(fake, asked)).json
    assert "!faq list" in body["content"] and "!faq help" in body["content"]
    assert body["allowed_mentions"] == NO_PINGS


async def test_list_is_paginated(fake: FakeDiscord, bot: DiscordBot) -> None:
    pages = -(-TOTAL_ENTRIES // LIST_PAGE_SIZE)
    first = (await reply_to(fake, await fake.member_says("!faq list"))).json
    second = (await reply_to(fake, await fake.member_says("!faq list 2"))).json
    last = (await reply_to(fake, await fake.member_says(f"!faq list {pages}"))).json

    assert first["embeds"][0]["footer"]["text"] == f"Page 1 of {pages}"
    assert "!faq list 2" in first["content"]
    assert second["embeds"][0]["footer"]["text"] == f"Page 2 of {pages}"
    assert "!faq list 3" in second["content"]
    assert first["embeds"][0]["fields"] != second["embeds"][0]["fields"]
    assert last["embeds"][0]["footer"]["text"] == f"Page {pages} of {pages}"
    assert not last.get("content")
    # The list's own "!faq list 2" came back on the gateway as the bot's message: not answered.
    assert len(sent_messages(fake)) == 3


# -- slash commands -----------------------------------------------------------------------


async def test_slash_commands_are_registered(fake: FakeDiscord, bot: DiscordBot) -> None:
    (sync,) = fake.requests_to("PUT", r"/applications/\d+/commands")
    commands = {c["name"]: c for c in sync.json}
    assert set(commands) == {"faq", "faq-list", "Answer with FAQ"}
    (question,) = commands["faq"]["options"]
    assert question["name"] == "question" and question["autocomplete"] is True and question["required"] is True
    menu = commands["Answer with FAQ"]
    assert menu["type"] == 3  # a message context menu command
    assert int(menu["default_member_permissions"]) == 1 << 13  # shown to members with Manage Messages
    assert menu["contexts"] == [0]  # in servers only: direct messages have no moderators


@pytest.mark.parametrize(
    ("env", "path"),
    [
        ({"FAQBOT_DISCORD_GUILD_ID": str(GUILD_ID)}, rf"/applications/\d+/guilds/{GUILD_ID}/commands"),
        ({"FAQBOT_DISCORD_SYNC_COMMANDS": "0"}, None),
    ],
)
async def test_where_slash_commands_are_registered(
    fake: FakeDiscord, start_bot: StartBot, env: dict[str, str], path: str | None
) -> None:
    await start_bot(**env)
    registered = fake.requests_to("PUT", r"/applications/.*")
    if path is None:
        assert not registered
    else:
        (request,) = registered
        assert re.fullmatch(path, request.path)
        assert {c["name"] for c in request.json} == {"faq", "faq-list", "Answer with FAQ"}


async def test_slash_autocomplete_offers_entries_by_id(fake: FakeDiscord, bot: DiscordBot) -> None:
    typing = await fake.autocomplete("faq", "question", "reset passw")
    everything = await fake.autocomplete("faq", "question", "")

    callback = await callback_for(fake, typing)
    assert callback["type"] == 8
    choices = callback["data"]["choices"]
    assert choices[0] == {"name": "How do I reset my password?", "value": "reset-password"}
    empty = (await callback_for(fake, everything))["data"]["choices"]
    assert len(empty) == 25  # Discord's cap, with more entries than that known
    for choice in choices + empty:
        assert 1 <= len(choice["name"]) <= 100 and 1 <= len(choice["value"]) <= 100


async def test_slash_command_answers_the_chosen_entry(fake: FakeDiscord, bot: DiscordBot) -> None:
    chosen = await fake.slash("faq", [{"name": "question", "type": 3, "value": "ping-moderators"}])
    by_id_only = await fake.slash("faq", [{"name": "question", "type": 3, "value": "topic-07"}])
    typed = await fake.slash("faq", [{"name": "question", "type": 3, "value": "i forgot my password"}])

    callback = await callback_for(fake, chosen)
    assert callback["type"] == 4
    (embed,) = callback["data"]["embeds"]
    assert embed["title"] == "How do I reach the moderators?"
    assert embed["url"] == "https://docs.example.org/moderation"
    assert "@everyone" not in embed["description"]
    assert callback["data"]["allowed_mentions"] == {"parse": []}
    # "topic-07" means nothing as a question: only the id lookup finds the entry
    assert (await callback_for(fake, by_id_only))["data"]["embeds"][0]["title"] == "What does the hotel setting do?"
    typed_callback = await callback_for(fake, typed)
    assert typed_callback["data"]["embeds"][0]["title"] == "How do I reset my password?"


async def test_a_slash_answer_not_ready_in_time_is_deferred_then_edited_in(fake: FakeDiscord, bot: DiscordBot) -> None:
    """Discord drops an interaction not answered within 3 s: when the answering thread is slower
    than `slash_defer_seconds` (here: always), the bot defers and edits the answer in."""
    bot.slash_defer_seconds = 0.0
    asked = await fake.slash("faq", [{"name": "question", "type": 3, "value": "i forgot my password"}])
    assert (await callback_for(fake, asked))["type"] == 5  # "faqbot is thinking..."
    (edit,) = await fake.wait_for_requests("PATCH", rf"/webhooks/\d+/{asked['token']}/messages/@original")
    assert edit.status == 200
    assert edit.json["embeds"][0]["title"] == "How do I reset my password?"
    assert edit.json["allowed_mentions"] == {"parse": []}


async def test_slash_list_pages(fake: FakeDiscord, bot: DiscordBot) -> None:
    interaction = await fake.slash("faq-list", [{"name": "page", "type": 4, "value": 2}])
    callback = await callback_for(fake, interaction)
    assert callback["type"] == 4
    assert callback["data"]["flags"] & 64  # only the member who asked sees the list
    assert callback["data"]["embeds"][0]["footer"]["text"].startswith("Page 2 of ")


# -- staying quiet -----------------------------------------------------------------------------


async def test_same_question_twice_in_a_channel_is_answered_once(fake: FakeDiscord, bot: DiscordBot) -> None:
    first = await fake.member_says("how do I reset my password?")
    await reply_to(fake, first)
    await fake.member_says("how do I reset my password?", author_id=OTHER_MEMBER_ID)
    await barrier(fake)
    assert len(sent_messages(fake)) == 2  # the first answer and the barrier's


async def test_chat_said_to_another_member_gets_no_passive_answer(fake: FakeDiscord, bot: DiscordBot) -> None:
    await fake.member_says(f"<@{OTHER_MEMBER_ID}> how do I reset my password?", mentions=(OTHER_MEMBER_ID,))
    theirs = await fake.member_says("anyone around?", author_id=OTHER_MEMBER_ID)
    await fake.member_says("how do I reset my password?", replying_to=theirs)
    await barrier(fake)
    assert len(sent_messages(fake)) == 1  # only the barrier's: both were their conversation
    mine = await fake.member_says("hi all")
    asked = await fake.member_says("how do I reset my password?", replying_to=mine)  # a reply to oneself
    await reply_to(fake, asked)


QUESTION = "how do I reset my password?"


async def test_a_message_that_opens_with_a_recent_speakers_name_is_theirs(
    fake: FakeDiscord, start_bot: StartBot
) -> None:
    await start_bot(FAQBOT_COOLDOWN_SECONDS="0")  # every answer the bot would give shows
    # Nobody called carol has spoken here: "carol:" could be anything, so the question is answered.
    await reply_to(fake, await fake.member_says(f"carol: {QUESTION}"))
    await fake.member_says("anyone around?", author_id=OTHER_MEMBER_ID)  # bob speaks
    await fake.member_says("hi", author_id=NICKNAMED_ID)  # user name dana_s, display name Dana Scully, nick Agent Dee
    await fake.member_says(f"thanks <@{MODERATOR_ID}>", author_id=OTHER_MEMBER_ID, mentions=(MODERATOR_ID,))
    from_before = fake.message_payload("welcome all", author_id=OWNER_ID)  # sent before the bot started
    await fake.member_says("thank you!", author_id=OTHER_MEMBER_ID, replying_to=from_before)
    for opening in ("bob:", "Bob,", "@bob:", "dana scully,", "agent dee:", "Dana_S:", "mod:", "owner:"):
        await fake.member_says(f"{opening} {QUESTION}")
    await barrier(fake)
    assert len(sent_messages(fake)) == 2  # carol's answer and the barrier's: the others were said to members
    direct = await fake.member_says(f"bob: {QUESTION}", channel_id=DM_CHANNEL_ID, guild=False)
    await reply_to(fake, direct)  # a direct message is to the bot, whoever it names


async def test_speakers_named_in_other_channels_or_forgotten_do_not_count(
    fake: FakeDiscord, start_bot: StartBot
) -> None:
    bot = await start_bot(FAQBOT_COOLDOWN_SECONDS="0")
    bot.speakers = RecentSpeakers(limit=4)  # four (channel, name) pairs
    await fake.member_says("hi", author_id=OTHER_MEMBER_ID)  # bob, in #help
    await reply_to(fake, await fake.member_says(f"bob: {QUESTION}", channel_id=QUIET_CHANNEL_ID))  # not here
    await fake.member_says(f"bob: {QUESTION}")
    await barrier(fake)
    assert len(sent_messages(fake)) == 2  # in #help bob is known: no answer there
    await fake.member_says("hello", author_id=NICKNAMED_ID)  # three more names: bob's is the oldest and goes
    await reply_to(fake, await fake.member_says(f"bob: {QUESTION}"))
    assert len(bot.speakers) == 4


async def test_a_message_that_opens_with_the_bots_name_asks_it(fake: FakeDiscord, bot: DiscordBot) -> None:
    # too vague for a passive answer; said to the bot by name, it is an ask
    asked = await fake.member_says("faqbot: reset password")
    assert (await reply_to(fake, asked)).json["embeds"][0]["title"] == "How do I reset my password?"
    await barrier(fake)
    assert not fake.requests_to("PUT", r"/channels/.*/reactions/.*")  # not passive: nothing to remove


async def test_cooldown_is_per_channel(fake: FakeDiscord, bot: DiscordBot) -> None:
    here = await fake.member_says("how do I reset my password?")
    await reply_to(fake, here)
    # the quiet channel is a different conversation (passive is on there in this test)
    there = await fake.member_says("how do I reset my password?", channel_id=QUIET_CHANNEL_ID)
    await reply_to(fake, there)


async def test_ignores_other_bots_webhooks_itself_and_system_messages(fake: FakeDiscord, bot: DiscordBot) -> None:
    await fake.member_says("!faq help", author_id=OTHER_BOT_ID, bot=True)
    await fake.member_says("!faq help", author_id=OTHER_MEMBER_ID, webhook_id="700000000000000001")
    await fake.member_says("!faq help", author_id=BOT_ID, bot=True)
    await fake.member_says("how do I reset my password?", message_type=7)  # "member joined"
    await barrier(fake)
    assert len(sent_messages(fake)) == 1


async def test_passive_off_in_a_configured_channel(fake: FakeDiscord, start_bot: StartBot) -> None:
    await start_bot(FAQBOT_CHAT_PASSIVE_OFF=f" {QUIET_CHANNEL_ID} ,123")
    await fake.member_says("how do I reset my password?", channel_id=QUIET_CHANNEL_ID)
    await barrier(fake, channel_id=QUIET_CHANNEL_ID)
    assert len(sent_messages(fake)) == 1
    explicit = await fake.member_says("!faq reset password", channel_id=QUIET_CHANNEL_ID)
    await reply_to(fake, explicit)
    elsewhere = await fake.member_says("how do I reset my password?", channel_id=CHANNEL_ID)
    await reply_to(fake, elsewhere)


async def test_a_thread_of_a_quiet_channel_is_quiet_too(fake: FakeDiscord, start_bot: StartBot) -> None:
    await start_bot(FAQBOT_CHAT_PASSIVE_OFF=str(QUIET_CHANNEL_ID))
    thread_id = await fake.create_thread(QUIET_CHANNEL_ID)
    await fake.member_says("how do I reset my password?", channel_id=thread_id)
    await barrier(fake, channel_id=thread_id)
    assert len(sent_messages(fake)) == 1
    assert fake.requests_to("POST", rf"/channels/{thread_id}/messages", status=200)


async def test_a_direct_message_is_an_explicit_ask(fake: FakeDiscord, bot: DiscordBot) -> None:
    # too vague for a passive answer in a channel, but in a DM the member is talking to the bot
    asked = await fake.member_says("reset password", channel_id=DM_CHANNEL_ID, guild=False)
    body = (await reply_to(fake, asked)).json
    assert body["embeds"][0]["title"] == "How do I reset my password?"
    await barrier(fake)
    assert not fake.requests_to("PUT", r"/channels/.*/reactions/.*")  # not passive: nothing to remove


# -- removing an unwanted answer ---------------------------------------------------------------


async def test_asker_removes_a_passive_answer_with_the_wastebasket(fake: FakeDiscord, bot: DiscordBot) -> None:
    asked = await fake.member_says("how do I reset my password?")
    answer = await answer_id(fake, asked)

    await fake.react(answer, OTHER_MEMBER_ID)  # someone else may not remove it
    await fake.react(answer, MEMBER_ID, emoji="👍")  # nor does another emoji
    await barrier(fake)
    assert not fake.requests_to("DELETE", r".*")

    await fake.react(answer, MEMBER_ID, emoji="🗑")  # the asker, without the variation selector
    await fake.wait_for_requests("DELETE", rf"/channels/{CHANNEL_ID}/messages/{answer}", status=204)
    assert answer not in fake.messages


async def test_moderator_removes_an_answer(fake: FakeDiscord, bot: DiscordBot) -> None:
    asked = await fake.member_says("how do I reset my password?")
    answer = await answer_id(fake, asked)
    await fake.react(answer, MODERATOR_ID)
    await fake.wait_for_requests("DELETE", rf"/channels/{CHANNEL_ID}/messages/{answer}", status=204)


async def test_reaction_on_a_members_message_deletes_nothing(fake: FakeDiscord, bot: DiscordBot) -> None:
    asked = await fake.member_says("just chatting")
    await fake.react(asked["id"], MODERATOR_ID)
    await barrier(fake)
    assert not fake.requests_to("DELETE", r".*")


async def answer_id(fake: FakeDiscord, asked: dict[str, Any]) -> str:
    """The id of the bot's message that replies to `asked`."""
    await reply_to(fake, asked)
    for message_id, message in fake.messages.items():
        if str((message.get("message_reference") or {}).get("message_id")) == asked["id"]:
            return message_id
    raise AssertionError("answer not stored")


# -- faults ------------------------------------------------------------------------------------


async def test_dropped_gateway_is_resumed_and_questions_still_answered(fake: FakeDiscord, bot: DiscordBot) -> None:
    await fake.drop_gateway()
    during = await fake.member_says("how do I reset my password?")  # sent while down: replayed on RESUME
    await reply_to(fake, during, timeout=10)
    after = await fake.member_says("!faq who are the moderators")
    await reply_to(fake, after)
    assert fake.resume_count == 1
    assert fake.identify_count == 1


async def test_rate_limited_send_is_retried_after_retry_after(fake: FakeDiscord, bot: DiscordBot) -> None:
    fake.rate_limit("POST", SEND, times=1, retry_after=0.4)
    asked = await fake.member_says("!faq reset my password")
    reply = await reply_to(fake, asked)

    (limited,) = fake.requests_to("POST", SEND, status=429)
    assert str(limited.json["message_reference"]["message_id"]) == asked["id"]
    assert reply.at - limited.at >= 0.35
    assert reply.json["embeds"][0]["title"] == "How do I reset my password?"


async def test_a_short_question_is_not_held_back_by_costly_asks_in_other_rooms(
    fake: FakeDiscord, start_bot: StartBot
) -> None:
    # Twelve members each send a 500-character ask of made-up words in a room of their own (with
    # the sentence encoder, each takes far longer than a one-line question); a one-line question
    # arrives right after them. Matching runs in the answering thread, where costly calls yield to
    # cheap ones: the question is answered once the call in progress (and any few that finished
    # while the asks were still arriving) is done. In arrival order it would be answered last.
    await start_bot(FAQBOT_COOLDOWN_SECONDS="0", FAQBOT_MATCHER="encoder")
    rooms = [await fake.create_thread(CHANNEL_ID) for _ in range(12)]
    letters = random.Random(8)
    for n, room in enumerate(rooms):  # different words each time: nothing is cached
        words = " ".join("".join(letters.choices(string.ascii_lowercase, k=7)) for _ in range(70))[:500]
        await fake.member_says(f"!faq {words}", channel_id=room, author_id=600000000000000000 + n)
    question = await fake.member_says("!faq reset my password")
    await reply_to(fake, question)
    await fake.wait_for_requests("POST", SEND, 13, timeout=20)
    order = [r.path for r in sent_messages(fake)]
    assert order.index(f"/channels/{CHANNEL_ID}/messages") < 6, order


async def test_garbage_from_the_gateway_does_not_crash_the_bot(
    fake: FakeDiscord, bot: DiscordBot, caplog: pytest.LogCaptureFixture
) -> None:
    await fake.dispatch("MESSAGE_CREATE", {"id": "1", "channel_id": "nope"})  # no author, bad ids
    await fake.dispatch("MESSAGE_CREATE", None)
    await fake.dispatch("MESSAGE_REACTION_ADD", {"emoji": "🗑️"})
    await fake.dispatch("SOMETHING_NEW", {"what": ["ever"]})
    await fake.member_says("!faq help", author_id=MEMBER_ID, mentions=(123,))  # mention of an unknown user
    await barrier(fake)
    assert fake.identify_count == 1  # the connection itself survived
    assert "could not parse" in caplog.text

    # frames discord.py cannot read at all would end its gateway loop: they are skipped
    await fake.send_raw("this is not json")
    await fake.send_raw("[1, 2, 3]")
    await fake.send_raw('{"op": 10, "d": null}')  # a HELLO without its interval
    await barrier(fake)
    assert caplog.text.count("Skipped a gateway frame discord.py could not read") == 3
    assert fake.identify_count == 1 and fake.resume_count == 0  # the connection itself carried on
    assert not bot.is_closed()


async def test_a_failing_handler_is_logged_not_fatal(
    fake: FakeDiscord, bot: DiscordBot, caplog: pytest.LogCaptureFixture
) -> None:
    fake.refuse("POST", SEND, times=1, status=403)  # e.g. the bot may not write in this channel
    await fake.member_says("!faq help")
    await fake.wait_for_requests("POST", SEND, status=403)
    await barrier(fake)
    assert "Error while handling Discord event on_message" in caplog.text


# -- configuration and start-up ------------------------------------------------------------------


async def test_message_content_intent_is_requested_by_default(fake: FakeDiscord, bot: DiscordBot) -> None:
    (identify,) = [f for f in fake.gateway_frames if f["op"] == 2]
    assert identify["d"]["intents"] & (1 << 15)


async def test_token_never_logged(
    fake: FakeDiscord, start_bot: StartBot, responder: Responder, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bot = await start_bot()
    fake.rate_limit("POST", SEND, times=1, retry_after=0.1)
    await reply_to(fake, await fake.member_says("how do I reset my password?"))
    await callback_for(fake, await fake.slash("faq", [{"name": "question", "type": 3, "value": "reset-password"}]))
    await fake.drop_gateway()
    await barrier(fake)

    wrong = DiscordBot(Bot(responder, "discord"), DiscordSettings(token=TOKEN + "-wrong"), guild_ready_timeout=0.05)
    with pytest.raises(discord.LoginFailure) as failure:
        await wrong.start(TOKEN + "-wrong")
    await wrong.close()

    assert TOKEN not in str(failure.value)
    assert TOKEN not in repr(bot.config)
    assert len(caplog.records) > 20  # the run was logged in detail, so the check below means something
    assert TOKEN not in caplog.text
    assert TOKEN.split(".")[1] not in caplog.text


def run_main(responder: Responder, env: dict[str, str], state_dir: Path) -> int:
    """`faqbot run discord` after the CLI has read the settings."""
    settings = load_settings(environ={**env, "FAQBOT_STATE_DIR": str(state_dir)})
    state = StateFolder.open(state_dir)
    health = Health("discord")
    return main(Bot(responder, "discord"), settings, state, health, Heartbeat(state, health))


def test_missing_token_is_a_clear_error(
    knowledge_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAQBOT_DISCORD_API_BASE", "http://127.0.0.1:9/api/v10")
    assert cli_main(["run", "discord", "--knowledge", str(knowledge_dir)]) == 2
    assert "FAQBOT_DISCORD_TOKEN (discord.token) is not set" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"FAQBOT_DISCORD_MESSAGE_CONTENT": "maybe"}, "FAQBOT_DISCORD_MESSAGE_CONTENT"),
        ({"FAQBOT_DISCORD_GUILD_ID": "my-guild"}, "FAQBOT_DISCORD_GUILD_ID"),
        ({"FAQBOT_DISCORD_PASSIVE_OFF": "123"}, "FAQBOT_CHAT_PASSIVE_OFF"),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], problem: str) -> None:
    with pytest.raises(SettingsError, match=problem) as raised:
        load_settings(environ={"FAQBOT_DISCORD_TOKEN": TOKEN, **env}).require_discord()
    assert TOKEN not in str(raised.value)


async def test_main_with_a_rejected_token_exits_non_zero(
    fake: FakeDiscord, responder: Responder, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    env = {
        "FAQBOT_DISCORD_TOKEN": "not-the-token",
        "FAQBOT_DISCORD_API_BASE": fake.api_base,
        "FAQBOT_DISCORD_GATEWAY": fake.gateway_url,
    }
    assert await asyncio.to_thread(run_main, responder, env, tmp_path / "state") == 1
    assert "rejected the token" in caplog.text
    assert "not-the-token" not in caplog.text
    assert fake.requests_to("GET", "/gateway/bot", status=401)


def test_knowledge_fixture_is_loaded_from_yaml(knowledge_dir: Path, responder: Responder) -> None:
    assert (knowledge_dir / "faq.yml").is_file()
    assert len(responder.knowledge.entries) == TOTAL_ENTRIES
