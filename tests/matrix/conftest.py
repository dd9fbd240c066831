"""Fixtures for the Matrix integration tests: a real Synapse, real bot, real members.

Nothing of faqbot is mocked. Members are plain matrix-nio clients that create rooms,
invite the bot, ask questions and collect what comes back.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from nio import (
    AsyncClient,
    AsyncClientConfig,
    JoinedMembersResponse,
    JoinResponse,
    MegolmEvent,
    RedactedEvent,
    RoomCreateResponse,
    RoomGetEventResponse,
    RoomMessage,
    RoomRedactResponse,
    RoomSendResponse,
)

from faqbot.bot import Bot
from faqbot.platforms.matrix_bot import MatrixBot, MatrixConfig
from faqbot.responder import Responder, ResponderSettings
from faqbot.settings import load_settings
from faqbot.sources.loader import load_knowledge
from faqbot.store import BackgroundRecorder
from tests.matrix.synapse_server import RegisteredUser, SynapseServer

BASE_URL = "https://docs.example.org"

KNOWLEDGE_YAML = """\
- id: reset-password
  question: How do I reset my password?
  alternates: ["I forgot my password", "password reset"]
  answer: Go to **Settings → Account** and choose *Reset password*.
  link: https://docs.example.org/account#password
- id: upload-limit
  question: What is the maximum upload size?
  alternates: ["how big can files be", "upload limit"]
  answer: Uploads can be up to 40 MB.
  link: /media/uploads
- id: report-post
  question: How do I report a post?
  alternates: ["report abuse", "flag a message"]
  answer: Use the three-dot menu on the post and pick *Report*.
  link: /moderation/reports
"""


async def wait_until(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll `predicate` until it returns something truthy; fail naming `what`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Member:
    """A community member's matrix-nio client, syncing in the background and recording messages."""

    def __init__(self, server: SynapseServer, user: RegisteredUser, store: Path) -> None:
        store.mkdir(parents=True, exist_ok=True)
        self.user = user
        self.user_id = user.user_id
        self.client = AsyncClient(
            server.url,
            user.user_id,
            device_id=user.device_id,
            store_path=str(store),
            config=AsyncClientConfig(encryption_enabled=True, store_sync_tokens=True, max_timeout_retry_wait_time=2),
        )
        self.client.restore_login(user.user_id, user.device_id, user.access_token)
        self.messages: list[tuple[str, RoomMessage | MegolmEvent]] = []
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.client.add_event_callback(self._record, (RoomMessage, MegolmEvent))
        await self.client.sync(timeout=0, full_state=True)
        self._task = asyncio.create_task(self.client.sync_forever(timeout=5000))

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.client.close()

    async def _record(self, room: Any, event: RoomMessage | MegolmEvent) -> None:
        self.messages.append((room.room_id, event))

    # -- acting -----------------------------------------------------------------

    async def create_room(self, invite: list[str], *, encrypted: bool = False, is_direct: bool = False) -> str:
        encryption = {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": "m.megolm.v1.aes-sha2"}}
        response = await self.client.room_create(
            invite=invite, is_direct=is_direct, initial_state=[encryption] if encrypted else ()
        )
        assert isinstance(response, RoomCreateResponse), response
        return response.room_id

    async def joined(self, room_id: str) -> set[str]:
        response = await self.client.joined_members(room_id)
        assert isinstance(response, JoinedMembersResponse), response
        return {member.user_id for member in response.members}

    async def wait_joined(self, room_id: str, user_id: str, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while user_id not in await self.joined(room_id):
            if time.monotonic() > deadline:
                raise AssertionError(f"{user_id} did not join {room_id} within {timeout}s")
            await asyncio.sleep(0.1)

    async def join(self, room_id: str) -> None:
        """Accept an invite to `room_id`, once it has arrived."""
        await wait_until(lambda: room_id in self.client.invited_rooms, 15, f"{self.user_id}'s invite to {room_id}")
        assert isinstance(await self.client.join(room_id), JoinResponse)
        await wait_until(lambda: room_id in self.client.rooms, 15, f"{room_id} in {self.user_id}'s sync")

    async def send(self, room_id: str, body: str, msgtype: str = "m.text", **extra: Any) -> str:
        content = {"msgtype": msgtype, "body": body, **extra}
        return await self.send_event(room_id, "m.room.message", content)

    async def send_event(self, room_id: str, event_type: str, content: dict[str, Any]) -> str:
        response = await self.client.room_send(room_id, event_type, content, ignore_unverified_devices=True)
        assert isinstance(response, RoomSendResponse), response
        return response.event_id

    async def react(self, room_id: str, event_id: str, key: str) -> str:
        """An `m.reaction` annotation on `event_id`, as Element sends one."""
        relation = {"rel_type": "m.annotation", "event_id": event_id, "key": key}
        return await self.send_event(room_id, "m.reaction", {"m.relates_to": relation})

    async def redact(self, room_id: str, event_id: str) -> None:
        assert isinstance(await self.client.room_redact(room_id, event_id), RoomRedactResponse)

    async def is_redacted(self, room_id: str, event_id: str) -> bool:
        response = await self.client.room_get_event(room_id, event_id)
        assert isinstance(response, RoomGetEventResponse), response
        return isinstance(response.event, RedactedEvent)

    async def wait_redacted(self, room_id: str, event_id: str, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while not await self.is_redacted(room_id, event_id):
            if time.monotonic() > deadline:
                raise AssertionError(f"{event_id} was not redacted within {timeout}s")
            await asyncio.sleep(0.1)

    # -- observing ------------------------------------------------------------------

    def replies_to(self, event_id: str, sender: str) -> list[RoomMessage]:
        """Messages from `sender` whose reply relation points at `event_id`."""
        found = []
        for _, event in self.messages:
            if event.sender != sender or isinstance(event, MegolmEvent):
                continue
            relates = event.source.get("content", {}).get("m.relates_to", {})
            if relates.get("m.in_reply_to", {}).get("event_id") == event_id:
                found.append(event)
        return found

    async def reply_to(self, event_id: str, sender: str, timeout: float = 20) -> RoomMessage:
        """The one reply `sender` gives to `event_id`."""
        replies = await wait_until(lambda: self.replies_to(event_id, sender), timeout, f"a reply to {event_id}")
        return replies[0]

    def messages_in(self, room_id: str, sender: str) -> list[RoomMessage]:
        return [e for r, e in self.messages if r == room_id and e.sender == sender and isinstance(e, RoomMessage)]


@pytest.fixture(scope="session")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SynapseServer]:
    """The shared homeserver, with rate limits raised so the suite stays fast."""
    server = SynapseServer(tmp_path_factory.mktemp("synapse"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def knowledge_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("knowledge")
    (folder / "faq.yml").write_text(KNOWLEDGE_YAML, encoding="utf-8")
    return folder


@pytest.fixture
def make_responder(knowledge_dir: Path) -> Callable[[], Responder]:
    """A fresh Responder per bot process, as `faqbot run matrix` would build."""

    def make() -> Responder:
        knowledge = load_knowledge([knowledge_dir], base_url=BASE_URL)
        assert not knowledge.errors, knowledge.errors
        return Responder(knowledge, ResponderSettings())

    return make


@pytest.fixture
async def make_member(tmp_path: Path) -> AsyncIterator[Callable[[SynapseServer], Awaitable[Member]]]:
    members: list[Member] = []

    async def make(server: SynapseServer) -> Member:
        user = server.register_user()
        member = Member(server, user, tmp_path / "members" / user.user_id)
        await member.start()
        members.append(member)
        return member

    yield make
    for member in members:
        await member.close()


def bot_environment(server: SynapseServer, user: RegisteredUser, state_dir: Path, **extra: str) -> dict[str, str]:
    """What an operator would put in the environment; password login unless a token is given."""
    env = {
        "FAQBOT_MATRIX_HOMESERVER": server.url,
        "FAQBOT_MATRIX_USER_ID": user.user_id,
        "FAQBOT_MATRIX_PASSWORD": user.password,
        "FAQBOT_STATE_DIR": str(state_dir),
    }
    env.update(extra)
    return env


def make_bot(env: dict[str, str], responder: Responder, **timing: Any) -> MatrixBot:
    """A `MatrixBot` as `faqbot run matrix` builds it from `env`, with the core `Bot` and its
    store (SQLite in the state folder); `timing` overrides `MatrixConfig` fields (tests
    shorten timeouts rather than sleep). `stop_bot` stops it and closes the store."""
    settings = load_settings(environ=env)
    config = MatrixConfig.from_settings(settings)
    core = Bot(responder, "matrix", recorder=BackgroundRecorder(settings.store.open).start())
    return MatrixBot(dataclasses.replace(config, **timing), core)


async def stop_bot(bot: MatrixBot) -> None:
    """Stop the adapter, then the core: what it recorded is in the store when this returns."""
    await bot.stop()
    bot.bot.close()
    if bot.bot.recorder is not None:
        await asyncio.to_thread(bot.bot.recorder.close, 5.0)


@pytest.fixture
async def run_bot(make_responder: Callable[[], Responder]) -> AsyncIterator[Callable[..., Awaitable[MatrixBot]]]:
    """Start a `MatrixBot` from an environment in this test's event loop; stopped at teardown.
    Chat settings in the environment (FAQBOT_CHAT_*) shape its responder, as in `faqbot run`."""
    bots: list[MatrixBot] = []

    async def run(env: dict[str, str], responder: Responder | None = None, **timing: Any) -> MatrixBot:
        if responder is None:
            responder = make_responder()
            if any(name.startswith("FAQBOT_CHAT_") for name in env):
                responder = Responder(responder.knowledge, load_settings(environ=env).chat)
        bot = make_bot(env, responder, **timing)
        bots.append(bot)
        await bot.start()
        return bot

    yield run
    for bot in bots:
        await stop_bot(bot)


def helpful(bot: MatrixBot, entry_id: str) -> int:
    """👍 the store holds for an entry's answers (what `faqbot stats` shows)."""
    recorder = bot.bot.recorder
    assert recorder is not None and recorder.flush(5)
    return next((e.helpful for e in recorder.store.entry_counts() if e.entry_id == entry_id), 0)


RunBot = Callable[..., Awaitable[MatrixBot]]
MakeMember = Callable[[SynapseServer], Awaitable[Member]]
BotInRoom = tuple[MatrixBot, Member, str]


async def room_with_bot(member: Member, bot: MatrixBot, **kwargs: bool) -> str:
    room_id = await member.create_room([bot.user_id], **kwargs)
    await member.wait_joined(room_id, bot.user_id)
    return room_id


@pytest.fixture
async def bot_in_room(synapse: SynapseServer, run_bot: RunBot, make_member: MakeMember, tmp_path: Path) -> BotInRoom:
    """The usual start: a bot with default settings, a member, and a room the two share."""
    bot = await run_bot(bot_environment(synapse, synapse.register_user(), tmp_path / "state"))
    member = await make_member(synapse)
    return bot, member, await room_with_bot(member, bot)


async def sentinel(member: Member, bot: MatrixBot, room_id: str) -> None:
    """Ask a question the bot surely answers and wait for it: everything before is decided."""
    event_id = await member.send(room_id, "!faq how big can files be")
    await member.reply_to(event_id, bot.user_id)


@pytest.fixture(scope="session")
def default_limits_synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SynapseServer]:
    """A second homeserver with Synapse's default rate limits (10 messages burst, then 1 per 5 s).

    Its login limit (5 attempts from one address, then one per 333 s) is spent by the test
    of a rate-limited login: every other bot here logs in with an access token."""
    server = SynapseServer(tmp_path_factory.mktemp("synapse-default-limits"), raised_rate_limits=False)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def token_environment(server: SynapseServer, user: RegisteredUser, state_dir: Path, **extra: str) -> dict[str, str]:
    """A bot that logs in with its access token, as an operator who made the token by hand."""
    env = bot_environment(server, user, state_dir, FAQBOT_MATRIX_ACCESS_TOKEN=user.access_token, **extra)
    del env["FAQBOT_MATRIX_PASSWORD"]
    return env


async def ask_until_rate_limited(
    server: SynapseServer, bot: MatrixBot, make_member: MakeMember, caplog: pytest.LogCaptureFixture
) -> tuple[Member, list[str]]:
    """Two members ask twelve questions in one room, each within their own burst of Synapse's
    default limits; the bot's twelve answers are not. Returns once the bot says it is
    rate-limited, with a member who sees every answer and the questions' event ids."""
    first, second = await make_member(server), await make_member(server)
    room_id = await room_with_bot(first, bot)
    assert not hasattr(await first.client.room_invite(room_id, second.user_id), "status_code")
    await wait_until(lambda: room_id in second.client.invited_rooms, 15, "the second member's invite")
    await second.client.join(room_id)
    await first.wait_joined(room_id, second.user_id)

    caplog.set_level(logging.WARNING, logger="faqbot.matrix")
    questions = ["!faq how do I reset my password?", "!faq upload limit", "!faq how do I report a post?"] * 2
    asked = [await member.send(room_id, text) for member in (first, second) for text in questions]

    def rate_limited() -> bool:
        return any(r.name == "faqbot.matrix" and "rate-limited" in r.getMessage() for r in caplog.records)

    await wait_until(rate_limited, 30, "the bot to be rate-limited (else the test shows nothing)")
    return first, asked
