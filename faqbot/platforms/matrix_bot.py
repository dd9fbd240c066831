"""Matrix adapter: the I/O around `matrix_protocol`. Log in, sync, send, keep state.

What to say is decided by `faqbot.responder`, worded by `faqbot.render`, and turned
into Matrix content by `faqbot.platforms.matrix_protocol`. This module talks to the
homeserver and keeps going through what goes wrong there:

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
- a stop sends what it can within a few seconds and hands the rest to the next run.

`faqbot run matrix` calls `main`; tests drive `MatrixBot` directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from nio import (
    AsyncClient,
    AsyncClientConfig,
    BadEvent,
    ErrorResponse,
    InviteMemberEvent,
    JoinError,
    LoginResponse,
    MatrixRoom,
    MegolmEvent,
    RoomGetEventResponse,
    RoomMessageText,
    RoomSendResponse,
    SyncError,
    WhoamiResponse,
)

from faqbot.backoff import Backoff, Deadline, RetryAfter, retry_until
from faqbot.bot import Bot
from faqbot.bounded import BoundedDict
from faqbot.health import Health, Heartbeat
from faqbot.platforms.lifecycle import FatalPlatformError, run_adapter
from faqbot.platforms.matrix_protocol import (
    BotIdentity,
    Failure,
    MessageContent,
    Trouble,
    classify_error,
    classify_exception,
    describe_unreachable,
    ignored,
    incoming_message,
    inviter_allowed,
    member_text,
    reply_content,
    transaction_id,
)
from faqbot.platforms.matrix_state import SESSION_FILE, STATE_FILE, AdapterState, LegacySession, Session
from faqbot.platforms.matrix_store import (
    EncryptionStore,
    KeyStore,
    NewDeviceNeeded,
    StoreUnavailable,
    close_store,
)
from faqbot.responder import Responder
from faqbot.settings import Settings
from faqbot.state_folder import StateFolder

logger = logging.getLogger("faqbot.matrix")

T = TypeVar("T")

HANDLED_EVENTS_LIMIT = 10_000  # events decided this run, so a batch taken again is not answered twice
PENDING_PER_ROOM = 50  # answers waiting in one room; the responder's flood control keeps far below
INVITES_LIMIT = 1000


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
        )

    def inviter_allowed(self, inviter: str) -> bool:
        return inviter_allowed(inviter, self.allowed_inviters)


@dataclass(frozen=True)
class _Outgoing:
    room_id: str
    content: dict[str, Any]
    txn_id: str
    answers: str  # the question's event id
    give_up_at: float  # time.monotonic()


# -- the bot ------------------------------------------------------------------------------


class MatrixBot:
    """One Matrix account answering questions with a `Responder`.

    `start()` logs in, syncs once and returns when the bot is listening; `stop()` ends
    it; `run(stop)` does both around a stop signal, as `faqbot run matrix` does. A new
    `MatrixBot` on the same state folder resumes the same device, keys and sync position.
    """

    def __init__(
        self,
        config: MatrixConfig,
        responder: Responder,
        health: Health | None = None,
        folder: StateFolder | None = None,
    ) -> None:
        self.config = config
        self.responder = responder
        self.health = health or Health("matrix")
        self.folder = folder or StateFolder.open(config.state_dir)
        self.client: AsyncClient | None = None
        self.started_at_ms = 0
        self._state = self.folder.read_json(STATE_FILE, AdapterState.from_json) or AdapterState()
        self._store = EncryptionStore(self.folder, config.user_id, self.health)
        self._keeper = _StateKeeper(self.folder, self._state, self.health, after_save=self._catch_up_store)
        self._outbox = _Outbox(self)
        self._names: frozenset[str] = frozenset({config.user_id[1:].split(":", 1)[0]})
        self._handled: BoundedDict[str, None] = BoundedDict(HANDLED_EVENTS_LIMIT)
        self._handled_invites: BoundedDict[str, None] = BoundedDict(INVITES_LIMIT)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._sync_task: asyncio.Task[None] | None = None
        self._keys_lock = asyncio.Lock()
        self._keys_retry_at = 0.0

    @property
    def user_id(self) -> str:
        return self.config.user_id

    # -- lifecycle --------------------------------------------------------------

    async def start(self) -> None:
        """Log in, do the first sync, then keep syncing in the background."""
        self.started_at_ms = int(time.time() * 1000)
        self.client = await self._connect()
        try:
            self.client.add_event_callback(self._on_message, RoomMessageText)
            self.client.add_event_callback(self._on_malformed, BadEvent)
            self.client.add_event_callback(self._on_invite, InviteMemberEvent)
            self.client.add_event_callback(self._on_undecryptable, MegolmEvent)
            await self._learn_display_name()
            await self._first_sync()
            self._keeper.start()
            await self._maintain_keys()
            self._sync_task = asyncio.create_task(self._sync_loop(), name="faqbot-matrix-sync")
            self._spawn(self._answer_handed_back())
        except BaseException:
            await self._close_client()
            raise
        logger.info("listening as %s (device %s)", self.user_id, self.client.device_id)

    async def stop(self) -> None:
        """Stop syncing, give answers still going out a few seconds, hand the rest to the
        next run, save the state and close the connection."""
        await _cancel(self._sync_task)
        self._sync_task = None
        unsent = await self._outbox.close(self.config.drain_seconds)
        for item in unsent:
            self._state.hand_back(item.room_id, item.answers)
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
        return describe_unreachable(self.config.homeserver, error, self.config.request_timeout)

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

    async def _on_message(self, room: MatrixRoom, event: RoomMessageText) -> None:
        """Never raises: an exception would abort matrix-nio's handling of the rest of the sync."""
        try:
            self._consider(room, event)
        except Exception:
            logger.exception("could not handle %s in %s", event.event_id, room.room_id)

    async def _on_malformed(self, room: MatrixRoom, event: BadEvent) -> None:
        """matrix-nio refuses a whole message for one field of an unexpected type (a
        `formatted_body` that is a number); the adapter reads only what it needs and checks
        each field itself, so such a message is still a message."""
        try:
            if _is_member_text(event):
                self._consider(room, event)
        except Exception:
            logger.exception("could not handle %s in %s", event.event_id, room.room_id)

    def _consider(self, room: MatrixRoom, event: RoomMessageText | BadEvent, handed_back: bool = False) -> None:
        """Decide whether a message is a question for the bot, and queue the answer."""
        if event.event_id in self._handled or self._state.answered(event.event_id):
            return
        if event.server_timestamp < self.started_at_ms and not handed_back:
            return  # history: said while the bot was away
        self._handled[event.event_id] = None
        content = MessageContent.read(event.source.get("content"))
        identity = self._identity_in(room)
        if ignored(content, event.sender, identity):
            return
        message = incoming_message(
            content,
            room_id=room.room_id,
            sender=event.sender,
            bot=identity,
            direct=self._state.is_direct(room.room_id),
            members=((user_id, user.display_name) for user_id, user in room.users.items()),
        )
        reply = self.responder.respond(message)
        if reply is None:
            return
        self._state.mark_answered(event.event_id)
        self._keeper.changed()
        self._outbox.put(
            _Outgoing(
                room_id=room.room_id,
                content=reply_content(reply, event.event_id, event.sender, content.thread_root),
                txn_id=transaction_id(event.event_id),
                answers=event.event_id,
                give_up_at=time.monotonic() + self.config.send_give_up_after,
            )
        )

    async def _answer_handed_back(self) -> None:
        """Questions the last run could not answer before it stopped."""
        client = self.client
        assert client is not None
        for room_id, event_id in list(self._state.handed_back):
            room = client.rooms.get(room_id)
            try:
                response = await self._call(client.room_get_event(room_id, event_id)) if room else None
                event = response.event if isinstance(response, RoomGetEventResponse) else None
                if isinstance(event, MegolmEvent):
                    event = client.decrypt_event(event)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                logger.warning("cannot fetch the handed-back question %s: %s", event_id, error)
                event = None
            self._state.drop_handed_back(room_id, event_id)
            self._keeper.changed()
            if room is not None and (isinstance(event, RoomMessageText) or _is_member_text(event)):
                self._consider(room, event, handed_back=True)

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
        backoff = Backoff(initial=1.0, maximum=self.config.max_retry_wait)
        for _ in range(tries):
            try:
                response = await self._call(client.join(room_id))
            except asyncio.CancelledError:
                raise
            except Exception as error:
                failure = classify_exception(self.config.homeserver, error, self.config.request_timeout)
            else:
                if not isinstance(response, JoinError):
                    logger.info("joined %s, invited by %s", room_id, inviter)
                    return
                failure = self._failure_of(response)
            if failure.trouble in (Trouble.PERMANENT, Trouble.SESSION_REFUSED):
                logger.warning("cannot join %s: %s", room_id, failure.description)
                break
            wait = failure.retry_after if failure.trouble is Trouble.RATE_LIMITED else backoff.next_delay()
            logger.warning("joining %s failed (%s); retrying in %.0f s", room_id, failure.description, wait)
            await asyncio.sleep(wait)
        self._handled_invites.pop(room_id, None)

    async def _leave(self, room_id: str) -> None:
        assert self.client is not None
        with contextlib.suppress(aiohttp.ClientError, TimeoutError, OSError):
            await self._call(self.client.room_leave(room_id))

    async def _on_undecryptable(self, room: MatrixRoom, event: MegolmEvent) -> None:
        """Logged only: the sender's client did not share its key with this device."""
        if event.server_timestamp >= self.started_at_ms:
            logger.warning("cannot decrypt %s in %s (session %s)", event.event_id, room.room_id, event.session_id)

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- replies out ------------------------------------------------------------------

    async def _send_once(self, item: _Outgoing) -> Failure | None:
        """One try at sending an answer: None when it went out, else what went wrong."""
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
        return None if isinstance(response, RoomSendResponse) else self._failure_of(response)


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


async def _cancel(task: asyncio.Task[Any] | None) -> None:
    if task is None or task.done():
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


# -- sending: one queue per room ---------------------------------------------------------


class _Outbox:
    """Answers waiting to go out, one queue and one sending task per room.

    Rooms progress independently: an answer the homeserver keeps refusing in one room
    never delays another. A rate limit is for the bot's whole account, so it pauses all.
    Retried sends reuse their transaction id, so an answer lands at most once."""

    def __init__(self, bot: MatrixBot) -> None:
        self._bot = bot
        self._queues: dict[str, deque[_Outgoing]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._paused_until = 0.0
        self._closing = False

    def put(self, item: _Outgoing) -> None:
        queue = self._queues.setdefault(item.room_id, deque())
        if len(queue) >= PENDING_PER_ROOM:
            logger.warning("%d answers already wait in %s: not answering %s", len(queue), item.room_id, item.answers)
            return
        queue.append(item)
        if item.room_id not in self._workers and not self._closing:
            self._workers[item.room_id] = asyncio.create_task(self._work(item.room_id), name="faqbot-matrix-send")

    async def _work(self, room_id: str) -> None:
        queue = self._queues[room_id]
        try:
            while queue:
                await self._deliver(queue[0])
                queue.popleft()
        finally:
            if not queue:
                self._queues.pop(room_id, None)
            self._workers.pop(room_id, None)

    async def _deliver(self, item: _Outgoing) -> None:
        """Send until it is sent, or it can never be, or it is too late; log a drop once."""
        config = self._bot.config
        backoff = Backoff(initial=1.0, maximum=config.max_retry_wait)
        doubtful = 0
        complained = False
        while True:
            while (pause := self._paused_until - time.monotonic()) > 0:
                await asyncio.sleep(pause)
            failure = await self._bot._send_once(item)
            if failure is None:
                if complained:
                    logger.info("answered %s in %s after all", item.answers, item.room_id)
                return
            where = f"the answer to {item.answers} in {item.room_id}"
            if failure.trouble in (Trouble.PERMANENT, Trouble.SESSION_REFUSED):
                logger.error("dropped %s: the homeserver refuses it (%s)", where, failure.description)
                return
            if failure.trouble is Trouble.DOUBTFUL:
                doubtful += 1
                if doubtful >= config.doubtful_tries:
                    logger.error("dropped %s after %d tries: %s", where, doubtful, failure.description)
                    return
            left = item.give_up_at - time.monotonic()
            if left <= 0:
                given = config.send_give_up_after
                logger.error("dropped %s: still failing after %.0f s (%s)", where, given, failure.description)
                return
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

    async def close(self, drain_seconds: float) -> list[_Outgoing]:
        """Give the senders `drain_seconds` to finish, then stop them; what was not sent."""
        self._closing = True
        workers = list(self._workers.values())
        if workers:
            await asyncio.wait(workers, timeout=drain_seconds)
        for worker in list(self._workers.values()):
            await _cancel(worker)
        unsent = [item for queue in self._queues.values() for item in queue]
        self._queues.clear()
        return unsent


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
    responder = bot.responder
    return run_adapter(
        lambda: MatrixBot(config, responder, health, state), health, heartbeat, settings.heartbeat_seconds
    )
