"""Recording never delays or breaks an answer: a store that is locked, down or full is
logged and retried, the answer still goes out, and the event loop never waits."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import subprocess
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from faqbot.matching.decision import Mode, decide
from faqbot.responder import IncomingMessage, Responder
from faqbot.sources.model import Knowledge
from faqbot.store import BackgroundRecorder, Identity, Interaction, RecordOutcome, StoreUnavailable, interaction_for
from faqbot.store.sql_store import SqlStore
from faqbot.store.sqlite_store import SQLiteStore
from tests.store.conftest import DAY, FakeClock, raw_rows
from tests.store.postgres_server import PostgresServer, running_postgres

QUESTIONS = ["do you block threads?", "who pays for this server?", "how do I reset my password?"]


def question(text: str, **fields: object) -> Interaction:
    values: dict[str, object] = {
        "platform": "matrix",
        "conversation_id": "!room",
        "question": text,
        "outcome": RecordOutcome.UNANSWERED,
        "passive": False,
    }
    values.update(fields)
    return Interaction(**values)  # type: ignore[arg-type]


def sqlite_opener(path: Path, clock: Callable[[], float] = time.time) -> Callable[[], SqlStore]:
    """How a bot opens its SQLite store, with a short busy timeout so locked tests run fast."""

    def connect() -> SqlStore:
        store = SQLiteStore(path, identity=Identity(path.parent), clock=clock, busy_timeout=0.05)
        try:
            store.prepare()
        except BaseException:
            store.close()
            raise
        return store

    return connect


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    path = tmp_path / "state" / "faqbot.sqlite3"
    sqlite_opener(path)().close()  # created, in WAL mode, as a bot's earlier run left it
    return path


@pytest.fixture
def locked(store_path: Path) -> Iterator[sqlite3.Connection]:
    """Another process holding the store's write lock (a long backup, a stuck writer)."""
    locker = sqlite3.connect(store_path, isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")
    yield locker
    if locker.in_transaction:
        locker.execute("ROLLBACK")
    locker.close()


@pytest.fixture
def make_recorder() -> Iterator[Callable[..., BackgroundRecorder]]:
    made: list[BackgroundRecorder] = []

    def make(connect: Callable[[], SqlStore], **options: object) -> BackgroundRecorder:
        options.setdefault("first_retry", 0.02)
        options.setdefault("max_retry", 0.1)
        recorder = BackgroundRecorder(connect, **options).start()  # type: ignore[arg-type]
        made.append(recorder)
        return recorder

    yield make
    for recorder in made:
        recorder.close(timeout=1)


async def test_answers_go_out_and_the_loop_runs_while_the_store_is_locked(
    knowledge: Knowledge,
    store_path: Path,
    locked: sqlite3.Connection,
    make_recorder: Callable[..., BackgroundRecorder],
    caplog: pytest.LogCaptureFixture,
) -> None:
    recorder = make_recorder(sqlite_opener(store_path))
    responder = Responder(knowledge)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    beat = asyncio.create_task(ticker())
    replies = []
    with caplog.at_level(logging.WARNING, logger="faqbot.store"):
        for number, text in enumerate(QUESTIONS):
            message = IncomingMessage(text, "!room", f"@member{number}:example.org", addressed=True)
            reply = responder.respond(message)  # what the adapter sends
            decision = decide(responder.index.rank(text), Mode.EXPLICIT, thresholds=responder.index.thresholds)
            record = interaction_for(
                decision, Mode.EXPLICIT, platform="matrix", conversation_id="!room", question=text,
                question_id=f"$q{number}", reply_id=f"$r{number}", user_id=message.sender_id,
            )  # fmt: skip
            assert record is not None and recorder.record(record)
            replies.append(reply)
            await asyncio.sleep(0.05)
        # Every answer went out and every record is waiting, while the lock is still held.
        assert [r.entry.id if r and r.entry else None for r in replies] == ["threads", "funding", "password"]
        assert recorder.pending == len(QUESTIONS)
        assert ticks >= 10  # the event loop kept running all along
        assert any("store unavailable" in r.getMessage() for r in caplog.records)
        assert any("answers still go out" in r.getMessage() for r in caplog.records)

        locked.execute("ROLLBACK")  # the other process lets go
        assert await asyncio.to_thread(recorder.flush, 10)
    beat.cancel()
    assert any("store is back" in r.getMessage() for r in caplog.records)
    assert sorted(row[5] for row in raw_rows(str(store_path), "faqbot_interactions")) == sorted(QUESTIONS)
    assert recorder.store.is_asker("matrix", "$r1", "@member1:example.org")
    assert (recorder.dropped, recorder.rejected, recorder.written) == (0, 0, 3)


def test_a_full_queue_drops_new_records_counts_them_and_says_so(
    store_path: Path,
    locked: sqlite3.Connection,
    make_recorder: Callable[..., BackgroundRecorder],
    caplog: pytest.LogCaptureFixture,
) -> None:
    recorder = make_recorder(sqlite_opener(store_path), capacity=2, report_every=3600)
    with caplog.at_level(logging.ERROR, logger="faqbot.store"):
        accepted = [recorder.record(question(f"question {n}")) for n in range(6)]
    assert accepted.count(False) == recorder.dropped >= 3
    assert accepted[:2] == [True, True]
    full_reports = [r for r in caplog.records if "queue full" in r.getMessage()]
    assert len(full_reports) == 1  # once per report_every, not once per record
    locked.execute("ROLLBACK")
    assert recorder.flush(10)
    assert len(raw_rows(str(store_path), "faqbot_interactions")) == accepted.count(True)


def test_a_storm_of_redactions_joins_one_waiting_write_and_drops_no_record(
    store_path: Path, locked: sqlite3.Connection, make_recorder: Callable[..., BackgroundRecorder]
) -> None:
    """Every Matrix redaction is a take-back the store must look up; a moderation bot redacting
    thousands of spam events must not fill the queue that members' questions wait in."""
    recorder = make_recorder(sqlite_opener(store_path), capacity=10)
    assert recorder.record(question("who pays", reply_id="$answer", entry_id="funding", outcome=RecordOutcome.ANSWERED))
    assert recorder.rate("matrix", "$answer", "@a:x", True, given_by="$up")
    storm = [recorder.take_back_rating("matrix", f"$spam-{n}") for n in range(2000)]  # while the store is locked
    assert recorder.take_back_rating("matrix", "$up")
    assert recorder.record(question("still recorded"))
    assert all(storm) and recorder.dropped == 0
    locked.execute("ROLLBACK")
    assert recorder.flush(10)
    assert raw_rows(str(store_path), "faqbot_ratings") == []  # the 👍 taken back
    assert len(raw_rows(str(store_path), "faqbot_interactions")) == 2


def test_a_reaction_given_and_redacted_while_a_take_back_waits_is_taken_back_in_order(
    store_path: Path, locked: sqlite3.Connection, make_recorder: Callable[..., BackgroundRecorder]
) -> None:
    """A redaction joins a waiting take-back only when that write is the last one queued: joining
    one queued before the 👍 it takes back would delete nothing, and the 👍 would stand."""
    recorder = make_recorder(sqlite_opener(store_path))
    assert recorder.record(question("who pays", reply_id="$answer", entry_id="funding", outcome=RecordOutcome.ANSWERED))
    assert recorder.take_back_rating("matrix", "$someone-elses-message")  # waits: the store is locked
    assert recorder.rate("matrix", "$answer", "@a:x", True, given_by="$up")
    assert recorder.take_back_rating("matrix", "$up")  # the member took their 👍 back at once
    locked.execute("ROLLBACK")
    assert recorder.flush(10)
    assert raw_rows(str(store_path), "faqbot_ratings") == []


def test_a_storm_of_long_redactions_while_the_store_is_down_holds_bounded_memory(
    store_path: Path, locked: sqlite3.Connection, make_recorder: Callable[..., BackgroundRecorder]
) -> None:
    """A federated server's redaction names any text as the redacted event (up to an event's
    64 KB): a waiting take-back keeps it cut as the store would, and at most `take_back_capacity`
    wait; more are dropped and counted, and members' questions still have their queue."""
    recorder = make_recorder(sqlite_opener(store_path), capacity=10, take_back_capacity=1000)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        storm = [recorder.take_back_rating("matrix", f"$spam-{n}-" + "x" * 60_000) for n in range(2000)]
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held < 4_000_000, f"{held} bytes held for 2,000 take-backs"
    assert storm.count(True) == 1000 and recorder.dropped == 1000
    assert recorder.record(question("still recorded"))
    locked.execute("ROLLBACK")
    assert recorder.flush(10)
    assert len(raw_rows(str(store_path), "faqbot_interactions")) == 1
    assert recorder.take_back_rating("matrix", "$after-the-storm")  # room again once written


def test_a_record_the_store_refuses_is_dropped_and_the_rest_go_through(
    store_path: Path, make_recorder: Callable[..., BackgroundRecorder], caplog: pytest.LogCaptureFixture
) -> None:
    recorder = make_recorder(sqlite_opener(store_path))
    with caplog.at_level(logging.ERROR, logger="faqbot.store"):
        recorder.record(question("broken", outcome="not an outcome"))  # type: ignore[arg-type]
        recorder.record(question("fine"))
        assert recorder.flush(10)
    assert (recorder.rejected, recorder.written) == (1, 1)
    assert [row[5] for row in raw_rows(str(store_path), "faqbot_interactions")] == ["fine"]
    assert any("refused an interaction" in r.getMessage() for r in caplog.records)


def test_closing_while_the_store_is_down_gives_up_in_time_and_reports_the_loss(
    store_path: Path,
    locked: sqlite3.Connection,
    make_recorder: Callable[..., BackgroundRecorder],
    caplog: pytest.LogCaptureFixture,
) -> None:
    recorder = make_recorder(sqlite_opener(store_path))
    recorder.record(question("one"))
    recorder.record(question("two"))
    started = time.monotonic()
    with caplog.at_level(logging.ERROR, logger="faqbot.store"):
        recorder.close(timeout=0.3)
    assert time.monotonic() - started < 5
    assert not recorder.running  # the writer stopped retrying: nothing left behind
    assert recorder.lost == 2
    assert any("2 records were not saved" in r.getMessage() for r in caplog.records)
    assert not recorder.record(question("after close"))


def test_the_writer_applies_retention_while_it_runs(
    store_path: Path, make_recorder: Callable[..., BackgroundRecorder]
) -> None:
    clock = FakeClock()
    recorder = make_recorder(sqlite_opener(store_path, clock), clock=clock, retention_every=0.05)
    recorder.record(question("recent", reply_id="r-recent"))
    recorder.record(question("from last season", reply_id="r-old", at=clock.now - 91 * DAY))
    assert recorder.flush(10)
    deadline = time.monotonic() + 10
    while recorder.store.find_reply("matrix", "r-old") is not None:
        assert time.monotonic() < deadline, "retention never ran"
        time.sleep(0.02)
    assert recorder.store.find_reply("matrix", "r-recent") is not None


def test_the_store_opens_at_start_for_reads_before_any_write(
    store_path: Path, make_recorder: Callable[..., BackgroundRecorder]
) -> None:
    recorder = make_recorder(sqlite_opener(store_path))
    deadline = time.monotonic() + 10
    while True:
        try:
            assert recorder.store.learned_phrasings() == []
            break
        except StoreUnavailable:
            assert time.monotonic() < deadline, "the store was never opened"
            time.sleep(0.02)
    assert recorder.pending == 0


def test_reads_and_writes_before_the_store_opens(
    store_path: Path,
    locked: sqlite3.Connection,
    make_recorder: Callable[..., BackgroundRecorder],
) -> None:
    recorder = make_recorder(sqlite_opener(store_path))
    with pytest.raises(StoreUnavailable):
        recorder.store.learned_phrasings()
    assert recorder.learn("can I pay with paypal", "funding", platform="matrix")
    with pytest.raises(ValueError, match="word"):
        recorder.learn("🙂", "funding")


def test_a_store_that_can_never_open_is_reported_and_the_bot_goes_on(
    tmp_path: Path, make_recorder: Callable[..., BackgroundRecorder], caplog: pytest.LogCaptureFixture
) -> None:
    not_a_store = tmp_path / "faqbot.sqlite3"
    not_a_store.write_text("not a database\n" * 100)
    with caplog.at_level(logging.ERROR, logger="faqbot.store"):
        recorder = make_recorder(sqlite_opener(not_a_store))
        recorder.record(question("first"))
        recorder.flush(5)
        assert not recorder.record(question("second"))
    assert recorder.rejected == 2
    assert any("cannot be used" in r.getMessage() for r in caplog.records)
    with pytest.raises(StoreUnavailable, match="cannot be used"):
        recorder.store.learned_phrasings()


# -- real outages --------------------------------------------------------------------


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this test's own, to stop and start again."""
    with running_postgres() as server:
        yield server


def test_postgresql_going_down_and_back_loses_nothing(
    own_postgres: PostgresServer,
    tmp_path: Path,
    make_recorder: Callable[..., BackgroundRecorder],
    caplog: pytest.LogCaptureFixture,
) -> None:
    from faqbot.store import open_store

    url = own_postgres.new_database()
    recorder = make_recorder(lambda: open_store(url, state_dir=tmp_path), max_retry=0.2)
    recorder.record(question("before"))
    assert recorder.flush(10)

    own_postgres.stop()
    with caplog.at_level(logging.WARNING, logger="faqbot.store"):
        started = time.monotonic()
        for n in range(3):
            assert recorder.record(question(f"during {n}"))
        assert time.monotonic() - started < 0.1  # queued, not sent
        assert not recorder.flush(0.5)  # cannot be written while the server is down
        assert any("store unavailable" in r.getMessage() for r in caplog.records)
        own_postgres.start()
        assert recorder.flush(20)
    assert any("store is back" in r.getMessage() for r in caplog.records)
    assert sorted(row[5] for row in raw_rows(url, "faqbot_interactions")) == [
        "before",
        "during 0",
        "during 1",
        "during 2",
    ]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB filesystem of its own (tmpfs), to fill up."""
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount_point)], capture_output=True, check=False
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode(errors='replace').strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_a_full_disk_is_retried_until_there_is_room(
    small_disk: Path, make_recorder: Callable[..., BackgroundRecorder], caplog: pytest.LogCaptureFixture
) -> None:
    path = small_disk / "faqbot.sqlite3"
    recorder = make_recorder(sqlite_opener(path))
    recorder.record(question("before the disk filled up"))
    assert recorder.flush(10)
    filler = small_disk / "filler"
    with filler.open("wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError:
            pass
    with caplog.at_level(logging.WARNING, logger="faqbot.store"):
        for n in range(40):
            assert recorder.record(question(f"{n} " + "long question " * 140))
        assert not recorder.flush(1)
        assert any("full" in r.getMessage() for r in caplog.records)
        filler.unlink()
        assert recorder.flush(20)
    assert len(raw_rows(str(path), "faqbot_interactions")) == 41
