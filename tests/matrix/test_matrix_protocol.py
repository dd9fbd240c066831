"""The Matrix adapter's pure parts: no homeserver, no network.

Event content in (validated field by field), replies out, what a failure means, and
the shape the state files must have.
"""

from __future__ import annotations

import errno
import itertools
import random
import time
from pathlib import Path
from typing import Any

import pytest

from faqbot.platforms.matrix_bot import MatrixConfig
from faqbot.platforms.matrix_protocol import (
    REMEMBERED_TEXT_CHARS,
    BotIdentity,
    Failure,
    Feedback,
    MessageContent,
    Reaction,
    Trouble,
    classify_error,
    classify_exception,
    incoming_message,
    is_moderator,
    member_text,
    mentions_bot,
    notice_content,
    permalink,
    privileged_creators,
    question_text,
    rating_source,
    replied_message,
    reply_content,
    said_to_someone_else,
    transaction_id,
)
from faqbot.platforms.matrix_state import (
    ANSWERED_LIMIT,
    REPLIES_LIMIT,
    AdapterState,
    AnswerKind,
    LegacySession,
    SentAnswer,
    Session,
)
from faqbot.responder import RepliedMessage, Reply, ReplyKind
from faqbot.settings import SettingsError, load_settings
from faqbot.sources.model import Entry
from faqbot.store import Identity, Interaction, RecordOutcome
from faqbot.store.sqlite_store import SQLiteStore

BOT = BotIdentity("@faqbot:example.org", frozenset({"faqbot", "FAQ Bot"}))


def read(**content: Any) -> MessageContent:
    return MessageContent.read(content)


# -- configuration -------------------------------------------------------------------------


def test_config_from_settings_names_the_problem(tmp_path: Path) -> None:
    env = {"FAQBOT_MATRIX_HOMESERVER": "http://127.0.0.1:1", "FAQBOT_MATRIX_USER_ID": "@bot:example.org"}
    with pytest.raises(SettingsError, match="FAQBOT_MATRIX_ACCESS_TOKEN or FAQBOT_MATRIX_PASSWORD"):
        MatrixConfig.from_settings(load_settings(environ=env))
    with pytest.raises(SettingsError, match="FAQBOT_MATRIX_USER_ID"):
        load_settings(environ={**env, "FAQBOT_MATRIX_USER_ID": "bot", "FAQBOT_MATRIX_PASSWORD": "pw"})
    with pytest.raises(SettingsError, match="FAQBOT_MATRIX_HOMESERVER: expected an http:// or https:// URL"):
        load_settings(environ={**env, "FAQBOT_MATRIX_HOMESERVER": "matrix.example.org"})
    settings = load_settings(
        environ={
            **env,
            "FAQBOT_MATRIX_ACCESS_TOKEN": "syt_secret",
            "FAQBOT_STATE_DIR": str(tmp_path),
            "FAQBOT_CONNECT_TIMEOUT_SECONDS": "42",
        }
    )
    config = MatrixConfig.from_settings(settings)
    assert "syt_secret" not in repr(config)
    assert config.state_dir == tmp_path
    assert config.connect_timeout == 42
    # Default invite policy: users of the bot's own homeserver.
    assert config.inviter_allowed("@mod:example.org")
    assert not config.inviter_allowed("@stranger:evil.example")
    listed = MatrixConfig.from_settings(
        load_settings(
            environ={**env, "FAQBOT_MATRIX_PASSWORD": "pw", "FAQBOT_MATRIX_ALLOWED_INVITERS": "@a:x.org, y.org"}
        )
    )
    assert listed.inviter_allowed("@a:x.org") and listed.inviter_allowed("@anyone:y.org")
    assert not listed.inviter_allowed("@b:x.org") and not listed.inviter_allowed("@mod:example.org")


# -- events in -------------------------------------------------------------------------------


def test_mentions_are_detected_and_stripped() -> None:
    assert mentions_bot(read(body="FAQ Bot: upload limit?"), BOT)
    assert mentions_bot(read(body="x", **{"m.mentions": {"user_ids": [BOT.user_id]}}), BOT)
    pill = f'<a href="https://matrix.to/#/{BOT.user_id}">FAQ Bot</a>: hi'
    assert mentions_bot(read(body="FAQ Bot: hi", formatted_body=pill, **{"m.mentions": {}}), BOT)
    # With intentional mentions present, a display name in the text is not a mention.
    assert not mentions_bot(read(body="what is faqbot", **{"m.mentions": {}}), BOT)
    assert not mentions_bot(read(body="how do I upload?"), BOT)
    assert question_text(read(body="FAQ Bot: upload limit?"), BOT) == "upload limit?"
    assert question_text(read(body=f"{BOT.user_id} upload limit?"), BOT) == "upload limit?"
    fallback = read(
        body="> <@a:x> earlier\n\nFAQ Bot, and the limit?", **{"m.relates_to": {"m.in_reply_to": {"event_id": "$e"}}}
    )
    assert question_text(fallback, BOT) == "and the limit?"


def test_what_counts_as_said_to_someone_else() -> None:
    me, alice = "@me:example.org", "@alice:example.org"
    members = [(BOT.user_id, "FAQ Bot"), (me, "Me"), (alice, "Alice Smith")]

    def to_someone_else(replied: RepliedMessage | None = None, **content: Any) -> bool:
        return said_to_someone_else(read(**content), me, BOT, members, replied)

    assert to_someone_else(body="who pays?", **{"m.mentions": {"user_ids": [alice]}})
    assert to_someone_else(body="Alice Smith: who pays?")
    assert to_someone_else(body="alice, who pays?")  # the user name does too
    pill = f'<a href="https://matrix.to/#/{alice.replace("@", "%40")}">Alice</a> who pays?'
    assert to_someone_else(body="Alice who pays?", formatted_body=pill)
    # To the room, to oneself, or to the bot: not someone else's conversation.
    assert not to_someone_else(body="who pays?", **{"m.mentions": {}})
    assert not to_someone_else(body="well, who pays?")  # no member is called "well"
    assert not to_someone_else(body="who pays?", **{"m.mentions": {"user_ids": [BOT.user_id, me]}})
    assert not to_someone_else(body="Me: who pays?")


def test_a_reply_is_to_whoever_sent_the_replied_to_event_whatever_a_fallback_says() -> None:
    me, alice = "@me:example.org", "@alice:example.org"
    reply = {"m.relates_to": {"m.in_reply_to": {"event_id": "$e"}}}

    def to_someone_else(replied: RepliedMessage | None, **content: Any) -> bool:
        return said_to_someone_else(read(**content), me, BOT, [], replied)

    to_alice, to_me, to_bot = (RepliedMessage("$e", "hi", author) for author in (alice, me, BOT.user_id))
    assert to_someone_else(to_alice, body="who pays?", **reply)  # the current way: no fallback at all
    assert not to_someone_else(to_me, body="who pays?", **reply)
    assert not to_someone_else(to_bot, body="who pays?", **reply)
    # An older client's fallback names someone; the event itself decides.
    assert to_someone_else(to_alice, body=f"> <{me}> hi\n\nwho pays?", **reply)
    assert not to_someone_else(to_me, body=f"> <{alice}> hi\n\nwho pays?", **reply)
    fallback_pill = (
        f'<mx-reply><blockquote><a href="https://matrix.to/#/{alice}">{alice}</a> hi</blockquote></mx-reply>ok'
    )
    assert not to_someone_else(to_me, body="ok", formatted_body=fallback_pill, **reply)
    # A reply to a message the bot could not look up is theirs, not the room's.
    assert to_someone_else(RepliedMessage("$e"), body="who pays?", **reply)
    assert to_someone_else(None, body="who pays?", **reply)
    # A thread's pointer for thread-unaware clients is not a reply to that event's sender.
    pointer = {"rel_type": "m.thread", "event_id": "$root", "is_falling_back": True, **reply["m.relates_to"]}
    in_thread = {"m.relates_to": pointer}
    assert read(body="who pays?", **in_thread).replies_to is None
    assert not to_someone_else(None, body="who pays?", **in_thread)


def test_fallbacks_are_stripped_before_a_command_is_read() -> None:
    reply = {"m.relates_to": {"m.in_reply_to": {"event_id": "$e"}}}
    quoted = read(body="> <@alice:x> !faq reload\n> more\n\n!faq upload limit", **reply)
    assert quoted.body == "!faq upload limit"
    quoting_the_bot = f'<mx-reply><a href="https://matrix.to/#/{BOT.user_id}">bot</a> said</mx-reply>'
    html = read(body="!faq upload limit", formatted_body=quoting_the_bot + "!faq upload limit", **reply)
    assert html.formatted_body == "!faq upload limit" and not mentions_bot(html, BOT)  # quoting the bot is no mention
    message = incoming_message(
        quoted, room_id="!r:x", sender="@me:x", bot=BOT, direct=False, members=[], replied=RepliedMessage("$e")
    )
    assert message.text == "!faq upload limit" and message.replying_to == RepliedMessage("$e")
    # Only a leading fallback is one: <mx-reply> later in the message is the member's own text.
    later = read(body="x", formatted_body="hi <mx-reply>x</mx-reply>", **reply)
    assert later.formatted_body == "hi <mx-reply>x</mx-reply>"
    # Without a reply relation, a leading quote is the member's own.
    assert read(body="> quoted\n\ntext").body == "> quoted\n\ntext"


def test_the_replied_to_message_is_read_from_its_own_event() -> None:
    text = read(msgtype="m.text", body="FAQ Bot: how do I upload?")
    member = replied_message("$e", "m.room.message", "@alice:x", text, BOT)
    assert member == RepliedMessage("$e", "how do I upload?", "@alice:x", from_bot=False)
    ours = replied_message("$e", "m.room.message", BOT.user_id, read(msgtype="m.notice", body="Uploads"), BOT)
    assert ours.from_bot and ours.text is None  # a notice, an image: nothing a moderator could teach
    long = replied_message("$e", "m.room.message", "@a:x", read(msgtype="m.text", body="x" * 70_000), BOT)
    assert long.text is not None and len(long.text) == REMEMBERED_TEXT_CHARS


def test_members_are_read_only_when_the_message_opens_with_a_name() -> None:
    """A room of 100,000 members costs nothing for messages that name nobody."""

    def exploding_members() -> Any:
        raise AssertionError("members were read")
        yield  # pragma: no cover

    assert not said_to_someone_else(read(body="how do I upload?"), "@me:x", BOT, exploding_members())


# Values of the wrong type that clients (or attackers) have put in each field.
_HOSTILE_VALUES: list[Any] = [
    None,
    5,
    -1.5,
    True,
    "",
    "text",
    "\ud800",
    [],
    [5, None, {}],
    {},
    {"user_ids": 5},
    {"user_ids": [5, None, ["@a:x"], "@faqbot:example.org"]},
    {"user_ids": "@faqbot:example.org"},
    {"m.in_reply_to": 5},
    {"m.in_reply_to": {"event_id": 5}},
    {"m.in_reply_to": {"event_id": "$e"}},
    {"rel_type": 5, "event_id": []},
    {"rel_type": "m.thread", "event_id": {"x": 1}},
    {"rel_type": "m.thread", "event_id": "$root"},
    {"a": {"b": {"c": {"d": [[[[[]]]]]}}}},
]
_FIELDS = ["body", "formatted_body", "msgtype", "m.mentions", "m.relates_to", "m.new_content"]


def _translate(content: object) -> None:
    read_content = MessageContent.read(content)
    message = incoming_message(
        read_content,
        room_id="!room:x",
        sender="@member:x",
        bot=BOT,
        direct=False,
        members=[("@alice:x", "Alice"), ("@bad:x", None)],
    )
    assert isinstance(message.text, str)
    assert isinstance(message.addressed, bool) and isinstance(message.to_someone_else, bool)
    assert read_content.thread_root is None or isinstance(read_content.thread_root, str)
    assert read_content.replies_to is None or isinstance(read_content.replies_to, str)


def test_malformed_content_never_raises() -> None:
    """Every field read from an event is checked: a wrong type reads as absent."""
    for content in (None, 5, "body", [], ["body"]):
        _translate(content)
    for name, value in itertools.product(_FIELDS, _HOSTILE_VALUES):
        _translate({"body": "!faq upload limit", name: value})
    rng = random.Random(10)
    for _ in range(3000):
        picked = rng.sample(_FIELDS, rng.randint(1, len(_FIELDS)))
        _translate({name: rng.choice(_HOSTILE_VALUES) for name in picked})


# Contents as large as a Matrix event allows (64 KB), shaped to make a pattern rescan the rest
# of the text from every position: each is read in about a millisecond. The bound is a sanity
# check; an unanchored <mx-reply> pattern took 3 s on the first of these.
RESCANNING_CONTENTS = {
    "unclosed fallbacks": {"body": "x", "formatted_body": "<mx-reply>" * 6000},
    "fallback quote lines": {"body": "> <@a:x> q\n" * 5000 + "!faq upload limit"},
    "pills": {"body": "x", "formatted_body": '<a href="https://matrix.to/#/@' * 2000},
    "names": {"body": "FAQ Bot " * 7000},
    "spaces": {"body": " " * 60_000 + "x"},
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("content", RESCANNING_CONTENTS.values(), ids=RESCANNING_CONTENTS.keys())
def test_large_hostile_messages_are_read_at_once(content: dict[str, Any]) -> None:
    content = {**content, "msgtype": "m.text", "m.relates_to": {"m.in_reply_to": {"event_id": "$e"}}}
    start = time.perf_counter()
    read_content = MessageContent.read(content)
    incoming_message(
        read_content, room_id="!r:x", sender="@m:x", bot=BOT, direct=False, members=[], replied=RepliedMessage("$e")
    )
    replied_message("$e", "m.room.message", "@m:x", read_content, BOT)
    assert time.perf_counter() - start < 1.0


def test_malformed_fields_read_as_absent_and_the_rest_still_counts() -> None:
    nothing_mentioned = read(body="how big can files be", **{"m.mentions": {"user_ids": 5}})
    assert nothing_mentioned.mentioned == ()  # m.mentions was sent: nobody is mentioned
    assert not mentions_bot(nothing_mentioned, BOT)
    only_strings = read(body="hi", **{"m.mentions": {"user_ids": [5, None, BOT.user_id]}})
    assert only_strings.mentioned == (BOT.user_id,) and mentions_bot(only_strings, BOT)
    bad_relation = read(body="question", **{"m.relates_to": {"rel_type": "m.thread", "event_id": 5}})
    assert bad_relation.thread_root is None and bad_relation.replies_to is None
    assert read(body=5, formatted_body=["x"]).body == "" and read(body=5).formatted_body is None
    assert read(body="* fix", **{"m.new_content": 5}).is_edit  # an edit whatever its new content


def test_only_members_text_messages_are_read() -> None:
    assert member_text("m.room.message", read(msgtype="m.text", body="hi", formatted_body=5))
    others = [("m.room.message", "m.notice"), ("m.room.message", "m.emote"), ("m.reaction", "m.text")]
    for event_type, msgtype in others:
        assert not member_text(event_type, read(msgtype=msgtype, body="hi"))
    assert not member_text("m.room.message", read(msgtype=5, body="hi"))


# -- reactions and moderators -----------------------------------------------------------------


def test_reaction_keys_are_read_whatever_their_variant() -> None:
    def annotation(key: object, rel_type: object = "m.annotation", event_id: object = "$answer") -> dict[str, Any]:
        return {"m.relates_to": {"rel_type": rel_type, "event_id": event_id, "key": key}}

    for key, feedback in [
        ("👍", Feedback.HELPFUL),
        ("👍\ufe0f", Feedback.HELPFUL),  # Element's
        ("👍🏿", Feedback.HELPFUL),
        ("👎🏼", Feedback.UNHELPFUL),
        ("🗑️", Feedback.REMOVE),
        ("🗑", Feedback.REMOVE),
        ("✅", Feedback.SOLVED),
        ("🙋", Feedback.HUMAN),
        ("🙋\u200d\u2642\ufe0f", Feedback.HUMAN),
        ("🙋🏾\u200d\u2640", Feedback.HUMAN),
    ]:
        assert Reaction.read(annotation(key)) == Reaction("$answer", feedback), key
    for other in ("🎉", "+1", "", "👍" * 40, "thumbs up"):
        assert Reaction.read(annotation(other)) == Reaction("$answer", None), other
    for broken in (
        None,
        5,
        [],
        {},
        annotation("👍", rel_type="m.reference"),
        annotation(5),
        annotation("👍", event_id=5),
    ):
        assert Reaction.read(broken) is None


def test_moderators_by_power_level_creators_and_the_configured_list() -> None:
    assert is_moderator("@mod:x", 50, ()) and is_moderator("@admin:x", 100, ())
    assert not is_moderator("@member:x", 49, ()) and not is_moderator("@member:x", True, ())  # True is no level
    assert is_moderator("@listed:x", 0, ("@listed:x",))
    assert not is_moderator("@anyone:x", 0, ("x", ":x", "*"))  # a whole server is never a moderator
    assert is_moderator("@creator:x", 0, (), creators={"@creator:x"})
    content = {"room_version": "12", "additional_creators": ["@co:x", 5]}
    assert privileged_creators("12", "@creator:x", content) == {"@creator:x", "@co:x"}
    assert privileged_creators("13", "@creator:x", None) == {"@creator:x"}
    for version in ("10", "11", "1", None, 12, "org.example.custom", "１２", "9" * 5000):
        assert privileged_creators(version, "@creator:x", content) == frozenset(), version  # listed in power levels


def test_a_permalink_escapes_room_and_event_ids() -> None:
    assert permalink("!abc:example.org", "$ev/+x", "example.org") == (
        "https://matrix.to/#/%21abc%3Aexample.org/%24ev%2F%2Bx?via=example.org"
    )


# -- replies out --------------------------------------------------------------------------------


def test_reply_content_answers_in_the_thread_without_a_fallback_and_pings_nobody() -> None:
    entry = Entry("e", "Uploads", "Up to 40 MB.", "/up", "https://docs.example.org/up", "Media", "faq.yml", 1)
    explicit = reply_content(Reply(ReplyKind.ANSWER, entry=entry), "$q", thread="$root")
    assert explicit["msgtype"] == "m.notice" and explicit["m.mentions"] == {}  # not even the asker
    assert explicit["m.relates_to"] == {
        "rel_type": "m.thread",
        "event_id": "$root",
        "is_falling_back": False,
        "m.in_reply_to": {"event_id": "$q"},
    }
    # No reply fallback (removed in spec v1.13): nothing quoted, no <mx-reply>.
    assert not explicit["body"].startswith(">") and "mx-reply" not in explicit["formatted_body"]
    passive = reply_content(Reply(ReplyKind.ANSWER, passive=True, entry=entry), "$q", thread=None)
    assert passive["m.mentions"] == {} and passive["m.relates_to"] == {"m.in_reply_to": {"event_id": "$q"}}
    assert transaction_id("$a/b+c:x") == "faqbot-_a_b_c_x"
    assert transaction_id("$a/b+c:x", "handoff") == "faqbot-handoff-_a_b_c_x"


def test_the_hand_off_notice_links_the_post_and_pings_nobody() -> None:
    link = permalink("!help:x", "$post", "x")
    notice = notice_content(Reply(ReplyKind.HANDOFF, link=link))
    assert notice["msgtype"] == "m.notice" and notice["m.mentions"] == {} and "m.relates_to" not in notice
    assert link in notice["body"] and f'<a href="{link}">' in notice["formatted_body"]
    unsafe = notice_content(Reply(ReplyKind.HANDOFF, link="javascript:alert(1)"))
    assert "javascript" not in unsafe["body"] + unsafe["formatted_body"]


# -- what a failure means -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("errcode", "status", "trouble"),
    [
        ("M_LIMIT_EXCEEDED", 429, Trouble.RATE_LIMITED),
        (None, 429, Trouble.RATE_LIMITED),
        ("M_FORBIDDEN", 403, Trouble.PERMANENT),
        ("M_TOO_LARGE", 413, Trouble.PERMANENT),
        ("M_BAD_JSON", 400, Trouble.PERMANENT),
        ("M_UNKNOWN_TOKEN", 401, Trouble.SESSION_REFUSED),
        ("M_UNKNOWN", 500, Trouble.DOUBTFUL),  # Synapse's answer to content it chokes on, every time
        (None, 502, Trouble.TRANSIENT),  # a proxy while the homeserver restarts
        (None, 504, Trouble.TRANSIENT),
        (None, None, Trouble.DOUBTFUL),
    ],
)
def test_error_answers_are_told_apart(errcode: str | None, status: int | None, trouble: Trouble) -> None:
    assert classify_error(errcode, status, "some message").trouble is trouble


def test_rate_limits_carry_their_wait_and_server_messages_stay_one_short_line() -> None:
    assert classify_error("M_LIMIT_EXCEEDED", 429, "Too Many Requests", 2500).retry_after == 2.5
    assert classify_error("M_LIMIT_EXCEEDED", 429, "", None).retry_after == 5.0
    assert classify_error("M_LIMIT_EXCEEDED", 429, "", "soon").retry_after == 5.0
    assert classify_error("M_LIMIT_EXCEEDED", 429, "", 10**12).retry_after == 3600.0
    long = classify_error("M_UNKNOWN", 400, "One time key already exists.\nOld key: " + "k" * 5000)
    assert "\n" not in long.description and len(long.description) < 200
    assert classify_error(None, 502, "unknown error").description == "HTTP 502"
    # A web server that is not the homeserver (or plain HTTP sent to a TLS port) answers 4xx pages.
    assert "not a Matrix answer" in classify_error(None, 404, "unknown error").description


def test_only_not_reaching_the_homeserver_is_retried_as_transient() -> None:
    url = "https://m.example.org"
    assert classify_exception(url, TimeoutError(), 7) == Failure(Trouble.TRANSIENT, f"{url} did not answer within 7 s")
    # A full disk under the encryption store is no reason to wait for the homeserver.
    assert classify_exception(url, OSError(errno.ENOSPC, "No space left on device"), 7).trouble is Trouble.DOUBTFUL
    assert classify_exception(url, KeyError("bug"), 7).trouble is Trouble.DOUBTFUL


# -- the state files ----------------------------------------------------------------------------


def test_state_round_trips_and_stays_bounded() -> None:
    state = AdapterState()
    for number in range(ANSWERED_LIMIT + 5):
        state.mark_answered(f"${number}")
    state.add_direct("!dm:x")
    state.set_sync_position("DEVICE", "s123")
    state.hand_back("!room:x", "$9")
    for number in range(REPLIES_LIMIT + 5):
        state.sent_answer(f"$answer{number}", SentAnswer(AnswerKind.PASSIVE, room_id="!room:x"))
    state.sent_answer("$help", SentAnswer(AnswerKind.HELP_POST, "$post", "!help:x"))
    reloaded = AdapterState.from_json(state.to_json())
    assert reloaded.answer("$answer0", "!room:x") is None
    assert reloaded.answer("$answer9", "!room:x") == SentAnswer(AnswerKind.PASSIVE, room_id="!room:x")
    assert reloaded.answer("$help", "!help:x") == SentAnswer(AnswerKind.HELP_POST, "$post", "!help:x")
    assert not reloaded.answered("$0") and reloaded.answered(f"${ANSWERED_LIMIT + 4}")
    assert not reloaded.answered("$9"), "a handed-back question is answered again by the next run"
    assert reloaded.is_direct("!dm:x") and list(reloaded.handed_back) == [("!room:x", "$9")]
    assert reloaded.sync_position("DEVICE") == "s123" and reloaded.sync_position("OTHER") is None


def test_an_answer_is_known_only_in_its_own_room_and_old_state_files_still_load() -> None:
    """Event ids name events across rooms: a reaction or redaction in one room pointing at an
    answer in another is about nothing of the bot's. A state file from before rooms were kept
    ([event id, kind, post id]) loads, its answers known in any room until they age out."""
    state = AdapterState()
    state.sent_answer("$a", SentAnswer(AnswerKind.PASSIVE, room_id="!community:x"))
    assert state.answer("$a", "!community:x") is not None and state.answer("$a", "!strangers-own:x") is None
    old = AdapterState.from_json({"answers": [["$old", "passive", None], ["$post-answer", "help post", "$post"]]})
    assert old.answer("$old", "!any:x") == SentAnswer(AnswerKind.PASSIVE)
    assert old.answer("$post-answer", "!any:x") == SentAnswer(AnswerKind.HELP_POST, "$post")


@pytest.mark.parametrize(
    "data",
    [
        None,
        [],
        5,
        "answered",
        {"answered": 5},
        {"answered": [1, 2]},
        {"direct_rooms": {"!a:x": True}},
        {"handed_back": [["!room:x"]]},
        {"handed_back": [[1, "$e"]]},
        {"handed_back": "x"},
        {"sync": 5},
        {"sync": {"device_id": 5, "next_batch": "s1"}},
        {"answers": 5},
        {"answers": [["$a", "passive"]]},
        {"answers": [["$a", "shouted", None]]},
        {"answers": [["$a", ["passive"], None]]},
        {"answers": [["", "passive", None]]},
        {"answers": [["$a", "help post", 5]]},
        {"answers": [["$a", "passive", None, 7]]},
        {"answers": [["$a", "passive", None, ""]]},
        {"answers": [["$a", "passive", None, "!r:x", "extra"]]},
    ],
)
def test_state_of_the_wrong_shape_is_refused_whole(data: Any) -> None:
    with pytest.raises(ValueError):
        AdapterState.from_json(data)


def test_sessions_old_and_new() -> None:
    new = Session.from_json({"user_id": "@b:x", "device_id": "D", "pickle_key": "k" * 20, "access_token": "t"})
    assert isinstance(new, Session) and new.pickle_key == "k" * 20 and new.access_token == "t"
    assert "k" * 20 not in repr(new) and "'t'" not in repr(new)
    assert Session.from_json(new.to_json()) == new
    legacy = Session.from_json({"user_id": "@b:x", "device_id": "D", "access_token": "t"})
    assert isinstance(legacy, LegacySession) and legacy.device_id == "D"
    for bad in (None, [], {"answered": 5}, {"user_id": "@b:x"}, {"user_id": "@b:x", "device_id": 5}):
        with pytest.raises(ValueError):
            Session.from_json(bad)
    with pytest.raises(ValueError):
        Session.from_json({"user_id": "@b:x", "device_id": "D", "pickle_key": ""})


def test_each_reaction_is_its_own_rating_source_whatever_its_room_and_event_ids_hold(tmp_path: Path) -> None:
    """A federated server names its rooms and events: a room id of 240 characters, an event id
    with a NUL or a lone surrogate. Cut or cleaned as the store keeps ids, two reactions there
    would be one source, and redacting any message in that room would take back every rating."""
    long_room = "!" + "r" * 224 + ":" + "hostile.example" * 2
    rooms_and_ids = [
        (long_room, "$a"),
        (long_room, "$b"),
        ("!room:x", "$c\x00"),
        ("!room:x", "$c"),
        ("!room:x", "$\ud800"),
        ("!room:x", "$\ud801"),
        ("!room:x $d", "$e"),
        ("!room:x", "$d $e"),
    ]
    sender = "@member:x"
    store = SQLiteStore(tmp_path / "faqbot.sqlite3", identity=Identity(tmp_path))
    store.prepare()
    store.record_interaction(
        Interaction("matrix", "!room:x", "who pays", RecordOutcome.ANSWERED, False, reply_id="$answer")
    )
    for n, (room_id, event_id) in enumerate(rooms_and_ids):
        assert store.rate("matrix", "$answer", f"@m{n}:x", True, given_by=rating_source(room_id, event_id, sender))
    for room_id, event_id in rooms_and_ids:
        assert store.take_back_ratings("matrix", [rating_source(room_id, event_id, "@stranger:hostile")]) == 0
        assert store.take_back_ratings("matrix", [rating_source(room_id, event_id, sender)]) == 1
    store.close()
