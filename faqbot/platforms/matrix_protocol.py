"""Matrix translation without I/O: events in, replies out, errors named.

Like matrix-nio's `base_client` beside its `async_client`, this module decides and
does no I/O, so tests drive it with plain dicts. It reads a `m.room.message` event's
content into a `MessageContent` whose every field is checked (a client may send
`"m.mentions": {"user_ids": 5}`, and a message the bot cannot read is still a message,
never an exception), turns it into the core's `IncomingMessage`, turns a `Reply` into
the `m.notice` content that answers it, and says what a failed request means: wait as
the homeserver asks, try again, try a few times, give up on this one request, or stop.
`faqbot.platforms.matrix_bot` does the talking.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any
from urllib.parse import quote, unquote

import aiohttp
from nio.exceptions import LocalProtocolError, MembersSyncError, SendRetryError

from faqbot.matching.text import addressee
from faqbot.render import render_matrix
from faqbot.responder import IncomingMessage, Reply

HTML_FORMAT = "org.matrix.custom.html"
_SERVER_MESSAGE_CHARS = 160  # a homeserver's error text in our log line; some quote whole keys back


# -- reading an event's content ------------------------------------------------------------


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


@dataclass(frozen=True)
class MessageContent:
    """The parts of a message's content the bot reads, each of the type it should be.

    A field of the wrong type reads as absent. `mentioned` is None when the sender's
    client sent no `m.mentions` at all (older clients), and a tuple, maybe empty,
    when it did: intentional mentions are then authoritative."""

    body: str = ""
    msgtype: str | None = None
    formatted_body: str | None = None
    mentioned: tuple[str, ...] | None = None
    replies_to: str | None = None  # m.relates_to.m.in_reply_to.event_id
    relation: str | None = None  # m.relates_to.rel_type: m.thread, m.replace, ...
    related_event: str | None = None  # m.relates_to.event_id: the thread root, the edited event
    has_new_content: bool = False  # m.new_content: the body of an edit

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
        return cls(
            body=_text(content.get("body")) or "",
            msgtype=_text(content.get("msgtype")),
            formatted_body=_text(content.get("formatted_body")),
            mentioned=mentioned,
            replies_to=_text(_mapping(relates.get("m.in_reply_to")).get("event_id")),
            relation=_text(relates.get("rel_type")),
            related_event=_text(relates.get("event_id")),
            has_new_content="m.new_content" in content,
        )

    @property
    def is_edit(self) -> bool:
        """Edits repeat a question already seen (or fix a typo); answering them would double up."""
        return self.relation == "m.replace" or self.has_new_content

    @property
    def thread_root(self) -> str | None:
        """The thread a message was posted in, so the answer goes to the same thread."""
        return self.related_event if self.relation == "m.thread" else None


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


_REPLY_FALLBACK = re.compile(r"\A(?:>[^\n]*\n)+\n?")
_PILL = re.compile(r"matrix\.to/#/((?:@|%40)[^\"'?/>\s]+)")
_FALLBACK_SENDER = re.compile(r"\A> <(@[^>\s]+)>")


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


def _without_fallback(content: MessageContent) -> str:
    """The body without the quote older clients put above a reply."""
    return _REPLY_FALLBACK.sub("", content.body) if content.replies_to is not None else content.body


def said_to_someone_else(
    content: MessageContent, sender: str, bot: BotIdentity, members: Iterable[tuple[str, str | None]]
) -> bool:
    """True when the message speaks to another member: it mentions them (`m.mentions`, a
    matrix.to pill), replies to them (a reply fallback names them), or opens with their
    display name or user name ("alice: try this"). That conversation is theirs.

    `members` is (user id, display name) pairs, read only when the message opens with a name."""
    ours = {bot.user_id, sender}
    if content.mentioned and any(user not in ours for user in content.mentioned):
        return True
    if content.formatted_body is not None and any(
        unquote(user) not in ours for user in _PILL.findall(content.formatted_body)
    ):
        return True
    if content.replies_to is not None:
        replied_to = _FALLBACK_SENDER.match(content.body)
        if replied_to and replied_to.group(1) not in ours:
            return True
    name = addressee(_without_fallback(content))
    if name is None:
        return False
    return any(
        name in (member_id.casefold(), member_id[1:].split(":", 1)[0].casefold(), (display_name or "").casefold())
        for member_id, display_name in members
        if member_id not in ours
    )


def question_text(content: MessageContent, bot: BotIdentity) -> str:
    """The body without a reply fallback quote and without the bot's leading mention."""
    body = re.sub(re.escape(bot.user_id), " ", _without_fallback(content), flags=re.IGNORECASE).strip()
    for name in sorted((n for n in bot.names if n), key=len, reverse=True):
        stripped = re.sub(rf"\A@?{re.escape(name)}(?!\w)\s*[:,]?\s*", "", body, flags=re.IGNORECASE)
        if stripped != body:
            body = stripped
            break
    return re.sub(r"\A[:,]\s*", "", body).strip()


def incoming_message(
    content: MessageContent,
    *,
    room_id: str,
    sender: str,
    bot: BotIdentity,
    direct: bool,
    members: Iterable[tuple[str, str | None]],
) -> IncomingMessage:
    """The core's view of one message; a direct message always speaks to the bot."""
    return IncomingMessage(
        text=question_text(content, bot),
        conversation_id=room_id,
        sender_id=sender,
        addressed=direct or mentions_bot(content, bot),
        to_someone_else=said_to_someone_else(content, sender, bot, members),
    )


# -- writing a reply --------------------------------------------------------------------------


def reply_content(reply: Reply, question_event_id: str, asker: str, thread: str | None) -> dict[str, Any]:
    """The `m.notice` that answers `question_event_id`, in its thread if it had one.

    Passive answers mention nobody (the member did not ask the bot); explicit ones
    notify the asker, as replying in Element does."""
    text = render_matrix(reply)
    relates: dict[str, Any] = {"m.in_reply_to": {"event_id": question_event_id}}
    if thread is not None:
        # A genuine reply to the asker's event, not a fallback for thread-unaware clients.
        relates = {"rel_type": "m.thread", "event_id": thread, "is_falling_back": False, **relates}
    return {
        "msgtype": "m.notice",
        "body": text.body,
        "format": HTML_FORMAT,
        "formatted_body": text.formatted_body,
        "m.relates_to": relates,
        "m.mentions": {} if reply.passive else {"user_ids": [asker]},
    }


def transaction_id(question_event_id: str) -> str:
    """One transaction id per answered event: a retried send (even after a restart) lands once."""
    return "faqbot-" + re.sub(r"[^A-Za-z0-9._-]", "_", question_event_id)


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


def one_line(text: str, limit: int = _SERVER_MESSAGE_CHARS) -> str:
    """`text` on one line, cut to `limit` characters: for a log line that quotes a server."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


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


def describe_unreachable(url: str, error: BaseException, timeout: float) -> str | None:
    """One line saying why `url` could not be talked to, or None when `error` is not about
    reaching it (a bug, a local problem), which retrying would not fix."""
    if isinstance(error, TimeoutError):  # aiohttp's and asyncio's timeouts are TimeoutErrors too
        return f"{url} did not answer within {timeout:g} s"
    if isinstance(error, aiohttp.ClientConnectorDNSError):
        return f"cannot find the host of {url}: {_reason(error.os_error)}"
    if isinstance(error, aiohttp.ClientConnectorCertificateError):
        return f"{url} has a TLS certificate this machine does not trust: {one_line(str(error.certificate_error))}"
    if isinstance(error, aiohttp.ClientConnectorSSLError | aiohttp.ClientSSLError):
        return f"TLS with {url} failed ({one_line(str(error))}): is it an http:// server?"
    if isinstance(error, aiohttp.ClientConnectorError):
        return f"cannot reach {url}: {_reason(error.os_error)}"
    if isinstance(error, aiohttp.ServerDisconnectedError):
        return f"{url} closed the connection without answering"
    if isinstance(error, aiohttp.ClientError | ConnectionError):
        return f"talking to {url} failed: {type(error).__name__}: {one_line(str(error))}"
    return None


def classify_exception(url: str, error: BaseException, timeout: float) -> Failure:
    """What an exception raised by a request means. Not reaching the homeserver is
    transient; anything else (a local bug, an encryption store that cannot be written)
    gets a few tries, never a retry loop that blocks other rooms."""
    unreachable = describe_unreachable(url, error, timeout)
    if unreachable is not None:
        return Failure(Trouble.TRANSIENT, unreachable)
    if isinstance(error, LocalProtocolError) and not isinstance(error, MembersSyncError | SendRetryError):
        return Failure(Trouble.PERMANENT, one_line(str(error)))  # e.g. a room the bot has left
    return Failure(Trouble.DOUBTFUL, f"{type(error).__name__}: {one_line(str(error))}")


def _reason(os_error: OSError) -> str:
    if isinstance(os_error, ConnectionRefusedError):
        return "connection refused"
    return (os_error.strerror or str(os_error) or type(os_error).__name__).lower()
