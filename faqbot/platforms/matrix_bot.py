"""Matrix adapter: the I/O around `matrix_protocol`. Log in, sync, send, keep state.

What to say is decided by the core (`faqbot.bot.Bot`, which runs `faqbot.responder` on its
own thread and records into the store), worded by `faqbot.render`, and turned into Matrix
content by `faqbot.platforms.matrix_protocol`. This module translates events into the
core's calls and its replies into events:

- a message: who sent it (a moderator: power level 50, a room creator where creators
  outrank power levels, or `matrix.moderators`), what it replies to (the replied-to event
  itself, seen in the sync or fetched once: Matrix dropped reply fallbacks), then
  `Bot.ahandle`; the answer goes out as a reply (to the member's message a moderator
  pointed at, in that message's thread, when the core says so) and `Bot.sent` records it;
- reactions on the bot's answers: 👍 / 👎 rate them (a redaction takes it back, after a restart too); 🗑️
  from the asker (per the store after a restart) or a moderator redacts a passive answer;
- help rooms (`matrix.help_rooms`): each new top-level message is a help post, answered
  once after `chat.help_grace_seconds` unless a moderator replied in its thread first, in
  a thread rooted at it; ✅ / 🙋 on that answer say solved, or ask for a human, and the
  helpers' room (`matrix.human_room`) hears of it once, with a link, pinging nobody.

It keeps going through what goes wrong at the homeserver:

- start-up against a homeserver that refuses, does not answer or speaks another
  scheme: one line naming the URL and what happened, retried with backoff for
  `connect.timeout_seconds`, then an exit; matrix-nio's own endless retries (timeouts,
  429 sleeps) are turned off so that this module decides, and says what it waits for;
- sends: one queue per room, so a room whose answer the homeserver refuses never
  holds up another; what can never be sent is dropped and logged once;
- a full disk: the state is saved apart from sending and syncing, and the encryption
  store's writes are reported instead of raised inside a sync (where they cost matrix-nio
  the rest of the batch), so the bot keeps answering from memory; the log and the health
  file say so, and what was kept in memory is written once the disk has room;
- a corrupt state, session or encryption store is set aside and the bot starts anew
  (the encryption store's care is `faqbot.platforms.matrix_store`);
- a stop sends what it can within a few seconds and hands the rest (questions not yet
  decided, help posts still in their grace period) to the next run.

`faqbot run matrix` calls `main`; tests drive `MatrixBot` directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from nio import (
    AsyncClient,
    AsyncClientConfig,
    BadEvent,
    ErrorResponse,
    InviteMemberEvent,
    JoinResponse,
    LoginResponse,
    MatrixRoom,
    MegolmEvent,
    PowerLevels,
    PowerLevelsEvent,
    ReactionEvent,
    RedactionEvent,
    RoomCreateEvent,
    RoomGetEventResponse,
    RoomMessageText,
    RoomRedactResponse,
    RoomResolveAliasResponse,
    RoomSendResponse,
    SyncError,
    SyncResponse,
    WhoamiResponse,
)

from faqbot.answering import Overloaded
from faqbot.backoff import Backoff, Deadline, RetryAfter, retry_until
from faqbot.bot import Bot, Handled
from faqbot.bounded import BoundedDict
from faqbot.flood_control import why_a_help_post_cannot_wait
from faqbot.health import Health, Heartbeat
from faqbot.platforms.lifecycle import FatalPlatformError, run_adapter
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
    ignored,
    incoming_message,
    inviter_allowed,
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
    transaction_id,
)
from faqbot.platforms.matrix_state import (
    SESSION_FILE,
    STATE_FILE,
    AdapterState,
    AnswerKind,
    LegacySession,
    SentAnswer,
    Session,
)
from faqbot.platforms.matrix_store import (
    EncryptionStore,
    KeyStore,
    NewDeviceNeeded,
    StoreUnavailable,
    close_store,
)
from faqbot.platforms.network import describe_network_error
from faqbot.responder import HelpPost, IncomingMessage, RepliedMessage, Reply, ReplyKind
from faqbot.settings import Settings
from faqbot.state_folder import StateFolder

logger = logging.getLogger("faqbot.matrix")

T = TypeVar("T")
Q = TypeVar("Q")
R = TypeVar("R")

HANDLED_EVENTS_LIMIT = 10_000  # events decided this run, so a batch taken again is not answered twice
PENDING_PER_ROOM = 50  # answers (and questions) waiting in one room; flood control keeps far below
INVITES_LIMIT = 1000
SEEN_EVENTS_LIMIT = 5000  # messages remembered for the replies that point at them
SEEN_EVENTS_BYTES = 8 << 20  # ... and at most about this much of their text
REMEMBERED_ANSWERS = 10_000
REMEMBERED_POSTS = 10_000
REDACT_TRIES = 3


class MatrixBotError(FatalPlatformError):
    """The bot cannot go on (login refused, token revoked); retrying would not help."""


class HomeserverTrouble(Exception):
    """The homeserver answered, but not usefully (a 502 while it restarts): worth retrying."""

    def __init__(self, description: str, failure: Failure | None = None) -> None:
        super().__init__(description)
        self.failure = failure


# -- configuration ----------------------------------------------------------------


@dataclass(frozen=True)
class MatrixConfig:
    """What the adapter runs with, from the validated settings. Secrets stay out of `repr`.

    The timing fields have defaults for real homeservers; tests shorten them."""

    homeserver: str
    user_id: str
    state_dir: Path
    access_token: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    allowed_inviters: tuple[str, ...] = ()
    device_name: str = "faqbot"
    connect_timeout: float = 300.0  # start-up retries a homeserver that refuses or does not answer this long
    request_timeout: float = 60.0  # one request (matrix-nio's default)
    sync_timeout_ms: int = 30_000  # the long poll
    max_retry_wait: float = 10.0
    send_give_up_after: float = 600.0  # an answer this late is no longer worth sending
    doubtful_tries: int = 3  # a server error that may be the content's fault: this many tries
    drain_seconds: float = 5.0  # a stop waits this long for answers still going out
    moderators: tuple[str, ...] = ()  # user ids counted as moderators, besides power level 50
    help_rooms: tuple[str, ...] = ()  # room ids or aliases where each new message is a help post
    human_room: str | None = None  # room id or alias told when a poster asks for a human
    help_grace_seconds: float = 60.0  # a new help post waits this long for its poster's edits or a moderator
    lookup_timeout: float = 10.0  # fetching a replied-to event; the room's next message waits for it

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
            connect_timeout=settings.connect_timeout,
            moderators=matrix.moderators,
            help_rooms=matrix.help_rooms,
            human_room=matrix.human_room,
            help_grace_seconds=settings.help_grace_seconds,
        )

    @property
    def server_name(self) -> str:
        return self.user_id.split(":", 1)[1]

    def inviter_allowed(self, inviter: str) -> bool:
        return inviter_allowed(inviter, self.allowed_inviters)


@dataclass(frozen=True)
class _Outgoing:
    room_id: str
    content: dict[str, Any]
    txn_id: str
    answers: str  # the question's event id (a hand-off's: the post's)
    give_up_at: float  # time.monotonic()
    sent: Callable[[str | None], None] | None = None  # told the reply's event id, or None when it was dropped
    hand_back: bool = True  # unsent at a stop: the next run decides the question again
    what: str = "the answer to"  # for the log: what was sent about `answers`

    def describe(self) -> str:
        return f"{self.what} {self.answers} in {self.room_id}"


@dataclass(frozen=True)
class _Incoming:
    """A member's message waiting its turn in its room."""

    room: MatrixRoom
    event_id: str
    sender: str
    content: MessageContent


@dataclass(frozen=True)
class _Seen:
    """A message as its own event says, kept for replies and threads that point at it."""

    room_id: str  # a reply in another room pointing at it must not read it (event ids are no secret)
    sender: str | None
    text: str | None  # a member's words (text messages only)
    thread_root: str | None


@dataclass
class _PendingPost:
    """A new help post in its grace period: its poster may still edit it, a moderator may answer."""

    room: MatrixRoom
    post_id: str
    author: str
    text: str
    moderator_replied: bool = False
    task: asyncio.Task[None] | None = None


# -- the bot ------------------------------------------------------------------------------


class MatrixBot:
    """One Matrix account answering questions for a `Bot` (the platform-free core).

    `start()` logs in, syncs once and returns when the bot is listening; `stop()` ends
    it; `run(stop)` does both around a stop signal, as `faqbot run matrix` does. A new
    `MatrixBot` on the same state folder resumes the same device, keys and sync position.

    Each room's messages are decided in order, one at a time (the core matches them on
    its own thread, so other rooms go on meanwhile); each room's answers go out in order.
    """

    def __init__(
        self,
        config: MatrixConfig,
        bot: Bot,
        health: Health | None = None,
        folder: StateFolder | None = None,
    ) -> None:
        self.config = config
        self.bot = bot
        self.health = health or Health("matrix")
        self.folder = folder or StateFolder.open(config.state_dir)
        self.client: AsyncClient | None = None
        self.started_at_ms = 0
        self._state = self.folder.read_json(STATE_FILE, AdapterState.from_json) or AdapterState()
        self._store = EncryptionStore(self.folder, config.user_id, self.health)
        self._keeper = _StateKeeper(self.folder, self._state, self.health, after_save=self._catch_up_store)
        self._inbox: _RoomQueues[_Incoming] = _RoomQueues(self._decide, PENDING_PER_ROOM, "questions")
        self._outbox = _Outbox(self)
        self._names: frozenset[str] = frozenset({config.user_id[1:].split(":", 1)[0]})
        self._handled: BoundedDict[str, None] = BoundedDict(HANDLED_EVENTS_LIMIT)
        self._handled_invites: BoundedDict[str, None] = BoundedDict(INVITES_LIMIT)
        # Messages seen or fetched, for the replies and threads that point at them: fetched once.
        self._seen: BoundedDict[str, _Seen] = BoundedDict(SEEN_EVENTS_LIMIT, SEEN_EVENTS_BYTES, _seen_size)
        # Who asked what each latest answer answers (in memory only: the store knows after a restart).
        self._askers: BoundedDict[str, str] = BoundedDict(REMEMBERED_ANSWERS)
        self._posters: BoundedDict[str, str] = BoundedDict(REMEMBERED_POSTS)  # help post -> who opened it
        self._pending_posts: dict[str, _PendingPost] = {}
        self._creators: dict[str, frozenset[str]] = {}  # per joined room, from its m.room.create
        self._power_levels: dict[str, PowerLevels] = {}  # per joined room, its latest m.room.power_levels
        self._help_room_ids: frozenset[str] = frozenset()  # matrix.help_rooms, aliases resolved at start-up
        self._human_room_id: str | None = None  # matrix.human_room, likewise
        self._tasks: set[asyncio.Task[Any]] = set()
        self._sync_task: asyncio.Task[None] | None = None
        self._keys_lock = asyncio.Lock()
        self._keys_retry_at = 0.0

    @property
    def user_id(self) -> str:
        return self.config.user_id

    # -- lifecycle --------------------------------------------------------------

    async def start(self) -> None:
        """Log in, bring back what moderators taught and set, do the first sync, then keep
        syncing in the background."""
        self.started_at_ms = int(time.time() * 1000)
        self.client = await self._connect()
        try:
            await self.bot.in_worker(self.bot.restore)
            self.client.add_event_callback(self._on_message, RoomMessageText)
            self.client.add_event_callback(self._on_malformed, BadEvent)
            self.client.add_event_callback(self._on_invite, InviteMemberEvent)
            self.client.add_event_callback(self._on_undecryptable, MegolmEvent)
            self.client.add_event_callback(self._on_reaction, ReactionEvent)
            self.client.add_event_callback(self._on_redaction, RedactionEvent)
            await self._learn_display_name()
            await self._first_sync()
            await self._resolve_configured_rooms()
            self._keeper.start()
            await self._maintain_keys()
            self._sync_task = asyncio.create_task(self._sync_loop(), name="faqbot-matrix-sync")
            self._spawn(self._answer_handed_back())
        except BaseException:
            await self._close_client()
            raise
        logger.info("listening as %s (device %s)", self.user_id, self.client.device_id)

    async def stop(self) -> None:
        """Stop syncing, hand questions not yet decided (help posts still in their grace period
        too) to the next run, give answers still going out a few seconds, hand the rest on as
        well, save the state and close the connection."""
        await _cancel(self._sync_task)
        self._sync_task = None
        for pending in list(self._pending_posts.values()):
            await _cancel(pending.task)
            self._state.hand_back(pending.room.room_id, pending.post_id)
            self._keeper.changed()
        self._pending_posts.clear()
        undecided = await self._inbox.close(0)
        for incoming in undecided:
            self._state.hand_back(incoming.room.room_id, incoming.event_id)
        unsent = [item for item in await self._outbox.close(self.config.drain_seconds) if item.hand_back]
        for item in unsent:
            self._state.hand_back(item.room_id, item.answers)
        if undecided or unsent:
            self._keeper.changed()
        if unsent:
            logger.warning("stopping with %d answer(s) not yet sent: the next run answers them", len(unsent))
        for task in list(self._tasks):
            await _cancel(task)
        await self._keeper.stop()
        await self._close_client()

    async def run(self, stop: asyncio.Event) -> None:
        """Run until `stop` is set; a fatal error in the sync loop ends the run too."""
        try:
            await self.start()
            self.health.ready()
            assert self._sync_task is not None
            stopping = asyncio.create_task(stop.wait())
            try:
                await asyncio.wait({stopping, self._sync_task}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stopping.cancel()
            if self._sync_task.done() and not self._sync_task.cancelled():
                self._sync_task.result()  # re-raise MatrixBotError
        finally:
            await self.stop()

    async def _close_client(self) -> None:
        client, self.client = self.client, None
        if client is None:
            return
        await client.close()
        close_store(client)

    # -- requests -----------------------------------------------------------------

    async def _call(self, request: Awaitable[T], timeout: float | None = None) -> T:
        """One request with a deadline: matrix-nio sends some (the first sync) with none."""
        async with asyncio.timeout(timeout or self.config.request_timeout):
            return await request

    def _failure_of(self, response: ErrorResponse) -> Failure:
        transport = response.transport_response
        status = transport.status if transport is not None else None
        return classify_error(response.status_code, status, response.message, response.retry_after_ms)

    def _unreachable(self, error: Exception) -> str | None:
        """For `retry_until`: a line for what retrying may fix, None for what it cannot."""
        if isinstance(error, HomeserverTrouble | StoreUnavailable):
            return str(error)
        return describe_network_error(self.config.homeserver, error, self.config.request_timeout)

    def _trouble(self, response: ErrorResponse, doing: str, fatal: tuple[Trouble, ...]) -> Exception:
        """The exception for an error answer while `doing` something: `fatal` troubles stop
        the bot, a rate limit is waited out, anything else is retried."""
        failure = self._failure_of(response)
        where = self.config.homeserver
        if failure.trouble in fatal:
            return MatrixBotError(f"{where} refused {doing}: {failure.description}")
        if failure.trouble is Trouble.RATE_LIMITED:
            return RetryAfter(f"{where} rate-limited {doing}", failure.retry_after)
        return HomeserverTrouble(f"{where} answered {doing} with {failure.description}", failure)

    # -- logging in ---------------------------------------------------------------

    async def _connect(self) -> AsyncClient:
        """Log in, retrying a homeserver that cannot be reached for `connect_timeout`."""
        self._store.prepare()
        return await retry_until(
            self._log_in_once,
            deadline=Deadline.after(self.config.connect_timeout),
            failure=self._unreachable,
            log=logger,
            backoff=Backoff(initial=1.0, maximum=self.config.max_retry_wait),
        )

    async def _log_in_once(self) -> AsyncClient:
        try:
            return await self._log_in()
        except TimeoutError as error:
            hint = await self._scheme_hint()
            if hint is None:
                raise
            raise HomeserverTrouble(hint) from error

    async def _scheme_hint(self) -> str | None:
        """An https:// homeserver that never finishes the TLS handshake may be serving plain
        HTTP (Synapse without TLS in front of it): ask the same port in plain HTTP."""
        parts = urlsplit(self.config.homeserver)
        if parts.scheme != "https":
            return None
        plain = urlunsplit(("http", parts.netloc if parts.port else f"{parts.netloc}:443", "", "", ""))
        try:
            async with (
                aiohttp.ClientSession() as probe,
                asyncio.timeout(min(5.0, self.config.request_timeout)),
                probe.get(f"{plain}/_matrix/client/versions") as answer,
            ):
                await answer.read()
        except (aiohttp.ClientError, TimeoutError, OSError):
            return None
        return f"{self.config.homeserver} does not speak TLS but answers plain HTTP: use {plain}"

    def _read_session(self) -> Session | LegacySession | None:
        session = self.folder.read_json(SESSION_FILE, Session.from_json)
        if session is not None and session.user_id != self.user_id:
            logger.warning("%s is for %s, not %s: logging in anew", SESSION_FILE, session.user_id, self.user_id)
            return None
        return session

    def _new_client(self, device_id: str | None) -> AsyncClient:
        return AsyncClient(
            self.config.homeserver,
            self.user_id,
            device_id=device_id,
            store_path=str(self._store.path),
            config=AsyncClientConfig(
                store=KeyStore,
                store_sync_tokens=False,  # the adapter saves the sync position, after it handled the batch
                encryption_enabled=True,
                max_timeouts=0,  # raise at once: retry_until and the loops below decide, and say so
                max_limit_exceeded=0,  # return the 429: matrix-nio would sleep through it silently
                request_timeout=self.config.request_timeout,
            ),
        )

    async def _log_in(self) -> AsyncClient:
        """Resume the saved device when possible: a new device would lose the encryption keys."""
        session = self._read_session()
        token = self.config.access_token or (session.access_token if session is not None else None)
        if token:
            client = self._new_client(None)
            client.access_token = token
            try:
                whoami = await self._call(client.whoami())
            except BaseException:
                await client.close()
                raise
            if isinstance(whoami, WhoamiResponse) and whoami.user_id == self.user_id and whoami.device_id:
                mine = session if session is not None and session.device_id == whoami.device_id else None
                client.user_id, client.device_id = self.user_id, whoami.device_id
                saved_token = self.config.access_token is None
                try:
                    self._store.open(client, mine, keep_token=saved_token, renewable=self.config.password is not None)
                except NewDeviceNeeded:
                    return await self._new_device_for(client, log_out=saved_token)
                except BaseException:
                    await client.close()
                    raise
                return client
            await client.close()
            if isinstance(whoami, WhoamiResponse):
                raise MatrixBotError(f"the access token belongs to {whoami.user_id}, not {self.user_id}")
            problem = self._trouble(whoami, "the access token", (Trouble.PERMANENT, Trouble.SESSION_REFUSED))
            if not isinstance(problem, MatrixBotError):
                raise problem
            which = "FAQBOT_MATRIX_ACCESS_TOKEN" if self.config.access_token else f"the token in {SESSION_FILE}"
            refused = f"{which} was refused ({self._failure_of(whoami).description})"
            if self.config.password is None:
                raise MatrixBotError(refused)
            logger.warning("%s: logging in with the password", refused)
        return await self._log_in_with_password(session)

    async def _log_in_with_password(self, session: Session | LegacySession | None) -> AsyncClient:
        assert self.config.password is not None
        client = self._new_client(session.device_id if session is not None else None)
        # matrix-nio would open the store inside `login`, where a corrupt one cannot be handled.
        client.config = dataclasses.replace(client.config, encryption_enabled=False)
        try:
            login = await self._call(client.login(self.config.password, device_name=self.config.device_name))
            if not isinstance(login, LoginResponse):
                fatal = (Trouble.PERMANENT, Trouble.SESSION_REFUSED)
                raise self._trouble(login, f"the password login as {self.user_id}", fatal)
            client.config = dataclasses.replace(client.config, encryption_enabled=True)
            mine = session if session is not None and session.device_id == login.device_id else None
            self._store.open(client, mine, keep_token=True, renewable=mine is not None)
        except NewDeviceNeeded:
            return await self._new_device_for(client, log_out=True)
        except BaseException:
            await client.close()
            raise
        return client

    async def _new_device_for(self, client: AsyncClient, log_out: bool) -> AsyncClient:
        """Replace a device whose encryption store was lost: log it out (when its token is the
        bot's own, not the operator's), then log in with the password for a new one."""
        if log_out:
            with contextlib.suppress(Exception):
                await self._call(client.logout())
        await client.close()
        return await self._log_in_with_password(None)

    def _catch_up_store(self) -> None:
        self._store.catch_up(self.client)

    # -- syncing ------------------------------------------------------------------

    async def _learn_display_name(self) -> None:
        assert self.client is not None
        try:
            response = await self._call(self.client.get_displayname())
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            logger.debug("no display name: %s", error)
            return
        name = getattr(response, "displayname", None)
        if isinstance(name, str) and name:
            self._names = self._names | {name}

    async def _sync_once(self, timeout_ms: int, full_state: bool = False, since: str | None = None) -> None:
        """One sync, its events handled by the callbacks, and the position it reached noted."""
        client = self.client
        assert client is not None
        before = since if since is not None else client.next_batch
        wait = (timeout_ms / 1000 if not full_state else 0) + self.config.request_timeout
        response = await self._call(client.sync(timeout=timeout_ms, full_state=full_state, since=before), wait)
        if isinstance(response, SyncError):
            raise self._trouble(response, "the sync", (Trouble.SESSION_REFUSED,))
        self._note_ranks(response)  # before any of the batch's messages is decided: those wait their turn
        assert client.device_id is not None
        self._state.set_sync_position(client.device_id, client.next_batch)
        self._keeper.changed()

    async def _first_sync(self) -> None:
        """The full state of every room, from where the last run's handled events end."""
        client = self.client
        assert client is not None and client.device_id is not None
        since = self._state.sync_position(client.device_id)
        if since is None and client.store is not None:
            since = client.store.load_sync_token()  # where matrix-nio kept it before this adapter did

        async def attempt() -> None:
            nonlocal since
            try:
                await self._sync_once(0, full_state=True, since=since)
            except HomeserverTrouble as trouble:
                if since is None or trouble.failure is None or trouble.failure.trouble is not Trouble.PERMANENT:
                    raise
                logger.warning("the homeserver refused the saved sync position (%s): starting from now", trouble)
                since = None
                await self._sync_once(0, full_state=True)

        await retry_until(
            attempt,
            deadline=Deadline.after(self.config.connect_timeout),
            failure=self._unreachable,
            log=logger,
            backoff=Backoff(initial=1.0, maximum=self.config.max_retry_wait),
        )

    async def _sync_loop(self) -> None:
        """Long-poll until cancelled. Trouble reaching the homeserver is retried with backoff
        (and reported when it lasts); a sync whose events could not be handled (a bug) is
        reported at once, with its traceback the first time."""
        backoff = Backoff(initial=1.0, maximum=self.config.max_retry_wait)
        failures = 0
        while True:
            try:
                await self._sync_once(self.config.sync_timeout_ms)
            except (asyncio.CancelledError, MatrixBotError):
                raise
            except RetryAfter as busy:
                logger.warning("%s; waiting %.1f s as it asks", busy.description, busy.seconds)
                await asyncio.sleep(busy.seconds)
                continue
            except Exception as error:
                failures += 1
                wait = backoff.next_delay()
                unreachable = self._unreachable(error)
                if unreachable is None:
                    if "sync" not in self.health.problems:
                        logger.error("handling a sync failed", exc_info=error)
                    problem = f"{type(error).__name__}: {error}"
                    self.health.problem("sync", f"cannot handle the homeserver's events ({problem})")
                else:
                    logger.warning("sync failed: %s; retrying in %.0f s", unreachable, wait)
                    if failures >= 3:
                        self.health.problem("sync", f"cannot sync: {unreachable}")
                await asyncio.sleep(wait)
                continue
            failures = 0
            backoff.reset()
            self.health.clear("sync")
            await self._maintain_keys()

    async def _maintain_keys(self) -> None:
        """Upload, query and claim encryption keys, so encrypted rooms can be read and answered.
        Failures are reported and tried again a minute later, never raised."""
        client = self.client
        assert client is not None
        if time.monotonic() < self._keys_retry_at:
            return
        async with self._keys_lock:
            try:
                responses = []
                if client.should_upload_keys:
                    responses.append(await self._call(client.keys_upload()))
                if client.should_query_keys:
                    responses.append(await self._call(client.keys_query()))
                if client.should_claim_keys:
                    responses.append(await self._call(client.keys_claim(client.get_users_for_key_claiming())))
                responses.extend(await self._call(client.send_to_device_messages()))
            except asyncio.CancelledError:
                raise
            except Exception as error:
                problem = f"{type(error).__name__}: {error}"
            else:
                errors = [r for r in responses if isinstance(r, ErrorResponse)]
                if not errors:
                    self.health.clear("encryption")
                    return
                problem = self._failure_of(errors[0]).description
            self._keys_retry_at = time.monotonic() + 60
            self.health.problem("encryption", f"cannot maintain the encryption keys ({problem}): retrying in a minute")

    # -- events in ----------------------------------------------------------------

    def _identity_in(self, room: MatrixRoom) -> BotIdentity:
        names = set(self._names)
        room_name = room.user_name(self.user_id)
        if room_name:
            names.add(room_name)
        return BotIdentity(self.user_id, frozenset(names))

    def _is_moderator(self, room: MatrixRoom, user_id: str) -> bool:
        level = self._power_levels.get(room.room_id, room.power_levels).get_user_level(user_id)
        return is_moderator(user_id, level, self.config.moderators, self._creators.get(room.room_id, ()))

    def _note_ranks(self, response: SyncResponse) -> None:
        """Remember each room's creators, from its `m.room.create` event (in room version 12 on
        they outrank every power level, and matrix-nio does not know it), and its power levels as
        its latest `m.room.power_levels` event says: matrix-nio merges a new event's users into
        the old ones, so a moderator taken off the list (demoted to the default) stayed one."""
        for room_id, info in response.rooms.join.items():
            for event in itertools.chain(info.state, info.timeline.events):
                if isinstance(event, RoomCreateEvent):
                    content = event.source.get("content") if isinstance(event.source, dict) else None
                    self._creators[room_id] = privileged_creators(event.room_version, event.sender, content)
                elif isinstance(event, PowerLevelsEvent):
                    self._power_levels[room_id] = event.power_levels

    def _is_help_room(self, room: MatrixRoom) -> bool:
        return room.room_id in self._help_room_ids

    async def _on_message(self, room: MatrixRoom, event: RoomMessageText) -> None:
        """Never raises: an exception would abort matrix-nio's handling of the rest of the sync."""
        try:
            self._receive(room, event)
        except Exception:
            logger.exception("could not handle %s in %s", event.event_id, room.room_id)

    async def _on_malformed(self, room: MatrixRoom, event: BadEvent) -> None:
        """matrix-nio refuses a whole message for one field of an unexpected type (a
        `formatted_body` that is a number); the adapter reads only what it needs and checks
        each field itself, so such a message is still a message."""
        try:
            if _is_member_text(event):
                self._receive(room, event)
        except Exception:
            logger.exception("could not handle %s in %s", event.event_id, room.room_id)

    def _receive(self, room: MatrixRoom, event: RoomMessageText | BadEvent, handed_back: bool = False) -> None:
        """Take a message in: remember it (a reply may point at it later), follow a pending help
        post's edits and moderators, and queue it to be decided in its room's turn."""
        if event.event_id in self._handled or self._state.answered(event.event_id):
            return
        if event.server_timestamp < self.started_at_ms and not handed_back:
            return  # history: said while the bot was away
        self._handled[event.event_id] = None
        content = MessageContent.read(event.source.get("content"))
        identity = self._identity_in(room)
        if content.is_edit:
            self._follow_edit(event.sender, content, identity)
        if ignored(content, event.sender, identity):
            return
        self._seen[event.event_id] = _seen(
            room.room_id, event.event_id, event.source.get("type"), event.sender, content, identity
        )
        root = content.thread_root or content.replies_to
        pending = self._pending_posts.get(root) if root is not None else None
        if pending is not None and pending.room.room_id != room.room_id:
            pending = None  # a reply from another room: Synapse takes a reply to an event of any room
        if pending is not None and event.sender != pending.author and self._is_moderator(room, event.sender):
            pending.moderator_replied = True  # a human is on it: the post is theirs
        self._inbox.put(room.room_id, _Incoming(room, event.event_id, event.sender, content))

    def _follow_edit(self, sender: str, content: MessageContent, identity: BotIdentity) -> None:
        """An edit by its author changes what a pending help post asks, and what a correction would teach."""
        target, body = content.related_event, content.new_body
        if target is None or body is None:
            return
        words = question_text(MessageContent(body=body), identity)[:REMEMBERED_TEXT_CHARS]
        pending = self._pending_posts.get(target)
        if pending is not None and pending.author == sender and words:
            pending.text = words
        seen = self._seen.get(target)
        if seen is not None and seen.sender == sender and seen.text is not None and words:
            self._seen[target] = dataclasses.replace(seen, text=words)

    async def _decide(self, incoming: _Incoming) -> None:
        """One message, in its room's turn: the core decides; the answer is queued to go out."""
        room, content = incoming.room, incoming.content
        identity = self._identity_in(room)
        help_room = self._is_help_room(room)
        if help_room and content.starts_a_post and not self._asks_the_bot(room, content, identity):
            self._open_post(room, incoming, identity)
            return
        replied = await self._replied(room, content.replies_to) if content.replies_to is not None else None
        message = incoming_message(
            content,
            room_id=room.room_id,
            sender=incoming.sender,
            bot=identity,
            direct=self._state.is_direct(room.room_id),
            members=((user_id, user.display_name) for user_id, user in room.users.items()),
            message_id=incoming.event_id,
            replied=replied,
            moderator=self._is_moderator(room, incoming.sender),
            names=_room_names(room),
            help_post_author=await self._poster_of(room, content, replied) if help_room else None,
        )
        try:
            handled = await self.bot.ahandle(message)
        except Overloaded:
            return  # far behind: silence (the core says so in the log)
        reply = handled.reply
        if reply is None:
            self.bot.sent(message, handled, None)
            return
        target, thread = incoming.event_id, content.thread_root
        if handled.reply_to is not None:  # a moderator pointed at a member's message: answer it, in its thread
            pointed = self._seen.get(handled.reply_to)
            if pointed is not None and pointed.room_id == room.room_id:
                target = handled.reply_to
                thread = pointed.thread_root or thread
        kind = AnswerKind.PASSIVE if reply.passive else AnswerKind.ASKED
        self._queue_answer(
            room.room_id,
            incoming.event_id,
            reply_content(reply, target, thread),
            lambda reply_id: self._answered(message, handled, reply_id, kind),
        )

    def _asks_the_bot(self, room: MatrixRoom, content: MessageContent, identity: BotIdentity) -> bool:
        """A command or a mention: in a help room too, an ask rather than a new post."""
        return (
            self._state.is_direct(room.room_id)
            or mentions_bot(content, identity)
            or self.bot.responder.is_command(question_text(content, identity))
        )

    def _queue_answer(
        self, room_id: str, question_id: str, content: dict[str, Any], sent: Callable[[str | None], None]
    ) -> None:
        self._state.mark_answered(question_id)
        self._keeper.changed()
        give_up_at = time.monotonic() + self.config.send_give_up_after
        self._outbox.put(_Outgoing(room_id, content, transaction_id(question_id), question_id, give_up_at, sent))

    def _answered(self, message: IncomingMessage, handled: Handled, reply_id: str | None, kind: AnswerKind) -> None:
        """The answer went out (`reply_id`) or was dropped (None): record it, and remember an
        entry's answer so members' reactions to it count."""
        self.bot.sent(message, handled, reply_id)
        if reply_id is None or handled.reply is None or handled.reply.kind is not ReplyKind.ANSWER:
            return
        pointed = message.replying_to if handled.reply_to is not None else None
        self._askers[reply_id] = (pointed.author_id if pointed is not None else None) or message.sender_id
        self._state.sent_answer(reply_id, SentAnswer(kind, room_id=message.conversation_id))
        self._keeper.changed()

    async def _replied(self, room: MatrixRoom, event_id: str) -> RepliedMessage:
        """The message a reply points at, from that event itself (Matrix dropped reply
        fallbacks, and a fallback says whatever its sender typed)."""
        if await self._our_answer(room, event_id) is not None:
            return RepliedMessage(event_id, None, self.user_id, from_bot=True)
        seen = await self._lookup(room, event_id)
        return RepliedMessage(event_id, seen.text, seen.sender, from_bot=seen.sender == self.user_id)

    async def _lookup(self, room: MatrixRoom, event_id: str) -> _Seen:
        """A message the bot saw, or else fetched once (`room_get_event`); unknown (no sender)
        when it cannot be fetched: then a reply to it counts as said to someone else."""
        seen = self._seen.get(event_id)
        if seen is not None and seen.room_id == room.room_id:
            return seen
        # Not seen here: fetched from this room, where the homeserver knows no other room's events.
        event, why = await self._fetch_event(room.room_id, event_id, self.config.lookup_timeout)
        if event is None:
            logger.info("cannot look up %s in %s: %s", event_id, room.room_id, why)
            return _Seen(room.room_id, None, None, None)
        source = event.source if isinstance(event.source, dict) else {}
        sender = source.get("sender") if isinstance(source.get("sender"), str) else None
        content = MessageContent.read(source.get("content"))
        seen = _seen(room.room_id, event_id, source.get("type"), sender, content, self._identity_in(room))
        self._seen[event_id] = seen
        return seen

    async def _fetch_event(self, room_id: str, event_id: str, timeout: float | None = None) -> tuple[Any, str]:
        """One event by its id, decrypted when it can be: (the event, "") or (None, why not)."""
        client = self.client
        assert client is not None
        try:
            response = await self._call(client.room_get_event(room_id, event_id), timeout)
            if isinstance(response, ErrorResponse):
                return None, self._failure_of(response).description
            if not isinstance(response, RoomGetEventResponse):
                return None, f"an unexpected answer ({type(response).__name__})"
            event = response.event
            return (client.decrypt_event(event) if isinstance(event, MegolmEvent) else event), ""
        except asyncio.CancelledError:
            raise
        except Exception as error:
            return None, f"{type(error).__name__}: {error}"

    async def _answer_handed_back(self) -> None:
        """Questions the last run could not answer before it stopped."""
        client = self.client
        assert client is not None
        for room_id, event_id in list(self._state.handed_back):
            room = client.rooms.get(room_id)
            event, why = await self._fetch_event(room_id, event_id) if room else (None, "the room is gone")
            if event is None:
                logger.warning("cannot fetch the handed-back question %s: %s", event_id, why)
            self._state.drop_handed_back(room_id, event_id)
            self._keeper.changed()
            if room is not None and (isinstance(event, RoomMessageText) or _is_member_text(event)):
                self._receive(room, event, handed_back=True)

    # -- help rooms -----------------------------------------------------------------

    async def _poster_of(self, room: MatrixRoom, content: MessageContent, replied: RepliedMessage | None) -> str | None:
        """Who opened the help post a help room's message belongs to: its thread's root, or
        the post of the message it replies to; None for a message of its own (a command),
        "" when the post's author cannot be told (then only moderators get answers there)."""
        root = content.thread_root
        if root is None and replied is not None:
            answer = await self._our_answer(room, replied.message_id) if replied.from_bot else None
            if answer is None or answer.post_id is None:
                return replied.author_id or ""
            root = answer.post_id
        if root is None:
            return None
        return self._posters.get(root) or (await self._lookup(room, root)).sender or ""

    def _open_post(self, room: MatrixRoom, incoming: _Incoming, identity: BotIdentity) -> None:
        """A new help post: answered once its grace period is over (`_answer_post`)."""
        why = why_a_help_post_cannot_wait([pending.author for pending in self._pending_posts.values()], incoming.sender)
        if why is not None:
            logger.warning("%s gets no answer: %s", incoming.event_id, why)
            return
        text = question_text(incoming.content, identity)[:REMEMBERED_TEXT_CHARS]
        self._posters[incoming.event_id] = incoming.sender
        pending = _PendingPost(room, incoming.event_id, incoming.sender, text)
        self._pending_posts[incoming.event_id] = pending
        pending.task = asyncio.create_task(self._answer_post(pending), name="faqbot-matrix-help-post")

    async def _answer_post(self, pending: _PendingPost) -> None:
        """After the grace period, the post's one answer (or silence), in a thread rooted at it."""
        room = pending.room
        try:
            await asyncio.sleep(self.config.help_grace_seconds)
            post = HelpPost(
                conversation_id=room.room_id,
                post_id=pending.post_id,
                author_id=pending.author,
                text=pending.text,
                conversation_names=_room_names(room),
                moderator_replied=pending.moderator_replied,
            )
            try:
                handled = await self.bot.ahelp_post(post)
            except Overloaded:
                return
            if handled.reply is None:
                await self.bot.in_worker(self.bot.help_post_sent, post, handled, None)
                return
            self._queue_answer(
                room.room_id,
                pending.post_id,
                reply_content(handled.reply, pending.post_id, thread=pending.post_id),
                lambda reply_id: self._post_answered(post, handled, reply_id),
            )
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("could not answer the help post %s in %s", pending.post_id, room.room_id)
        finally:
            if self._pending_posts.get(pending.post_id) is pending:
                del self._pending_posts[pending.post_id]

    def _post_answered(self, post: HelpPost, handled: Handled, reply_id: str | None) -> None:
        # On the core's thread, where `help_outcome` reads what this writes (who opened which post).
        self._spawn(self._in_worker(self.bot.help_post_sent, post, handled, reply_id))
        if reply_id is not None:
            self._askers[reply_id] = post.author_id
            self._state.sent_answer(reply_id, SentAnswer(AnswerKind.HELP_POST, post.post_id, post.conversation_id))
            self._keeper.changed()

    def _hand_off(self, room: MatrixRoom, post_id: str) -> None:
        """Tell the helpers' room that a poster would like a human: a link to the post, pinging
        nobody (once per post: the core decides, from its store across restarts)."""
        target = self._human_room_id
        if target is None:
            why = (
                "matrix.human_room is not set" if not self.config.human_room else f"{self.config.human_room} is unknown"
            )
            logger.warning("a poster in %s would like a human, but %s", room.room_id, why)
            return
        client = self.client
        assert client is not None
        if target not in client.rooms:
            logger.error(
                "cannot send the hand-off notice about %s to the helpers' room %s: the bot has not joined it "
                "(invite the bot there)",
                post_id,
                target,
            )
            return
        link = permalink(room.room_id, post_id, self.config.server_name)
        reply = Reply(ReplyKind.HANDOFF, link=link, command_prefix=self.bot.responder.settings.command_prefix)
        give_up_at = time.monotonic() + self.config.send_give_up_after
        txn_id = transaction_id(post_id, "handoff")
        notice = _Outgoing(
            target, notice_content(reply), txn_id, post_id, give_up_at, None, False, "the hand-off notice about"
        )
        self._outbox.put(notice)

    async def _resolve_configured_rooms(self) -> None:
        """Help rooms and the helpers' room may be given by alias (any of a room's aliases):
        resolved to room ids once, at start-up."""
        client = self.client
        assert client is not None
        help_rooms = set(self._help_room_ids)
        for name in self.config.help_rooms:
            room_id = await self._resolve(name, "matrix.help_rooms")
            help_rooms |= {room_id} if room_id else set()
        self._help_room_ids = frozenset(help_rooms)
        human = self.config.human_room
        self._human_room_id = await self._resolve(human, "matrix.human_room") if human else None
        if help_rooms:
            grace = self.config.help_grace_seconds
            helpers = self._human_room_id or "no helpers' room (matrix.human_room)"
            logger.info(
                "help rooms: %s; new posts wait %g s; hand-offs to %s", ", ".join(sorted(help_rooms)), grace, helpers
            )
        joining = set(client.rooms) | set(client.invited_rooms)  # an invite in the first sync is being accepted
        for room_id in sorted(help_rooms - joining):
            logger.warning("the help room %s has not been joined: invite the bot there", room_id)
        if self._human_room_id is not None and self._human_room_id not in joining:
            logger.warning("the helpers' room %s has not been joined: invite the bot, or hand-offs fail", human)

    async def _resolve(self, name: str, setting: str) -> str | None:
        """A room id, or an alias resolved to one (None, and a warning, when it cannot be)."""
        if name.startswith("!"):
            return name
        if not name.startswith("#"):
            logger.warning("%s: %r is neither a room id (!...) nor an alias (#...)", setting, name)
            return None
        client = self.client
        assert client is not None
        response = await self._request(
            lambda: client.room_resolve_alias(name), RoomResolveAliasResponse, f"{setting}: resolving {name}", tries=3
        )
        return response.room_id if response is not None else None

    # -- reactions and redactions --------------------------------------------------------

    async def _our_answer(self, room: MatrixRoom, event_id: str) -> SentAnswer | None:
        """One of the bot's latest answers, if `event_id` is one in `room`. A state file from before
        answers kept their room says nothing of where they are: asked once of the homeserver (an
        event is fetched from the room it is in only), then remembered."""
        answer = self._state.answer(event_id, room.room_id)
        if answer is None or answer.room_id is not None:
            return answer
        if (await self._lookup(room, event_id)).sender != self.user_id:
            return None
        placed = dataclasses.replace(answer, room_id=room.room_id)
        self._state.sent_answer(event_id, placed)
        self._keeper.changed()
        return placed

    async def _on_reaction(self, room: MatrixRoom, event: ReactionEvent) -> None:
        """👍 / 👎 on one of the bot's answers rate it; 🗑️ on a passive one removes it (by its
        asker or a moderator); ✅ / 🙋 on a help post's answer: solved, or a human please."""
        try:
            if event.sender == self.user_id or event.server_timestamp < self.started_at_ms:
                return
            if event.event_id in self._handled:
                return
            self._handled[event.event_id] = None
            reaction = Reaction.read(event.source.get("content"))
            if reaction is None or reaction.feedback is None:
                return
            if self._state.answer(reaction.target, room.room_id) is not None:  # confirmed off the sync loop
                self._spawn(self._react(room, event.event_id, event.sender, reaction))
        except Exception:
            logger.exception("could not handle the reaction %s in %s", event.event_id, room.room_id)

    async def _react(self, room: MatrixRoom, reaction_id: str, sender: str, reaction: Reaction) -> None:
        feedback, reply_id = reaction.feedback, reaction.target
        source = rating_source(room.room_id, reaction_id, sender)  # its redaction takes back its rating, restarts too
        try:
            answer = await self._our_answer(room, reply_id)
            if answer is None:
                return
            if feedback in (Feedback.HELPFUL, Feedback.UNHELPFUL):
                self.bot.rated(reply_id, sender, feedback is Feedback.HELPFUL, given_by=source)
            elif feedback is Feedback.REMOVE and answer.kind is AnswerKind.PASSIVE:
                if self._is_moderator(room, sender) or await self._asked(reply_id, sender):
                    await self._remove(room.room_id, reply_id)
            elif feedback in (Feedback.SOLVED, Feedback.HUMAN) and answer.kind is AnswerKind.HELP_POST:
                moderator = self._is_moderator(room, sender)
                solved = feedback is Feedback.SOLVED
                # Kept as a 👍 / 👎 given by this reaction, so a redaction takes it back as it does theirs.
                outcome = await self.bot.in_worker(self.bot.help_outcome, reply_id, sender, solved, moderator, source)
                if outcome.notify and answer.post_id is not None:
                    self._hand_off(room, answer.post_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("could not act on the reaction %s in %s", reaction_id, room.room_id)

    async def _asked(self, reply_id: str, user_id: str) -> bool:
        """Whether `user_id` asked what `reply_id` answers: this run knows; after a restart, the store."""
        asker = self._askers.get(reply_id)
        if asker is not None:
            return asker == user_id
        return await self.bot.in_worker(self.bot.is_asker, reply_id, user_id)

    async def _remove(self, room_id: str, reply_id: str) -> None:
        """Redact one of the bot's answers, and record its removal."""
        client = self.client
        assert client is not None
        txn_id = transaction_id(reply_id, "removal")
        response = await self._request(
            lambda: client.room_redact(room_id, reply_id, reason="removed on request", tx_id=txn_id),
            RoomRedactResponse,
            f"removing {reply_id} in {room_id}",
            tries=REDACT_TRIES,
        )
        if response is not None:
            self._removed(reply_id)

    def _removed(self, reply_id: str) -> None:
        self._state.forget_answer(reply_id)
        self._keeper.changed()
        self._askers.pop(reply_id, None)
        self.bot.removed(reply_id)

    async def _on_redaction(self, room: MatrixRoom, event: RedactionEvent) -> None:
        """A 👍 / 👎 taken back; a help post withdrawn in its grace period; a message gone from
        what the bot remembers; one of the bot's answers redacted by a moderator: a removal."""
        try:
            if event.sender == self.user_id or event.server_timestamp < self.started_at_ms:
                return
            redacted, sender = event.redacts, event.sender
            # A member of another homeserver can send a redaction of any event, which Synapse passes
            # on and applies only if its sender may redact that event. So it counts only as far as its
            # sender could: their own reaction's rating, their own help post, a moderator's removal.
            self._seen.pop(redacted, None)  # deleted words are not taught (forgetting is always safe)
            self.bot.reaction_redacted(rating_source(room.room_id, redacted, sender))  # the store knows
            pending = self._pending_posts.get(redacted)
            if (
                pending is not None
                and pending.room.room_id == room.room_id
                and (sender == pending.author or self._is_moderator(room, sender))
            ):
                del self._pending_posts[redacted]
                if pending.task is not None:
                    pending.task.cancel()
            if self._is_moderator(room, sender) and self._state.answer(redacted, room.room_id) is not None:
                self._spawn(self._redacted_answer(room, redacted))  # confirmed off the sync loop
        except Exception:
            logger.exception("could not handle the redaction %s in %s", event.event_id, room.room_id)

    async def _redacted_answer(self, room: MatrixRoom, reply_id: str) -> None:
        """A moderator redacted one of the bot's answers by hand: a removal."""
        try:
            if await self._our_answer(room, reply_id) is not None:
                self._removed(reply_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("could not record the removal of %s in %s", reply_id, room.room_id)

    async def _on_invite(self, room: MatrixRoom, event: InviteMemberEvent) -> None:
        """Join when an allowed user or server invites; otherwise decline the invite."""
        if event.state_key != self.user_id or event.membership != "invite" or room.room_id in self._handled_invites:
            return
        self._handled_invites[room.room_id] = None
        if not self.config.inviter_allowed(event.sender):
            logger.info("declining invite to %s from %s (not in allowed inviters)", room.room_id, event.sender)
            self._spawn(self._leave(room.room_id))
            return
        if isinstance(event.content, dict) and event.content.get("is_direct") is True:
            self._state.add_direct(room.room_id)
            self._keeper.changed()
        self._spawn(self._join(room.room_id, event.sender))

    async def _join(self, room_id: str, inviter: str, tries: int = 5) -> None:
        client = self.client
        assert client is not None
        if await self._request(lambda: client.join(room_id), JoinResponse, f"joining {room_id}", tries) is not None:
            logger.info("joined %s, invited by %s", room_id, inviter)
            return
        self._handled_invites.pop(room_id, None)

    async def _request(self, make: Callable[[], Awaitable[Any]], success: type[R], doing: str, tries: int) -> R | None:
        """A request tried up to `tries` times (waiting out rate limits, backing off from
        anything else) unless the homeserver refuses it for good; None when it did not succeed."""
        backoff = Backoff(initial=1.0, maximum=self.config.max_retry_wait)
        for attempt in range(1, tries + 1):
            try:
                response = await self._call(make())
            except asyncio.CancelledError:
                raise
            except Exception as error:
                failure = classify_exception(self.config.homeserver, error, self.config.request_timeout)
            else:
                if isinstance(response, success):
                    return response
                failure = self._failure_of(response) if isinstance(response, ErrorResponse) else None
                if failure is None:
                    failure = Failure(Trouble.DOUBTFUL, f"an unexpected answer ({type(response).__name__})")
            if failure.trouble in (Trouble.PERMANENT, Trouble.SESSION_REFUSED) or attempt == tries:
                logger.warning("%s failed: %s", doing, failure.description)
                return None
            wait = failure.retry_after if failure.trouble is Trouble.RATE_LIMITED else backoff.next_delay()
            logger.warning("%s failed (%s); retrying in %.0f s", doing, failure.description, wait)
            await asyncio.sleep(wait)
        return None

    async def _leave(self, room_id: str) -> None:
        assert self.client is not None
        with contextlib.suppress(aiohttp.ClientError, TimeoutError, OSError):
            await self._call(self.client.room_leave(room_id))

    async def _on_undecryptable(self, room: MatrixRoom, event: MegolmEvent) -> None:
        """Logged only: the sender's client did not share its key with this device."""
        if event.server_timestamp >= self.started_at_ms:
            logger.warning("cannot decrypt %s in %s (session %s)", event.event_id, room.room_id, event.session_id)

    async def _in_worker(self, work: Callable[..., object], *args: object) -> None:
        try:
            await self.bot.in_worker(work, *args)
        except Exception:
            logger.exception("could not record %s", getattr(work, "__name__", work))

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- replies out ------------------------------------------------------------------

    async def _send_once(self, item: _Outgoing) -> str | Failure:
        """One try at sending an answer: its event id when it went out, else what went wrong."""
        client = self.client
        assert client is not None
        try:
            room = client.rooms.get(item.room_id)
            if room is not None and room.encrypted:
                await self._maintain_keys()
            response = await self._call(
                client.room_send(
                    item.room_id, "m.room.message", item.content, tx_id=item.txn_id, ignore_unverified_devices=True
                )
            )
        except asyncio.CancelledError:
            raise
        except Exception as error:
            return classify_exception(self.config.homeserver, error, self.config.request_timeout)
        return response.event_id if isinstance(response, RoomSendResponse) else self._failure_of(response)


def _is_member_text(event: object) -> bool:
    """A text message matrix-nio could not validate, with the ids the adapter needs intact."""
    return (
        isinstance(event, BadEvent)
        and isinstance(event.event_id, str)
        and isinstance(event.sender, str)
        and isinstance(event.server_timestamp, int)
        and isinstance(event.source, dict)
        and member_text(event.type, MessageContent.read(event.source.get("content")))
    )


def _seen(
    room_id: str, event_id: str, event_type: object, sender: str | None, content: MessageContent, bot: BotIdentity
) -> _Seen:
    replied = replied_message(event_id, event_type, sender, content, bot)
    return _Seen(room_id, sender, replied.text, content.thread_root)


def _seen_size(event_id: str, seen: _Seen) -> int:
    """What one remembered message costs: its text and ids (the object itself is small)."""
    return 200 + len(event_id) + len(seen.sender or "") + 4 * len(seen.text or "") + len(seen.thread_root or "")


def _room_names(room: MatrixRoom) -> tuple[str, ...]:
    """The room's alias and name, for entries whose `channels:` name rooms that way."""
    return tuple(name for name in (room.canonical_alias, room.name) if name)


async def _cancel(task: asyncio.Task[Any] | None) -> None:
    if task is None or task.done():
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


# -- one queue per room ------------------------------------------------------------------


class _RoomQueues(Generic[Q]):
    """Items handled in order per room, by one task per room: a room waits only for itself.

    Questions are decided this way (a room's messages in order; while one waits for the
    core, other rooms go on), and answers sent (an answer the homeserver keeps refusing in
    one room never delays another). At most `limit` items wait in a room; more are dropped."""

    def __init__(self, handle: Callable[[Q], Awaitable[None]], limit: int, what: str) -> None:
        self._handle = handle
        self._limit = limit
        self._what = what
        self._queues: dict[str, deque[Q]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._closing = False

    def put(self, room_id: str, item: Q) -> None:
        queue = self._queues.setdefault(room_id, deque())
        if len(queue) >= self._limit:
            logger.warning("%d %s already wait in %s: dropping another", len(queue), self._what, room_id)
            return
        queue.append(item)
        if room_id not in self._workers and not self._closing:
            self._workers[room_id] = asyncio.create_task(self._work(room_id), name=f"faqbot-matrix-{self._what}")

    async def _work(self, room_id: str) -> None:
        queue = self._queues[room_id]
        try:
            while queue:
                try:
                    await self._handle(queue[0])
                except asyncio.CancelledError:
                    raise
                except Exception:  # a bug: the room's next items still get their turn
                    logger.exception("could not handle one of the %s in %s", self._what, room_id)
                queue.popleft()
        finally:
            if not queue:
                self._queues.pop(room_id, None)
            self._workers.pop(room_id, None)

    async def close(self, drain_seconds: float) -> list[Q]:
        """Give the workers `drain_seconds` to finish, then stop them; what was not handled."""
        self._closing = True
        workers = list(self._workers.values())
        if workers and drain_seconds > 0:
            await asyncio.wait(workers, timeout=drain_seconds)
        for worker in list(self._workers.values()):
            await _cancel(worker)
        left = [item for queue in self._queues.values() for item in queue]
        self._queues.clear()
        return left


class _Outbox:
    """Answers waiting to go out, one queue and one sending task per room (`_RoomQueues`).

    A rate limit is for the bot's whole account, so it pauses all rooms. Retried sends
    reuse their transaction id, so an answer lands at most once."""

    def __init__(self, bot: MatrixBot) -> None:
        self._bot = bot
        self._rooms: _RoomQueues[_Outgoing] = _RoomQueues(self._deliver, PENDING_PER_ROOM, "answers")
        self._paused_until = 0.0

    def put(self, item: _Outgoing) -> None:
        self._rooms.put(item.room_id, item)

    async def close(self, drain_seconds: float) -> list[_Outgoing]:
        """Give the senders `drain_seconds` to finish, then stop them; what was not sent."""
        return await self._rooms.close(drain_seconds)

    async def _deliver(self, item: _Outgoing) -> None:
        """Send until it is sent, or it can never be, or it is too late; log a drop once.
        `item.sent` hears the reply's event id, or None for a drop."""
        reply_id = await self._send(item)
        if item.sent is not None:
            try:
                item.sent(reply_id)
            except Exception:
                logger.exception("could not record %s", item.describe())

    async def _send(self, item: _Outgoing) -> str | None:
        config = self._bot.config
        backoff = Backoff(initial=1.0, maximum=config.max_retry_wait)
        doubtful = 0
        complained = False
        while True:
            while (pause := self._paused_until - time.monotonic()) > 0:
                await asyncio.sleep(pause)
            failure = await self._bot._send_once(item)
            if isinstance(failure, str):
                if complained:
                    logger.info("sent %s after all", item.describe())
                return failure
            where = item.describe()
            if failure.trouble in (Trouble.PERMANENT, Trouble.SESSION_REFUSED):
                logger.error("dropped %s: the homeserver refuses it (%s)", where, failure.description)
                return None
            if failure.trouble is Trouble.DOUBTFUL:
                doubtful += 1
                if doubtful >= config.doubtful_tries:
                    logger.error("dropped %s after %d tries: %s", where, doubtful, failure.description)
                    return None
            left = item.give_up_at - time.monotonic()
            if left <= 0:
                given = config.send_give_up_after
                logger.error("dropped %s: still failing after %.0f s (%s)", where, given, failure.description)
                return None
            if failure.trouble is Trouble.RATE_LIMITED:
                if self._paused_until <= time.monotonic():
                    logger.warning("rate-limited by the homeserver: answers wait %.1f s", failure.retry_after)
                self._paused_until = max(self._paused_until, time.monotonic() + failure.retry_after)
                continue
            wait = min(backoff.next_delay(), left)
            if not complained:
                logger.warning("sending %s failed (%s); retrying in %.0f s", where, failure.description, wait)
                complained = True
            await asyncio.sleep(wait)


# -- saving the state ---------------------------------------------------------------------


class _StateKeeper:
    """Saves the adapter state when it changed, apart from syncing and sending.

    A save that fails (a full disk) is reported in the log and the health file and tried
    again; the bot answers from memory meanwhile, and a sent answer stays sent."""

    MIN_INTERVAL = 1.0  # at most one write a second, however busy the rooms
    RETRY_INTERVAL = 5.0

    def __init__(
        self, folder: StateFolder, state: AdapterState, health: Health, after_save: Callable[[], None]
    ) -> None:
        self._folder = folder
        self._state = state
        self._health = health
        self._after_save = after_save
        self._dirty = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def changed(self) -> None:
        self._dirty = True
        self._wake.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="faqbot-matrix-state")

    async def stop(self) -> None:
        await _cancel(self._task)
        self._task = None
        if self._dirty:
            self.save()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._dirty and not self.save():
                await asyncio.sleep(self.RETRY_INTERVAL)
                self._wake.set()
            else:
                await asyncio.sleep(self.MIN_INTERVAL)

    def save(self) -> bool:
        """Write the state now; False (and a health problem) when it could not be written."""
        self._dirty = False
        try:
            self._folder.write_json(STATE_FILE, self._state.to_json())
        except OSError as error:
            self._dirty = True
            self._health.problem(
                "state",
                f"cannot save the Matrix state in {self._folder.path}: {error.strerror or error}; "
                "answering from memory and trying again",
            )
            return False
        self._health.clear("state")
        self._after_save()
        return True


# -- entry point -------------------------------------------------------------------------


def main(bot: Bot, settings: Settings, state: StateFolder, health: Health, heartbeat: Heartbeat) -> int:
    """`faqbot run matrix`: until SIGINT/SIGTERM. 0 on a clean stop, 1 on a fatal error."""
    config = MatrixConfig.from_settings(settings)
    return run_adapter(lambda: MatrixBot(config, bot, health, state), health, heartbeat, settings.heartbeat_seconds)
