"""Matrix translation without I/O: events in, replies out, errors named.

Like matrix-nio's `base_client` beside its `async_client`, this module decides and
does no I/O, so tests drive it with plain dicts. It reads a `m.room.message` event's
content into a `MessageContent` whose every field is checked (a client may send
`"m.mentions": {"user_ids": 5}`, and a message the bot cannot read is still a message,
never an exception) and whose reply fallbacks (spec v1.13 dropped them; older clients
still quote) are stripped, turns it into the core's `IncomingMessage`, reads reactions
(`Reaction`, `Feedback`), says who is a moderator, turns a `Reply` into the `m.notice`
content that answers it (a reply the current way: no fallback, `m.mentions` naming nobody),
and says what a failed request means: wait as the homeserver asks, try again, try a few
times, give up on this one request, or stop. `faqbot.platforms.matrix_bot` does the talking.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any
from urllib.parse import quote, unquote

from nio.exceptions import LocalProtocolError, MembersSyncError, SendRetryError

from faqbot.matching.text import addressee
from faqbot.platforms.network import describe_network_error, one_line
from faqbot.render import render_matrix
from faqbot.responder import IncomingMessage, RepliedMessage, Reply

HTML_FORMAT = "org.matrix.custom.html"
MODERATOR_POWER_LEVEL = 50  # the usual line: Element's "Moderator" role
REMEMBERED_TEXT_CHARS = 2000  # a replied-to member's words kept for a correction (the store keeps as many)


# -- reading an event's content ------------------------------------------------------------


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


# Reply fallbacks, which the spec dropped in v1.13 and older clients still send: the quoted
# original above the reply in `body`, and an <mx-reply> block in `formatted_body`.
_QUOTED_FALLBACK = re.compile(r"\A(?:>[^\n]*\n)+\n?")
# Anchored, as the fallback always leads: unanchored, a body of many unclosed <mx-reply> tags
# would make the search rescan the rest of the body from each one (quadratic time).
_MX_REPLY = re.compile(r"\A\s*<mx-reply>.*?</mx-reply>", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class MessageContent:
    """The parts of a message's content the bot reads, each of the type it should be.

    A field of the wrong type reads as absent. `mentioned` is None when the sender's
    client sent no `m.mentions` at all (older clients), and a tuple, maybe empty,
    when it did: intentional mentions are then authoritative. `body` and
    `formatted_body` hold the sender's own words: an older client's reply fallback (the
    quoted original, an `<mx-reply>` block) is stripped on reading, so no quote of
    someone else is ever read as a command, a mention or a question."""

    body: str = ""
    msgtype: str | None = None
    formatted_body: str | None = None
    mentioned: tuple[str, ...] | None = None
    replies_to: str | None = None  # m.in_reply_to.event_id, when it is a reply (not a thread's fallback)
    relation: str | None = None  # m.relates_to.rel_type: m.thread, m.replace, ...
    related_event: str | None = None  # m.relates_to.event_id: the thread root, the edited event
    has_new_content: bool = False  # m.new_content: the body of an edit
    new_body: str | None = None  # m.new_content.body: the text an edit puts in place

    @classmethod
    def read(cls, content: object) -> MessageContent:
        """Never raises, whatever `content` is."""
        if not isinstance(content, Mapping):
            return cls()
        mentioned: tuple[str, ...] | None = None
        mentions = content.get("m.mentions")
        if isinstance(mentions, Mapping):
            user_ids = mentions.get("user_ids")
            mentioned = tuple(u for u in user_ids if isinstance(u, str)) if isinstance(user_ids, list) else ()
        relates = _mapping(content.get("m.relates_to"))
        relation = _text(relates.get("rel_type"))
        replies_to = _text(_mapping(relates.get("m.in_reply_to")).get("event_id"))
        if relation == "m.thread" and relates.get("is_falling_back") is True:
            replies_to = None  # what thread-unaware clients show: the thread's last event, not a reply to it
        body = _text(content.get("body")) or ""
        if replies_to is not None:
            body = _QUOTED_FALLBACK.sub("", body)
        formatted_body = _text(content.get("formatted_body"))
        if formatted_body is not None:
            formatted_body = _MX_REPLY.sub("", formatted_body)
        return cls(
            body=body,
            msgtype=_text(content.get("msgtype")),
            formatted_body=formatted_body,
            mentioned=mentioned,
            replies_to=replies_to,
            relation=relation,
            related_event=_text(relates.get("event_id")),
            has_new_content="m.new_content" in content,
            new_body=_text(_mapping(content.get("m.new_content")).get("body")),
        )

    @property
    def is_edit(self) -> bool:
        """Edits repeat a question already seen (or fix a typo); answering them would double up."""
        return self.relation == "m.replace" or self.has_new_content

    @property
    def thread_root(self) -> str | None:
        """The thread a message was posted in, so the answer goes to the same thread."""
        return self.related_event if self.relation == "m.thread" else None

    @property
    def starts_a_post(self) -> bool:
        """In a help room, a new help post: a message of its own, not in a thread, not a reply, not an edit."""
        return self.thread_root is None and self.replies_to is None and not self.is_edit


@dataclass(frozen=True)
class BotIdentity:
    """Who the bot is in a room: its user id and the names members call it by."""

    user_id: str
    names: frozenset[str]

    @property
    def localpart(self) -> str:
        return self.user_id[1:].split(":", 1)[0]


def inviter_allowed(inviter: str, allowed: Iterable[str]) -> bool:
    """Invite policy: an exact `@user:server`, any user of a listed `server` / `:server`, or `*`."""
    server = inviter.split(":", 1)[1] if ":" in inviter else ""
    for entry in allowed:
        if entry == "*" or (entry.startswith("@") and inviter == entry):
            return True
        if not entry.startswith("@") and server == entry.lstrip(":"):
            return True
    return False


def is_moderator(user_id: str, power_level: object, moderators: Iterable[str], creators: Iterable[str] = ()) -> bool:
    """A moderator: power level 50 or more in the room, a creator of a room whose creators
    rank above every power level (room version 12 on), or listed in `matrix.moderators`
    (user ids only: a whole server is never a moderator)."""
    if isinstance(power_level, int) and not isinstance(power_level, bool) and power_level >= MODERATOR_POWER_LEVEL:
        return True
    return user_id in set(creators) or any(entry.startswith("@") and entry == user_id for entry in moderators)


# Room versions whose creators outrank every power level (MSC4289) and are not listed in
# m.room.power_levels: "12", the versions after it, and the pre-release name of 12.
_PRIVILEGED_CREATOR_VERSIONS = frozenset({"org.matrix.hydra.11"})


def privileged_creators(room_version: object, sender: object, content: object) -> frozenset[str]:
    """The users a room's `m.room.create` event makes its creators, when the room version
    gives creators unlimited power (matrix-nio reads them as power level 0); else none."""
    version = room_version if isinstance(room_version, str) else ""
    numbered = version.isascii() and version.isdigit() and len(version) < 6
    if not (version in _PRIVILEGED_CREATOR_VERSIONS or (numbered and int(version) >= 12)):
        return frozenset()
    extra = _mapping(content).get("additional_creators")
    others = [user for user in extra if isinstance(user, str)] if isinstance(extra, list) else []
    return frozenset([*([sender] if isinstance(sender, str) else []), *others])


_PILL = re.compile(r"matrix\.to/#/((?:@|%40)[^\"'?/>\s]+)")


def member_text(event_type: object, content: MessageContent) -> bool:
    """A member's text message (not a notice, an emote, an image), whatever else it carries."""
    return event_type == "m.room.message" and content.msgtype == "m.text"


def ignored(content: MessageContent, sender: str, bot: BotIdentity) -> bool:
    """Messages the bot never answers: its own (bot loops) and edits."""
    return sender == bot.user_id or content.is_edit


def mentions_bot(content: MessageContent, bot: BotIdentity) -> bool:
    """True when the message speaks to the bot.

    `m.mentions` is authoritative when present (Element also fills it in when replying
    to the bot); a matrix.to pill counts too. Messages from older clients without
    `m.mentions` are checked for the user id or a name of the bot."""
    if content.mentioned is not None and bot.user_id in content.mentioned:
        return True
    if content.formatted_body is not None and any(
        f"matrix.to/#/{form}" in content.formatted_body for form in (bot.user_id, quote(bot.user_id))
    ):
        return True
    if content.mentioned is not None:
        return False
    if bot.user_id.lower() in content.body.lower():
        return True
    return any(re.search(rf"(?<!\w){re.escape(name)}(?!\w)", content.body, re.IGNORECASE) for name in bot.names if name)


def said_to_someone_else(
    content: MessageContent,
    sender: str,
    bot: BotIdentity,
    members: Iterable[tuple[str, str | None]],
    replied: RepliedMessage | None = None,
) -> bool:
    """True when the message speaks to another member: it mentions them (`m.mentions`, a
    matrix.to pill), replies to their message (by the sender of the replied-to event
    itself, `replied`: a reply to a message the bot could not look up counts as theirs), or
    opens with their display name or user name ("alice: try this"). That conversation is theirs.

    `members` is (user id, display name) pairs, read only when the message opens with a name."""
    ours = {bot.user_id, sender}
    if content.mentioned and any(user not in ours for user in content.mentioned):
        return True
    if content.formatted_body is not None and any(
        unquote(user) not in ours for user in _PILL.findall(content.formatted_body)
    ):
        return True
    if content.replies_to is not None and (replied is None or replied.author_id not in ours):
        return True
    name = addressee(content.body)
    if name is None:
        return False
    return any(
        name in (member_id.casefold(), member_id[1:].split(":", 1)[0].casefold(), (display_name or "").casefold())
        for member_id, display_name in members
        if member_id not in ours
    )


def question_text(content: MessageContent, bot: BotIdentity) -> str:
    """The body (without an older client's reply fallback) without the bot's leading mention."""
    body = re.sub(re.escape(bot.user_id), " ", content.body, flags=re.IGNORECASE).strip()
    for name in sorted((n for n in bot.names if n), key=len, reverse=True):
        stripped = re.sub(rf"\A@?{re.escape(name)}(?!\w)\s*[:,]?\s*", "", body, flags=re.IGNORECASE)
        if stripped != body:
            body = stripped
            break
    return re.sub(r"\A[:,]\s*", "", body).strip()


def replied_message(
    event_id: str, event_type: object, sender: str | None, content: MessageContent, bot: BotIdentity
) -> RepliedMessage:
    """The message a reply points at, as its own event says: who sent it, whether the bot did,
    and a member's words (text messages only, cut to `REMEMBERED_TEXT_CHARS`), which a
    moderator's correction teaches."""
    words = question_text(content, bot) if member_text(event_type, content) else ""
    return RepliedMessage(
        event_id, words[:REMEMBERED_TEXT_CHARS] or None, author_id=sender, from_bot=sender == bot.user_id
    )


def incoming_message(
    content: MessageContent,
    *,
    room_id: str,
    sender: str,
    bot: BotIdentity,
    direct: bool,
    members: Iterable[tuple[str, str | None]],
    message_id: str | None = None,
    replied: RepliedMessage | None = None,
    moderator: bool = False,
    names: tuple[str, ...] = (),
    help_post_author: str | None = None,
) -> IncomingMessage:
    """The core's view of one message; a direct message always speaks to the bot.

    `replied` is the message this one replies to (looked up by the adapter), `names` the
    room's name and aliases (for entries' `channels:`), `help_post_author` who opened the
    help post this message is part of."""
    return IncomingMessage(
        text=question_text(content, bot),
        conversation_id=room_id,
        sender_id=sender,
        addressed=direct or mentions_bot(content, bot),
        to_someone_else=said_to_someone_else(content, sender, bot, members, replied),
        message_id=message_id,
        moderator=moderator,
        replying_to=replied if content.replies_to is not None else None,
        conversation_names=names,
        help_post_author=help_post_author,
    )


# -- reactions ------------------------------------------------------------------------------------


class Feedback(Enum):
    """What a member's reaction to one of the bot's answers says."""

    HELPFUL = "👍"
    UNHELPFUL = "👎"
    REMOVE = "🗑"  # take this passive answer away
    SOLVED = "✅"  # a help post's answer solved it
    HUMAN = "🙋"  # a help post's poster would like a human


# Presentation selectors and skin tones: 👍️ (Element adds U+FE0F) and 👍🏽 are 👍.
_EMOJI_VARIANTS = re.compile("[\ufe0e\ufe0f\U0001f3fb-\U0001f3ff]")


def feedback_of(key: str) -> Feedback | None:
    """The feedback a reaction key gives, whatever its variant (🙋‍♀️ is 🙋, a joiner and ♀)."""
    base = _EMOJI_VARIANTS.sub("", key.split("\u200d", 1)[0]).strip()
    try:
        return Feedback(base)
    except ValueError:
        return None


@dataclass(frozen=True)
class Reaction:
    """An `m.reaction` annotation: the event it is on, and what its key says (None: another emoji)."""

    target: str
    feedback: Feedback | None

    @classmethod
    def read(cls, content: object) -> Reaction | None:
        """None unless `content` is a well-formed annotation; never raises."""
        relates = _mapping(_mapping(content).get("m.relates_to"))
        target, key = _text(relates.get("event_id")), _text(relates.get("key"))
        if relates.get("rel_type") != "m.annotation" or not target or key is None:
            return None
        return cls(target, feedback_of(key))


def permalink(room_id: str, event_id: str, server_name: str) -> str:
    """A matrix.to link to one event, which every client opens (room ids and event ids escaped)."""
    via = f"?via={quote(server_name, safe='')}" if server_name else ""
    return f"https://matrix.to/#/{quote(room_id, safe='')}/{quote(event_id, safe='')}{via}"


# -- writing a reply --------------------------------------------------------------------------


def notice_content(reply: Reply, relates_to: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """An `m.notice` saying `reply`. Its `m.mentions` names nobody: the bot never pings."""
    text = render_matrix(reply)
    content: dict[str, Any] = {
        "msgtype": "m.notice",
        "body": text.body,
        "format": HTML_FORMAT,
        "formatted_body": text.formatted_body,
        "m.mentions": {},
    }
    if relates_to is not None:
        content["m.relates_to"] = dict(relates_to)
    return content


def reply_content(reply: Reply, in_reply_to: str, thread: str | None) -> dict[str, Any]:
    """The `m.notice` that answers the message `in_reply_to`, in `thread` when there is one.

    A reply the current way (spec v1.13): the relation only, no fallback quoting the
    message in `body` or `<mx-reply>`; and it pings nobody, the asker included (a reply
    shows them their answer without a notification)."""
    relates: dict[str, Any] = {"m.in_reply_to": {"event_id": in_reply_to}}
    if thread is not None:
        # A genuine reply to the asker's event, not a fallback for thread-unaware clients.
        relates = {"rel_type": "m.thread", "event_id": thread, "is_falling_back": False, **relates}
    return notice_content(reply, relates)


def transaction_id(event_id: str, purpose: str = "answer") -> str:
    """One transaction id per event and purpose (its answer, a hand-off about it): a retried
    send (even after a restart) lands once."""
    prefix = "faqbot-" if purpose == "answer" else f"faqbot-{purpose}-"
    return prefix + re.sub(r"[^A-Za-z0-9._-]", "_", event_id)


def rating_source(room_id: str, reaction_id: str, sender: str) -> str:
    """What gave a rating, as the store keeps it (`Store.rate`'s `given_by`): the reaction, in its
    room, by its sender. Event ids name events across rooms, and a redaction takes back only what
    was given in the room it is sent in, by whoever sends it: a member of another homeserver can
    send a redaction of anyone's reaction, which Synapse passes on without applying it.
    A digest, because a federated server names rooms and events: joined whole they pass the
    store's 255-character cut and its cleaning (NUL, lone surrogates), where two reactions would
    become one source."""
    named = f"{len(room_id)}:{room_id}{len(sender)}:{sender}{reaction_id}"  # lengths: unambiguous
    return "reaction:" + hashlib.blake2b(named.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


# -- what a failure means ---------------------------------------------------------------------


class Trouble(Enum):
    """What to do about a failed request."""

    RATE_LIMITED = "rate-limited"  # wait as long as the homeserver asks, then again
    TRANSIENT = "transient"  # the network or a restarting server: again, with backoff, for a while
    DOUBTFUL = "doubtful"  # a server error that may be caused by the request itself: a few tries only
    PERMANENT = "permanent"  # the homeserver refuses this request: retrying cannot help
    SESSION_REFUSED = "session refused"  # the bot's login is gone: nothing works until an operator acts


@dataclass(frozen=True)
class Failure:
    trouble: Trouble
    description: str  # one line, for the log
    retry_after: float = 0.0  # seconds, for RATE_LIMITED


# Gateways and proxies say these while the homeserver behind them restarts.
_TRANSIENT_STATUSES = frozenset({408, 425, 502, 503, 504})
_SESSION_CODES = frozenset({"M_UNKNOWN_TOKEN", "M_MISSING_TOKEN", "M_USER_DEACTIVATED"})
_DEFAULT_RETRY_AFTER = 5.0  # what matrix-nio assumes when a 429 names no time
_LONGEST_RETRY_AFTER = 3600.0


def classify_error(
    errcode: str | None, http_status: int | None, message: str = "", retry_after_ms: object = None
) -> Failure:
    """What an error response from the homeserver means (`errcode` and `message` from its JSON,
    absent when the body was not Matrix JSON, e.g. a proxy's error page)."""
    what = errcode or (f"HTTP {http_status}" if http_status is not None else "an unreadable answer")
    detail = one_line(message) if message and message != "unknown error" else ""
    if errcode is None and http_status is not None and 400 <= http_status < 500 and http_status != 429:
        detail = "not a Matrix answer: is this the homeserver's client URL, with the right scheme?"
    description = f"{what}: {detail}" if detail else what
    if errcode == "M_LIMIT_EXCEEDED" or http_status == 429:
        wait = retry_after_ms / 1000 if isinstance(retry_after_ms, int | float) and retry_after_ms >= 0 else None
        seconds = min(_LONGEST_RETRY_AFTER, _DEFAULT_RETRY_AFTER if wait is None else wait)
        return Failure(Trouble.RATE_LIMITED, description, seconds)
    if errcode in _SESSION_CODES:
        return Failure(Trouble.SESSION_REFUSED, description)
    if http_status in _TRANSIENT_STATUSES:
        return Failure(Trouble.TRANSIENT, description)
    if http_status is None or http_status >= 500:
        return Failure(Trouble.DOUBTFUL, description)
    return Failure(Trouble.PERMANENT, description)


def classify_exception(url: str, error: BaseException, timeout: float) -> Failure:
    """What an exception raised by a request means. Not reaching the homeserver is
    transient; anything else (a local bug, an encryption store that cannot be written)
    gets a few tries, never a retry loop that blocks other rooms."""
    unreachable = describe_network_error(url, error, timeout)
    if unreachable is not None:
        return Failure(Trouble.TRANSIENT, unreachable)
    if isinstance(error, LocalProtocolError) and not isinstance(error, MembersSyncError | SendRetryError):
        return Failure(Trouble.PERMANENT, one_line(str(error)))  # e.g. a room the bot has left
    return Failure(Trouble.DOUBTFUL, f"{type(error).__name__}: {one_line(str(error))}")
