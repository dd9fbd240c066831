"""The Matrix adapter when things go wrong, against a real Synapse.

Each test reproduces a fault from the reliability and operations issues: an answer the
homeserver refuses every time, a full disk, corrupt state files, a truncated encryption
store, homeservers that refuse, never answer or speak another scheme, a rate-limited
login, a stop while answers are still waiting. Faults are made for real (a Synapse
module, a tmpfs, bytes written into files, sockets the test opens), never by mocking.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from nio import AsyncClient
from nio.store import DefaultStore

from faqbot.backoff import GaveUp
from faqbot.platforms.matrix_state import SESSION_FILE, STATE_FILE
from faqbot.platforms.matrix_store import NIO_DEFAULT_PICKLE_KEY
from faqbot.responder import Responder
from faqbot.sources.loader import load_knowledge
from tests.matrix.conftest import (
    BASE_URL,
    KNOWLEDGE_YAML,
    BotInRoom,
    MakeMember,
    RunBot,
    ask_until_rate_limited,
    bot_environment,
    make_bot,
    room_with_bot,
    sentinel,
    stop_bot,
    token_environment,
    wait_until,
)
from tests.matrix.synapse_modules import REFUSED_MARKER
from tests.matrix.synapse_server import SynapseServer, free_port

ROOT = Path(__file__).resolve().parents[2]
QUICK = {"connect_timeout": 2.0, "request_timeout": 0.5, "max_retry_wait": 0.5}


def messages(caplog: pytest.LogCaptureFixture, level: int = logging.WARNING) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= level]


# -- content of the wrong shape ----------------------------------------------------------------


async def test_content_of_the_wrong_shape_as_synapse_delivers_it_is_read_not_raised(
    synapse: SynapseServer, run_bot: RunBot, make_member: MakeMember, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Fields Synapse lets through with any type (it refuses `"user_ids": 5` from its own
    users, but not over federation), some of which matrix-nio refuses the whole message
    for: each question is still answered."""
    caplog.set_level(logging.WARNING)
    env = bot_environment(synapse, synapse.register_user(), tmp_path / "state", FAQBOT_CHAT_MEMBER_ASKS_PER_MINUTE="60")
    bot = await run_bot(env)
    member = await make_member(synapse)
    room_id = await room_with_bot(member, bot)
    wrong_shapes = [
        {"formatted_body": 5},
        {"formatted_body": ["<b>x</b>"]},
        {"m.relates_to": 5},
        {"m.relates_to": {"m.in_reply_to": 5}},
        {"m.relates_to": {"m.in_reply_to": {"event_id": 5}}},
        {"m.relates_to": {"rel_type": "m.thread", "event_id": 5}},
        {"m.mentions": {"user_ids": "@someone:localhost"}},
    ]
    for extra in wrong_shapes:
        question = await member.send(room_id, "!faq upload limit", **extra)
        answer = await member.reply_to(question, bot.user_id, timeout=10)
        assert "40 MB" in answer.source["content"]["body"], extra
    # A text where a list of user ids belongs mentions nobody, even when it spells the bot's id.
    not_a_mention = await member.send(room_id, "hello there", **{"m.mentions": {"user_ids": bot.user_id}})
    await sentinel(member, bot, room_id)
    assert member.replies_to(not_a_mention, bot.user_id) == []
    assert not [r for r in caplog.records if r.name.startswith("faqbot") and r.levelno >= logging.ERROR]


# -- sending ---------------------------------------------------------------------------------


@pytest.fixture
def refused_entry_responder(tmp_path: Path) -> Responder:
    """The test knowledge plus one entry whose answer the test homeserver fails (500) every time."""
    folder = tmp_path / "knowledge"
    folder.mkdir()
    refused = (
        "- id: refused\n"
        "  question: What does the homeserver refuse?\n"
        f"  answer: This answer carries {REFUSED_MARKER}, which the test homeserver fails.\n"
    )
    (folder / "faq.yml").write_text(KNOWLEDGE_YAML + refused, encoding="utf-8")
    knowledge = load_knowledge([folder], base_url=BASE_URL)
    assert not knowledge.errors, knowledge.errors
    return Responder(knowledge)


async def test_an_answer_the_homeserver_always_fails_is_dropped_and_holds_up_no_other_room(
    synapse: SynapseServer,
    run_bot: RunBot,
    make_member: MakeMember,
    refused_entry_responder: Responder,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="faqbot.matrix")
    bot = await run_bot(bot_environment(synapse, synapse.register_user(), tmp_path / "state"), refused_entry_responder)
    member = await make_member(synapse)
    broken_room, other_room = await room_with_bot(member, bot), await room_with_bot(member, bot)

    refused = await member.send(broken_room, "!faq what does the homeserver refuse?")
    await wait_until(lambda: any("sending the answer to" in m for m in messages(caplog)), 10, "the first failure")
    started = time.monotonic()
    elsewhere = await member.send(other_room, "!faq how do I report a post?")
    await member.reply_to(elsewhere, bot.user_id, timeout=5)
    assert time.monotonic() - started < 3, "another room's answer waited for the failing one"

    dropped = await wait_until(
        lambda: [m for m in messages(caplog, logging.ERROR) if f"dropped the answer to {refused}" in m], 15, "the drop"
    )
    assert len(dropped) == 1 and "M_UNKNOWN" in dropped[0]
    # The room the answer failed in goes on too.
    later = await member.send(broken_room, "!faq upload limit")
    await member.reply_to(later, bot.user_id, timeout=5)
    assert member.replies_to(refused, bot.user_id) == []


async def test_a_failing_state_save_never_counts_a_sent_answer_as_failed(
    bot_in_room: BotInRoom, caplog: pytest.LogCaptureFixture
) -> None:
    bot, member, room_id = bot_in_room
    caplog.set_level(logging.WARNING)
    state_file = bot.folder.file(STATE_FILE)
    state_file.unlink(missing_ok=True)
    state_file.mkdir()  # every save now fails when it renames its new file into place

    asked = [await member.send(room_id, "!faq upload limit"), await member.send(room_id, "!faq report abuse")]
    for event_id in asked:
        await member.reply_to(event_id, bot.user_id, timeout=5)
    problem = await wait_until(lambda: bot.health.problems.get("state"), 10, "the failing save in the health")
    assert "cannot save the Matrix state" in problem
    assert not [m for m in messages(caplog) if "sending the answer" in m], "a sent answer was retried"

    state_file.rmdir()
    await wait_until(lambda: "state" not in bot.health.problems, 15, "a successful save")
    assert set(asked) <= set(json.loads(state_file.read_text())["answered"])
    await asyncio.sleep(0.3)
    assert [len(member.replies_to(event_id, bot.user_id)) for event_id in asked] == [1, 1]


# -- a full disk -----------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 MB tmpfs the test can fill (root only: CI and this machine run as root)."""
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command: the full-disk test needs a tmpfs")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m,mode=0700", "tmpfs", str(mount_point)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip() or 'mount failed'}): needs root")
    try:
        yield mount_point
    finally:
        if subprocess.run(["umount", str(mount_point)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)


def fill(disk: Path) -> Path:
    """Write a file until the disk has no byte left."""
    filler = disk / "filler"
    descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 20, 4096, 1):
            with contextlib.suppress(OSError):
                while os.write(descriptor, b"\0" * size):
                    pass
    finally:
        os.close(descriptor)
    return filler


async def test_a_full_disk_is_reported_loudly_and_costs_no_question(
    small_disk: Path,  # first: unmounted after the bot on it has stopped
    synapse: SynapseServer,
    run_bot: RunBot,
    make_member: MakeMember,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    bot = await run_bot(bot_environment(synapse, synapse.register_user(), small_disk / "state"))
    member = await make_member(synapse)
    room_id = await room_with_bot(member, bot)
    await member.reply_to(await member.send(room_id, "!faq how do I reset my password?"), bot.user_id)

    filler = fill(small_disk)
    asked = [await member.send(room_id, "!faq upload limit"), await member.send(room_id, "!faq report abuse")]
    for event_id in asked:  # nothing needs the disk to answer: the bot answers from memory meanwhile
        await member.reply_to(event_id, bot.user_id, timeout=5)
    problem = await wait_until(lambda: bot.health.problems.get("state"), 10, "the full disk in the bot's health")
    assert "No space left on device" in problem
    assert any("No space left on device" in m for m in messages(caplog, logging.ERROR))

    filler.unlink()
    await wait_until(lambda: not bot.health.problems, 20, "the bot to recover once the disk has room")
    saved = json.loads((small_disk / "state" / STATE_FILE).read_text())
    assert set(asked) <= set(saved["answered"])
    await asyncio.sleep(0.3)
    assert [len(member.replies_to(event_id, bot.user_id)) for event_id in asked] == [1, 1]


async def test_an_encrypted_room_is_answered_through_a_full_disk(
    small_disk: Path,  # first: unmounted after the bot on it has stopped
    synapse: SynapseServer,
    run_bot: RunBot,
    make_member: MakeMember,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A member's first message in an encrypted room comes with its room key, which matrix-nio
    stores while it handles the sync; raised there, the disk's refusal would cost the batch."""
    caplog.set_level(logging.WARNING)
    bot_user = synapse.register_user()
    bot = await run_bot(bot_environment(synapse, bot_user, small_disk / "state"))
    member = await make_member(synapse)
    room_id = await room_with_bot(member, bot, encrypted=True)
    await wait_until(lambda: member.client.device_store[bot.user_id], 15, "the bot's device keys")
    filler = fill(small_disk)
    asked = [await member.send(room_id, "!faq upload limit"), await member.send(room_id, "!faq report abuse")]
    for event_id in asked:
        answer = await member.reply_to(event_id, bot.user_id, timeout=10)
        assert answer.decrypted
    assert not [m for m in messages(caplog) if "sending the answer" in m], "an answer needed a second try"
    problems = await wait_until(lambda: bot.health.problems, 10, "the full disk in the bot's health")
    assert "encryption-store-writes" in problems and "disk is full" in problems["encryption-store-writes"]
    assert "sync" not in problems, problems

    filler.unlink()
    await wait_until(lambda: not bot.health.problems, 30, "the bot to recover once the disk has room")
    await asyncio.sleep(0.3)
    assert [len(member.replies_to(event_id, bot.user_id)) for event_id in asked] == [1, 1]
    # The keys that came while the disk was full were stored once it had room: a new run,
    # from the state folder alone, still reads the member's messages.
    await bot.stop()
    bot = await run_bot(bot_environment(synapse, bot_user, small_disk / "state"))
    later = await member.send(room_id, "!faq how do I reset my password?")
    assert (await member.reply_to(later, bot.user_id, timeout=10)).decrypted


# -- corrupt state ---------------------------------------------------------------------------


@pytest.mark.parametrize("garbage", ["null", "[]", '{"answered": 5}', '{"user_id": ', "\x00\xff"])
async def test_corrupt_state_and_session_files_are_set_aside_and_the_bot_starts(
    garbage: str,
    synapse: SynapseServer,
    run_bot: RunBot,
    make_member: MakeMember,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR)
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    for name in (STATE_FILE, SESSION_FILE):
        (state / name).write_text(garbage, encoding="utf-8", errors="surrogateescape")

    bot = await run_bot(bot_environment(synapse, synapse.register_user(), state))
    member = await make_member(synapse)
    room_id = await room_with_bot(member, bot)
    await member.reply_to(await member.send(room_id, "!faq upload limit"), bot.user_id)
    for name in (STATE_FILE, SESSION_FILE):
        aside = list(state.glob(f"{name}.corrupt-*"))
        assert len(aside) == 1, f"{name} was not set aside"
        assert re.fullmatch(rf"{re.escape(name)}\.corrupt-\d{{8}}T\d{{6}}", aside[0].name)
        assert aside[0].read_bytes() == garbage.encode("utf-8", "surrogateescape")
        assert any(str(state / name) in m and aside[0].name in m for m in messages(caplog, logging.ERROR))
    assert json.loads((state / SESSION_FILE).read_text())["device_id"] == bot.client.device_id


@pytest.mark.parametrize("login", ["password", "token"])
async def test_a_truncated_encryption_store_is_set_aside_and_the_bot_starts(
    login: str,
    synapse: SynapseServer,
    run_bot: RunBot,
    make_member: MakeMember,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR)
    user = synapse.register_user()
    state = tmp_path / "state"
    env = token_environment(synapse, user, state) if login == "token" else bot_environment(synapse, user, state)
    bot = await run_bot(env)
    device = bot.client.device_id
    await bot.stop()
    (store,) = (state / "nio").glob("*.db")
    data = store.read_bytes()
    store.write_bytes(data[: len(data) // 3])

    bot = await run_bot(env)
    assert list(store.parent.glob(f"{store.name}.corrupt-*")), "the truncated store was not set aside"
    assert any("unreadable" in m for m in messages(caplog, logging.ERROR))
    member = await make_member(synapse)
    if login == "password":
        # A new device with a new store: encrypted rooms work again.
        assert bot.client.device_id != device
        room_id = await room_with_bot(member, bot, encrypted=True)
        await wait_until(lambda: bot.client.device_id in member.client.device_store[bot.user_id], 15, "new keys")
    else:
        # A token is one device: the bot keeps it, and says encrypted rooms may not work.
        assert bot.client.device_id == device
        assert "encryption-store" in bot.health.problems
        room_id = await room_with_bot(member, bot)
    answer = await member.reply_to(await member.send(room_id, "!faq upload limit"), bot.user_id)
    assert "40 MB" in answer.source["content"]["body"]


# -- secrets on disk -------------------------------------------------------------------------


def _store(user_id: str, device_id: str, state: Path, key: str) -> DefaultStore:
    return DefaultStore(user_id, device_id, str(state / "nio"), key)


async def test_the_state_folder_is_private_and_the_store_has_a_key_of_its_own(
    synapse: SynapseServer, run_bot: RunBot, tmp_path: Path
) -> None:
    user = synapse.register_user()
    state = tmp_path / "state"
    bot = await run_bot(bot_environment(synapse, user, state))
    device = bot.client.device_id
    await bot.stop()

    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    for path in state.rglob("*"):
        expected = 0o700 if path.is_dir() else 0o600
        assert stat.S_IMODE(path.stat().st_mode) == expected, f"{path} is {oct(path.stat().st_mode)}"
    key = json.loads((state / SESSION_FILE).read_text())["pickle_key"]
    assert len(key) >= 32 and key != NIO_DEFAULT_PICKLE_KEY
    assert _store(user.user_id, device, state, key).load_account() is not None
    with pytest.raises(ValueError):
        _store(user.user_id, device, state, NIO_DEFAULT_PICKLE_KEY).load_account()


async def test_a_store_made_with_nios_default_key_is_rekeyed_and_keeps_its_device(
    synapse: SynapseServer, run_bot: RunBot, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """What an earlier faqbot left: a store pickled with matrix-nio's default key."""
    caplog.set_level(logging.INFO, logger="faqbot.matrix")
    user = synapse.register_user()
    state = tmp_path / "state"
    (state / "nio").mkdir(parents=True)
    old = AsyncClient(synapse.url, user.user_id, device_id=user.device_id, store_path=str(state / "nio"))
    old.restore_login(user.user_id, user.device_id, user.access_token)
    await old.keys_upload()
    identity = old.olm.account.identity_keys
    await old.close()
    old.store.database.close()
    (state / SESSION_FILE).write_text(json.dumps({"user_id": user.user_id, "device_id": user.device_id}))

    bot = await run_bot(token_environment(synapse, user, state))
    assert bot.client.device_id == user.device_id
    assert bot.client.olm.account.identity_keys == identity, "the device's keys were lost"
    assert any("key of its own" in m for m in messages(caplog, logging.INFO))
    await bot.stop()
    key = json.loads((state / SESSION_FILE).read_text())["pickle_key"]
    assert _store(user.user_id, user.device_id, state, key).load_account() is not None
    with pytest.raises(ValueError):
        _store(user.user_id, user.device_id, state, NIO_DEFAULT_PICKLE_KEY).load_account()


# -- start-up against a homeserver that cannot be used -----------------------------------------


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A server that accepts connections and never answers: a bare listening socket."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


@pytest.mark.parametrize("fault", ["refuses", "never answers", "https to an http server"])
async def test_a_homeserver_that_cannot_be_used_is_named_retried_and_given_up(
    fault: str,
    synapse: SynapseServer,
    silent_server: str,
    make_responder: Callable[[], Responder],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    url, what = {
        "refuses": (f"http://127.0.0.1:{free_port()}", "connection refused"),
        "never answers": (silent_server, "did not answer within 0.5 s"),
        "https to an http server": (
            synapse.url.replace("http://", "https://"),
            f"does not speak TLS but answers plain HTTP: use {synapse.url}",
        ),
    }[fault]
    env = bot_environment(synapse, synapse.register_user(), tmp_path / "state", FAQBOT_MATRIX_HOMESERVER=url)
    bot = make_bot(env, make_responder(), **QUICK)
    started = time.monotonic()
    try:
        with pytest.raises(GaveUp) as gave_up:
            await asyncio.wait_for(bot.start(), 20)
    finally:
        await stop_bot(bot)
    assert time.monotonic() - started < 10
    assert url in str(gave_up.value) and what in str(gave_up.value) and "\n" not in str(gave_up.value)
    retries = [m for m in messages(caplog) if "retrying in" in m]
    assert retries and all(url in m and "giving up in" in m for m in retries)


def start_cli(env: dict[str, str], knowledge_dir: Path, log_path: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "faqbot.cli", "run", "matrix", "--knowledge", str(knowledge_dir)]
    with log_path.open("wb") as log:
        return subprocess.Popen(command, env={**os.environ, **env}, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)


async def test_the_cli_gives_up_on_a_refusing_homeserver_with_one_line_and_exit_1(
    synapse: SynapseServer, knowledge_dir: Path, tmp_path: Path
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    env = bot_environment(synapse, synapse.register_user(), tmp_path / "state", FAQBOT_MATRIX_HOMESERVER=url)
    env["FAQBOT_CONNECT_TIMEOUT_SECONDS"] = "2"
    log_path = tmp_path / "bot.log"
    process = start_cli(env, knowledge_dir, log_path)
    try:
        assert await asyncio.to_thread(process.wait, 30) == 1
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    output = log_path.read_text()
    assert "Traceback" not in output, output
    last = output.rstrip().splitlines()[-1]
    assert f"ERROR faqbot: cannot reach {url}: connection refused" in last, output


async def test_sigterm_during_login_stops_the_cli_at_once_with_exit_0(
    synapse: SynapseServer, silent_server: str, knowledge_dir: Path, tmp_path: Path
) -> None:
    env = bot_environment(synapse, synapse.register_user(), tmp_path / "state", FAQBOT_MATRIX_HOMESERVER=silent_server)
    log_path = tmp_path / "bot.log"
    process = start_cli(env, knowledge_dir, log_path)
    try:
        await wait_until(lambda: "loaded" in log_path.read_text(), 30, "the bot to start logging in")
        await asyncio.sleep(0.5)  # inside the login request, which the silent server never answers
        process.send_signal(signal.SIGTERM)
        started = time.monotonic()
        assert await asyncio.to_thread(process.wait, 10) == 0
        assert time.monotonic() - started < 3
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert "Traceback" not in log_path.read_text()


def spend_login_limit(server: SynapseServer) -> None:
    """Failed logins from 127.0.0.1 until Synapse's per-address login limit answers 429."""
    for attempt in range(10):
        body = {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": f"nobody{attempt}"}}
        request = urllib.request.Request(
            f"{server.url}/_matrix/client/v3/login",
            data=json.dumps({**body, "password": "wrong"}).encode(),
            headers={"Content-Type": "application/json"},
        )
        try:
            urllib.request.urlopen(request, timeout=10)
        except urllib.error.HTTPError as error:
            if error.code == 429:
                return
    raise AssertionError("Synapse never rate-limited the logins")


async def test_a_rate_limited_login_says_that_it_waits_and_for_how_long(
    default_limits_synapse: SynapseServer,
    make_responder: Callable[[], Responder],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    server = default_limits_synapse
    spend_login_limit(server)
    user = server.register_user()
    bot = make_bot(bot_environment(server, user, tmp_path / "state"), make_responder())
    starting = asyncio.create_task(bot.start())
    try:
        line = await wait_until(
            lambda: next((m for m in messages(caplog) if "rate-limited" in m), None), 10, "the wait to be logged"
        )
    finally:
        starting.cancel()
        await asyncio.wait_for(asyncio.gather(starting, return_exceptions=True), 5)
        await stop_bot(bot)
    assert re.search(rf"rate-limited the password login as {re.escape(user.user_id)}; waiting \d+ s", line), line


# -- stopping ----------------------------------------------------------------------------------


async def test_a_stop_hands_answers_still_waiting_to_the_next_run(
    default_limits_synapse: SynapseServer,
    run_bot: RunBot,
    make_member: MakeMember,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = default_limits_synapse
    env = token_environment(server, server.register_user(), tmp_path / "state")
    bot = await run_bot(env, drain_seconds=0.2)
    member, asked = await ask_until_rate_limited(server, bot, make_member, caplog)
    await bot.stop()  # docker stop while answers wait out the rate limit
    assert any("the next run answers them" in m for m in messages(caplog))
    assert json.loads((tmp_path / "state" / STATE_FILE).read_text())["handed_back"]

    bot = await run_bot(env)
    for event_id in asked:
        await member.reply_to(event_id, bot.user_id, timeout=60)
    await asyncio.sleep(0.5)
    assert [len(member.replies_to(event_id, bot.user_id)) for event_id in asked] == [1] * len(asked)
