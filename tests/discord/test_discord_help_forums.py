"""Help forums: a new post in a configured forum gets one answer after the grace period, with
"That solved it" / "I need a human" buttons that tag the post and, once, notify the helpers'
role; later in the post only its poster's asks are answered. Through the fake's forum channel
(type 15), THREAD_CREATE with `newly_created`, applied tags, thread messages and button
interactions, with a real SQLite store."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pytest

from faqbot.flood_control import HELP_POSTS_WAITING_PER_POSTER
from faqbot.platforms.discord_bot import DiscordBot
from faqbot.store.records import GapReason
from tests.discord.conftest import GRACE_SECONDS, StartBot
from tests.discord.fake_discord import (
    BILLING_TAG_ID,
    HELP_FORUM_ID,
    HELPER_ID,
    HUMAN_TAG_ID,
    MEMBER_ID,
    MODERATOR_ID,
    OTHER_FORUM_ID,
    OTHER_MEMBER_ID,
    SOLVED_TAG_ID,
    SUPPORT_ROLE_ID,
    FakeDiscord,
    ForumPost,
    RecordedRequest,
)
from tests.discord.test_discord_bot import NO_PINGS, SEND, callback_for, reply_to, sent_messages
from tests.discord.test_discord_moderation import store_of

GRACE = float(GRACE_SECONDS)
TITLE = "How do I reset my password?"
FORUM = {
    "FAQBOT_DISCORD_HELP_FORUMS": "Help-Forum",
    "FAQBOT_DISCORD_SOLVED_TAG": "solved",
    "FAQBOT_DISCORD_HUMAN_TAG": "Needs Human",
    "FAQBOT_DISCORD_HUMAN_ROLE": str(SUPPORT_ROLE_ID),
}
SOLVED_ID, HUMAN_ID = "faqbot:help:solved", "faqbot:help:human"


@pytest.fixture
async def forum_bot(start_bot: StartBot) -> DiscordBot:
    return await start_bot(**FORUM)


def in_post(fake: FakeDiscord, post: ForumPost) -> list[RecordedRequest]:
    return fake.requests_to("POST", rf"/channels/{post.thread_id}/messages", status=200)


async def answer_in(fake: FakeDiscord, post: ForumPost) -> tuple[str, dict[str, Any]]:
    """The bot's answer to a post (its message id and what was sent)."""
    body = (await reply_to(fake, post.starter, timeout=5 + GRACE)).json
    (answer_id,) = [
        m
        for m, message in fake.messages.items()
        if (message.get("message_reference") or {}).get("message_id")
        and str(message["message_reference"]["message_id"]) == post.starter["id"]
    ]
    return answer_id, body


async def after_grace(fake: FakeDiscord, post: ForumPost) -> None:
    """Once this returns, the bot has decided about `post`: the poster's own ask was answered after it."""
    await asyncio.sleep(GRACE + 0.2)
    asked = await fake.member_says("!faq help", channel_id=post.thread_id, author_id=int(post.starter["author"]["id"]))
    await reply_to(fake, asked)


def tags_set(fake: FakeDiscord, post: ForumPost) -> list[list[str]]:
    return [r.json["applied_tags"] for r in fake.requests_to("PATCH", rf"/channels/{post.thread_id}", status=200)]


# -- one answer per new post --------------------------------------------------------------------


async def test_a_new_post_gets_one_answer_after_the_grace_period(fake: FakeDiscord, forum_bot: DiscordBot) -> None:
    opened = time.monotonic()
    post = await fake.open_post(TITLE, "I tried the app and the website, nothing works")
    answer_id, body = await answer_in(fake, post)

    (answered,) = in_post(fake, post)
    assert answered.at - opened >= GRACE  # it waited for the member's edits and a quick human
    assert body["embeds"][0]["title"] == TITLE
    assert body["allowed_mentions"] == NO_PINGS
    buttons = [item for row in body["components"] for item in row["components"]]
    assert [(b["label"], b["custom_id"]) for b in buttons] == [
        ("That solved it", SOLVED_ID),
        ("I need a human", HUMAN_ID),
    ]
    store = await store_of(forum_bot)
    record = store.find_reply("discord", answer_id)
    assert record is not None and record.question_id == str(post.thread_id) and record.entry_id == "reset-password"
    assert store.is_asker("discord", answer_id, str(MEMBER_ID))

    await after_grace(fake, post)  # the poster's own ask is answered...
    assert len(in_post(fake, post)) == 2  # ...and the first message got no second, passive answer


async def test_later_in_the_post_only_the_posters_asks_are_answered(fake: FakeDiscord, forum_bot: DiscordBot) -> None:
    post = await fake.open_post(TITLE)
    await answer_in(fake, post)
    await fake.member_says("!faq who are the moderators", channel_id=post.thread_id, author_id=OTHER_MEMBER_ID)
    await fake.member_says("how do I contact a moderator?", channel_id=post.thread_id, author_id=OTHER_MEMBER_ID)
    mine = await fake.member_says("!faq who are the moderators", channel_id=post.thread_id)
    assert (await reply_to(fake, mine)).json["embeds"][0]["title"] == "How do I reach the moderators?"
    await after_grace(fake, post)
    assert len(in_post(fake, post)) == 3  # the answer, the poster's ask, the barrier: nothing for others


async def test_a_post_is_read_as_it_is_once_the_grace_period_is_over(fake: FakeDiscord, forum_bot: DiscordBot) -> None:
    renamed = await fake.open_post("help!!", "hi all")
    await fake.update_thread(renamed.thread_id, name=TITLE)  # the member fixed the title meanwhile
    by_message = await fake.open_post("urgent", "who are the moderators here?")  # the title says nothing
    assert (await answer_in(fake, renamed))[1]["embeds"][0]["title"] == TITLE
    assert (await answer_in(fake, by_message))[1]["embeds"][0]["title"] == "How do I reach the moderators?"


@pytest.mark.parametrize(
    "configured", [{}, {"FAQBOT_DISCORD_HELP_FORUMS": str(HELP_FORUM_ID)}, {"FAQBOT_DISCORD_HELP_FORUMS": "showcase2"}]
)
async def test_only_configured_forums_posts_get_a_help_post_answer(
    fake: FakeDiscord, start_bot: StartBot, configured: dict[str, str]
) -> None:
    await start_bot(**configured)
    elsewhere = await fake.open_post(TITLE, "how do I reset my password?", forum_id=OTHER_FORUM_ID)
    help_post = await fake.open_post(TITLE, "how do I reset my password?")
    await after_grace(fake, elsewhere)
    await after_grace(fake, help_post)
    # Elsewhere a post is a thread like any: its first message, a question, gets a passive answer.
    by_id = configured.get("FAQBOT_DISCORD_HELP_FORUMS") == str(HELP_FORUM_ID)
    for post, help_forum in ((elsewhere, False), (help_post, by_id)):
        first, _barrier = in_post(fake, post)
        assert bool(first.json.get("components")) is help_forum  # the buttons of a help post's answer
        assert first.json["embeds"][0]["title"] == TITLE


async def test_a_post_the_bot_is_unsure_of_is_left_alone_and_recorded(fake: FakeDiscord, forum_bot: DiscordBot) -> None:
    post = await fake.open_post("my tuba sounds flat in the cold", "any ideas")
    await after_grace(fake, post)
    assert len(in_post(fake, post)) == 1  # no "did you mean" in a post: only the barrier
    reasons = {record.question: record.reason for record in (await store_of(forum_bot)).gap_records()}
    assert reasons["my tuba sounds flat in the cold\nany ideas"] is GapReason.SILENT


async def test_one_members_flood_of_posts_gets_few_answers_and_others_are_answered(
    fake: FakeDiscord, forum_bot: DiscordBot
) -> None:
    """Help posts skip the asks' flood control (a post is a question by construction), so the
    posts waiting out their grace period are capped per poster too: one member's flood is left to
    humans past the first few, and cannot fill the room left for everyone else's posts."""
    flood = [await fake.open_post(TITLE) for _ in range(8)]
    other = await fake.open_post(TITLE, author_id=OTHER_MEMBER_ID)
    for post in flood[:HELP_POSTS_WAITING_PER_POSTER]:
        await answer_in(fake, post)
    await answer_in(fake, other)  # opened after the flood, answered after their grace periods
    await asyncio.sleep(0.5)  # what else the flood would have been answered with has arrived by now
    assert [len(in_post(fake, post)) for post in flood[HELP_POSTS_WAITING_PER_POSTER:]] == [0] * 5


# -- left to humans -------------------------------------------------------------------------------


async def test_tagged_posts_and_posts_a_moderator_answered_are_left_to_humans(
    fake: FakeDiscord, forum_bot: DiscordBot
) -> None:
    tagged = await fake.open_post(TITLE, tags=(SOLVED_TAG_ID,))
    retagged = await fake.open_post(TITLE, tags=(BILLING_TAG_ID,))
    await fake.update_thread(retagged.thread_id, applied_tags=(BILLING_TAG_ID, HUMAN_TAG_ID))
    moderated = await fake.open_post(TITLE)
    await fake.member_says(
        "Use the reset link on the login page", channel_id=moderated.thread_id, author_id=MODERATOR_ID
    )
    chatted = await fake.open_post(TITLE, author_id=HELPER_ID)  # one member's fourth waiting post is left to humans
    await fake.member_says("same problem here", channel_id=chatted.thread_id, author_id=OTHER_MEMBER_ID)

    await answer_in(fake, chatted)  # a member's reply is not a moderator's
    for post in (tagged, retagged, moderated):
        await after_grace(fake, post)
        assert len(in_post(fake, post)) == 1, post


async def test_a_moderators_role_counts_in_a_post_too(fake: FakeDiscord, start_bot: StartBot) -> None:
    await start_bot(**FORUM, FAQBOT_DISCORD_MODERATOR_ROLES="helpers")
    post = await fake.open_post(TITLE)
    await fake.member_says("On it!", channel_id=post.thread_id, author_id=HELPER_ID)
    await after_grace(fake, post)
    assert len(in_post(fake, post)) == 1


# -- the buttons ---------------------------------------------------------------------------------


async def test_that_solved_it_tags_the_post_and_counts_as_helpful(fake: FakeDiscord, forum_bot: DiscordBot) -> None:
    post = await fake.open_post(TITLE)
    answer_id, _ = await answer_in(fake, post)
    someone = await fake.press(answer_id, SOLVED_ID, user_id=OTHER_MEMBER_ID)
    refused = await callback_for(fake, someone)
    assert refused["data"]["flags"] & 64 and "Only the member who opened this post" in refused["data"]["content"]

    pressed = await fake.press(answer_id, SOLVED_ID)
    thanks = await callback_for(fake, pressed)
    assert (
        thanks["type"] == 4 and thanks["data"]["flags"] & 64 and "marked your post solved" in thanks["data"]["content"]
    )
    await fake.wait_for_requests("PATCH", rf"/channels/{post.thread_id}")
    assert tags_set(fake, post) == [[str(SOLVED_TAG_ID)]]
    (counts,) = (await store_of(forum_bot)).entry_counts()
    assert (counts.helpful, counts.unhelpful) == (1, 0)


async def test_i_need_a_human_tags_the_post_and_notifies_the_role_once(
    fake: FakeDiscord, forum_bot: DiscordBot
) -> None:
    post = await fake.open_post(TITLE, tags=(BILLING_TAG_ID,))
    answer_id, _ = await answer_in(fake, post)
    first = await fake.press(answer_id, HUMAN_ID)
    assert "marked your post for a human" in (await callback_for(fake, first))["data"]["content"]
    await fake.wait_for_requests("POST", rf"/channels/{post.thread_id}/messages", 2)
    notice = in_post(fake, post)[1].json
    assert notice["content"].startswith(f"<@&{SUPPORT_ROLE_ID}> A member would like a human to help with their post")
    allowed = notice["allowed_mentions"]  # the one ping the bot ever sends: the helpers' role, nobody else
    assert (allowed["parse"], [int(role) for role in allowed["roles"]]) == ([], [SUPPORT_ROLE_ID])
    assert allowed.get("replied_user", False) is False
    assert tags_set(fake, post) == [[str(BILLING_TAG_ID), str(HUMAN_TAG_ID)]]

    again = await fake.press(answer_id, HUMAN_ID)
    await callback_for(fake, again)
    solved_by_a_moderator = await fake.press(answer_id, SOLVED_ID, user_id=MODERATOR_ID)
    await callback_for(fake, solved_by_a_moderator)
    await fake.wait_for_requests("PATCH", rf"/channels/{post.thread_id}", 2)
    await after_grace(fake, post)
    assert len(in_post(fake, post)) == 3  # the answer, one notice, the barrier
    assert tags_set(fake, post)[-1] == [str(BILLING_TAG_ID), str(SOLVED_TAG_ID)]  # solved replaces needs human
    (counts,) = (await store_of(forum_bot)).entry_counts()
    assert (counts.helpful, counts.unhelpful) == (1, 1)  # the poster's 👎, the moderator's 👍


async def test_the_buttons_work_after_a_restart(fake: FakeDiscord, start_bot: StartBot) -> None:
    bot = await start_bot(**FORUM)
    post = await fake.open_post(TITLE)
    answer_id, _ = await answer_in(fake, post)
    await start_bot.stop(bot)
    await start_bot(**FORUM)
    thanks = await callback_for(fake, await fake.press(answer_id, SOLVED_ID))
    assert "marked your post solved" in thanks["data"]["content"]
    await fake.wait_for_requests("PATCH", rf"/channels/{post.thread_id}")
    assert tags_set(fake, post) == [[str(SOLVED_TAG_ID)]]


async def test_without_manage_threads_the_press_is_still_acknowledged(
    fake: FakeDiscord, forum_bot: DiscordBot, caplog: pytest.LogCaptureFixture
) -> None:
    fake.bot_manages_threads = False
    post = await fake.open_post(TITLE)
    answer_id, _ = await answer_in(fake, post)
    pressed = await fake.press(answer_id, SOLVED_ID)
    assert "marked your post solved" in (await callback_for(fake, pressed))["data"]["content"]
    await fake.wait_for_requests("PATCH", rf"/channels/{post.thread_id}", status=403)
    await after_grace(fake, post)
    assert "the bot needs Manage Threads" in caplog.text


async def test_without_a_human_role_nobody_is_mentioned(fake: FakeDiscord, start_bot: StartBot) -> None:
    await start_bot(**{**FORUM, "FAQBOT_DISCORD_HUMAN_ROLE": ""})
    post = await fake.open_post(TITLE)
    answer_id, _ = await answer_in(fake, post)
    await callback_for(fake, await fake.press(answer_id, HUMAN_ID))
    await fake.wait_for_requests("PATCH", rf"/channels/{post.thread_id}")
    await after_grace(fake, post)
    assert len(in_post(fake, post)) == 2  # the answer and the barrier: no notice
    assert all(request.json["allowed_mentions"] == NO_PINGS for request in sent_messages(fake))


async def test_the_configuration_is_described_at_start_up(
    fake: FakeDiscord, start_bot: StartBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    await start_bot(
        FAQBOT_DISCORD_HELP_FORUMS="help-forum, nowhere",
        FAQBOT_DISCORD_SOLVED_TAG="done",
        FAQBOT_DISCORD_HUMAN_TAG="needs human",
    )
    assert "Help forums: #help-forum (Test Community)" in caplog.text
    assert "names 'nowhere', which is no forum channel" in caplog.text
    assert "Help forum #help-forum has no tag 'done' (discord.solved_tag)" in caplog.text
    assert "'needs human'" not in caplog.text
    assert not fake.requests_to("POST", SEND)


async def test_a_post_the_bot_may_not_write_in_is_logged(
    fake: FakeDiscord, forum_bot: DiscordBot, caplog: pytest.LogCaptureFixture
) -> None:
    locked = await fake.open_post(TITLE)
    fake.refuse("POST", rf"/channels/{locked.thread_id}/messages", status=403)  # e.g. locked meanwhile
    await fake.wait_for_requests("POST", rf"/channels/{locked.thread_id}/messages", status=403, timeout=5 + GRACE)
    later = await fake.open_post(TITLE)
    await answer_in(fake, later)  # the next post is answered as ever
    assert f"Error while answering help post {locked.thread_id}" in caplog.text
