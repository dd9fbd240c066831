"""The store's tables, built by forward migrations, numbered from 1.

A new store runs every migration in order; a store written by an earlier release
runs the ones it lacks, in one transaction with the version bump, so a crash leaves
it at the old version, never half-way. A store whose version is newer than this code
knows is refused untouched (an older faqbot must not write tables it does not
understand). Never edit a released migration: add the next one.

SQL is shared by SQLite and PostgreSQL; the few words that differ are `{...}`
fields filled from the `Dialect`. Times are seconds since the epoch (UTC) in
DOUBLE PRECISION columns in both engines. Table names start with `faqbot_` so the
store can live in a database the operator also uses for other things.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from faqbot.store.records import phrasing_key

Run = Callable[..., Any]  # run(sql with ? placeholders, params=()) -> cursor, inside the transaction


@dataclass(frozen=True)
class Dialect:
    """The words in which the two engines' SQL differ."""

    name: str
    identity_column: str  # an auto-numbered primary key
    begin_write: str  # starts a transaction that will write (SQLite takes its write lock up front)
    placeholder: str  # our SQL is written with `?`; PostgreSQL's driver wants `%s`


@dataclass(frozen=True)
class Migration:
    version: int
    summary: str
    apply: Callable[[Run, Dialect], None]


def _statements(run: Run, dialect: Dialect, script: str) -> None:
    for statement in script.split(";"):
        if statement.strip():
            run(statement.format(id=dialect.identity_column))


def _version_1(run: Run, dialect: Dialect) -> None:
    """The first layout: what the bot answered and missed, removals, learned phrasings."""
    _statements(
        run,
        dialect,
        """
        CREATE TABLE faqbot_schema (version INTEGER NOT NULL);
        CREATE TABLE faqbot_interactions (
            id {id},
            at DOUBLE PRECISION NOT NULL,
            platform TEXT NOT NULL,
            conversation_id TEXT NOT NULL,
            question_id TEXT,
            question TEXT NOT NULL,
            outcome TEXT NOT NULL,
            passive BOOLEAN NOT NULL,
            entry_id TEXT,
            score DOUBLE PRECISION,
            confidence DOUBLE PRECISION,
            reply_id TEXT,
            asker TEXT,
            removed_at DOUBLE PRECISION
        );
        CREATE INDEX faqbot_interactions_at ON faqbot_interactions (at);
        CREATE INDEX faqbot_interactions_reply ON faqbot_interactions (platform, reply_id);
        CREATE TABLE faqbot_learned (
            id {id},
            at DOUBLE PRECISION NOT NULL,
            platform TEXT,
            conversation_id TEXT,
            message_id TEXT,
            text TEXT NOT NULL,
            entry_id TEXT NOT NULL
        )
        """,
    )


def _version_2(run: Run, dialect: Dialect) -> None:
    """Ratings (one per member per reply), per-room passive settings, and one learned
    phrasing per wording (duplicates from version 1 keep their newest entry)."""
    _statements(
        run,
        dialect,
        """
        CREATE TABLE faqbot_ratings (
            interaction_id BIGINT NOT NULL REFERENCES faqbot_interactions (id),
            rater TEXT NOT NULL,
            helpful BOOLEAN NOT NULL,
            at DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (interaction_id, rater)
        );
        CREATE TABLE faqbot_rooms (
            platform TEXT NOT NULL,
            conversation_id TEXT NOT NULL,
            passive BOOLEAN NOT NULL,
            at DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (platform, conversation_id)
        );
        ALTER TABLE faqbot_learned ADD COLUMN phrasing_key TEXT
        """,
    )
    rows = run("SELECT id, text FROM faqbot_learned ORDER BY at DESC, id DESC").fetchall()
    kept: set[str] = set()
    for phrasing_id, text in rows:
        key = phrasing_key(text)
        if key in kept:
            run("DELETE FROM faqbot_learned WHERE id = ?", (phrasing_id,))
            continue
        kept.add(key)
        run("UPDATE faqbot_learned SET phrasing_key = ? WHERE id = ?", (key, phrasing_id))
    run("CREATE UNIQUE INDEX faqbot_learned_key ON faqbot_learned (phrasing_key)")


def _version_3(run: Run, dialect: Dialect) -> None:
    """When a help post's answer asked for a human: helpers are told once per post, restarts too."""
    run("ALTER TABLE faqbot_interactions ADD COLUMN handed_off_at DOUBLE PRECISION")


def _version_4(run: Run, dialect: Dialect) -> None:
    """What gave each rating (a digest of a Matrix reaction's room and id, a Discord emoji): a reaction taken
    back takes back its own rating only, and a redaction is understood after a restart too."""
    run("ALTER TABLE faqbot_ratings ADD COLUMN given_by TEXT")
    run("CREATE INDEX faqbot_ratings_given_by ON faqbot_ratings (given_by)")


MIGRATIONS: Sequence[Migration] = (
    Migration(1, "interactions, removals and learned phrasings", _version_1),
    Migration(2, "ratings, per-room passive settings, one learned phrasing per wording", _version_2),
    Migration(3, "hand-offs of help posts to humans", _version_3),
    Migration(4, "what gave each rating", _version_4),
)
CURRENT_VERSION = MIGRATIONS[-1].version
