"""A protocol-level fake of Discord (REST API v10 + gateway) on loopback, for tests.

The real, unmodified discord.py client talks to it over HTTP and a websocket, so the
tests exercise the library's own parsing, rate-limit handling and reconnect logic.
It records every REST request so tests can assert on exactly what the bot sent, and
lets tests inject gateway dispatches, drop a gateway connection, and answer the next
N calls to an endpoint with HTTP 429, an error, late, or never.

Like Discord it refuses (HTTP 400, Discord's error shape) a message or interaction
callback that breaks Discord's limits (`discord_limits`), and it is shard-aware:
`GET /gateway/bot` recommends a shard count, IDENTIFY carries `[shard id, count]`,
each guild's events go to the shard `(guild_id >> 22) % count` and direct messages to
shard 0; a bad shard closes with 4010, too many guilds on one shard with 4011.

Only what the FAQ bot touches is modelled: guilds with text channels, a forum channel
(type 15, with `available_tags`) and roles (moderators with Manage Messages, helpers
without it, a support role to notify), messages, reactions (MESSAGE_REACTION_ADD with
`message_author_id`, MESSAGE_REACTION_REMOVE), threads and forum posts (THREAD_CREATE with
`newly_created`, `applied_tags`, the starter message whose id is the post's; PATCH
`/channels/{thread}` for `applied_tags`, refused for tags the forum does not have),
application commands (chat input and message context menus), interactions (slash
commands, autocomplete, message commands with their target in `resolved`, button and
select presses carrying their message) and the callbacks and edits that answer them; a
first response later than Discord's 3 s is answered 404 "Unknown interaction" (10062).
Without the message content intent, guild messages that do not mention the bot arrive
with their content, embeds, attachments and components empty, also as a reply's
`referenced_message`; a message command's target keeps its content, as on Discord.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.discord.discord_limits import callback_refusal, commands_refusal, edit_refusal, message_refusal

API_PREFIX = "/api/v10"
CLIENT_GONE = 499  # recorded for a call whose client hung up before its answer (nginx's code for it)
JSON = "application/json"  # exactly this: discord.py ignores bodies typed `application/json; charset=utf-8`

BOT_ID = 100000000000000001
APPLICATION_ID = BOT_ID
GUILD_ID = 200000000000000001  # on shard 0 of 2: (id >> 22) % 2 == 0
SECOND_GUILD_ID = 200000000004194306  # on shard 1 of 2; joined only by tests that add it
CHANNEL_ID = 300000000000000001
QUIET_CHANNEL_ID = 300000000000000002
DM_CHANNEL_ID = 300000000000000003
HELP_FORUM_ID = 300000000000000004
OTHER_FORUM_ID = 300000000000000005  # a forum that is not configured as a help forum
SECOND_GUILD_CHANNEL_ID = 300000000000000011
MOD_ROLE_ID = 400000000000000001
HELPER_ROLE_ID = 400000000000000002  # a role without Manage Messages, counted as moderators by name or id
SUPPORT_ROLE_ID = 400000000000000003  # the role told when a member asks for a human
SOLVED_TAG_ID = 410000000000000001
HUMAN_TAG_ID = 410000000000000002
BILLING_TAG_ID = 410000000000000003
# More topic tags, so that a post can carry Discord's five and the forum still has one more.
TOPIC_TAG_IDS = (410000000000000004, 410000000000000005, 410000000000000006, 410000000000000007)
OWNER_ID = 500000000000000001
MEMBER_ID = 500000000000000002
OTHER_MEMBER_ID = 500000000000000003
MODERATOR_ID = 500000000000000004
OTHER_BOT_ID = 500000000000000005
NICKNAMED_ID = 500000000000000006  # a member with a display name and a server nickname
HELPER_ID = 500000000000000007  # has the helpers role only

MANAGE_MESSAGES = 1 << 13
MANAGE_THREADS = 1 << 34
MESSAGE_CONTENT_INTENT = 1 << 15
EVERYONE_PERMISSIONS = (1 << 6) | (1 << 10) | (1 << 11) | (1 << 16) | (1 << 31)  # react, view, send, history, slash

_snowflakes = itertools.count(900000000000000001)


def snowflake() -> str:
    """A fresh, increasing id, as a string like Discord sends them."""
    return str(next(_snowflakes))


def interaction_token() -> str:
    """A reply credential shaped like Discord's (URL-safe base64, about 180 characters)."""
    raw = f"interaction:{snowflake()}:{secrets.token_urlsafe(96)}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())


def user_payload(user_id: int, name: str, *, bot: bool = False) -> dict[str, Any]:
    return {
        "id": str(user_id),
        "username": name,
        "global_name": DISPLAY_NAMES.get(user_id, (name, None))[0],
        "discriminator": "0",
        "avatar": None,
        "bot": bot,
        "public_flags": 0,
    }


def member_payload(user_id: int, name: str, roles: tuple[int, ...] = ()) -> dict[str, Any]:
    """A guild member object, with its user."""
    return {
        "user": user_payload(user_id, name),
        "nick": DISPLAY_NAMES.get(user_id, (name, None))[1],
        "roles": [str(r) for r in roles],
        "joined_at": "2024-01-01T00:00:00+00:00",
        "deaf": False,
        "mute": False,
        "flags": 0,
        "pending": False,
        "permissions": str(EVERYONE_PERMISSIONS | (MANAGE_MESSAGES if MOD_ROLE_ID in roles else 0)),
    }


MEMBERS: dict[int, tuple[str, tuple[int, ...]]] = {
    OWNER_ID: ("owner", ()),
    MEMBER_ID: ("alice", ()),
    OTHER_MEMBER_ID: ("bob", ()),
    MODERATOR_ID: ("mod", (MOD_ROLE_ID,)),
    NICKNAMED_ID: ("dana_s", ()),
    HELPER_ID: ("helen", (HELPER_ROLE_ID,)),
}


def _name_of(user_id: int) -> str:
    return "faqbot" if user_id == BOT_ID else MEMBERS.get(user_id, ("someone", ()))[0]


# (global display name, nickname in the guild) of members who set them
DISPLAY_NAMES: dict[int, tuple[str, str | None]] = {NICKNAMED_ID: ("Dana Scully", "Agent Dee")}


def _role(role_id: int, name: str, permissions: int, position: int) -> dict[str, Any]:
    return {
        "id": str(role_id),
        "name": name,
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
        "hoist": False,
        "icon": None,
        "unicode_emoji": None,
        "position": position,
        "permissions": str(permissions),
        "managed": False,
        "mentionable": False,
        "flags": 0,
    }


def _text_channel(guild_id: int, channel_id: int, name: str, position: int) -> dict[str, Any]:
    return {
        "id": str(channel_id),
        "type": 0,
        "guild_id": str(guild_id),
        "name": name,
        "position": position,
        "permission_overwrites": [],
        "nsfw": False,
        "parent_id": None,
        "topic": None,
        "last_message_id": None,
        "rate_limit_per_user": 0,
    }


# The text channels of each guild, with their names.
GUILD_CHANNELS: dict[int, tuple[tuple[int, str], ...]] = {
    GUILD_ID: ((CHANNEL_ID, "help"), (QUIET_CHANNEL_ID, "off-topic")),
    SECOND_GUILD_ID: ((SECOND_GUILD_CHANNEL_ID, "questions"),),
}
# The forum channels of each guild: their names and available tags (id, name).
FORUM_TAGS = (
    (SOLVED_TAG_ID, "Solved"),
    (HUMAN_TAG_ID, "Needs human"),
    (BILLING_TAG_ID, "Billing"),
    *zip(TOPIC_TAG_IDS, ("Account", "Email", "Mobile", "Web"), strict=True),
)
GUILD_FORUMS: dict[int, tuple[tuple[int, str, tuple[tuple[int, str], ...]], ...]] = {
    GUILD_ID: ((HELP_FORUM_ID, "help-forum", FORUM_TAGS), (OTHER_FORUM_ID, "showcase", ())),
    SECOND_GUILD_ID: (),
}
MAX_APPLIED_TAGS = 5  # Discord: a post carries at most five tags
# Discord: an interaction's first response must come within 3 s; later, its token is unknown (10062).
INTERACTION_RESPONSE_SECONDS = 3.0


def _forum_channel(
    guild_id: int, channel_id: int, name: str, tags: tuple[tuple[int, str], ...], position: int
) -> dict[str, Any]:
    """A forum channel (type 15): it holds only posts, and offers the tags posts may carry."""
    return {
        **_text_channel(guild_id, channel_id, name, position),
        "type": 15,
        "available_tags": [
            {"id": str(tag_id), "name": tag_name, "moderated": False, "emoji_id": None, "emoji_name": None}
            for tag_id, tag_name in tags
        ],
        "default_reaction_emoji": None,
        "default_thread_rate_limit_per_user": 0,
        "default_sort_order": None,
        "default_forum_layout": 0,
        "default_auto_archive_duration": 1440,
        "flags": 0,
    }


def shard_of(guild_id: int, shard_count: int) -> int:
    """Which shard carries a guild's events: Discord's rule."""
    return (guild_id >> 22) % shard_count


def guild_payload(guild_id: int = GUILD_ID) -> dict[str, Any]:
    """GUILD_CREATE data: a guild, its text channels, @everyone and a moderator role."""
    return {
        "id": str(guild_id),
        "name": "Test Community" if guild_id == GUILD_ID else "Another Community",
        "icon": None,
        "owner_id": str(OWNER_ID),
        "region": None,
        "afk_channel_id": None,
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "roles": [
            _role(guild_id, "@everyone", EVERYONE_PERMISSIONS, 0),
            _role(MOD_ROLE_ID, "moderators", MANAGE_MESSAGES, 1),
            _role(HELPER_ROLE_ID, "Helpers", 0, 2),
            _role(SUPPORT_ROLE_ID, "support", 0, 3),
        ],
        "emojis": [],
        "stickers": [],
        "features": [],
        "mfa_level": 0,
        "application_id": None,
        "system_channel_id": None,
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "vanity_url_code": None,
        "description": None,
        "banner": None,
        "premium_tier": 0,
        "preferred_locale": "en-US",
        "public_updates_channel_id": None,
        "nsfw_level": 0,
        "premium_progress_bar_enabled": False,
        "joined_at": "2024-01-01T00:00:00+00:00",
        "large": False,
        "unavailable": False,
        "member_count": len(MEMBERS) + 1,
        "voice_states": [],
        "members": [
            {**member_payload(BOT_ID, "faqbot"), "user": user_payload(BOT_ID, "faqbot", bot=True)},
        ],
        "channels": [
            _text_channel(guild_id, channel_id, name, position)
            for position, (channel_id, name) in enumerate(GUILD_CHANNELS[guild_id])
        ]
        + [
            _forum_channel(guild_id, channel_id, name, tags, 10 + position)
            for position, (channel_id, name, tags) in enumerate(GUILD_FORUMS[guild_id])
        ],
        "threads": [],
        "presences": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
    }


@dataclass(frozen=True)
class ForumPost:
    """A post opened in a forum: its thread, and its starter message (whose id is the thread's)."""

    thread_id: int
    starter: dict[str, Any]


@dataclass(frozen=True)
class RecordedRequest:
    """One REST call the bot made."""

    method: str
    path: str  # without the /api/v10 prefix, e.g. /channels/123/messages
    json: Any
    status: int
    at: float = field(default_factory=time.monotonic)


@dataclass
class _Fault:
    """How the next `times` matching REST calls are answered: a 429 (`retry_after`), an error
    `status`, late (`delay` seconds, then normally) or never (`stall`)."""

    method: str
    pattern: re.Pattern[str]
    times: int
    retry_after: float | None = None
    status: int | None = None
    delay: float = 0.0
    stall: bool = False


@dataclass
class _Session:
    """One identified gateway session: a shard, its sequence and what it was sent (for RESUME)."""

    shard: tuple[int, int]  # (id, count)
    session_id: str
    ws: web.WebSocketResponse | None
    sequence: int = 0
    sent: list[dict[str, Any]] = field(default_factory=list)
    live: asyncio.Event = field(default_factory=asyncio.Event)  # identified or resumed, ready for dispatches


class FakeDiscord:
    """The fake server. `await start()`, point discord.py at `api_base`/`gateway_url`, `await stop()`."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.requests: list[RecordedRequest] = []  # answered calls, in the order they were answered
        self.arrived: list[tuple[str, str]] = []  # (method, path) of every call as it arrives
        # Messages refused as Discord would refuse them (path, 400 body); the fixture fails a test
        # that leaves any here, so a test expecting a refusal takes it out.
        self.refusals: list[tuple[str, dict[str, Any]]] = []
        self.gateway_frames: list[dict[str, Any]] = []  # what the client sent on the gateway
        # (path, mention) of every mention a message the bot posted or edited would notify: the
        # fixture allows only the helpers' role, once per post (the hand-off notice).
        self.pings: list[tuple[str, str]] = []
        self.messages: dict[str, dict[str, Any]] = {}  # as written: what the bot gets is `delivered(...)`
        self.threads: dict[str, dict[str, Any]] = {}  # threads and forum posts, by id, as Discord holds them
        self.interactions: dict[str, dict[str, Any]] = {}  # injected interactions, by id
        self._interaction_sent_at: dict[str, float] = {}  # interaction id -> when it was dispatched
        self.interaction_response_seconds = INTERACTION_RESPONSE_SECONDS  # a test may shorten the window
        self.responses: dict[str, str] = {}  # interaction token -> the id of the message that answers it
        self.bot_manages_threads = True  # False: the bot lacks Manage Threads, so tagging posts is refused
        self.commands: list[dict[str, Any]] = []
        self.identify_count = 0
        self.identified_shards: list[tuple[int, int]] = []  # (shard id, shard count) of each IDENTIFY
        self.intents = 0
        self.message_content_allowed = True  # False: like a bot whose portal setting is off (close 4014)
        self.guild_ids: list[int] = [GUILD_ID]  # the guilds the bot is in
        self.recommended_shards = 1  # what GET /gateway/bot recommends
        self.advertised_gateway: str | None = None  # what GET /gateway/bot says the gateway is (default: this one)
        self.guilds_per_shard = 2500  # more on one shard: Discord closes with 4011, sharding required
        self.gateway_silent = False  # True: accept gateway connections and never say HELLO
        self.resume_count = 0
        self.connections = 0
        self._faults: list[_Fault] = []
        self._changed = asyncio.Condition()
        self._sessions: dict[int, _Session] = {}  # by shard id
        self._channel_guild = {c: g for g, channels in GUILD_CHANNELS.items() for c, _ in channels}
        self._channel_guild.update({f: g for g, forums in GUILD_FORUMS.items() for f, _, _ in forums})
        self._forum_tags = {
            forum: {str(t) for t, _ in tags} for forums in GUILD_FORUMS.values() for forum, _, tags in forums
        }
        self._stopping = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None and server.sockets
        self.port = server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self._stopping.set()  # stalled requests end
        for session in self._sessions.values():
            if session.ws is not None:
                await session.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    # -- what tests drive ----------------------------------------------------------

    async def dispatch(self, event: str, data: Any) -> None:
        """Send a gateway dispatch on the shard that carries it (a guild's, or shard 0 for direct
        messages); if that connection is down, it is replayed on RESUME."""
        session = self._sessions.get(self._shard_for(data))
        if session is not None:  # else Discord would have nowhere to send it either
            await self._dispatch_on(session, event, data)

    async def _dispatch_on(self, session: _Session, event: str, data: Any) -> None:
        session.sequence += 1
        frame = {"op": 0, "t": event, "s": session.sequence, "d": data}
        session.sent.append(frame)
        if session.live.is_set() and session.ws is not None and not session.ws.closed:
            await session.ws.send_str(json.dumps(frame))

    def _shard_for(self, data: Any) -> int:
        guild_id = data.get("guild_id") if isinstance(data, dict) else None
        if not guild_id or not str(guild_id).isdigit():
            return 0
        counts = {session.shard[1] for session in self._sessions.values()}
        return shard_of(int(guild_id), max(counts, default=1))

    async def send_raw(self, text: str, shard: int = 0) -> None:
        """Send an arbitrary text frame on a shard's gateway connection (for garbage-payload tests)."""
        await self.wait_connected(shard=shard)
        ws = self._sessions[shard].ws
        assert ws is not None
        await ws.send_str(text)

    async def wait_connected(self, timeout: float = 5.0, shard: int = 0) -> None:
        """Until the shard's session is identified or resumed."""

        async def live() -> None:
            async with self._changed:
                await self._changed.wait_for(lambda: shard in self._sessions)
            await self._sessions[shard].live.wait()

        await asyncio.wait_for(live(), timeout)

    async def drop_gateway(self, shard: int = 0) -> None:
        """Cut a shard's gateway connection the way a network fault would (no close handshake)."""
        session = self._sessions[shard]
        ws = session.ws
        session.live.clear()
        session.ws = None
        if ws is not None:
            transport = ws._req.transport if ws._req is not None else None
            if transport is not None:
                transport.abort()
            else:  # pragma: no cover - aiohttp internals changed
                await ws.close(code=4000)

    def rate_limit(self, method: str, path_pattern: str, *, times: int = 1, retry_after: float = 0.3) -> None:
        """Answer the next `times` calls matching method and path regex with HTTP 429."""
        self._faults.append(_Fault(method.upper(), re.compile(path_pattern), times, retry_after=retry_after))

    def refuse(self, method: str, path_pattern: str, *, times: int = 1, status: int = 403) -> None:
        """Answer the next `times` matching calls with an error, e.g. 403 Missing Permissions."""
        self._faults.append(_Fault(method.upper(), re.compile(path_pattern), times, status=status))

    def delay(self, method: str, path_pattern: str, seconds: float, *, times: int = 1) -> None:
        """Answer the next `times` matching calls only after `seconds` (a slow network, a busy API)."""
        self._faults.append(_Fault(method.upper(), re.compile(path_pattern), times, delay=seconds))

    def stall(self, method: str, path_pattern: str, *, times: int = 1_000_000) -> None:
        """Never answer matching calls: the connection stays open and silent until the fake stops."""
        self._faults.append(_Fault(method.upper(), re.compile(path_pattern), times, stall=True))

    def requests_to(self, method: str, path_pattern: str, *, status: int | None = None) -> list[RecordedRequest]:
        pattern = re.compile(path_pattern)
        return [
            r
            for r in self.requests
            if r.method == method.upper() and pattern.fullmatch(r.path) and (status is None or r.status == status)
        ]

    async def wait_for_requests(
        self, method: str, path_pattern: str, count: int = 1, *, status: int | None = 200, timeout: float = 5.0
    ) -> list[RecordedRequest]:
        """Wait until at least `count` matching requests were answered; return them all."""

        def enough() -> bool:
            return len(self.requests_to(method, path_pattern, status=status)) >= count

        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(enough), timeout)
        return self.requests_to(method, path_pattern, status=status)

    async def wait_for_event(self, predicate: Any, timeout: float = 5.0) -> None:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(predicate), timeout)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # -- payload builders for injected events ---------------------------------------

    def message_payload(
        self,
        content: str,
        *,
        author_id: int = MEMBER_ID,
        channel_id: int = CHANNEL_ID,
        bot: bool = False,
        webhook_id: str | None = None,
        mentions: tuple[int, ...] = (),
        guild: bool = True,
        message_type: int = 0,
        replying_to: dict[str, Any] | None = None,
        embeds: list[dict[str, Any]] | None = None,
        attachments: list[dict[str, Any]] | None = None,
        message_id: str | None = None,
    ) -> dict[str, Any]:
        """MESSAGE_CREATE data as Discord sends it for a member's message (`replying_to`:
        the payload of the message it replies to)."""
        name, roles = MEMBERS.get(author_id, ("someone", ()))
        data: dict[str, Any] = {
            "id": message_id or snowflake(),
            "channel_id": str(channel_id),
            "author": user_payload(author_id, name, bot=bot),
            "content": content,
            "timestamp": now_iso(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [user_payload(m, _name_of(m), bot=m == BOT_ID) for m in mentions],
            "mention_roles": [],
            "attachments": attachments or [],
            "embeds": embeds or [],
            "pinned": False,
            "type": message_type,
            "flags": 0,
        }
        if guild:
            data["guild_id"] = str(self._channel_guild.get(channel_id, GUILD_ID))
            if not bot and webhook_id is None:
                member = member_payload(author_id, name, roles)
                del member["user"]
                data["member"] = member
        if webhook_id is not None:
            data["webhook_id"] = webhook_id
        if replying_to is not None:  # a reply: type 19, with a reference to the message and the message itself
            data["type"] = 19
            data["message_reference"] = {"message_id": replying_to["id"], "channel_id": replying_to["channel_id"]}
            data["referenced_message"] = replying_to
        return data

    async def member_says(self, content: str, **kwargs: Any) -> dict[str, Any]:
        """Inject a member's message; returns its payload as written (its `id` is what replies
        reference); the bot gets it as `delivered` says."""
        data = self.message_payload(content, **kwargs)
        self.messages[data["id"]] = data
        await self.dispatch("MESSAGE_CREATE", self.delivered(data))
        return data

    def delivered(self, message: dict[str, Any]) -> dict[str, Any]:
        """A message as the bot receives it: like Discord, without the message content intent a
        guild message that does not mention the bot (nor is the bot's) arrives with its content,
        embeds, attachments and components empty; so does the message a reply quotes."""
        shown = dict(message)
        if self._content_withheld(message):
            shown.update(content="", embeds=[], attachments=[], components=[])
        if isinstance(message.get("referenced_message"), dict):
            shown["referenced_message"] = self.delivered(message["referenced_message"])
        return shown

    def _content_withheld(self, message: dict[str, Any]) -> bool:
        mentioned = any(m["id"] == str(BOT_ID) for m in message.get("mentions") or [])
        own = (message.get("author") or {}).get("id") == str(BOT_ID)
        return "guild_id" in message and not mentioned and not own and not self.intents & MESSAGE_CONTENT_INTENT

    async def create_thread(
        self,
        parent_id: int,
        name: str = "a question",
        *,
        owner_id: int = MEMBER_ID,
        applied_tags: tuple[int, ...] = (),
        newly_created: bool = True,
    ) -> int:
        """THREAD_CREATE (`newly_created`): a public thread in a text channel, or a post in a forum
        (then with its `applied_tags`); returns its id. Without `newly_created` it is an old thread
        the bot was added to, as Discord announces those."""
        thread_id = int(snowflake())
        guild_id = self._channel_guild.get(parent_id, GUILD_ID)
        self._channel_guild[thread_id] = guild_id
        thread = {
            "id": str(thread_id),
            "guild_id": str(guild_id),
            "parent_id": str(parent_id),
            "owner_id": str(owner_id),
            "name": name,
            "type": 11,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "message_count": 0,
            "member_count": 1,
            "flags": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": 1440,
                "archive_timestamp": now_iso(),
                "locked": False,
            },
        }
        if parent_id in self._forum_tags:
            thread["applied_tags"] = [str(tag) for tag in applied_tags]
        self.threads[str(thread_id)] = thread
        await self.dispatch("THREAD_CREATE", {**thread, "newly_created": True} if newly_created else thread)
        return thread_id

    async def open_post(
        self,
        title: str,
        content: str = "",
        *,
        author_id: int = MEMBER_ID,
        tags: tuple[int, ...] = (),
        forum_id: int = HELP_FORUM_ID,
    ) -> ForumPost:
        """A member opens a forum post: THREAD_CREATE for the post, then MESSAGE_CREATE for its
        starter message, which has the post's id, as on Discord."""
        thread_id = await self.create_thread(forum_id, title, owner_id=author_id, applied_tags=tags)
        starter = await self.member_says(
            content or title, author_id=author_id, channel_id=thread_id, message_id=str(thread_id)
        )
        return ForumPost(thread_id, starter)

    async def update_thread(self, thread_id: int, **fields: Any) -> None:
        """THREAD_UPDATE: the post renamed (`name`) or retagged (`applied_tags`, ids) by its member."""
        thread = self.threads[str(thread_id)]
        if "applied_tags" in fields:
            fields["applied_tags"] = [str(tag) for tag in fields["applied_tags"]]
        thread.update(fields)
        await self.dispatch("THREAD_UPDATE", dict(thread))

    def _reaction(self, message_id: str, user_id: int, emoji: str, channel_id: int) -> dict[str, Any]:
        return {
            "user_id": str(user_id),
            "channel_id": str(channel_id),
            "message_id": message_id,
            "guild_id": str(self._channel_guild.get(channel_id, GUILD_ID)),
            "emoji": {"id": None, "name": emoji},
            "burst": False,
            "type": 0,
        }

    async def react(self, message_id: str, user_id: int, emoji: str = "🗑️", channel_id: int | None = None) -> None:
        """Inject MESSAGE_REACTION_ADD by a guild member (with the reacted message's author, as Discord sends)."""
        name, roles = MEMBERS.get(user_id, ("someone", ()))
        message = self.messages.get(message_id) or {}
        channel = channel_id or int(message.get("channel_id") or CHANNEL_ID)
        data = {**self._reaction(message_id, user_id, emoji, channel), "member": member_payload(user_id, name, roles)}
        if message:
            data["message_author_id"] = message["author"]["id"]
        await self.dispatch("MESSAGE_REACTION_ADD", data)

    async def unreact(self, message_id: str, user_id: int, emoji: str, channel_id: int | None = None) -> None:
        """Inject MESSAGE_REACTION_REMOVE: a member took their reaction back (no member, no author: as Discord)."""
        channel = channel_id or int((self.messages.get(message_id) or {}).get("channel_id") or CHANNEL_ID)
        await self.dispatch("MESSAGE_REACTION_REMOVE", self._reaction(message_id, user_id, emoji, channel))

    def _channel_payload(self, channel_id: int) -> dict[str, Any]:
        """The partial channel an interaction carries."""
        thread = self.threads.get(str(channel_id))
        if thread is not None:
            return dict(thread)
        guild_id = self._channel_guild.get(channel_id, GUILD_ID)
        name = dict(GUILD_CHANNELS.get(guild_id, ())).get(channel_id, "help")
        return {"id": str(channel_id), "type": 0, "guild_id": str(guild_id), "name": name}

    async def interaction(
        self,
        interaction_type: int,
        data: dict[str, Any],
        *,
        user_id: int = MEMBER_ID,
        channel_id: int = CHANNEL_ID,
        message: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Inject INTERACTION_CREATE from a guild member; returns its payload (id, token).
        `message`: the message whose component was used."""
        name, roles = MEMBERS.get(user_id, ("someone", ()))
        guild_id = str(self._channel_guild.get(channel_id, GUILD_ID))
        payload = {
            "id": snowflake(),
            "application_id": str(APPLICATION_ID),
            "type": interaction_type,
            "data": data,
            "guild_id": guild_id,
            "channel_id": str(channel_id),
            "channel": self._channel_payload(channel_id),
            "member": member_payload(user_id, name, roles),
            "token": interaction_token(),
            "version": 1,
            "app_permissions": str(EVERYONE_PERMISSIONS),
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": guild_id},
            "context": 0,
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        if message is not None:
            payload["message"] = message
        self.interactions[payload["id"]] = payload
        self._interaction_sent_at[payload["id"]] = time.monotonic()
        await self.dispatch("INTERACTION_CREATE", payload)
        return payload

    async def message_command(self, name: str, target: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """A member runs a message context menu command (application command type 3) on `target`
        (a message payload); Discord resolves the target with its content, intent or not."""
        data = {
            "id": self._command_id(name),
            "name": name,
            "type": 3,
            "target_id": target["id"],
            "resolved": {"messages": {target["id"]: target}},
        }
        return await self.interaction(2, data, channel_id=int(target["channel_id"]), **kwargs)

    async def press(self, message_id: str, custom_id: str, **kwargs: Any) -> dict[str, Any]:
        """A member presses a button (component type 2) on one of the bot's messages."""
        message = self.messages[message_id]
        data = {"custom_id": custom_id, "component_type": 2}
        return await self.interaction(3, data, channel_id=int(message["channel_id"]), message=message, **kwargs)

    async def choose(self, message_id: str, custom_id: str, values: list[str], **kwargs: Any) -> dict[str, Any]:
        """A member picks from a string select (component type 3) on one of the bot's messages."""
        message = self.messages[message_id]
        data = {"custom_id": custom_id, "component_type": 3, "values": values}
        return await self.interaction(3, data, channel_id=int(message["channel_id"]), message=message, **kwargs)

    def response_to(self, interaction: dict[str, Any]) -> dict[str, Any] | None:
        """The message that now answers an interaction (created by its callback, or edited since)."""
        message_id = self.responses.get(interaction["token"])
        return self.messages.get(message_id) if message_id is not None else None

    def component(self, message: dict[str, Any], custom_id_prefix: str) -> dict[str, Any]:
        """The component of a message whose custom_id starts so."""
        for row in message.get("components") or []:
            for item in row.get("components") or []:
                if str(item.get("custom_id", "")).startswith(custom_id_prefix):
                    return item
        raise AssertionError(f"no component {custom_id_prefix!r} in {message.get('components')}")

    async def slash(self, name: str, options: list[dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
        """A member runs a chat-input command (interaction type 2)."""
        return await self.interaction(
            2, {"id": self._command_id(name), "name": name, "type": 1, "options": options}, **kwargs
        )

    async def autocomplete(self, name: str, option: str, partial: str, **kwargs: Any) -> dict[str, Any]:
        """A member is typing into an autocompleted option (interaction type 4)."""
        options = [{"name": option, "type": 3, "value": partial, "focused": True}]
        return await self.interaction(
            4, {"id": self._command_id(name), "name": name, "type": 1, "options": options}, **kwargs
        )

    def _command_id(self, name: str) -> str:
        for command in self.commands:
            if command["name"] == name:
                return str(command["id"])
        return snowflake()

    # -- gateway ------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True, max_msg_size=0)
        await ws.prepare(request)
        self.connections += 1
        await self._notify()
        if self.gateway_silent:
            await self._stopping.wait()
            return ws
        await ws.send_str(json.dumps({"op": 10, "s": None, "t": None, "d": {"heartbeat_interval": 41250}}))
        try:
            async for message in ws:
                if message.type is not WSMsgType.TEXT:
                    continue
                frame = json.loads(message.data)
                self.gateway_frames.append(frame)
                await self._on_gateway_frame(ws, frame)
        finally:
            for session in self._sessions.values():
                if session.ws is ws:
                    session.ws = None
                    session.live.clear()
            await self._notify()
        return ws

    async def _on_gateway_frame(self, ws: web.WebSocketResponse, frame: dict[str, Any]) -> None:
        op = frame.get("op")
        if op == 1:  # heartbeat
            await ws.send_str(json.dumps({"op": 11, "s": None, "t": None, "d": None}))
        elif op == 2:  # identify
            await self._identify(ws, frame["d"])
        elif op == 6:  # resume
            data = frame["d"]
            session = next((s for s in self._sessions.values() if s.session_id == data.get("session_id")), None)
            if data.get("token") != self.token or session is None:
                await ws.send_str(json.dumps({"op": 9, "s": None, "t": None, "d": False}))
                return
            self.resume_count += 1
            session.ws = ws
            for missed_frame in [f for f in session.sent if f["s"] > (data.get("seq") or 0)]:
                await ws.send_str(json.dumps(missed_frame))
            session.live.set()
            await self._dispatch_on(session, "RESUMED", {})
        await self._notify()

    async def _identify(self, ws: web.WebSocketResponse, data: dict[str, Any]) -> None:
        """IDENTIFY, as Discord checks it: the token, the intents, the shard ([id, count]) and
        whether the shard carries more guilds than one connection may."""
        if data.get("token") != self.token:
            await ws.close(code=4004, message=b"Authentication failed.")
            return
        self.intents = int(data.get("intents", 0))
        if self.intents & MESSAGE_CONTENT_INTENT and not self.message_content_allowed:
            await ws.close(code=4014, message=b"Disallowed intent(s).")
            return
        shard_id, shard_count = data.get("shard") or (0, 1)
        if not 0 <= shard_id < shard_count:
            await ws.close(code=4010, message=b"Invalid shard.")
            return
        guilds = [g for g in self.guild_ids if shard_of(g, shard_count) == shard_id]
        if len(guilds) > self.guilds_per_shard:
            await ws.close(code=4011, message=b"Sharding required.")
            return
        self.identify_count += 1
        self.identified_shards.append((shard_id, shard_count))
        session = _Session((shard_id, shard_count), "session-" + snowflake(), ws)
        self._sessions[shard_id] = session
        session.live.set()
        await self._dispatch_on(
            session,
            "READY",
            {
                "v": 10,
                "user": {**user_payload(BOT_ID, "faqbot", bot=True), "verified": True, "mfa_enabled": False},
                "guilds": [{"id": str(g), "unavailable": True} for g in guilds],
                "session_id": session.session_id,
                "resume_gateway_url": self.gateway_url,
                "application": {"id": str(APPLICATION_ID), "flags": 0},
                "private_channels": [],
                "relationships": [],
                "shard": [shard_id, shard_count],
            },
        )
        for guild_id in guilds:
            await self._dispatch_on(session, "GUILD_CREATE", guild_payload(guild_id))

    # -- REST -----------------------------------------------------------------------

    async def _rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["tail"]
        body: Any = None
        if request.can_read_body:
            raw = await request.read()
            if raw and request.content_type == JSON:
                body = json.loads(raw)
        self.arrived.append((request.method, path))
        await self._notify()
        try:
            response = await self._answer(request, path, body)
        except asyncio.CancelledError:  # aiohttp cancels the handler of a client that hung up
            self.requests.append(RecordedRequest(request.method, path, body, CLIENT_GONE))
            raise
        self.requests.append(RecordedRequest(request.method, path, body, response.status))
        if response.status == 200:
            self._note_pings(request.method, path, body)
        await self._notify()
        return response

    def _note_pings(self, method: str, path: str, body: Any) -> None:
        """Remember who a posted or edited message notified (see `pings`)."""
        if method == "POST" and re.fullmatch(r"/interactions/\d+/[^/]+/callback", path):
            body = (body or {}).get("data") if (body or {}).get("type") in (4, 7) else None
        elif not (
            (method == "POST" and re.fullmatch(r"/channels/\d+/messages", path))
            or (method == "PATCH" and path.startswith("/webhooks/"))
        ):
            return
        self.pings.extend((path, mention) for mention in pings_in(body))

    async def _answer(self, request: web.Request, path: str, body: Any) -> web.Response:
        if (
            not path.startswith(("/interactions/", "/webhooks/"))
            and request.headers.get("Authorization") != f"Bot {self.token}"
        ):
            return _json({"message": "401: Unauthorized", "code": 0}, status=401)
        for fault in self._faults:
            if fault.times > 0 and fault.method == request.method and fault.pattern.fullmatch(path):
                fault.times -= 1
                if fault.stall:
                    await self._stopping.wait()
                    return _json({"message": "gone", "code": 0}, status=503)
                if fault.retry_after is not None:
                    return _rate_limited(fault.retry_after)
                if fault.status is not None:
                    return _json({"message": "Missing Permissions", "code": 50013}, status=fault.status)
                await asyncio.sleep(fault.delay)
                break
        method = request.method
        if method == "GET" and path == "/gateway/bot":
            limit = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
            gateway = self.advertised_gateway or self.gateway_url
            return _json({"url": gateway, "shards": self.recommended_shards, "session_start_limit": limit})
        if method == "GET" and path == "/users/@me":
            return _json({**user_payload(BOT_ID, "faqbot", bot=True), "verified": True, "mfa_enabled": False})
        if method == "GET" and path == "/oauth2/applications/@me":
            return _json(_application())
        if method == "PUT" and re.fullmatch(r"/applications/\d+(/guilds/\d+)?/commands", path):
            if refused := self._refuse_invalid(path, commands_refusal(body or [])):
                return refused
            return _json(self._store_commands(body or []))
        if (match := re.fullmatch(r"/channels/(\d+)", path)) and method == "PATCH":
            return await self._edit_thread(path, match.group(1), body or {})
        if (match := re.fullmatch(r"/channels/(\d+)/messages", path)) and method == "POST":
            if refused := self._refuse_invalid(path, message_refusal(body)):
                return refused
            return _json(await self._create_message(match.group(1), body))
        if match := re.fullmatch(r"/channels/(\d+)/messages/(\d+)", path):
            channel_id, message_id = match.groups()
            if method == "GET" and message_id in self.messages:
                return _json(self.delivered(self.messages[message_id]))
            if method == "DELETE" and message_id in self.messages:
                del self.messages[message_id]
                guild_id = str(self._channel_guild.get(int(channel_id), GUILD_ID))
                await self.dispatch(
                    "MESSAGE_DELETE", {"id": message_id, "channel_id": channel_id, "guild_id": guild_id}
                )
                return web.Response(status=204)
            return _json({"message": "Unknown Message", "code": 10008}, status=404)
        if re.fullmatch(r"/channels/\d+/messages/\d+/reactions/[^/]+/@me", path) and method == "PUT":
            return web.Response(status=204)
        if (match := re.fullmatch(r"/interactions/(\d+)/([^/]+)/callback", path)) and method == "POST":
            if self._too_late(match.group(1)):
                return _json({"message": "Unknown interaction", "code": 10062}, status=404)
            if refused := self._refuse_invalid(path, callback_refusal(body)):
                return refused
            return _json(self._interaction_callback(match.group(1), match.group(2), body))
        if (match := re.fullmatch(r"/webhooks/\d+/([^/]+)/messages/@original", path)) and method == "PATCH":
            if refused := self._refuse_invalid(path, edit_refusal(body)):
                return refused
            return self._edit_response(match.group(1), body or {})
        return _json({"message": "404: Not Found", "code": 0}, status=404)

    def _too_late(self, interaction_id: str) -> bool:
        """A first response past Discord's window: the interaction is gone (the member saw it fail)."""
        sent_at = self._interaction_sent_at.get(interaction_id)
        return sent_at is not None and time.monotonic() - sent_at > self.interaction_response_seconds

    def _refuse_invalid(self, path: str, refusal: dict[str, Any] | None) -> web.Response | None:
        """Discord's 400 for a message it would not post, remembered for the test to check."""
        if refusal is None:
            return None
        self.refusals.append((path, refusal))
        return _json(refusal, status=400)

    def _store_commands(self, commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
        self.commands = [
            {
                "id": snowflake(),
                "application_id": str(APPLICATION_ID),
                "version": snowflake(),
                "default_member_permissions": None,
                "type": 1,
                "description": "",  # Discord answers an empty one for context menu commands
                "nsfw": False,
                **command,
            }
            for command in commands
        ]
        return self.commands

    async def _create_message(self, channel_id: str, body: dict[str, Any]) -> dict[str, Any]:
        message = _bot_message(channel_id, body, message_type=19 if body.get("message_reference") else 0)
        if int(channel_id) in self._channel_guild:
            message["guild_id"] = str(self._channel_guild[int(channel_id)])
        message["components"] = body.get("components") or []
        if body.get("message_reference"):
            message["message_reference"] = body["message_reference"]
        self.messages[message["id"]] = message
        # Discord echoes the bot's own message back on the gateway; the bot must ignore it.
        await self.dispatch("MESSAGE_CREATE", message)
        return message

    def _interaction_callback(self, interaction_id: str, token: str, body: dict[str, Any]) -> dict[str, Any]:
        """The first response to an interaction: a message (4), a deferred one (5, shown as
        "thinking"), an update of the component's message (7) or a deferred update (6)."""
        interaction = self.interactions.get(interaction_id, {})
        callback_type = body.get("type")
        answer: dict[str, Any] = {
            "interaction": {
                "id": interaction_id,
                "type": interaction.get("type", 2),
                "response_message_loading": callback_type == 5,
            },
            "resource": {"type": callback_type},
        }
        data = body.get("data") or {}
        channel_id = str(interaction.get("channel_id") or CHANNEL_ID)
        if callback_type in (4, 5):
            flags = (data.get("flags") or 0) | (128 if callback_type == 5 else 0)  # 128: loading
            message = _bot_message(channel_id, {**data, "flags": flags}, message_type=20 if callback_type == 4 else 23)
            message["components"] = data.get("components") or []
            self.messages[message["id"]] = message
            self.responses[token] = message["id"]
        elif callback_type in (6, 7) and interaction.get("message"):
            message = self.messages.get(interaction["message"]["id"], interaction["message"])
            if callback_type == 7:
                message.update({key: data[key] for key in ("content", "embeds", "components") if key in data})
            self.responses[token] = message["id"]
        else:
            return answer
        answer["interaction"]["response_message_id"] = message["id"]
        answer["interaction"]["response_message_ephemeral"] = bool((message.get("flags") or 0) & 64)
        answer["resource"]["message"] = message
        return answer

    def _edit_response(self, token: str, body: dict[str, Any]) -> web.Response:
        """PATCH the message answering an interaction (its deferred "thinking", or the component's message)."""
        message = self.messages.get(self.responses.get(token, ""))
        if message is None:
            return _json({"message": "Unknown Message", "code": 10008}, status=404)
        message.update({key: body[key] for key in ("content", "embeds", "components") if key in body})
        message["flags"] = (message.get("flags") or 0) & ~128  # no longer loading
        return _json(message)

    async def _edit_thread(self, path: str, thread_id: str, body: dict[str, Any]) -> web.Response:
        """PATCH /channels/{thread}: a post's applied tags, as Discord checks them (only tags of its
        forum, at most five; the bot needs Manage Threads on a post it does not own)."""
        thread = self.threads.get(thread_id)
        if thread is None:
            return _json({"message": "Unknown Channel", "code": 10003}, status=404)
        if not self.bot_manages_threads:
            return _json({"message": "Missing Permissions", "code": 50013}, status=403)
        tags = body.get("applied_tags")
        if tags is not None:
            allowed = self._forum_tags.get(int(thread["parent_id"]), set())
            if len(tags) > MAX_APPLIED_TAGS or not {str(t) for t in tags} <= allowed:
                refusal = {
                    "message": "Invalid Form Body",
                    "code": 50035,
                    "errors": {"applied_tags": {"_errors": [{"code": "BASE_TYPE_CHOICES", "message": "Unknown tag"}]}},
                }
                return self._refuse_invalid(path, refusal) or _json(refusal, status=400)
            thread["applied_tags"] = [str(t) for t in tags]
        await self.dispatch("THREAD_UPDATE", dict(thread))
        return _json(dict(thread))


_MENTION = re.compile(r"@(everyone|here)|<@!?(\d+)>|<@&(\d+)>")


def pings_in(body: Any) -> list[str]:
    """The mentions in a message body that would notify someone, as Discord reads
    `allowed_mentions` (absent: every mention in the content pings, and a reply pings its author)."""
    if not isinstance(body, dict):
        return []
    allowed = body.get("allowed_mentions")
    parse = set(allowed.get("parse") or []) if isinstance(allowed, dict) else {"everyone", "users", "roles"}
    users = {str(u) for u in (allowed.get("users") or [])} if isinstance(allowed, dict) else set()
    roles = {str(r) for r in (allowed.get("roles") or [])} if isinstance(allowed, dict) else set()
    pinged = []
    for match in _MENTION.finditer(body.get("content") or ""):
        crowd, user, role = match.groups()
        if (
            (crowd and "everyone" in parse)
            or (user and ("users" in parse or user in users))
            or (role and ("roles" in parse or role in roles))
        ):
            pinged.append(match.group(0))
    replied_user = allowed.get("replied_user", False) if isinstance(allowed, dict) else True
    if body.get("message_reference") and replied_user:
        pinged.append("the replied-to author")
    return pinged


def _bot_message(channel_id: str, body: dict[str, Any], message_type: int) -> dict[str, Any]:
    """A MESSAGE object for what the bot posted (a channel message or an interaction response)."""
    return {
        "id": snowflake(),
        "channel_id": channel_id,
        "author": user_payload(BOT_ID, "faqbot", bot=True),
        "content": body.get("content") or "",
        "timestamp": now_iso(),
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": False,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": body.get("embeds") or [],
        "pinned": False,
        "type": message_type,
        "flags": body.get("flags") or 0,
    }


def _json(payload: Any, status: int = 200) -> web.Response:
    return web.Response(body=json.dumps(payload).encode(), status=status, headers={"Content-Type": JSON})


def _rate_limited(retry_after: float) -> web.Response:
    headers = {
        "Via": "1.1 google",  # discord.py treats a 429 without it as a Cloudflare ban
        "X-RateLimit-Limit": "5",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": f"{time.time() + retry_after:.3f}",
        "X-RateLimit-Reset-After": f"{retry_after:.3f}",
        "X-RateLimit-Bucket": "fake-bucket",
        "X-RateLimit-Scope": "user",
        "Retry-After": str(max(1, round(retry_after))),
    }
    body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": False}
    return web.Response(body=json.dumps(body).encode(), status=429, headers={"Content-Type": JSON, **headers})


def _application() -> dict[str, Any]:
    return {
        "id": str(APPLICATION_ID),
        "name": "faqbot",
        "icon": None,
        "description": "",
        "rpc_origins": [],
        "bot_public": False,
        "bot_require_code_grant": False,
        "bot": user_payload(BOT_ID, "faqbot", bot=True),
        "owner": user_payload(OWNER_ID, "owner"),
        "team": None,
        "summary": "",
        "verify_key": "0" * 64,
        "flags": 0,
        "tags": [],
        "interactions_endpoint_url": None,
        "redirect_uris": [],
        "approximate_guild_count": 1,
    }
