"""Matrix adapter: matrix-nio events in, the core's replies out as `m.notice` replies.

What to say is decided by `faqbot.responder` and worded by `faqbot.render`. This module
decides only Matrix things: which events are questions for the bot, which invites to
accept, how a reply relates to its question (reply, thread), and how to keep going
through bot restarts, homeserver restarts, connection errors and rate limits.

Run by the CLI through `main(responder, os.environ)`; tests drive `MatrixBot` directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from nio import (
    AsyncClient,
    AsyncClientConfig,
    ErrorResponse,
    InviteMemberEvent,
    JoinError,
    LoginResponse,
    MatrixRoom,
    MatrixUser,
    MegolmEvent,
    RoomMessageText,
    RoomSendResponse,
    SyncError,
    WhoamiResponse,
)

from faqbot.health import Health, Heartbeat
from faqbot.matching.text import addressee
from faqbot.platforms.lifecycle import FatalPlatformError, run_adapter
from faqbot.render import render_matrix
from faqbot.responder import IncomingMessage, Reply, Responder
from faqbot.settings import Settings
from faqbot.state_folder import StateFolder

logger = logging.getLogger("faqbot.matrix")

HTML_FORMAT = "org.matrix.custom.html"
STATE_FILE = "matrix_state.json"
SESSION_FILE = "matrix_session.json"
NIO_STORE_DIR = "nio"


class MatrixBotError(FatalPlatformError):
    """The bot cannot go on (login refused, token revoked); retrying would not help."""


# -- configuration ----------------------------------------------------------------


def _server_of(user_id: str) -> str:
    return user_id.split(":", 1)[1] if ":" in user_id else ""


@dataclass(frozen=True)
class MatrixConfig:
    """What the adapter runs with, from the validated settings. Secrets stay out of `repr`."""

    homeserver: str
    user_id: str
    state_dir: Path
    access_token: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    allowed_inviters: tuple[str, ...] = ()
    device_name: str = "faqbot"
    sync_timeout_ms: int = 30_000
    max_retry_wait: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings) -> MatrixConfig:
        matrix = settings.require_matrix()
        assert matrix.homeserver is not None and matrix.user_id is not None
        return cls(
            homeserver=matrix.homeserver,
            user_id=matrix.user_id,
            state_dir=settings.state_dir,
            access_token=matrix.access_token,
            password=matrix.password,
            allowed_inviters=matrix.allowed_inviters,
            device_name=matrix.device_name,
        )

    def inviter_allowed(self, inviter: str) -> bool:
        """Invite policy: an exact `@user:server`, or any user of a listed `server` / `:server`."""
        for entry in self.allowed_inviters:
            if entry == "*":
                return True
            if entry.startswith("@"):
                if inviter == entry:
                    return True
            elif _server_of(inviter) == entry.lstrip(":"):
                return True
        return False


# -- translating events in ----------------------------------------------------------


_REPLY_FALLBACK = re.compile(r"\A(?:>[^\n]*\n)+\n?")


def _relation(content: Mapping[str, Any]) -> Mapping[str, Any]:
    relates = content.get("m.relates_to")
    return relates if isinstance(relates, Mapping) else {}


def is_edit(content: Mapping[str, Any]) -> bool:
    """Edits repeat a question already seen (or fix a typo); answering them would double up."""
    return _relation(content).get("rel_type") == "m.replace" or "m.new_content" in content


def thread_root(content: Mapping[str, Any]) -> str | None:
    """The thread a message was posted in, so the answer goes to the same thread."""
    relates = _relation(content)
    if relates.get("rel_type") == "m.thread" and isinstance(relates.get("event_id"), str):
        return relates["event_id"]
    return None


def mentions_bot(content: Mapping[str, Any], user_id: str, names: Iterable[str]) -> bool:
    """True when the message speaks to the bot.

    `m.mentions` is authoritative when present (intentional mentions, which Element
    also fills in when replying to the bot); a matrix.to pill counts too. Messages
    from older clients without `m.mentions` are checked for the user id or display name.
    """
    mentions = content.get("m.mentions")
    if isinstance(mentions, Mapping) and user_id in (mentions.get("user_ids") or []):
        return True
    formatted = content.get("formatted_body")
    if isinstance(formatted, str) and any(f"matrix.to/#/{form}" in formatted for form in (user_id, quote(user_id))):
        return True
    if isinstance(mentions, Mapping):
        return False
    body = content.get("body") if isinstance(content.get("body"), str) else ""
    if user_id.lower() in body.lower():
        return True
    return any(re.search(rf"(?<!\w){re.escape(name)}(?!\w)", body, re.IGNORECASE) for name in names if name)


_PILL = re.compile(r"matrix\.to/#/((?:@|%40)[^\"'?/>\s]+)")
_FALLBACK_SENDER = re.compile(r"\A> <(@[^>\s]+)>")


def said_to_someone_else(
    content: Mapping[str, Any], sender: str, user_id: str, members: Mapping[str, MatrixUser]
) -> bool:
    """True when the message speaks to another member: it mentions them (`m.mentions`, a
    matrix.to pill), replies to them (a reply fallback names them), or opens with their
    display name or user name ("alice: try this"). That conversation is theirs."""
    ours = {user_id, sender}
    mentions = content.get("m.mentions")
    mentioned = mentions.get("user_ids") if isinstance(mentions, Mapping) else None
    if isinstance(mentioned, list) and any(isinstance(u, str) and u not in ours for u in mentioned):
        return True
    formatted = content.get("formatted_body")
    if isinstance(formatted, str) and any(unquote(u) not in ours for u in _PILL.findall(formatted)):
        return True
    body = content.get("body") if isinstance(content.get("body"), str) else ""
    if "m.in_reply_to" in _relation(content):
        replied_to = _FALLBACK_SENDER.match(body)
        if replied_to and replied_to.group(1) not in ours:
            return True
        body = _REPLY_FALLBACK.sub("", body)
    name = addressee(body)
    if name is None:
        return False
    return any(
        name
        in (member_id.casefold(), member_id[1:].split(":", 1)[0].casefold(), (member.display_name or "").casefold())
        for member_id, member in members.items()
        if member_id not in ours
    )


def question_text(content: Mapping[str, Any], user_id: str, names: Iterable[str]) -> str:
    """The body without a reply fallback quote and without the bot's leading mention."""
    body = content.get("body") if isinstance(content.get("body"), str) else ""
    if "m.in_reply_to" in _relation(content):
        body = _REPLY_FALLBACK.sub("", body)
    body = re.sub(re.escape(user_id), " ", body, flags=re.IGNORECASE).strip()
    for name in sorted((n for n in names if n), key=len, reverse=True):
        stripped = re.sub(rf"\A@?{re.escape(name)}(?!\w)\s*[:,]?\s*", "", body, flags=re.IGNORECASE)
        if stripped != body:
            body = stripped
            break
    return re.sub(r"\A[:,]\s*", "", body).strip()


# -- translating replies out ---------------------------------------------------------


def reply_content(reply: Reply, question_event_id: str, asker: str, thread: str | None) -> dict[str, Any]:
    """The `m.notice` that answers `question_event_id`, in its thread if it had one.

    Passive answers mention nobody (the member did not ask the bot); explicit ones
    notify the asker, as replying in Element does.
    """
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


# -- state that outlives a restart --------------------------------------------------


class AdapterState:
    """Answered event ids (bounded) and direct-message rooms, in one JSON file.

    nio's store keeps the sync token and encryption keys; this keeps what only the
    adapter knows, so an event is never answered twice, even across restarts.
    """

    def __init__(self, path: Path, limit: int = 2000) -> None:
        self.path = path
        self._answered: deque[str] = deque(maxlen=limit)
        self._answered_set: set[str] = set()
        self.direct_rooms: set[str] = set()
        if path.exists():
            try:
                data = json.loads(path.read_text())
            except (OSError, ValueError) as exc:
                logger.warning("ignoring unreadable %s: %s", path, exc)
                data = {}
            for event_id in data.get("answered", [])[-limit:]:
                self.mark_answered(event_id)
            self.direct_rooms = set(data.get("direct_rooms", []))

    def answered(self, event_id: str) -> bool:
        return event_id in self._answered_set

    def mark_answered(self, event_id: str) -> None:
        if event_id in self._answered_set:
            return
        if len(self._answered) == self._answered.maxlen:
            self._answered_set.discard(self._answered[0])
        self._answered.append(event_id)
        self._answered_set.add(event_id)

    def save(self) -> None:
        """Write atomically: a crash mid-write must not forget every answered event."""
        data = {"answered": list(self._answered), "direct_rooms": sorted(self.direct_rooms)}
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, self.path)


def _write_private(path: Path, data: Mapping[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle)
    os.replace(tmp, path)


@dataclass(frozen=True)
class _Outgoing:
    room_id: str
    content: dict[str, Any]
    txn_id: str
    answers: str


# -- the bot ------------------------------------------------------------------------------


class MatrixBot:
    """One Matrix account answering questions with a `Responder`.

    `start()` logs in, syncs once and returns when the bot is listening; `stop()` ends
    it. A new `MatrixBot` on the same state dir resumes the same device, keys and sync
    position.
    """

    def __init__(self, config: MatrixConfig, responder: Responder) -> None:
        self.config = config
        self.responder = responder
        self.client: AsyncClient | None = None
        self.started_at_ms = 0
        self._state = AdapterState(config.state_dir / STATE_FILE)
        self._names: set[str] = set()
        self._outbox: asyncio.Queue[_Outgoing] = asyncio.Queue()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._sync_task: asyncio.Task[None] | None = None
        self._sender_task: asyncio.Task[None] | None = None
        self._keys_lock = asyncio.Lock()
        self._handled_invites: set[str] = set()

    @property
    def user_id(self) -> str:
        return self.config.user_id

    # -- lifecycle --------------------------------------------------------------

    async def start(self) -> None:
        """Log in, apply room settings, do the first sync, then keep syncing in the background."""
        self.config.state_dir.mkdir(parents=True, exist_ok=True)
        (self.config.state_dir / NIO_STORE_DIR).mkdir(exist_ok=True)
        self.started_at_ms = int(time.time() * 1000)
        self.client = await self._login()
        self.client.add_event_callback(self._on_message, RoomMessageText)
        self.client.add_event_callback(self._on_invite, InviteMemberEvent)
        self.client.add_event_callback(self._on_undecryptable, MegolmEvent)
        self.client.add_response_callback(self._on_error_response, ErrorResponse)
        displayname = await self.client.get_displayname()
        self._names = {self.user_id[1:].split(":", 1)[0]}
        if getattr(displayname, "displayname", None):
            self._names.add(displayname.displayname)
        first = await self.client.sync(timeout=0, full_state=True)
        if isinstance(first, SyncError):
            await self.client.close()
            raise MatrixBotError(f"first sync failed: {first.status_code} {first.message}")
        await self._maintain_keys()
        self._sync_task = asyncio.create_task(self._sync_loop(), name="faqbot-matrix-sync")
        self._sender_task = asyncio.create_task(self._send_loop(), name="faqbot-matrix-send")
        logger.info("listening as %s (device %s)", self.user_id, self.client.device_id)

    async def stop(self, drain_timeout: float = 5.0) -> None:
        """Stop syncing, give queued replies a moment to go out, close the connection."""
        if self._sync_task is not None:
            self._sync_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._sync_task
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._outbox.join(), drain_timeout)
        for task in [self._sender_task, *self._tasks]:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._sync_task = self._sender_task = None
        self._state.save()
        if self.client is not None:
            await self.client.close()
            self.client = None

    async def run(self, stop: asyncio.Event, health: Health | None = None) -> None:
        """Run until `stop` is set; a fatal error in the sync loop ends the run too."""
        await self.start()
        if health is not None:
            health.ready()
        assert self._sync_task is not None
        stopper = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({stopper, self._sync_task}, return_when=asyncio.FIRST_COMPLETED)
            if self._sync_task.done() and not self._sync_task.cancelled():
                self._sync_task.result()  # re-raise MatrixBotError
        finally:
            stopper.cancel()
            await self.stop()

    async def _login(self) -> AsyncClient:
        """Resume the saved device when possible: a new device would lose the encryption keys."""
        config = self.config
        session_path = config.state_dir / SESSION_FILE
        session: dict[str, Any] = {}
        if session_path.exists():
            with contextlib.suppress(OSError, ValueError):
                session = json.loads(session_path.read_text())
        if session.get("user_id") != config.user_id:
            session = {}
        client = AsyncClient(
            config.homeserver,
            config.user_id,
            device_id=session.get("device_id"),
            store_path=str(config.state_dir / NIO_STORE_DIR),
            config=AsyncClientConfig(
                store_sync_tokens=True,
                encryption_enabled=True,
                max_timeout_retry_wait_time=config.max_retry_wait,
            ),
        )
        token = config.access_token or session.get("access_token")
        if token:
            client.access_token = token
            whoami = await client.whoami()
            if isinstance(whoami, WhoamiResponse) and whoami.user_id == config.user_id and whoami.device_id:
                client.restore_login(config.user_id, whoami.device_id, token)
                if config.access_token is None:
                    _write_private(session_path, {**session, "device_id": whoami.device_id})
                else:
                    _write_private(session_path, {"user_id": config.user_id, "device_id": whoami.device_id})
                return client
            client.access_token = ""
            if config.password is None:
                await client.close()
                detail = getattr(whoami, "status_code", None) or f"token belongs to {getattr(whoami, 'user_id', '?')}"
                raise MatrixBotError(f"FAQBOT_MATRIX_ACCESS_TOKEN was refused ({detail})")
        assert config.password is not None
        login = await client.login(config.password, device_name=config.device_name)
        if not isinstance(login, LoginResponse):
            await client.close()
            raise MatrixBotError(f"password login as {config.user_id} failed: {getattr(login, 'message', login)}")
        # The state dir is the place for secrets: without the token the next start would make a new device.
        _write_private(
            session_path,
            {"user_id": config.user_id, "device_id": login.device_id, "access_token": login.access_token},
        )
        return client

    # -- syncing ------------------------------------------------------------------

    async def _sync_loop(self) -> None:
        """Long-poll forever; connection errors and server errors only slow it down."""
        assert self.client is not None
        delay = 1.0
        while True:
            try:
                response = await self.client.sync(timeout=self.config.sync_timeout_ms)
                if isinstance(response, SyncError):
                    if response.status_code in ("M_UNKNOWN_TOKEN", "M_FORBIDDEN"):
                        raise MatrixBotError(f"the homeserver refused the bot's session: {response.status_code}")
                    raise ConnectionError(f"sync failed: {response.status_code} {response.message}")
                await self._maintain_keys()
                delay = 1.0
            except (asyncio.CancelledError, MatrixBotError):
                raise
            except Exception as exc:  # a restarting homeserver fails in many ways; all mean "try again"
                logger.warning("sync failed (%s: %s); retrying in %.0fs", type(exc).__name__, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.config.max_retry_wait)

    async def _maintain_keys(self) -> None:
        """Upload, query and claim encryption keys, so encrypted rooms can be read and answered."""
        assert self.client is not None
        client = self.client
        async with self._keys_lock:
            if client.should_upload_keys:
                await client.keys_upload()
            if client.should_query_keys:
                await client.keys_query()
            if client.should_claim_keys:
                await client.keys_claim(client.get_users_for_key_claiming())
            await client.send_to_device_messages()

    # -- events in ----------------------------------------------------------------

    def _is_direct(self, room: MatrixRoom) -> bool:
        return room.room_id in self._state.direct_rooms

    async def _on_message(self, room: MatrixRoom, event: RoomMessageText) -> None:
        """A text message: decide whether it is a question for us and queue the answer.

        Never raises: an exception would abort nio's handling of the rest of the sync.
        """
        try:
            self._consider(room, event)
        except Exception:
            logger.exception("could not handle %s in %s", event.event_id, room.room_id)

    def _consider(self, room: MatrixRoom, event: RoomMessageText) -> None:
        if event.sender == self.user_id or event.server_timestamp < self.started_at_ms:
            return
        if self._state.answered(event.event_id):
            return
        content: Mapping[str, Any] = event.source.get("content", {})
        if is_edit(content):
            return
        names = set(self._names)
        room_name = room.user_name(self.user_id)
        if room_name:
            names.add(room_name)
        message = IncomingMessage(
            text=question_text(content, self.user_id, names),
            conversation_id=room.room_id,
            sender_id=event.sender,
            addressed=self._is_direct(room) or mentions_bot(content, self.user_id, names),
            to_someone_else=said_to_someone_else(content, event.sender, self.user_id, room.users),
        )
        reply = self.responder.respond(message)
        if reply is None:
            return
        self._state.mark_answered(event.event_id)
        self._outbox.put_nowait(
            _Outgoing(
                room_id=room.room_id,
                content=reply_content(reply, event.event_id, event.sender, thread_root(content)),
                txn_id="faqbot-" + re.sub(r"[^A-Za-z0-9._-]", "_", event.event_id),
                answers=event.event_id,
            )
        )

    async def _on_invite(self, room: MatrixRoom, event: InviteMemberEvent) -> None:
        """Join when an allowed user or server invites; otherwise decline the invite."""
        if event.state_key != self.user_id or event.membership != "invite" or room.room_id in self._handled_invites:
            return
        self._handled_invites.add(room.room_id)
        if not self.config.inviter_allowed(event.sender):
            logger.info("declining invite to %s from %s (not in allowed inviters)", room.room_id, event.sender)
            self._spawn(self._leave(room.room_id))
            return
        if event.content.get("is_direct"):
            self._state.direct_rooms.add(room.room_id)
            self._state.save()
        self._spawn(self._join(room.room_id, event.sender))

    async def _join(self, room_id: str, inviter: str) -> None:
        assert self.client is not None
        for attempt in range(5):
            response = await self.client.join(room_id)
            if not isinstance(response, JoinError):
                logger.info("joined %s, invited by %s", room_id, inviter)
                return
            logger.warning("joining %s failed (%s), attempt %d", room_id, response.message, attempt + 1)
            await asyncio.sleep(min(2**attempt, self.config.max_retry_wait))
        self._handled_invites.discard(room_id)

    async def _leave(self, room_id: str) -> None:
        assert self.client is not None
        await self.client.room_leave(room_id)

    async def _on_undecryptable(self, room: MatrixRoom, event: MegolmEvent) -> None:
        """Logged only: the sender's client did not share its key with this device."""
        if event.server_timestamp >= self.started_at_ms:
            logger.warning("cannot decrypt %s in %s (session %s)", event.event_id, room.room_id, event.session_id)

    async def _on_error_response(self, response: ErrorResponse) -> None:
        """nio waits out a 429 by itself; say so, or a slow bot looks like a broken one."""
        if response.status_code == "M_LIMIT_EXCEEDED":
            wait = getattr(response, "retry_after_ms", None)
            logger.warning("rate-limited by the homeserver; nio retries in %s ms", wait if wait is not None else "?")

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- replies out ------------------------------------------------------------------

    async def _send_loop(self) -> None:
        """Send queued replies one by one, in order; a rate limit delays them, never drops them."""
        while True:
            item = await self._outbox.get()
            try:
                await self._send(item)
            finally:
                self._outbox.task_done()

    async def _send(self, item: _Outgoing, attempts: int = 30) -> None:
        """Retry with backoff; the transaction id makes a retried send land at most once."""
        assert self.client is not None
        delay = 1.0
        for _ in range(attempts):
            try:
                room = self.client.rooms.get(item.room_id)
                if room is not None and room.encrypted:
                    await self._maintain_keys()
                response = await self.client.room_send(
                    item.room_id, "m.room.message", item.content, tx_id=item.txn_id, ignore_unverified_devices=True
                )
                if isinstance(response, RoomSendResponse):
                    self._state.save()
                    return
                if response.status_code == "M_FORBIDDEN":
                    logger.warning("may not answer %s in %s: %s", item.answers, item.room_id, response.message)
                    return
                logger.warning("answer to %s failed: %s %s", item.answers, response.status_code, response.message)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # connection trouble while the homeserver restarts
                logger.warning("sending answer to %s failed (%s: %s)", item.answers, type(exc).__name__, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.config.max_retry_wait)
        logger.error("gave up answering %s in %s", item.answers, item.room_id)


# -- entry point -------------------------------------------------------------------------


class _MatrixAdapter:
    def __init__(self, bot: MatrixBot, health: Health) -> None:
        self.bot = bot
        self.health = health

    async def run(self, stop: asyncio.Event) -> None:
        await self.bot.run(stop, self.health)


def main(responder: Responder, settings: Settings, state: StateFolder, health: Health, heartbeat: Heartbeat) -> int:
    """`faqbot run matrix`: until SIGINT/SIGTERM. 0 on a clean stop, 1 on a fatal error."""
    config = MatrixConfig.from_settings(settings)
    return run_adapter(
        lambda: _MatrixAdapter(MatrixBot(config, responder), health), health, heartbeat, settings.heartbeat_seconds
    )
