"""The embedded store: one SQLite file in the state folder (the default).

WAL journal, so `faqbot gaps` or `faqbot stats` can read while the bot writes; a
busy timeout, so a second process waits its turn instead of failing at once. The
file and its folder are created private (0600 / 0700): they hold members' questions.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from faqbot.store.identity import Identity
from faqbot.store.interface import DEFAULT_RETENTION_DAYS, StoreError, StoreMissing, StoreUnavailable
from faqbot.store.schema import Dialect, Run
from faqbot.store.sql_store import SqlStore

BUSY_TIMEOUT_SECONDS = 5.0

# Primary result codes that say "not now" (busy, locked, full, I/O, cannot open, read-only
# file, out of memory): the writer retries them. Anything else (not a database, corrupt,
# constraint, a bug in our SQL) will fail the same way again.
_TRY_AGAIN = {
    sqlite3.SQLITE_BUSY,
    sqlite3.SQLITE_LOCKED,
    sqlite3.SQLITE_NOMEM,
    sqlite3.SQLITE_READONLY,
    sqlite3.SQLITE_IOERR,
    sqlite3.SQLITE_FULL,
    sqlite3.SQLITE_CANTOPEN,
    sqlite3.SQLITE_PROTOCOL,
}


class SQLiteStore(SqlStore):
    dialect = Dialect(
        name="sqlite",
        # AUTOINCREMENT: a forgotten learned phrasing's id is never given to a new one.
        identity_column="INTEGER PRIMARY KEY AUTOINCREMENT",
        begin_write="BEGIN IMMEDIATE",  # take the write lock first: no deadlock between two writers
        placeholder="?",
    )
    engine = "SQLite"

    def __init__(
        self,
        path: Path,
        *,
        identity: Identity | None,
        retention_days: float = DEFAULT_RETENTION_DAYS,
        clock: Callable[[], float] = time.time,
        read_only: bool = False,
        busy_timeout: float = BUSY_TIMEOUT_SECONDS,
    ) -> None:
        super().__init__(identity=identity, retention_days=retention_days, clock=clock, read_only=read_only)
        self.path = Path(path)
        self._busy_timeout = busy_timeout

    def _describe(self) -> str:
        return str(self.path)

    def _connect(self) -> sqlite3.Connection:
        if self.read_only:
            if not self.path.is_file():
                raise StoreMissing(f"no faqbot store at {self.path}")
            target, uri = f"file:{quote(str(self.path.resolve()))}?mode=ro", True
        else:
            self._create_private_file()
            target, uri = str(self.path), False
        connection = sqlite3.connect(
            target, timeout=self._busy_timeout, isolation_level=None, check_same_thread=False, uri=uri
        )
        try:
            if not self.read_only:
                connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")  # with WAL: durable but for the last commits on power loss
            connection.execute("PRAGMA foreign_keys=ON")
        except BaseException:
            connection.close()
            raise
        return connection

    def _create_private_file(self) -> None:
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
        except OSError as error:
            raise StoreUnavailable(f"cannot create the store {self.path}: {error.strerror or error}") from None

    def _has_table(self, run: Run, name: str) -> bool:
        return run("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone() is not None

    def _store_error(self, error: BaseException) -> StoreError | None:
        if isinstance(error, StoreError):
            return error
        if not isinstance(error, sqlite3.Error):
            return None
        code = getattr(error, "sqlite_errorcode", None)
        message = f"SQLite store {self.path}: {error}"
        if code is not None and code & 0xFF in _TRY_AGAIN:
            return StoreUnavailable(message)
        if code is None and isinstance(error, sqlite3.OperationalError):
            return StoreUnavailable(message)
        return StoreError(message)
