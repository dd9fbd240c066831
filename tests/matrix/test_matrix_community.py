"""Moderators, ratings, corrections and help rooms on a real Synapse, with the bot's real store.

A community here is a room made by its owner (a creator: from room version 12 on, creators
outrank every power level), with a moderator at power level 50, a member and a bystander at
0, and the bot, which records into SQLite in its state folder as `faqbot run matrix` does.
What the bot recorded is read back from that store after `stop_bot` or a flush.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from nio import RoomCreateResponse, RoomPutAliasResponse

from faqbot.platforms.matrix_bot import MatrixBot
from faqbot.platforms.matrix_protocol import permalink
from faqbot.platforms.matrix_state import STATE_FILE
from faqbot.render import HELP_POST_REACTIONS
from faqbot.store.records import EntryCounts, LearnedPhrasing
from tests.matrix.conftest import (
    BASE_URL,
    MakeMember,
    Member,
    RunBot,
    bot_environment,
    room_with_bot,
    sentinel,
    stop_bot,
    wait_until,
)
from tests.matrix.synapse_server import SERVER_NAME, SynapseServer

PASSWORD_URL = "https://docs.example.org/account#password"
UPLOAD_URL = f"{BASE_URL}/media/uploads"
REPORT_URL = f"{BASE_URL}/moderation/reports"
# Words no entry matches, which a moderator will teach as a phrasing of reset-password.
LOCKED_OUT = "is there any way back in once the sign-in code is lost?"


@dataclass
class People:
    owner: Member  # made the rooms: a creator
    moderator: Member  # power level 50
    member: Member
    bystander: Member


async def make_people(synapse: SynapseServer, make_member: MakeMember) -> People:
    return People(*[await make_member(synapse) for _ in range(4)])


async def community_room(people: People, invite: tuple[str, ...] = (), **create: Any) -> str:
    """A room the owner makes, with the moderator at power level 50; everyone else joins it."""
    response = await people.owner.client.room_create(
        invite=[people.moderator.user_id, people.member.user_id, people.bystander.user_id, *invite],
        power_level_override={"users": {people.moderator.user_id: 50}},
        **create,
    )
    assert isinstance(response, RoomCreateResponse), response
    for person in (people.moderator, people.member, people.bystander):
        await person.join(response.room_id)
    return response.room_id


async def start_bot(
    synapse: SynapseServer, run_bot: RunBot, people: People, state: Path, rooms: tuple[str, ...], **extra: str
) -> tuple[MatrixBot, dict[str, str]]:
    """The bot, invited to `rooms` before it starts (their ids and aliases can be in its settings)."""
    env = bot_environment(synapse, synapse.register_user(), state, **extra)
    bot_id = env["FAQBOT_MATRIX_USER_ID"]
    for room_id in rooms:
        invited = await people.owner.client.room_invite(room_id, bot_id)
        assert not hasattr(invited, "status_code"), invited
    bot = await run_bot(env)
    for room_id in rooms:
        await people.owner.wait_joined(room_id, bot.user_id)
    return bot, env


async def restart(bot: MatrixBot, run_bot: RunBot, env: dict[str, str]) -> MatrixBot:
    """`docker restart`: the adapter and its store stop, a new process starts on the same state."""
    await stop_bot(bot)
    return await run_bot(env)


def counts(bot: MatrixBot) -> dict[str, EntryCounts]:
    recorder = bot.bot.recorder
    assert recorder is not None and recorder.flush(5)
    return {entry.entry_id: entry for entry in recorder.store.entry_counts()}


def learned(bot: MatrixBot) -> list[LearnedPhrasing]:
    recorder = bot.bot.recorder
    assert recorder is not None and recorder.flush(5)
    return recorder.store.learned_phrasings()


async def eventually(check: Callable[[], Any], what: str, timeout: float = 15) -> Any:
    """`check()` (a store read, off the event loop) until it is truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await asyncio.to_thread(check)
        if value:
            return value
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def in_thread(root: str, reply_to: str | None = None) -> dict[str, Any]:
    """A thread message's relation as Element sends it: a fallback pointer, unless it replies."""
    relates = {"rel_type": "m.thread", "event_id": root, "is_falling_back": reply_to is None}
    return {"m.relates_to": {**relates, "m.in_reply_to": {"event_id": reply_to or root}}}


def reply(event_id: str) -> dict[str, Any]:
    """A reply the current way (spec v1.13): the relation, no fallback in the body."""
    return {"m.relates_to": {"m.in_reply_to": {"event_id": event_id}}}


def pings_nobody(event: Any) -> bool:
    return event.source["content"].get("m.mentions") == {}


@dataclass
class Community:
    bot: MatrixBot
    env: dict[str, str]
    people: People
    room: str


@pytest.fixture
def community(
    synapse: SynapseServer, run_bot: RunBot, make_member: MakeMember, tmp_path: Path
) -> Callable[..., Awaitable[Community]]:
    """A community room and the bot in it; keyword arguments are settings (`FAQBOT_...`)."""

    async def make(**settings: str) -> Community:
        people = await make_people(synapse, make_member)
        room = await community_room(people)
        bot, env = await start_bot(synapse, run_bot, people, tmp_path / "state", (room,), **settings)
        return Community(bot, env, people, room)

    return make


MakeCommunity = Callable[..., Awaitable[Community]]


# -- ratings and removal ---------------------------------------------------------------------


async def test_ratings_on_an_answer_are_recorded_and_a_redacted_reaction_takes_its_rating_back(
    community: MakeCommunity, run_bot: RunBot
) -> None:
    c = await community()
    member, moderator, room = c.people.member, c.people.moderator, c.room
    question = await member.send(room, "How do I reset my password?")
    answer = await member.reply_to(question, c.bot.user_id)
    assert pings_nobody(answer)

    thumbs_up = await member.react(room, answer.event_id, "👍\ufe0f")  # as Element sends it
    moderators_down = await moderator.react(room, answer.event_id, "👎🏽")
    await member.react(room, question, "👍")  # a member's message: nothing of the bot's to rate
    await eventually(
        lambda: (counts(c.bot)["reset-password"].helpful, counts(c.bot)["reset-password"].unhelpful) == (1, 1),
        "a 👍 and a 👎 in the store",
    )
    await member.redact(room, thumbs_up)
    await eventually(lambda: counts(c.bot)["reset-password"].helpful == 0, "the 👍 taken back")
    assert counts(c.bot)["reset-password"].unhelpful == 1

    # Changed their mind: the 👎 replaces the 👍, and taking the old 👍 back leaves the 👎 standing.
    second_up = await member.react(room, answer.event_id, "👍")
    await eventually(lambda: counts(c.bot)["reset-password"].helpful == 1, "a 👍 again")
    await member.react(room, answer.event_id, "👎")
    await eventually(lambda: counts(c.bot)["reset-password"].unhelpful == 2, "the 👍 replaced by a 👎")
    await member.redact(room, second_up)
    await sentinel(member, c.bot, room)
    await asyncio.sleep(0.3)
    assert (counts(c.bot)["reset-password"].helpful, counts(c.bot)["reset-password"].unhelpful) == (0, 2)

    # After a restart the bot remembers nothing of it in memory: the store knows which reaction gave which rating.
    bot = await restart(c.bot, run_bot, c.env)
    await moderator.redact(room, moderators_down)
    await eventually(lambda: counts(bot)["reset-password"].unhelpful == 1, "the moderator's 👎 taken back")


async def test_a_passive_answer_is_removed_by_its_asker_or_a_moderator_also_after_a_restart(
    community: MakeCommunity, run_bot: RunBot
) -> None:
    c = await community()
    member, moderator, bystander, room = c.people.member, c.people.moderator, c.people.bystander, c.room
    passive = []
    for question in ("How do I reset my password?", "How do I report a post?", "What is the maximum upload size?"):
        passive.append((await member.reply_to(await member.send(room, question), c.bot.user_id)).event_id)
    explicit = (await member.reply_to(await member.send(room, "!faq report abuse"), c.bot.user_id)).event_id
    password, report, upload = passive

    await bystander.react(room, upload, "🗑️")  # not the asker, not a moderator
    await member.react(room, explicit, "🗑️")  # asked for: not removed this way
    await member.react(room, password, "🗑️")
    await moderator.react(room, report, "🗑️")
    await member.wait_redacted(room, password)
    await member.wait_redacted(room, report)
    assert not await member.is_redacted(room, upload)

    bot = await restart(c.bot, run_bot, c.env)  # who asked what is in the store now, not in memory
    await bystander.react(room, upload, "🗑")
    await sentinel(member, bot, room)
    await asyncio.sleep(0.3)
    assert not await member.is_redacted(room, upload)
    await member.react(room, upload, "🗑")
    await member.wait_redacted(room, upload)
    assert not await member.is_redacted(room, explicit)
    await eventually(lambda: counts(bot)["upload-limit"].removed == 1, "the removal after the restart")
    await moderator.redact(room, explicit)  # a moderator deleting an answer by hand: a removal too
    await eventually(lambda: counts(bot)["report-post"].removed == 2, "the hand-made removal")
    removed = {entry: numbers.removed for entry, numbers in counts(bot).items()}
    assert removed == {"reset-password": 1, "report-post": 2, "upload-limit": 1}


# -- moderators -------------------------------------------------------------------------------


async def test_a_moderators_reply_correction_answers_the_member_in_their_thread_and_teaches_the_phrasing(
    synapse: SynapseServer, community: MakeCommunity, make_member: MakeMember
) -> None:
    c = await community()
    member, moderator, room, bot = c.people.member, c.people.moderator, c.room, c.bot
    root = await member.send(room, "Account troubles")
    asked = await member.send(room, LOCKED_OUT, **in_thread(root))
    await sentinel(member, bot, room)
    assert member.replies_to(asked, bot.user_id) == [], "the bot does not know these words yet"

    correction = await moderator.send(room, "!faq reset-password", **reply(asked))  # from the main timeline
    answer = await member.reply_to(asked, bot.user_id)
    assert PASSWORD_URL in answer.source["content"]["body"] and pings_nobody(answer)
    assert answer.source["content"]["m.relates_to"] == {
        "rel_type": "m.thread",
        "event_id": root,
        "is_falling_back": False,
        "m.in_reply_to": {"event_id": asked},
    }
    assert member.replies_to(correction, bot.user_id) == []
    # Words their author deleted are not taught, though the bot saw them.
    deleted = await member.send(room, "how many gigabytes fit in one go?")
    await member.redact(room, deleted)
    await sentinel(member, bot, room)
    await moderator.send(room, "!faq upload-limit", **reply(deleted))
    await member.reply_to(deleted, bot.user_id)  # answered (it names the entry), but nothing to learn
    assert [(p.text, p.entry_id) for p in learned(bot)] == [(LOCKED_OUT, "reset-password")]

    # Learned at once: another member asking the same in another room gets the answer.
    newcomer = await make_member(synapse)
    elsewhere = await room_with_bot(newcomer, bot)
    later = await newcomer.reply_to(await newcomer.send(elsewhere, LOCKED_OUT), bot.user_id)
    assert PASSWORD_URL in later.source["content"]["body"]


async def test_passive_off_is_for_moderators_and_survives_a_restart(
    synapse: SynapseServer, run_bot: RunBot, make_member: MakeMember, tmp_path: Path
) -> None:
    people = await make_people(synapse, make_member)
    listed = await make_member(synapse)  # power level 0, named in matrix.moderators
    room = await community_room(people, invite=(listed.user_id,))
    await listed.join(room)
    bot, env = await start_bot(
        synapse, run_bot, people, tmp_path / "state", (room,), FAQBOT_MATRIX_MODERATORS=listed.user_id
    )
    member, moderator = people.member, people.moderator

    refused = await member.reply_to(await member.send(room, "!faq passive off"), bot.user_id)
    assert refused.source["content"]["body"] == "Only moderators can do that."
    accepted = await moderator.reply_to(await moderator.send(room, "!faq passive off"), bot.user_id)
    assert "won't answer plain questions here" in accepted.source["content"]["body"]
    quiet = await member.send(room, "How do I reset my password?")
    await sentinel(member, bot, room)
    assert member.replies_to(quiet, bot.user_id) == []

    bot = await restart(bot, run_bot, env)
    still_quiet = await member.send(room, "How do I report a post?")
    await sentinel(member, bot, room)
    assert member.replies_to(still_quiet, bot.user_id) == [], "passive off was kept across the restart"
    again = await listed.reply_to(await listed.send(room, "!faq passive on"), bot.user_id)
    assert "answer plain questions here again" in again.source["content"]["body"]
    answered = await member.reply_to(await member.send(room, "How do I reset my password?"), bot.user_id)
    assert PASSWORD_URL in answered.source["content"]["body"]
    # The room's creator outranks every power level (room version 12), though listed nowhere.
    owner = await people.owner.reply_to(await people.owner.send(room, "!faq passive off"), bot.user_id)
    assert "won't answer plain questions here" in owner.source["content"]["body"]


# -- replies the current way -----------------------------------------------------------------------


async def test_a_reply_is_to_whoever_sent_the_replied_to_event_fallback_or_not(
    synapse: SynapseServer, run_bot: RunBot, make_member: MakeMember, tmp_path: Path
) -> None:
    people = await make_people(synapse, make_member)
    room = await community_room(people)
    member, bystander = people.member, people.bystander
    # Said before the bot was there: it must fetch these to know who said them.
    theirs = await bystander.send(room, "morning all")
    mine = await member.send(room, "so, a question")
    bot, _ = await start_bot(synapse, run_bot, people, tmp_path / "state", (room,))

    question = "How do I reset my password?"
    to_them = await member.send(room, question, **reply(theirs))
    lying_fallback = await member.send(room, f"> <{member.user_id}> so, a question\n\n{question}", **reply(theirs))
    await sentinel(member, bot, room)
    assert member.replies_to(to_them, bot.user_id) == []
    assert member.replies_to(lying_fallback, bot.user_id) == []
    to_myself = await member.reply_to(await member.send(room, question, **reply(mine)), bot.user_id)
    assert PASSWORD_URL in to_myself.source["content"]["body"]


# -- help rooms ----------------------------------------------------------------------------------


async def test_a_help_post_gets_one_answer_in_its_thread_and_later_only_the_posters_asks(
    synapse: SynapseServer, run_bot: RunBot, make_member: MakeMember, tmp_path: Path
) -> None:
    people = await make_people(synapse, make_member)
    help_room = await community_room(people)
    alias = f"#help-{secrets.token_hex(3)}:{SERVER_NAME}"  # one of its aliases, not its canonical one
    assert isinstance(await people.owner.client.room_put_alias(alias, help_room), RoomPutAliasResponse)
    bot, _ = await start_bot(
        synapse,
        run_bot,
        people,
        tmp_path / "state",
        (help_room,),
        FAQBOT_MATRIX_HELP_ROOMS=alias,
        FAQBOT_CHAT_HELP_GRACE_SECONDS="1",
    )
    member, moderator, bystander = people.member, people.moderator, people.bystander

    post = await member.send(help_room, "How do I reset my password?")
    answer = await member.reply_to(post, bot.user_id)
    content = answer.source["content"]
    assert content["m.relates_to"] == {
        "rel_type": "m.thread",
        "event_id": post,
        "is_falling_back": False,
        "m.in_reply_to": {"event_id": post},
    }
    assert PASSWORD_URL in content["body"] and HELP_POST_REACTIONS in content["body"] and pings_nobody(answer)

    # Later in the post: only the poster's (and a moderator's) explicit asks.
    chat = await member.send(help_room, "thanks! and what is the upload limit?", **in_thread(post))
    not_theirs = await bystander.send(help_room, "!faq report abuse", **in_thread(post))
    asked = await member.send(help_room, "!faq upload limit", **in_thread(post))
    by_moderator = await moderator.send(help_room, "!faq report abuse", **in_thread(post))
    assert UPLOAD_URL in (await member.reply_to(asked, bot.user_id)).source["content"]["body"]
    moderated = await member.reply_to(by_moderator, bot.user_id)
    assert moderated.source["content"]["m.relates_to"]["event_id"] == post  # in the post's thread
    assert member.replies_to(chat, bot.user_id) == [] and member.replies_to(not_theirs, bot.user_id) == []

    # A post a moderator answers in its grace period is theirs; an edit in it is what the post asks.
    answered_by_human = await bystander.send(help_room, "How do I report a post?")
    await moderator.send(help_room, "Use the ⋯ menu on the post.", **in_thread(answered_by_human))
    withdrawn = await bystander.send(help_room, "What is the maximum upload size?")
    await bystander.redact(help_room, withdrawn)
    edited = await member.send(help_room, "hello everyone")
    await member.send(
        help_room,
        "* What is the maximum upload size?",
        **{
            "m.new_content": {"msgtype": "m.text", "body": "What is the maximum upload size?"},
            "m.relates_to": {"rel_type": "m.replace", "event_id": edited},
        },
    )
    assert UPLOAD_URL in (await member.reply_to(edited, bot.user_id)).source["content"]["body"]
    await asyncio.sleep(0.5)  # both grace periods are over, both posts decided
    assert member.replies_to(answered_by_human, bot.user_id) == []
    assert member.replies_to(withdrawn, bot.user_id) == []
    assert len(member.replies_to(post, bot.user_id)) == 1, "one answer per post"


async def test_i_need_a_human_tells_the_helpers_room_once_and_solved_counts_as_helpful(
    synapse: SynapseServer, run_bot: RunBot, make_member: MakeMember, tmp_path: Path
) -> None:
    people = await make_people(synapse, make_member)
    help_room = await community_room(people)
    helpers = await community_room(people)
    bot, _ = await start_bot(
        synapse,
        run_bot,
        people,
        tmp_path / "state",
        (help_room, helpers),
        FAQBOT_MATRIX_HELP_ROOMS=help_room,
        FAQBOT_MATRIX_HUMAN_ROOM=helpers,
        FAQBOT_CHAT_HELP_GRACE_SECONDS="0.2",
    )
    member, moderator, bystander = people.member, people.moderator, people.bystander
    stuck = await member.send(help_room, "How do I reset my password?")
    stuck_answer = (await member.reply_to(stuck, bot.user_id)).event_id
    solved = await member.send(help_room, "How do I report a post?")
    solved_answer = (await member.reply_to(solved, bot.user_id)).event_id

    await bystander.react(help_room, solved_answer, "🙋")  # not the poster's to ask
    await member.react(help_room, stuck_answer, "🙋\u200d\u2640\ufe0f")
    await member.react(help_room, stuck_answer, "🙋🏽")  # again: the helpers hear once per post
    await member.react(help_room, solved_answer, "✅")
    notices = await wait_until(lambda: moderator.messages_in(helpers, bot.user_id), 15, "the hand-off notice")
    assert permalink(help_room, stuck, SERVER_NAME) in notices[0].source["content"]["body"]
    assert pings_nobody(notices[0]) and notices[0].source["content"]["msgtype"] == "m.notice"
    await eventually(lambda: counts(bot)["report-post"].helpful == 1, "✅ recorded as a 👍")
    assert counts(bot)["reset-password"].unhelpful == 1
    await asyncio.sleep(0.5)
    assert len(moderator.messages_in(helpers, bot.user_id)) == 1


async def test_a_stop_hands_help_posts_in_their_grace_period_to_the_next_run(
    synapse: SynapseServer, run_bot: RunBot, make_member: MakeMember, tmp_path: Path
) -> None:
    people = await make_people(synapse, make_member)
    help_room = await community_room(people)
    settings = {"FAQBOT_MATRIX_HELP_ROOMS": help_room, "FAQBOT_CHAT_HELP_GRACE_SECONDS": "600"}
    bot, env = await start_bot(synapse, run_bot, people, tmp_path / "state", (help_room,), **settings)
    post = await people.member.send(help_room, "How do I report a post?")
    await wait_until(lambda: bot._pending_posts, 15, "the post in its grace period")
    await stop_bot(bot)
    assert [post] == [event for _, event in json.loads((tmp_path / "state" / STATE_FILE).read_text())["handed_back"]]

    bot = await run_bot({**env, "FAQBOT_CHAT_HELP_GRACE_SECONDS": "0.2"})
    answer = await people.member.reply_to(post, bot.user_id)
    assert REPORT_URL in answer.source["content"]["body"]
    assert answer.source["content"]["m.relates_to"]["event_id"] == post
