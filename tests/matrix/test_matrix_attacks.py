"""Attacks on the Matrix community features from outside, on a real Synapse.

Each test is one attack a member (or a broken homeserver setup) can make: spoofing a
moderator, pointing relations at events of other rooms, flooding a help room, asking for
a human again after a restart. The bot under attack is the real adapter and core, with
its store; members are plain matrix-nio clients.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from nio import (
    RoomCreateResponse,
    RoomGetStateEventResponse,
    RoomPutStateResponse,
    RoomRedactError,
    RoomSendError,
    SyncResponse,
)

from faqbot.flood_control import HELP_POSTS_WAITING_PER_POSTER
from faqbot.platforms.matrix_bot import MatrixBot
from faqbot.platforms.matrix_state import STATE_FILE
from tests.matrix.conftest import MakeMember, Member, RunBot, sentinel, stop_bot, token_environment, wait_until
from tests.matrix.synapse_server import SynapseServer
from tests.matrix.test_matrix_community import (
    LOCKED_OUT,
    PASSWORD_URL,
    REPORT_URL,
    People,
    community_room,
    counts,
    eventually,
    learned,
    make_people,
    pings_nobody,
    reply,
    start_bot,
)


def second_token(server: SynapseServer, user_id: str, password: str) -> str:
    """A fresh login of the same account: a new device and token, as an operator who rotates the token."""
    body = {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": user_id}, "password": password}
    request = urllib.request.Request(
        f"{server.url}/_matrix/client/v3/login", json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())["access_token"]


async def community_with_bot(
    synapse: SynapseServer,
    run_bot: RunBot,
    make_member: MakeMember,
    tmp_path: Path,
    help_grace: str | None = None,
    **settings: str,
) -> tuple[People, str, MatrixBot]:
    """The owner's community room with a moderator, a member, a bystander and the bot; a help
    room with that grace period when `help_grace` is given."""
    people = await make_people(synapse, make_member)
    room = await community_room(people)
    if help_grace is not None:
        settings = {"FAQBOT_MATRIX_HELP_ROOMS": room, "FAQBOT_CHAT_HELP_GRACE_SECONDS": help_grace, **settings}
    bot, _ = await start_bot(synapse, run_bot, people, tmp_path / "state", (room,), **settings)
    return people, room, bot


# -- replies and relations pointing elsewhere ------------------------------------------------


async def test_a_correction_pointing_at_another_rooms_message_teaches_nothing_and_stays_in_its_room(
    synapse: SynapseServer, run_bot: RunBot, make_member: MakeMember, tmp_path: Path
) -> None:
    people, room, bot = await community_with_bot(synapse, run_bot, make_member, tmp_path)
    member, bystander = people.member, people.bystander
    # The member's words in the community room: the bot sees them and answers nothing.
    words = await member.send(room, LOCKED_OUT)
    # The bystander makes a room of their own (its creator: a moderator there) with the bot.
    response = await bystander.client.room_create(invite=[bot.user_id])
    assert isinstance(response, RoomCreateResponse), response
    own = response.room_id
    await bystander.wait_joined(own, bot.user_id)
    correction = await bystander.send(own, "!faq reset-password", **reply(words))
    answer = (await wait_until(lambda: bystander.messages_in(own, bot.user_id), 20, "the answer"))[0]
    assert PASSWORD_URL in answer.source["content"]["body"] and pings_nobody(answer)
    assert answer.source["content"]["m.relates_to"] == {"m.in_reply_to": {"event_id": correction}}, (
        "the answer in one room replies to an event of another"
    )
    assert learned(bot) == [], "a moderator of one room taught another room's member's words"


# -- help rooms ----------------------------------------------------------------------------------


async def test_asking_for_a_human_again_after_a_restart_on_a_new_device_sends_no_second_notice(
    synapse: SynapseServer, run_bot: RunBot, make_member: MakeMember, tmp_path: Path
) -> None:
    people = await make_people(synapse, make_member)
    help_room = await community_room(people)
    helpers = await community_room(people)
    user = synapse.register_user()
    state = tmp_path / "state"
    settings = {
        "FAQBOT_MATRIX_HELP_ROOMS": help_room,
        "FAQBOT_MATRIX_HUMAN_ROOM": helpers,
        "FAQBOT_CHAT_HELP_GRACE_SECONDS": "0.2",
    }
    for room_id in (help_room, helpers):
        assert not hasattr(await people.owner.client.room_invite(room_id, user.user_id), "status_code")
    bot = await run_bot(token_environment(synapse, user, state, **settings))
    for room_id in (help_room, helpers):
        await people.owner.wait_joined(room_id, bot.user_id)
    member, moderator = people.member, people.moderator
    post = await member.send(help_room, "How do I reset my password?")
    answer = (await member.reply_to(post, bot.user_id)).event_id
    await member.react(help_room, answer, "🙋")
    await wait_until(lambda: moderator.messages_in(helpers, bot.user_id), 15, "the hand-off notice")

    # The operator rotates the token (a new device: Synapse's transaction ids do not carry over).
    await stop_bot(bot)
    token = second_token(synapse, user.user_id, user.password)
    bot = await run_bot({**token_environment(synapse, user, state, **settings), "FAQBOT_MATRIX_ACCESS_TOKEN": token})
    await member.react(help_room, answer, "🙋🏽")  # the poster again
    await moderator.react(help_room, answer, "🙋")  # and a moderator
    await asyncio.sleep(1.5)
    assert len(moderator.messages_in(helpers, bot.user_id)) == 1, "the helpers heard twice of one post"


async def test_a_flood_of_help_posts_from_one_member_gets_few_answers_and_other_rooms_are_answered(
    synapse: SynapseServer, run_bot: RunBot, make_member: MakeMember, tmp_path: Path
) -> None:
    people = await make_people(synapse, make_member)
    flooded = await community_room(people)
    other = await community_room(people)
    # A grace period longer than the flood takes to send, on a busy machine too: all of it waits at once.
    settings = {"FAQBOT_MATRIX_HELP_ROOMS": f"{flooded},{other}", "FAQBOT_CHAT_HELP_GRACE_SECONDS": "4"}
    bot, _ = await start_bot(synapse, run_bot, people, tmp_path / "state", (flooded, other), **settings)
    member, bystander = people.member, people.bystander
    flood = [await member.send(flooded, "How do I reset my password?") for _ in range(12)]
    elsewhere = await bystander.send(other, "How do I reset my password?")
    neighbour = await bystander.send(flooded, "How do I report a post?")
    await bystander.reply_to(elsewhere, bot.user_id)
    await bystander.reply_to(neighbour, bot.user_id)
    await asyncio.sleep(1.0)
    answered = [post for post in flood if member.replies_to(post, bot.user_id)]
    assert len(answered) <= HELP_POSTS_WAITING_PER_POSTER, f"{len(answered)} of 12 flooded posts answered"


# -- who is a moderator -------------------------------------------------------------------


async def set_power_levels(member: Member, room_id: str, change: Callable[[dict[str, Any]], None]) -> None:
    """Change the room's power levels as an admin's client does: read, change, put back."""
    current = await member.client.room_get_state_event(room_id, "m.room.power_levels")
    assert isinstance(current, RoomGetStateEventResponse), current
    content = dict(current.content)
    change(content)
    assert isinstance(await member.client.room_put_state(room_id, "m.room.power_levels", content), RoomPutStateResponse)


async def test_a_member_named_like_a_moderator_or_a_demoted_moderator_has_no_moderators_say(
    synapse: SynapseServer, run_bot: RunBot, make_member: MakeMember, tmp_path: Path
) -> None:
    people, room, bot = await community_with_bot(synapse, run_bot, make_member, tmp_path)
    member, moderator, owner = people.member, people.moderator, people.owner
    # The member takes the moderator's display name: moderators are user ids, never names.
    moderators_name = f"Mod {moderator.user_id[1:9]}"
    await moderator.client.set_displayname(moderators_name)
    await member.client.set_displayname(moderators_name)
    for command in ("!faq passive off", "!faq reload", "!faq gaps"):
        refused = await member.reply_to(await member.send(room, command), bot.user_id)
        assert refused.source["content"]["body"] == "Only moderators can do that.", command
    # A member's correction answers the other member but teaches nothing.
    words = await people.bystander.send(room, LOCKED_OUT)
    await member.send(room, "!faq reset-password", **reply(words))
    assert PASSWORD_URL in (await member.reply_to(words, bot.user_id)).source["content"]["body"]
    assert learned(bot) == []

    # Demoted after the bot started: the next command is refused.
    accepted = await moderator.reply_to(await moderator.send(room, "!faq passive off"), bot.user_id)
    assert "won't answer plain questions here" in accepted.source["content"]["body"]
    await set_power_levels(owner, room, lambda content: content["users"].pop(moderator.user_id))
    await sentinel(member, bot, room)
    refused = await moderator.reply_to(await moderator.send(room, "!faq passive on"), bot.user_id)
    assert refused.source["content"]["body"] == "Only moderators can do that."


async def test_a_help_post_edited_by_someone_else_keeps_its_posters_words(
    synapse: SynapseServer, run_bot: RunBot, make_member: MakeMember, tmp_path: Path
) -> None:
    people, help_room, bot = await community_with_bot(synapse, run_bot, make_member, tmp_path, help_grace="1")
    member, bystander = people.member, people.bystander
    post = await member.send(help_room, "How do I reset my password?")
    await bystander.send(  # Synapse takes an edit of another's event; clients show it as not an edit
        help_room,
        "* How do I report a post?",
        **{
            "m.new_content": {"msgtype": "m.text", "body": "How do I report a post?"},
            "m.relates_to": {"rel_type": "m.replace", "event_id": post},
        },
    )
    answer = await member.reply_to(post, bot.user_id)
    assert PASSWORD_URL in answer.source["content"]["body"]


# -- pings ----------------------------------------------------------------------------------


def notifications(server: SynapseServer, member: Member) -> list[dict[str, Any]]:
    """What Synapse's push rules made notify `member` (`GET /notifications`): a ping lands here."""
    request = urllib.request.Request(
        f"{server.url}/_matrix/client/v3/notifications",
        headers={"Authorization": f"Bearer {member.user.access_token}"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())["notifications"]


async def test_members_words_the_bot_repeats_ping_nobody(
    synapse: SynapseServer, run_bot: RunBot, make_member: MakeMember, tmp_path: Path
) -> None:
    people, room, bot = await community_with_bot(synapse, run_bot, make_member, tmp_path)
    member, moderator, victim = people.member, people.moderator, people.bystander
    await victim.client.set_displayname("Victim Person")
    lures = [
        "@room zebra quantum flux",
        f"{victim.user_id} zebra quantum flux",
        f"https://matrix.to/#/{victim.user_id} zebra quantum flux",
        '<a href="https://matrix.to/#/@room">Victim Person</a> zebra quantum flux',
    ]
    for lure in lures:
        await member.reply_to(await member.send(room, f"!faq {lure}"), bot.user_id)
    gaps = await moderator.reply_to(await moderator.send(room, "!faq gaps"), bot.user_id)
    content = gaps.source["content"]
    assert "zebra quantum flux" in content["body"], "the gaps list repeats the members' words"
    assert "!faq @\u200broom zebra" in content["body"], "a crowd mention outside a link is broken up"
    assert "<a " not in content["formatted_body"], "a member's words made a link (a pill)"
    await sentinel(member, bot, room)
    sent = [event for event in victim.messages_in(room, bot.user_id)]
    assert sent and all(pings_nobody(event) and event.source["content"]["msgtype"] == "m.notice" for event in sent)
    assert [n for n in notifications(synapse, victim) if n["event"]["sender"] == bot.user_id] == []


# -- faults ------------------------------------------------------------------------------------


def logged(caplog: pytest.LogCaptureFixture, level: int, *words: str) -> list[str]:
    """The adapter's log lines at `level` or above that contain all of `words`."""
    lines = [r.getMessage() for r in caplog.records if r.name == "faqbot.matrix" and r.levelno >= level]
    return [line for line in lines if all(word in line for word in words)]


@pytest.mark.parametrize("helpers_room", ["not joined", "cannot speak"])
async def test_a_helpers_room_the_bot_cannot_post_in_is_reported_and_the_rest_goes_on(
    helpers_room: str,
    synapse: SynapseServer,
    run_bot: RunBot,
    make_member: MakeMember,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="faqbot.matrix")
    people = await make_people(synapse, make_member)
    help_room = await community_room(people)
    helpers = await community_room(people)
    joined = (help_room, helpers) if helpers_room == "cannot speak" else (help_room,)
    settings = {
        "FAQBOT_MATRIX_HELP_ROOMS": help_room,
        "FAQBOT_MATRIX_HUMAN_ROOM": helpers,
        "FAQBOT_CHAT_HELP_GRACE_SECONDS": "0.2",
    }
    bot, _ = await start_bot(synapse, run_bot, people, tmp_path / "state", joined, **settings)
    if helpers_room == "cannot speak":
        await set_power_levels(people.owner, helpers, lambda content: content.update(events_default=50))
    member = people.member
    post = await member.send(help_room, "How do I reset my password?")
    answer = (await member.reply_to(post, bot.user_id)).event_id
    await member.react(help_room, answer, "🙋")
    await wait_until(
        lambda: logged(caplog, logging.ERROR, "hand-off notice", helpers, post), 15, "the failed hand-off in the log"
    )
    later = await member.send(help_room, "How do I report a post?")
    assert REPORT_URL in (await member.reply_to(later, bot.user_id)).source["content"]["body"]
    assert people.moderator.messages_in(helpers, bot.user_id) == []


async def test_an_answer_the_bot_has_no_power_to_redact_is_reported_and_the_rest_goes_on(
    synapse: SynapseServer, run_bot: RunBot, make_member: MakeMember, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="faqbot.matrix")
    people, room, bot = await community_with_bot(synapse, run_bot, make_member, tmp_path)
    member = people.member
    passive = (await member.reply_to(await member.send(room, "How do I reset my password?"), bot.user_id)).event_id
    await set_power_levels(people.owner, room, lambda content: content["events"].update({"m.room.redaction": 100}))
    await sentinel(member, bot, room)
    await member.react(room, passive, "🗑️")
    await wait_until(lambda: logged(caplog, logging.WARNING, "removing", passive), 15, "the refused redaction")
    assert not await member.is_redacted(room, passive)
    await sentinel(member, bot, room)


async def test_a_help_room_the_bot_is_not_in_is_named_at_start_up_and_the_rest_goes_on(
    synapse: SynapseServer, run_bot: RunBot, make_member: MakeMember, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="faqbot.matrix")
    people = await make_people(synapse, make_member)
    room = await community_room(people)
    elsewhere = await community_room(people)  # never invited
    bot, _ = await start_bot(
        synapse, run_bot, people, tmp_path / "state", (room,), FAQBOT_MATRIX_HELP_ROOMS=f"{room},{elsewhere}"
    )
    assert logged(caplog, logging.WARNING, elsewhere, "has not been joined")
    assert not logged(caplog, logging.WARNING, room, "has not been joined"), "a room the bot was joining"
    await sentinel(people.member, bot, room)


# -- privacy --------------------------------------------------------------------------------


async def test_nothing_in_the_state_folder_holds_a_members_user_id(
    synapse: SynapseServer, run_bot: RunBot, make_member: MakeMember, tmp_path: Path
) -> None:
    people = await make_people(synapse, make_member)
    help_room = await community_room(people)
    room = await community_room(people)
    settings = {"FAQBOT_MATRIX_HELP_ROOMS": help_room, "FAQBOT_CHAT_HELP_GRACE_SECONDS": "0.2"}
    bot, _ = await start_bot(synapse, run_bot, people, tmp_path / "state", (room, help_room), **settings)
    member, moderator = people.member, people.moderator
    passive = (await member.reply_to(await member.send(room, "How do I reset my password?"), bot.user_id)).event_id
    await member.react(room, passive, "👍")
    words = await member.send(room, LOCKED_OUT)
    await moderator.send(room, "!faq reset-password", **reply(words))
    await member.reply_to(words, bot.user_id)
    post = await member.send(help_room, "How do I report a post?")
    await member.react(help_room, (await member.reply_to(post, bot.user_id)).event_id, "🙋")
    await eventually(lambda: counts(bot)["reset-password"].helpful == 1, "the 👍 in the store")
    await stop_bot(bot)
    people_ids = [p.user_id for p in (people.owner, people.moderator, people.member, people.bystander)]
    for path in (tmp_path / "state").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for user_id in people_ids:
                for form in (user_id, user_id[1:].split(":")[0]):
                    assert form.encode() not in data, f"{path.name} holds {form}"


# -- relations from another room -------------------------------------------------------------


async def own_room_with_bot(member: Member, bot: MatrixBot, encrypted: bool = False) -> str:
    """A room `member` makes with the bot: its creator, so a moderator there."""
    room_id = await member.create_room([bot.user_id], encrypted=encrypted)
    await member.wait_joined(room_id, bot.user_id)
    return room_id


async def test_a_moderator_of_another_room_replying_to_a_help_post_does_not_silence_it(
    synapse: SynapseServer, run_bot: RunBot, make_member: MakeMember, tmp_path: Path
) -> None:
    people, help_room, bot = await community_with_bot(synapse, run_bot, make_member, tmp_path, help_grace="1.5")
    stranger = await make_member(synapse)
    own = await own_room_with_bot(stranger, bot)
    post = await people.member.send(help_room, "How do I reset my password?")
    # A reply is no relation to Synapse: it takes one to an event of any room.
    await stranger.send(own, "I'll take this one", **reply(post))
    answer = await people.member.reply_to(post, bot.user_id)
    assert PASSWORD_URL in answer.source["content"]["body"]


async def test_a_redacted_solved_takes_its_helpful_rating_back(
    synapse: SynapseServer, run_bot: RunBot, make_member: MakeMember, tmp_path: Path
) -> None:
    people, help_room, bot = await community_with_bot(synapse, run_bot, make_member, tmp_path, help_grace="0.2")
    member = people.member
    post = await member.send(help_room, "How do I report a post?")
    answer = (await member.reply_to(post, bot.user_id)).event_id
    solved = await member.react(help_room, answer, "✅")
    await eventually(lambda: counts(bot)["report-post"].helpful == 1, "✅ recorded as a 👍")
    await member.redact(help_room, solved)
    await eventually(lambda: counts(bot)["report-post"].helpful == 0, "the ✅ taken back")


async def delivered_over_federation(bot: MatrixBot, room_id: str, events: list[dict[str, Any]]) -> None:
    """Events as another homeserver can deliver them in a /sync, through matrix-nio's own sync
    handling into the bot's callbacks: Synapse refuses to *send* these for its own users, but
    it does not check the relations of events that come over federation."""
    assert bot.client is not None
    now = int(time.time() * 1000)
    timeline = [{"origin_server_ts": now, "unsigned": {}, **event} for event in events]
    real_position = bot.client.next_batch
    injected = f"{real_position}-federated"  # nio skips a sync whose position it already has
    sync = {"next_batch": injected, "rooms": {"join": {room_id: {"timeline": {"events": timeline}}}}}
    response = SyncResponse.from_dict(sync)
    assert isinstance(response, SyncResponse), response
    await bot.client.receive_response(response)
    if bot.client.next_batch == injected:  # the bot's own sync goes on from where it was
        bot.client.next_batch = real_position


async def test_reactions_and_redactions_sent_in_another_room_act_on_no_answer_of_this_one(
    synapse: SynapseServer, run_bot: RunBot, make_member: MakeMember, tmp_path: Path
) -> None:
    """Event ids name events across rooms, and whoever makes a room is its moderator. A 🗑️, a 👍
    or a redaction in a stranger's own room pointing at an answer in the community room must
    neither remove, rate nor make the bot forget that answer."""
    people, room, bot = await community_with_bot(synapse, run_bot, make_member, tmp_path)
    stranger = await make_member(synapse)
    own = await own_room_with_bot(stranger, bot)
    member = people.member
    answer = (await member.reply_to(await member.send(room, "How do I reset my password?"), bot.user_id)).event_id
    members_rating = await member.react(room, answer, "👍")
    await eventually(lambda: counts(bot)["reset-password"].helpful == 1, "the member's 👍")

    # Synapse refuses its own users relations and redactions that point into another room ...
    relation = {"m.relates_to": {"rel_type": "m.annotation", "event_id": answer, "key": "🗑️"}}
    assert isinstance(await stranger.client.room_send(own, "m.reaction", relation), RoomSendError)
    assert isinstance(await stranger.client.room_redact(own, answer), RoomRedactError)
    # ... but a homeserver of the federation can deliver them.
    await delivered_over_federation(
        bot,
        own,
        [
            {"type": "m.reaction", "event_id": "$far-1", "sender": stranger.user_id, "content": relation},
            {
                "type": "m.reaction",
                "event_id": "$far-2",
                "sender": stranger.user_id,
                "content": {"m.relates_to": {"rel_type": "m.annotation", "event_id": answer, "key": "👍"}},
            },
            {"type": "m.room.redaction", "event_id": "$far-3", "sender": stranger.user_id, "redacts": answer,
             "content": {}},
            {"type": "m.room.redaction", "event_id": "$far-4", "sender": stranger.user_id, "redacts": members_rating,
             "content": {}},
        ],
    )  # fmt: skip
    await sentinel(stranger, bot, own)
    await asyncio.sleep(0.3)
    assert not await member.is_redacted(room, answer)
    assert (counts(bot)["reset-password"].removed, counts(bot)["reset-password"].helpful) == (0, 1)

    # The answer is still known as the bot's: its asker's 🗑️ in its own room removes it.
    await member.react(room, answer, "🗑️")
    await member.wait_redacted(room, answer)
    await eventually(lambda: counts(bot)["reset-password"].removed == 1, "the asker's removal")


async def test_a_redaction_of_a_members_reaction_sent_by_someone_else_leaves_their_rating(
    synapse: SynapseServer, run_bot: RunBot, make_member: MakeMember, tmp_path: Path
) -> None:
    """Synapse refuses its own users a redaction of another's event, but accepts one from a
    member of another homeserver and passes it on, applying it only where that server may (its
    own users' events): the member's 👍 still shows, and their rating stands."""
    people, room, bot = await community_with_bot(synapse, run_bot, make_member, tmp_path)
    member, bystander = people.member, await make_member(synapse)
    answer = (await member.reply_to(await member.send(room, "How do I reset my password?"), bot.user_id)).event_id
    thumbs_up = await member.react(room, answer, "👍")
    await eventually(lambda: counts(bot)["reset-password"].helpful == 1, "the member's 👍")
    assert isinstance(await bystander.client.room_redact(room, thumbs_up), RoomRedactError)

    troll = {"type": "m.room.redaction", "sender": "@troll:hostile.example", "redacts": thumbs_up, "content": {}}
    await delivered_over_federation(bot, room, [{"event_id": "$troll-1", **troll}])
    await sentinel(member, bot, room)
    await asyncio.sleep(0.3)
    assert counts(bot)["reset-password"].helpful == 1

    await member.redact(room, thumbs_up)  # their own redaction takes it back
    await eventually(lambda: counts(bot)["reset-password"].helpful == 0, "the 👍 taken back by its member")


async def test_a_redaction_from_someone_who_may_not_redact_removes_no_answer_and_withdraws_no_help_post(
    synapse: SynapseServer, run_bot: RunBot, make_member: MakeMember, tmp_path: Path
) -> None:
    """A redaction passed on from another homeserver counts only as far as its sender could redact:
    a member's redaction of the bot's answer is no removal (the answer still shows), and someone
    else's redaction of a new help post does not withdraw it."""
    people, room, bot = await community_with_bot(synapse, run_bot, make_member, tmp_path, help_grace="3")
    member = people.member
    post = await member.send(room, "How do I reset my password?")
    await sentinel(people.moderator, bot, room)  # the bot has the post, waiting out its grace period
    troll = {"type": "m.room.redaction", "sender": "@troll:hostile.example", "content": {}}
    await delivered_over_federation(bot, room, [{"event_id": "$troll-1", "redacts": post, **troll}])
    answer = (await member.reply_to(post, bot.user_id)).event_id  # the post was answered all the same

    await delivered_over_federation(bot, room, [{"event_id": "$troll-2", "redacts": answer, **troll}])
    await sentinel(people.moderator, bot, room)
    await asyncio.sleep(0.3)
    assert counts(bot)["reset-password"].removed == 0
    await people.moderator.redact(room, answer)  # a moderator's redaction is a removal
    await eventually(lambda: counts(bot)["reset-password"].removed == 1, "the moderator's removal")


async def test_answers_in_a_state_file_from_before_rooms_were_kept_are_confirmed_in_their_room(
    synapse: SynapseServer, run_bot: RunBot, make_member: MakeMember, tmp_path: Path
) -> None:
    """After an upgrade the state file's answers say nothing of their room: a 🗑️ passed on from
    another room is checked with the homeserver (which fetches an event from its own room only)
    and acts on nothing; the asker's 🗑️ in the answer's room still removes it."""
    people = await make_people(synapse, make_member)
    room = await community_room(people)
    state = tmp_path / "state"
    bot, env = await start_bot(synapse, run_bot, people, state, (room,))
    stranger = await make_member(synapse)
    own = await own_room_with_bot(stranger, bot)
    member = people.member
    answer = (await member.reply_to(await member.send(room, "How do I reset my password?"), bot.user_id)).event_id
    await stop_bot(bot)
    state_file = state / STATE_FILE
    data = json.loads(state_file.read_text())
    assert [answer, "passive", None, room] in data["answers"]
    data["answers"] = [entry[:3] for entry in data["answers"]]  # as the release before wrote them
    state_file.write_text(json.dumps(data))
    bot = await run_bot(env)

    far = [
        {
            "type": "m.reaction",
            "event_id": f"$far-{number}",
            "sender": stranger.user_id,
            "content": {"m.relates_to": {"rel_type": "m.annotation", "event_id": answer, "key": key}},
        }
        for number, key in enumerate(("🗑️", "👍"))
    ]
    await delivered_over_federation(bot, own, far)
    await sentinel(stranger, bot, own)
    await asyncio.sleep(0.3)
    assert not await member.is_redacted(room, answer)
    assert counts(bot)["reset-password"].helpful == 0
    await member.react(room, answer, "🗑️")
    await member.wait_redacted(room, answer)
    await eventually(lambda: counts(bot)["reset-password"].removed == 1, "the asker's removal")
