"""The Matrix adapter against a real Synapse: members ask, the bot answers (or rightly doesn't).

Silence is checked with a sentinel: the bot handles a room's events in order, so once
it has answered a later question, it has already decided about every earlier event.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from nio import RoomGetStateEventResponse

from faqbot.platforms.matrix_bot import MatrixBotError
from faqbot.responder import Responder
from tests.matrix.conftest import (
    BASE_URL,
    BotInRoom,
    MakeMember,
    RunBot,
    ask_until_rate_limited,
    bot_environment,
    helpful,
    make_bot,
    room_with_bot,
    sentinel,
    stop_bot,
    token_environment,
    wait_until,
)
from tests.matrix.synapse_server import SynapseServer

PASSWORD_URL = "https://docs.example.org/account#password"
UPLOAD_URL = f"{BASE_URL}/media/uploads"
REPORT_URL = f"{BASE_URL}/moderation/reports"
ROOT = Path(__file__).resolve().parents[2]


# -- against Synapse ------------------------------------------------------------------


async def test_answers_a_question_as_an_html_notice_reply_with_link(bot_in_room: BotInRoom) -> None:
    bot, member, room_id = bot_in_room

    question = await member.send(room_id, "How do I reset my password?")
    answer = await member.reply_to(question, bot.user_id)
    content = answer.source["content"]
    assert content["msgtype"] == "m.notice"
    assert content["format"] == "org.matrix.custom.html"
    assert f'<a href="{PASSWORD_URL}">' in content["formatted_body"]
    assert "<strong>" in content["formatted_body"] and "<em>Reset password</em>" in content["formatted_body"]
    assert PASSWORD_URL in content["body"]
    assert content["m.relates_to"] == {"m.in_reply_to": {"event_id": question}}

    # `!faq <question>` gets the explicit treatment.
    explicit = await member.send(room_id, "!faq upload limit")
    content = (await member.reply_to(explicit, bot.user_id)).source["content"]
    assert UPLOAD_URL in content["body"] and f'href="{UPLOAD_URL}"' in content["formatted_body"]

    # Speaking to the bot by name earns an answer even to what passive mode would ignore,
    # and the name is stripped before the core sees the text (or this would not be a list).
    localpart = bot.user_id[1:].split(":")[0]
    addressed = await member.send(room_id, f"{localpart}: !faq list")
    assert "What I can answer" in (await member.reply_to(addressed, bot.user_id)).source["content"]["body"]
    by_mentions = await member.send(room_id, "hello there", **{"m.mentions": {"user_ids": [bot.user_id]}})
    assert "Sorry" in (await member.reply_to(by_mentions, bot.user_id)).source["content"]["body"]


async def test_faq_list_and_help(bot_in_room: BotInRoom) -> None:
    bot, member, room_id = bot_in_room

    listing = (await member.reply_to(await member.send(room_id, "!faq list"), bot.user_id)).source["content"]
    for title in ("How do I reset my password?", "What is the maximum upload size?", "How do I report a post?"):
        assert title in listing["body"]
    assert f'<a href="{REPORT_URL}">How do I report a post?</a>' in listing["formatted_body"]
    assert listing["msgtype"] == "m.notice"

    help_text = (await member.reply_to(await member.send(room_id, "!faq help"), bot.user_id)).source["content"]
    assert "!faq list" in help_text["body"] and "<li>" in help_text["formatted_body"]


async def test_question_in_a_thread_is_answered_in_that_thread(bot_in_room: BotInRoom) -> None:
    bot, member, room_id = bot_in_room

    root = await member.send(room_id, "Account troubles thread")
    question = await member.send(
        room_id,
        "How do I reset my password?",
        **{
            "m.relates_to": {
                "rel_type": "m.thread",
                "event_id": root,
                "is_falling_back": True,
                "m.in_reply_to": {"event_id": root},
            }
        },
    )
    relates = (await member.reply_to(question, bot.user_id)).source["content"]["m.relates_to"]
    assert relates == {
        "rel_type": "m.thread",
        "event_id": root,
        "is_falling_back": False,
        "m.in_reply_to": {"event_id": question},
    }


async def test_encrypted_room_survives_a_bot_restart(
    synapse: SynapseServer, run_bot: RunBot, make_member: MakeMember, tmp_path: Path
) -> None:
    bot_user = synapse.register_user()
    state = tmp_path / "state"
    env = token_environment(synapse, bot_user, state)
    bot = await run_bot(env)
    member = await make_member(synapse)
    room_id = await room_with_bot(member, bot, encrypted=True)
    device_id = bot.client.device_id
    await wait_until(lambda: device_id in member.client.device_store[bot.user_id], 15, "the bot's device keys")

    question = await member.send(room_id, "How do I reset my password?")
    answer = await member.reply_to(question, bot.user_id)
    assert answer.decrypted and answer.source["type"] == "m.room.message"
    assert answer.source["content"]["msgtype"] == "m.notice" and PASSWORD_URL in answer.source["content"]["body"]

    await bot.stop()
    bot = await run_bot(env)
    assert bot.client.device_id == device_id, "a restart must keep the device, or its keys are lost"
    question = await member.send(room_id, "!faq how do I report a post")
    answer = await member.reply_to(question, bot.user_id)
    assert answer.decrypted and REPORT_URL in answer.source["content"]["body"]
    await member.react(room_id, answer.event_id, "👍")  # an encrypted reaction is a rating too
    await wait_until(lambda: helpful(bot, "report-post") == 1, 15, "the encrypted 👍 in the store")


async def test_ignores_notices_edits_own_events_and_history(
    synapse: SynapseServer, run_bot: RunBot, make_member: MakeMember, tmp_path: Path
) -> None:
    bot_user = synapse.register_user()
    env = bot_environment(synapse, bot_user, tmp_path / "state")
    bot = await run_bot(env)
    member = await make_member(synapse)
    room_id = await room_with_bot(member, bot)

    answered = await member.send(room_id, "!faq how do I reset my password?")
    await member.reply_to(answered, bot.user_id)
    notice = await member.send(room_id, "!faq how do I report a post?", msgtype="m.notice")
    original = await member.send(room_id, "Nice weather today")
    edit = await member.send(
        room_id,
        "* How do I report a post?",  # what the core would answer, were it not an edit
        **{
            "m.new_content": {"msgtype": "m.text", "body": "How do I report a post?"},
            "m.relates_to": {"rel_type": "m.replace", "event_id": original},
        },
    )
    own = await bot.client.room_send(room_id, "m.room.message", {"msgtype": "m.text", "body": "!faq report abuse"})
    await sentinel(member, bot, room_id)
    for event_id in (notice, original, edit, own.event_id):
        assert member.replies_to(event_id, bot.user_id) == [], event_id

    # History: what members said while the bot was away stays unanswered after it comes back.
    device_id = bot.client.device_id
    await bot.stop()
    missed = await member.send(room_id, "!faq how do I report a post?")
    await asyncio.sleep(0.05)
    bot = await run_bot(env)
    assert bot.client.device_id == device_id, "a password bot must resume its device, not log in anew"
    await sentinel(member, bot, room_id)
    await asyncio.sleep(0.5)
    assert member.replies_to(missed, bot.user_id) == []
    assert len(member.replies_to(answered, bot.user_id)) == 1, "answered once, never again"


async def test_invites_only_from_allowed_inviters_are_joined(
    synapse: SynapseServer, run_bot: RunBot, make_member: MakeMember, tmp_path: Path
) -> None:
    moderator = await make_member(synapse)
    stranger = await make_member(synapse)
    env = bot_environment(
        synapse, synapse.register_user(), tmp_path / "state", FAQBOT_MATRIX_ALLOWED_INVITERS=moderator.user_id
    )
    bot = await run_bot(env)

    refused = await stranger.create_room([bot.user_id])

    async def membership() -> str | None:
        response = await stranger.client.room_get_state_event(refused, "m.room.member", bot.user_id)
        return response.content.get("membership") if isinstance(response, RoomGetStateEventResponse) else None

    deadline = time.monotonic() + 15
    while await membership() == "invite" and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert await membership() == "leave", "the stranger's invite should be declined"

    room_id = await room_with_bot(moderator, bot)
    question = await moderator.send(room_id, "How do I reset my password?")
    await moderator.reply_to(question, bot.user_id)
    assert bot.user_id not in await stranger.joined(refused)


async def test_direct_message_is_addressed_and_passive_off_room_is_quiet(
    synapse: SynapseServer, run_bot: RunBot, make_member: MakeMember, tmp_path: Path
) -> None:
    member = await make_member(synapse)
    quiet_room = await member.create_room([])
    bot_user = synapse.register_user()
    bot = await run_bot(bot_environment(synapse, bot_user, tmp_path / "state", FAQBOT_CHAT_PASSIVE_OFF=quiet_room))

    dm = await room_with_bot(member, bot, is_direct=True)
    hello = await member.send(dm, "hello there")  # no question: silent in a room, "sorry" in a DM
    assert "Sorry" in (await member.reply_to(hello, bot.user_id)).source["content"]["body"]

    invite = await member.client.room_invite(quiet_room, bot.user_id)
    assert not hasattr(invite, "status_code"), invite
    await member.wait_joined(quiet_room, bot.user_id)
    passive = await member.send(quiet_room, "How do I reset my password?")
    await sentinel(member, bot, quiet_room)
    assert member.replies_to(passive, bot.user_id) == []


async def test_chat_said_to_another_member_gets_no_passive_answer(
    synapse: SynapseServer, bot_in_room: BotInRoom, make_member: MakeMember
) -> None:
    bot, member, room_id = bot_in_room
    other = await make_member(synapse)
    invite = await member.client.room_invite(room_id, other.user_id)
    assert not hasattr(invite, "status_code"), invite
    await other.client.join(room_id)
    await member.wait_joined(room_id, other.user_id)
    await wait_until(lambda: room_id in other.client.rooms, 15, "the room in the other member's sync")
    theirs = await other.send(room_id, "morning all")
    other_name = other.user_id[1:].split(":", 1)[0]

    question = "How do I reset my password?"
    mentioned = await member.send(room_id, question, **{"m.mentions": {"user_ids": [other.user_id]}})
    named = await member.send(room_id, f"{other_name}: {question}")
    replied = await member.send(
        room_id,
        f"> <{other.user_id}> morning all\n\n{question}",
        **{"m.relates_to": {"m.in_reply_to": {"event_id": theirs}}},
    )
    await sentinel(member, bot, room_id)
    for event_id in (mentioned, named, replied):
        assert member.replies_to(event_id, bot.user_id) == [], event_id
    # The same question to the room is answered: nothing above started a cooldown.
    await member.reply_to(await member.send(room_id, question), bot.user_id)


async def test_homeserver_restart_mid_run(synapse: SynapseServer, bot_in_room: BotInRoom) -> None:
    bot, member, room_id = bot_in_room
    await member.reply_to(await member.send(room_id, "How do I reset my password?"), bot.user_id)

    just_before = await member.send(room_id, "!faq upload limit")  # answered before or after the outage
    await asyncio.to_thread(synapse.stop)
    await asyncio.sleep(1.5)  # the bot's sync fails meanwhile
    await asyncio.to_thread(synapse.start)

    question = await member.send(room_id, "!faq how do I report a post?")
    answer = await member.reply_to(question, bot.user_id, timeout=40)
    assert REPORT_URL in answer.source["content"]["body"]
    await member.reply_to(just_before, bot.user_id)
    assert len(member.replies_to(just_before, bot.user_id)) == 1


async def test_default_rate_limits_delay_but_never_drop_answers(
    default_limits_synapse: SynapseServer,
    run_bot: RunBot,
    make_member: MakeMember,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = default_limits_synapse
    bot = await run_bot(token_environment(server, server.register_user(), tmp_path / "state"))
    member, asked = await ask_until_rate_limited(server, bot, make_member, caplog)
    # While answers wait out the limit, the homeserver restarts too: queued answers must survive both.
    await asyncio.to_thread(server.restart)
    for event_id in asked:
        await member.reply_to(event_id, bot.user_id, timeout=60)
    await asyncio.sleep(0.5)
    assert all(len(member.replies_to(event_id, bot.user_id)) == 1 for event_id in asked), "an answer was doubled"


async def test_cli_runs_the_bot_until_sigterm_without_logging_secrets(
    synapse: SynapseServer, make_member: MakeMember, knowledge_dir: Path, tmp_path: Path
) -> None:
    """`faqbot run matrix` as an operator starts it: a separate process, configured by environment."""
    bot_user = synapse.register_user()
    state = tmp_path / "state"
    env = {**os.environ, **bot_environment(synapse, bot_user, state), "FAQBOT_LOG_LEVEL": "DEBUG"}
    command = [sys.executable, "-m", "faqbot.cli", "run", "matrix", "--knowledge", str(knowledge_dir)]
    log_path = tmp_path / "bot.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*command, "--base-url", BASE_URL], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        member = await make_member(synapse)
        room_id = await member.create_room([bot_user.user_id])
        await member.wait_joined(room_id, bot_user.user_id, timeout=30)
        question = await member.send(room_id, "How do I reset my password?")
        answer = await member.reply_to(question, bot_user.user_id, timeout=30)
        assert PASSWORD_URL in answer.source["content"]["body"]
        process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(process.wait, 20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    output = log_path.read_text()
    session = json.loads((state / "matrix_session.json").read_text())
    for secret in (bot_user.password, session["access_token"], session["pickle_key"]):
        assert secret not in output, output
    assert "listening as" in output
    assert oct((state / "matrix_session.json").stat().st_mode & 0o777) == "0o600"


async def test_a_refused_token_is_a_clear_error_not_a_retry_loop(
    synapse: SynapseServer, make_responder: Callable[[], Responder], tmp_path: Path
) -> None:
    user = synapse.register_user()
    env = bot_environment(synapse, user, tmp_path / "state", FAQBOT_MATRIX_ACCESS_TOKEN="syt_not_a_real_token")
    del env["FAQBOT_MATRIX_PASSWORD"]
    bot = make_bot(env, make_responder())
    try:
        with pytest.raises(MatrixBotError, match="M_UNKNOWN_TOKEN") as refused:
            await asyncio.wait_for(bot.start(), 15)
    finally:
        await stop_bot(bot)
    assert "syt_not_a_real_token" not in str(refused.value)
