"""The store's behaviour, written once in SQL both engines run.

`SQLiteStore` and `PostgresStore` add only how to connect, the few words of DDL that
differ (`schema.Dialect`), and which driver errors mean "down, locked or full, try
again" (`StoreUnavailable`) rather than "this will never work" (`StoreError`).

One connection per store, used under a lock: the background writer and the threads
that run moderators' reads take turns. Every operation is one transaction. A
connection that breaks is dropped and opened again by the next operation, so a
database restart costs the operations made while it was down, which the writer
retries.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

from faqbot.store.identity import Identity
from faqbot.store.interface import DEFAULT_RETENTION_DAYS, StoreError, StoreMissing
from faqbot.store.records import (
    AnswerRecord,
    EntryCounts,
    GapReason,
    GapRecord,
    Interaction,
    LearnedPhrasing,
    OutcomeCounts,
    RecordOutcome,
    clean_id,
    clean_text,
    phrasing_key,
)
from faqbot.store.schema import CURRENT_VERSION, MIGRATIONS, Dialect, Run

SECONDS_PER_DAY = 86_400.0
MAX_GAP_RECORDS = 5_000  # `faqbot gaps` reads the newest this many: seconds, not minutes (bench/gaps.py)

_RATING_TOTALS = """
    SELECT interaction_id,
           SUM(CASE WHEN helpful THEN 1 ELSE 0 END) AS up,
           SUM(CASE WHEN helpful THEN 0 ELSE 1 END) AS down
    FROM faqbot_ratings GROUP BY interaction_id
"""
_GAP_REASON_OF_OUTCOME = {
    RecordOutcome.UNANSWERED: GapReason.UNANSWERED,
    RecordOutcome.SILENT: GapReason.SILENT,
    RecordOutcome.SUGGESTED: GapReason.SUGGESTED,
}


def _number(value: float | None) -> float | None:
    """A score as stored: NaN and infinities (which no ranking should give) become NULL."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)


class SqlStore:
    """Everything a `Store` does, over a DB-API connection made by the subclass."""

    dialect: Dialect
    engine: str  # for messages: "SQLite", "PostgreSQL"

    def __init__(
        self,
        *,
        identity: Identity | None,
        retention_days: float = DEFAULT_RETENTION_DAYS,
        clock: Callable[[], float] = time.time,
        read_only: bool = False,
    ) -> None:
        if not retention_days > 0:
            raise ValueError(f"retention_days must be a positive number of days, got {retention_days!r}")
        if identity is None and not read_only:
            raise ValueError("a store that records needs an Identity (it keys who asked and who rated)")
        self.identity = identity
        self.retention_days = float(retention_days)
        self.read_only = read_only
        self._clock = clock
        self._lock = threading.RLock()
        self._connection: Any = None
        self._closed = False
        self._placeholders: dict[str, str] = {}

    # -- what an engine provides ------------------------------------------------

    def _connect(self) -> Any:
        """A new DB-API connection in autocommit mode (transactions are explicit)."""
        raise NotImplementedError

    def _has_table(self, run: Run, name: str) -> bool:
        raise NotImplementedError

    def _lock_for_migration(self, run: Run) -> None:
        """Keep other processes from migrating at the same time (inside the transaction)."""

    def _store_error(self, error: BaseException) -> StoreError | None:
        """The store error a driver exception stands for, or None when it is not the driver's."""
        raise NotImplementedError

    def _is_broken(self, connection: Any) -> bool:
        """True when the connection can no longer be used and must be opened again."""
        return False

    def _describe(self) -> str:
        """Where the store is, for messages (never with a password)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._describe()})"

    # -- opening -----------------------------------------------------------------

    def now(self) -> float:
        return self._clock()

    def prepare(self) -> None:
        """Bring the schema up to date (or, read-only, check it is), then apply retention."""
        if self.read_only:
            with self._transaction(write=False) as run:
                version = self._schema_version(run)
            if version == 0:
                raise StoreMissing(f"no faqbot store in {self._describe()}")
            if version != CURRENT_VERSION:
                raise StoreError(
                    f"the store in {self._describe()} has schema version {version}, this faqbot reads "
                    f"version {CURRENT_VERSION}: run the bot once to migrate it, or upgrade faqbot"
                )
            return
        with self._transaction(write=True) as run:
            self._lock_for_migration(run)
            version = self._schema_version(run)
            if version > CURRENT_VERSION:
                raise StoreError(
                    f"the store in {self._describe()} has schema version {version}, newer than this faqbot "
                    f"knows ({CURRENT_VERSION}): upgrade faqbot; the store was not changed"
                )
            for migration in MIGRATIONS[version:]:
                migration.apply(run, self.dialect)
            if version == 0:
                run("INSERT INTO faqbot_schema (version) VALUES (?)", (CURRENT_VERSION,))
            elif version < CURRENT_VERSION:
                run("UPDATE faqbot_schema SET version = ?", (CURRENT_VERSION,))
        self.apply_retention()

    def _schema_version(self, run: Run) -> int:
        if not self._has_table(run, "faqbot_schema"):
            return 0
        row = run("SELECT MAX(version) FROM faqbot_schema").fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._connection is not None:
                with suppress(Exception):  # closing a dead connection: nothing left to release
                    self._connection.close()
                self._connection = None

    # -- transactions --------------------------------------------------------------

    @contextmanager
    def _transaction(self, write: bool) -> Iterator[Run]:
        """One transaction; driver errors come out as `StoreError` / `StoreUnavailable`."""
        if write and self.read_only:
            raise StoreError(f"the store in {self._describe()} was opened read-only")
        with self._lock:
            if self._closed:
                raise StoreError(f"the store in {self._describe()} is closed")
            connection = None
            try:
                connection = self._live_connection()
                connection.execute(self.dialect.begin_write if write else "BEGIN")
                yield lambda sql, params=(): connection.execute(self._sql(sql), params)
                connection.execute("COMMIT")
            except BaseException as error:
                if connection is not None:
                    self._abandon(connection)
                translated = self._store_error(error)
                if translated is None:
                    raise
                raise translated from None

    def _live_connection(self) -> Any:
        if self._connection is None:
            self._connection = self._connect()
        return self._connection

    def _abandon(self, connection: Any) -> None:
        """Roll back after a failure; a connection that cannot even do that is dropped."""
        with suppress(Exception):
            connection.execute("ROLLBACK")
        if self._is_broken(connection):
            with suppress(Exception):
                connection.close()
            self._connection = None

    def _sql(self, sql: str) -> str:
        converted = self._placeholders.get(sql)
        if converted is None:
            converted = sql.replace("?", self.dialect.placeholder)
            self._placeholders[sql] = converted
        return converted

    def _cutoff(self, since_days: float | None) -> float:
        """The oldest time a report looks at: `since_days` back, never past the retention period."""
        days = self.retention_days if since_days is None else min(float(since_days), self.retention_days)
        if not days > 0:
            raise ValueError(f"since_days must be a positive number of days, got {since_days!r}")
        return self._clock() - days * SECONDS_PER_DAY

    def _key(self, platform: str, user_id: str | None) -> str | None:
        if user_id is None or self.identity is None:
            return None
        return self.identity.key(platform, clean_id(str(user_id)) or "")

    def _source_key(self, platform: str, given_by: str | None) -> str | None:
        if given_by is None or self.identity is None:
            return None
        return self.identity.source_key(clean_id(platform) or "", clean_id(given_by) or "")

    # -- writing ---------------------------------------------------------------------

    def record_interaction(self, interaction: Interaction) -> int:
        platform = clean_id(interaction.platform) or ""
        asker = self._key(platform, interaction.user_id)
        values = (
            interaction.at if interaction.at is not None else self._clock(),
            platform,
            clean_id(interaction.conversation_id) or "",
            clean_id(interaction.question_id),
            clean_text(interaction.question),
            interaction.outcome.value,
            bool(interaction.passive),
            clean_id(interaction.entry_id),
            _number(interaction.score),
            _number(interaction.confidence),
            clean_id(interaction.reply_id),
            asker,
        )
        with self._transaction(write=True) as run:
            row = run(
                "INSERT INTO faqbot_interactions (at, platform, conversation_id, question_id, question, outcome,"
                " passive, entry_id, score, confidence, reply_id, asker)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                values,
            ).fetchone()
        return int(row[0])

    def _reply_row(self, run: Run, platform: str, reply_id: str) -> Any:
        return run(
            "SELECT id, platform, conversation_id, question_id, entry_id, passive, removed_at, asker, handed_off_at"
            " FROM faqbot_interactions WHERE platform = ? AND reply_id = ? ORDER BY id DESC LIMIT 1",
            (clean_id(platform), clean_id(reply_id)),
        ).fetchone()

    def rate(
        self,
        platform: str,
        reply_id: str,
        user_id: str,
        helpful: bool | None,
        at: float | None = None,
        given_by: str | None = None,
    ) -> bool:
        rater = self._key(clean_id(platform) or "", user_id)
        at = self._clock() if at is None else at
        source = self._source_key(platform, given_by)  # as the store keeps it: keyed
        with self._transaction(write=True) as run:
            row = self._reply_row(run, platform, reply_id)
            if row is None:
                return False
            if helpful is None:
                # A rating that names no source (given before schema 4, or by a button) goes with any take-back.
                run(
                    "DELETE FROM faqbot_ratings WHERE interaction_id = ? AND rater = ?"
                    + (" AND (given_by = ? OR given_by IS NULL)" if source is not None else ""),
                    (row[0], rater) + ((source,) if source is not None else ()),
                )
            else:
                run(
                    "INSERT INTO faqbot_ratings (interaction_id, rater, helpful, at, given_by) VALUES (?, ?, ?, ?, ?)"
                    " ON CONFLICT (interaction_id, rater) DO UPDATE"
                    " SET helpful = excluded.helpful, at = excluded.at, given_by = excluded.given_by",
                    (row[0], rater, bool(helpful), at, source),
                )
        return True

    def take_back_ratings(self, platform: str, given_by: Sequence[str]) -> int:
        ids = [self._source_key(platform, i) for i in given_by]
        if not ids:
            return 0
        with self._transaction(write=True) as run:
            gone = run(
                f"DELETE FROM faqbot_ratings WHERE given_by IN ({', '.join('?' * len(ids))}) AND interaction_id IN"
                " (SELECT id FROM faqbot_interactions WHERE platform = ?)",
                (*ids, clean_id(platform)),
            )
            return max(0, gone.rowcount)

    def mark_removed(self, platform: str, reply_id: str, at: float | None = None) -> bool:
        return self._mark_reply("removed_at", platform, reply_id, at)

    def mark_handed_off(self, platform: str, reply_id: str, at: float | None = None) -> bool:
        return self._mark_reply("handed_off_at", platform, reply_id, at)

    def _mark_reply(self, column: str, platform: str, reply_id: str, at: float | None) -> bool:
        """Set the time `column` of the reply `reply_id` once (the first time is kept); False when
        no such reply is recorded. `column` is one of ours, never from input."""
        at = self._clock() if at is None else at
        with self._transaction(write=True) as run:
            cursor = run(
                f"UPDATE faqbot_interactions SET {column} = COALESCE({column}, ?) WHERE platform = ? AND reply_id = ?",
                (at, clean_id(platform), clean_id(reply_id)),
            )
            return cursor.rowcount > 0

    def learn_phrasing(
        self,
        text: str,
        entry_id: str,
        *,
        platform: str | None = None,
        conversation_id: str | None = None,
        message_id: str | None = None,
        at: float | None = None,
    ) -> int:
        text = clean_text(text).strip()
        key = phrasing_key(text)
        if not key:
            raise ValueError("a learned phrasing needs at least one word")
        if not entry_id or not entry_id.strip():
            raise ValueError("a learned phrasing needs the id of the entry it asks for")
        values = (
            self._clock() if at is None else at,
            clean_id(platform),
            clean_id(conversation_id),
            clean_id(message_id),
            text,
            clean_id(entry_id.strip()),
            key,
        )
        with self._transaction(write=True) as run:
            row = run(
                "INSERT INTO faqbot_learned (at, platform, conversation_id, message_id, text, entry_id, phrasing_key)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (phrasing_key) DO UPDATE SET at = excluded.at,"
                " platform = excluded.platform, conversation_id = excluded.conversation_id,"
                " message_id = excluded.message_id, text = excluded.text, entry_id = excluded.entry_id"
                " RETURNING id",
                values,
            ).fetchone()
        return int(row[0])

    def forget_phrasing(self, phrasing_id: int) -> bool:
        with self._transaction(write=True) as run:
            return run("DELETE FROM faqbot_learned WHERE id = ?", (int(phrasing_id),)).rowcount > 0

    def set_passive(self, platform: str, conversation_id: str, enabled: bool, at: float | None = None) -> None:
        with self._transaction(write=True) as run:
            run(
                "INSERT INTO faqbot_rooms (platform, conversation_id, passive, at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (platform, conversation_id) DO UPDATE SET passive = excluded.passive, at = excluded.at",
                (clean_id(platform), clean_id(conversation_id), bool(enabled), self._clock() if at is None else at),
            )

    def apply_retention(self) -> int:
        """Interactions and their ratings older than the retention period are deleted;
        learned phrasings that old lose their link to the member's message (room and
        message id) but keep the words and the entry, since a moderator chose to keep them."""
        cutoff = self._clock() - self.retention_days * SECONDS_PER_DAY
        with self._transaction(write=True) as run:
            run(
                "DELETE FROM faqbot_ratings WHERE interaction_id IN (SELECT id FROM faqbot_interactions WHERE at < ?)",
                (cutoff,),
            )
            deleted = run("DELETE FROM faqbot_interactions WHERE at < ?", (cutoff,)).rowcount
            run(
                "UPDATE faqbot_learned SET conversation_id = NULL, message_id = NULL"
                " WHERE at < ? AND (conversation_id IS NOT NULL OR message_id IS NOT NULL)",
                (cutoff,),
            )
        return max(0, deleted)

    # -- reading -------------------------------------------------------------------------

    def find_reply(self, platform: str, reply_id: str) -> AnswerRecord | None:
        with self._transaction(write=False) as run:
            row = self._reply_row(run, platform, reply_id)
        if row is None:
            return None
        return AnswerRecord(
            interaction_id=int(row[0]),
            platform=row[1],
            conversation_id=row[2],
            question_id=row[3],
            entry_id=row[4],
            passive=bool(row[5]),
            removed=row[6] is not None,
            asker=row[7],
            handed_off=row[8] is not None,
        )

    def is_asker(self, platform: str, reply_id: str, user_id: str) -> bool:
        record = self.find_reply(platform, reply_id)
        if record is None or self.identity is None:
            return False
        return self.identity.matches(record.asker, clean_id(platform) or "", clean_id(str(user_id)) or "")

    def learned_phrasings(self) -> list[LearnedPhrasing]:
        with self._transaction(write=False) as run:
            rows = run(
                "SELECT id, text, entry_id, at, platform, conversation_id, message_id FROM faqbot_learned ORDER BY id"
            ).fetchall()
        return [LearnedPhrasing(int(r[0]), r[1], r[2], float(r[3]), r[4], r[5], r[6]) for r in rows]

    def passive_settings(self, platform: str) -> dict[str, bool]:
        with self._transaction(write=False) as run:
            rows = run(
                "SELECT conversation_id, passive FROM faqbot_rooms WHERE platform = ? ORDER BY conversation_id",
                (clean_id(platform),),
            ).fetchall()
        return {conversation: bool(passive) for conversation, passive in rows}

    def gap_records(
        self, since_days: float | None = None, platform: str | None = None, conversation_id: str | None = None
    ) -> list[GapRecord]:
        cutoff = self._cutoff(since_days)
        where, parameters = "", [cutoff]
        if platform is not None and conversation_id is not None:
            where = " AND i.platform = ? AND i.conversation_id = ?"
            parameters += [platform, conversation_id]
        with self._transaction(write=False) as run:
            rows = run(
                "SELECT i.id, i.at, i.question, i.outcome, i.entry_id, i.score, i.removed_at"
                f" FROM faqbot_interactions i LEFT JOIN ({_RATING_TOTALS}) r ON r.interaction_id = i.id"
                f" WHERE i.at >= ?{where}"
                " AND (i.outcome <> 'answered' OR i.removed_at IS NOT NULL OR COALESCE(r.down, 0) > COALESCE(r.up, 0))"
                " AND NOT EXISTS (SELECT 1 FROM faqbot_learned l"
                "   WHERE l.platform = i.platform AND l.message_id = i.question_id)"
                " ORDER BY i.at DESC, i.id DESC LIMIT ?",
                (*parameters, MAX_GAP_RECORDS),
            ).fetchall()
        records = []
        for interaction_id, at, question, outcome, entry_id, score, removed_at in rows:
            if removed_at is not None:
                reason = GapReason.REMOVED
            elif outcome == RecordOutcome.ANSWERED.value:
                reason = GapReason.RATED_DOWN
            else:
                reason = _GAP_REASON_OF_OUTCOME.get(RecordOutcome(outcome), GapReason.UNANSWERED)
            records.append(GapRecord(int(interaction_id), float(at), question, reason, entry_id, score))
        return records

    def entry_counts(self, since_days: float | None = None) -> list[EntryCounts]:
        cutoff = self._cutoff(since_days)
        with self._transaction(write=False) as run:
            rows = run(
                "SELECT i.entry_id,"
                " SUM(CASE WHEN i.passive THEN 1 ELSE 0 END), SUM(CASE WHEN i.passive THEN 0 ELSE 1 END),"
                " COALESCE(SUM(r.up), 0), COALESCE(SUM(r.down), 0),"
                " SUM(CASE WHEN i.removed_at IS NULL THEN 0 ELSE 1 END)"
                f" FROM faqbot_interactions i LEFT JOIN ({_RATING_TOTALS}) r ON r.interaction_id = i.id"
                " WHERE i.at >= ? AND i.outcome = 'answered' AND i.entry_id IS NOT NULL"
                " GROUP BY i.entry_id",
                (cutoff,),
            ).fetchall()
        counts = [EntryCounts(r[0], int(r[1]), int(r[2]), int(r[3]), int(r[4]), int(r[5])) for r in rows]
        return sorted(counts, key=lambda c: (-c.answered, c.entry_id))

    def outcome_counts(self, since_days: float | None = None) -> OutcomeCounts:
        cutoff = self._cutoff(since_days)
        with self._transaction(write=False) as run:
            rows = run(
                "SELECT outcome, passive, COUNT(*) FROM faqbot_interactions WHERE at >= ? GROUP BY outcome, passive",
                (cutoff,),
            ).fetchall()
        passive: dict[RecordOutcome, int] = {}
        asked: dict[RecordOutcome, int] = {}
        for outcome, is_passive, count in rows:
            (passive if is_passive else asked)[RecordOutcome(outcome)] = int(count)
        return OutcomeCounts(passive, asked)
