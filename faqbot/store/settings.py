"""Where the store is and what it keeps: settings, and opening the right engine.

By default the store is an SQLite file in the state folder; a `postgresql://` URL
in `FAQBOT_DATABASE_URL` makes it PostgreSQL, shared by every bot process pointed
at it. The URL's password never appears in a message, a repr or a log.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from faqbot.store.database_url import DatabaseUrl
from faqbot.store.identity import Identity
from faqbot.store.interface import DEFAULT_RETENTION_DAYS
from faqbot.store.postgres_store import PostgresStore
from faqbot.store.sql_store import SqlStore
from faqbot.store.sqlite_store import SQLiteStore

STORE_FILE = "faqbot.sqlite3"
DEFAULT_STATE_DIR = Path("faqbot-state")  # the Matrix adapter's default too


def open_store(
    target: str | os.PathLike[str] | DatabaseUrl,
    *,
    state_dir: Path | None = None,
    store_user_ids: bool = False,
    retention_days: float = DEFAULT_RETENTION_DAYS,
    clock: Callable[[], float] = time.time,
    read_only: bool = False,
) -> SqlStore:
    """The store at `target`, migrated and with retention applied (or, `read_only`,
    only checked: nothing is created, migrated or deleted; `StoreMissing` when absent).

    `target`: a `postgresql://` URL, an SQLite file, or a folder (its `faqbot.sqlite3`).
    `state_dir`: where the identity secret lives (default: the SQLite file's folder, or
    `./faqbot-state` for PostgreSQL). Raises `StoreUnavailable` when the store cannot be
    reached now, `StoreError` when it can never be used as it is."""
    text = target.value if isinstance(target, DatabaseUrl) else os.fspath(target)
    if DatabaseUrl.is_database_url(text):
        url = target if isinstance(target, DatabaseUrl) else DatabaseUrl(text)
        identity = Identity(state_dir or DEFAULT_STATE_DIR, store_user_ids=store_user_ids)
        store: SqlStore = PostgresStore(
            url, identity=identity, retention_days=retention_days, clock=clock, read_only=read_only
        )
    elif "://" in text:
        scheme = text.split("://", 1)[0]
        raise ValueError(f"unsupported store URL scheme {scheme!r}: use postgresql://... or a file path")
    else:
        path = Path(text)
        if path.is_dir():
            path = path / STORE_FILE
        identity = Identity(state_dir or path.parent, store_user_ids=store_user_ids)
        store = SQLiteStore(path, identity=identity, retention_days=retention_days, clock=clock, read_only=read_only)
    try:
        store.prepare()
    except BaseException:
        store.close()
        raise
    return store


@dataclass(frozen=True)
class StoreSettings:
    """Where the store is and what it keeps (`store.*` in `faqbot.settings`, parsed there):
    a `postgresql://` URL or SQLite in the state folder; user ids themselves or keyed hashes;
    how many days records are kept."""

    state_dir: Path = DEFAULT_STATE_DIR
    database_url: DatabaseUrl | None = field(default=None)
    store_user_ids: bool = False
    retention_days: float = DEFAULT_RETENTION_DAYS

    @property
    def target(self) -> DatabaseUrl | Path:
        """What `open_store` is given: the URL, or the SQLite file in the state folder."""
        return self.database_url or self.state_dir / STORE_FILE

    def open(self, clock: Callable[[], float] = time.time, read_only: bool = False) -> SqlStore:
        return open_store(
            self.target,
            state_dir=self.state_dir,
            store_user_ids=self.store_user_ids,
            retention_days=self.retention_days,
            clock=clock,
            read_only=read_only,
        )
