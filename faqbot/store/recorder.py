"""Recording without ever delaying an answer: a background writer in front of the store.

Chat adapters call `record`, `rate`, `mark_removed`, `learn` and `set_passive` from
their event loop. Each call only timestamps the write and appends it to a bounded
queue, then returns: no I/O, no waiting on a lock anyone holds for long. One thread
applies the queue to the store in order (a rating never arrives before the answer it
rates), so the store can be slow, locked, full or down without the bot noticing:

- a store that is unavailable (`StoreUnavailable`) is retried with exponential
  backoff (`first_retry` doubling up to `max_retry`), logged as an error when it
  starts, as a warning every `report_every` seconds while it lasts, and when it ends;
- a write the store refuses for good (`StoreError`, bad data) is logged and
  dropped, counted in `rejected`, so one bad record never holds up the rest;
- when the queue is full (`capacity` writes waiting: the store has been down a
  while), new writes are dropped and counted in `dropped`, and that is logged too;
  memory stays bounded (a write holds at most a 2,000-character question; the take-backs
  of redactions, which join one write, at most `take_back_capacity` ids of 255 characters);
- the store itself is opened by the thread (`connect`), retried like any write, so
  a bot can start while its database is down;
- retention runs every `retention_every` seconds, besides at open.

Reads for moderators' commands go to `store` directly, as plain calls the adapter
runs in a thread; they raise `StoreUnavailable` while the store cannot be reached.
Logs name what kind of write failed, never the question or who asked.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace

from faqbot.store.interface import Store, StoreUnavailable
from faqbot.store.records import Interaction, clean_id, phrasing_key

log = logging.getLogger("faqbot.store")

DEFAULT_CAPACITY = 10_000
TAKE_BACKS_PER_WRITE = 500  # redactions looked up in one statement
DEFAULT_TAKE_BACK_CAPACITY = 100_000  # take-backs waiting at most: each holds an id of up to 255 characters


@dataclass
class _TakeBacks:
    """The ids one take-back write will look up; later redactions join it while it is last in the queue."""

    platform: str
    ids: list[str]


@dataclass(frozen=True)
class _Write:
    what: str  # for logs: the kind of write, never its content
    apply: Callable[[Store], object]
    take_backs: _TakeBacks | None = None


class BackgroundRecorder:
    """Writes to a store from its own thread; every public write returns at once.

    Each write returns True when it was queued, False when it was dropped (queue full,
    recorder closed, or the store refused to open for good)."""

    def __init__(
        self,
        connect: Callable[[], Store],
        *,
        capacity: int = DEFAULT_CAPACITY,
        take_back_capacity: int = DEFAULT_TAKE_BACK_CAPACITY,
        clock: Callable[[], float] = time.time,
        first_retry: float = 0.5,
        max_retry: float = 60.0,
        retention_every: float = 3600.0,
        report_every: float = 60.0,
    ) -> None:
        if capacity < 1 or take_back_capacity < 1:
            raise ValueError("capacity and take_back_capacity must be at least 1")
        self._connect = connect
        self._capacity = capacity
        self._take_back_capacity = take_back_capacity
        self._clock = clock
        self._first_retry = first_retry
        self._max_retry = max_retry
        self._retention_every = retention_every
        self._report_every = report_every
        self._pending: deque[_Write] = deque()
        self._condition = threading.Condition()  # re-entrant: a take-back queues a write while holding it
        self._take_backs_waiting = 0  # ids in queued take-back writes (not yet being written)
        self._in_flight = 0
        self._stopping = False
        self._give_up = threading.Event()  # set by close(): stop retrying, whatever still waits
        self._store: Store | None = None
        self._unusable: str | None = None  # why the store can never be opened, once known
        self._thread: threading.Thread | None = None
        self._down_since: float | None = None
        self._last_down_report = 0.0
        self._last_full_report: float | None = None
        self.dropped = 0  # writes not queued because the queue was full
        self.rejected = 0  # writes the store refused for good
        self.lost = 0  # writes still waiting when the recorder closed
        self.written = 0

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> BackgroundRecorder:
        """Start the writer thread (idempotent); returns self."""
        with self._condition:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="faqbot-store-writer", daemon=True)
                self._thread.start()
        return self

    @property
    def store(self) -> Store:
        """The open store, for reads; `StoreUnavailable` while it has not been opened."""
        store = self._store
        if store is None:
            raise StoreUnavailable(self._unusable or "the store is not open yet")
        return store

    def wait_open(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for the store to be open (for reads at start-up)."""
        deadline = time.monotonic() + timeout
        while self._store is None and self._unusable is None and time.monotonic() < deadline:
            if not self.running:
                return False
            time.sleep(0.01)
        return self._store is not None

    @property
    def running(self) -> bool:
        """Whether the writer thread is alive (False once `close` has returned)."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def pending(self) -> int:
        """Writes queued or being written."""
        with self._condition:
            return len(self._pending) + self._in_flight

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued write is applied (or dropped); False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._condition:
            while self._pending or self._in_flight:
                if self._thread is None or not self._thread.is_alive():
                    return False
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._condition.wait(remaining)
        return True

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued (waiting at most `timeout` seconds), then stop and close the
        store. Writes still waiting after that (the store is down) are logged as lost."""
        if self._thread is not None:
            self.flush(timeout)
        with self._condition:
            self._stopping = True
            self._give_up.set()  # whatever is still waiting now waits in vain
            self._condition.notify_all()
        if self._thread is not None:
            self._thread.join(timeout + self._max_retry)
        with self._condition:
            if self._pending:
                self.lost += len(self._pending)
                self._pending.clear()
                self._take_backs_waiting = 0
        if self.lost:
            log.error("store: %d records were not saved (the store was unavailable at shutdown)", self.lost)
        store, self._store = self._store, None
        if store is not None:
            store.close()

    # -- writes (called from the event loop) -------------------------------------------

    def record(self, interaction: Interaction) -> bool:
        """Queue one handled question (its `at` is now unless set)."""
        if interaction.at is None:
            interaction = replace(interaction, at=self._clock())
        return self._enqueue(_Write("an interaction", lambda store: store.record_interaction(interaction)))

    def rate(
        self, platform: str, reply_id: str, user_id: str, helpful: bool | None, given_by: str | None = None
    ) -> bool:
        """Queue a member's 👍 (True) / 👎 (False) on a reply, or None to take it back (`Store.rate`)."""
        at = self._clock()
        return self._enqueue(
            _Write("a rating", lambda store: store.rate(platform, reply_id, user_id, helpful, at, given_by))
        )

    def take_back_rating(self, platform: str, given_by: str) -> bool:
        """Queue taking back the rating the reaction `given_by` gave, if any (`Store.take_back_ratings`).
        Every redaction comes here (which of them were reactions is known only to the store), so
        a moderation bot's storm of redactions joins the write still waiting instead of filling the queue.
        Only the last write queued is joined: one queued before a rating would take it back before it
        is given. A federated server's redaction can name 64 KB: the id waits cut as the store keeps it,
        and at most `take_back_capacity` wait, so a storm while the store is down holds bounded memory."""
        given_by = clean_id(given_by) or ""
        with self._condition:
            if self._take_backs_waiting >= self._take_back_capacity and not self._stopping:
                self.dropped += 1
                self._report_full()
                return False
            last = self._pending[-1].take_backs if self._pending and not self._stopping else None
            if last is not None and last.platform == platform and len(last.ids) < TAKE_BACKS_PER_WRITE:
                last.ids.append(given_by)
            else:
                ids = [given_by]

                def take_back(store: Store) -> object:
                    return store.take_back_ratings(platform, ids)

                if not self._enqueue(_Write("ratings taken back", take_back, _TakeBacks(platform, ids))):
                    return False
            self._take_backs_waiting += 1
            return True

    def mark_removed(self, platform: str, reply_id: str) -> bool:
        """Queue the removal of one of the bot's replies."""
        at = self._clock()
        return self._enqueue(_Write("a removal", lambda store: store.mark_removed(platform, reply_id, at)))

    def mark_handed_off(self, platform: str, reply_id: str) -> bool:
        """Queue the hand-off of a help post to humans (after the answer's own record, so it applies)."""
        at = self._clock()
        return self._enqueue(_Write("a hand-off", lambda store: store.mark_handed_off(platform, reply_id, at)))

    def learn(
        self,
        text: str,
        entry_id: str,
        *,
        platform: str | None = None,
        conversation_id: str | None = None,
        message_id: str | None = None,
    ) -> bool:
        """Queue a moderator's correction as a learned phrasing. Raises ValueError at once
        (so the moderator can be told) when the text has no words or no entry is named."""
        if not phrasing_key(text):
            raise ValueError("a learned phrasing needs at least one word")
        if not entry_id or not entry_id.strip():
            raise ValueError("a learned phrasing needs the id of the entry it asks for")
        at = self._clock()

        def apply(store: Store) -> object:
            return store.learn_phrasing(
                text, entry_id, platform=platform, conversation_id=conversation_id, message_id=message_id, at=at
            )

        return self._enqueue(_Write("a learned phrasing", apply))

    def set_passive(self, platform: str, conversation_id: str, enabled: bool) -> bool:
        """Queue a room's passive setting."""
        at = self._clock()
        return self._enqueue(
            _Write("a room setting", lambda store: store.set_passive(platform, conversation_id, enabled, at))
        )

    def _enqueue(self, write: _Write) -> bool:
        with self._condition:
            if self._stopping:
                log.warning("store: %s arrived after the recorder closed; not saved", write.what)
                return False
            if self._unusable is not None:
                self.rejected += 1
                return False
            if len(self._pending) >= self._capacity:
                self.dropped += 1
                self._report_full()
                return False
            self._pending.append(write)
            self._condition.notify_all()
        return True

    def _report_full(self) -> None:
        now = time.monotonic()
        if self._last_full_report is None or now - self._last_full_report >= self._report_every:
            self._last_full_report = now
            log.error(
                "store: queue full (%d writes waiting for the store, %d redactions' take-backs among them);"
                " dropped %d records so far",
                len(self._pending),
                self._take_backs_waiting,
                self.dropped,
            )

    # -- the writer thread ----------------------------------------------------------------

    def _run(self) -> None:
        self._open()  # at once, not at the first write: reads need the store, and a store that is down is news
        next_retention = time.monotonic() + self._retention_every  # opening applies retention too
        while True:
            with self._condition:
                while not self._pending and not self._stopping and time.monotonic() < next_retention:
                    self._condition.wait(max(0.0, next_retention - time.monotonic()))
                if self._stopping:
                    return
                write = self._pending.popleft() if self._pending else None
                if write is not None and write.take_backs is not None:  # being written: joined no more
                    self._take_backs_waiting -= len(write.take_backs.ids)
                self._in_flight = 1 if write else 0
            try:
                store = self._open()
                if store is None:  # never usable, or close() gave up waiting for it
                    if write is not None:
                        self._count("lost" if self._give_up.is_set() else "rejected")
                    if self._unusable is not None:
                        self._reject_all()
                    continue
                if time.monotonic() >= next_retention:
                    self._retain(store)
                    next_retention = time.monotonic() + self._retention_every
                if write is not None:
                    self._write(store, write)
            finally:
                with self._condition:
                    self._in_flight = 0
                    self._condition.notify_all()

    def _open(self) -> Store | None:
        """The store, opened now if need be (retrying while it is unavailable); None when it
        can never be opened, or when close() gave up waiting."""
        delay = self._first_retry
        while self._store is None:
            if self._unusable is not None:
                return None
            try:
                self._store = self._connect()
            except StoreUnavailable as error:
                self._report_down(error, delay)
                if self._give_up.wait(delay):
                    return None
                delay = min(delay * 2, self._max_retry)
            except Exception as error:
                self._unusable = f"the store cannot be used: {error}"
                log.error("store: %s; nothing will be recorded until the bot restarts", self._unusable)
                return None
            else:
                self._report_back()
        return self._store

    def _write(self, store: Store, write: _Write) -> None:
        delay = self._first_retry
        while True:
            try:
                write.apply(store)
            except StoreUnavailable as error:
                self._report_down(error, delay)
                if self._give_up.wait(delay):
                    self._count("lost")
                    return
                delay = min(delay * 2, self._max_retry)
            except Exception as error:
                self._count("rejected")
                log.error("store: refused %s and it was dropped: %s: %s", write.what, type(error).__name__, error)
                return
            else:
                self._count("written")
                self._report_back()
                return

    def _retain(self, store: Store) -> None:
        try:
            deleted = store.apply_retention()
        except Exception as error:  # the next round tries again
            log.warning("store: retention did not run: %s", error)
            return
        if deleted:
            log.info("store: deleted %d records older than %g days", deleted, store.retention_days)

    def _count(self, counter: str) -> None:
        with self._condition:
            setattr(self, counter, getattr(self, counter) + 1)

    def _reject_all(self) -> None:
        with self._condition:
            self.rejected += len(self._pending)
            self._pending.clear()
            self._take_backs_waiting = 0

    def _report_down(self, error: BaseException, delay: float) -> None:
        now = time.monotonic()
        waiting = len(self._pending) + 1
        if self._down_since is None:
            self._down_since = self._last_down_report = now
            log.error(
                "store unavailable: %s; answers still go out, %d records waiting, retrying in %.3gs",
                error,
                waiting,
                delay,
            )
        elif now - self._last_down_report >= self._report_every:
            self._last_down_report = now
            log.warning(
                "store still unavailable after %.0fs: %s; %d records waiting, %d dropped",
                now - self._down_since,
                error,
                waiting,
                self.dropped,
            )

    def _report_back(self) -> None:
        if self._down_since is not None:
            log.warning(
                "store is back after %.0fs; writing %d waiting records",
                time.monotonic() - self._down_since,
                len(self._pending),
            )
            self._down_since = None
