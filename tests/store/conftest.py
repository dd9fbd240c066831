"""Fixtures for the store tests: every store test runs on a real SQLite file and on a
real PostgreSQL server started from the machine's binaries, with a fake clock."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import psycopg
import pytest

from faqbot.settings import load_settings
from faqbot.sources.loader import load_knowledge
from faqbot.sources.model import Knowledge
from faqbot.store import open_store
from faqbot.store.settings import StoreSettings
from faqbot.store.sql_store import SqlStore
from tests.store.postgres_server import PostgresServer, running_postgres
from tests.unit.conftest import SMALL_FAQ

DAY = 86_400.0
START = 1_750_000_000.0  # a fixed "now" for the fake clock (June 2025)

FAQ = (
    SMALL_FAQ
    + """\
- id: password
  question: How do I reset my password?
  alternates: [I forgot my password]
  answer: Use "Forgot your password?" on the login page.
  link: /accounts/password
"""
)


def raw_rows(store_target: str, table: str) -> list[tuple[object, ...]]:
    """Every row of a table, read with the engine's own driver (not through faqbot)."""
    if store_target.startswith("postgresql://"):
        with psycopg.connect(store_target) as connection:
            return list(connection.execute(f"SELECT * FROM {table}").fetchall())
    with closing(sqlite3.connect(store_target)) as connection:
        return connection.execute(f"SELECT * FROM {table}").fetchall()


class FakeClock:
    """Wall-clock seconds that only move when a test says so."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, days: float = 0.0, seconds: float = 0.0) -> None:
        self.now += days * DAY + seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the session; each test takes a database of its own."""
    with running_postgres() as server:
        yield server


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def store_target(engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """Where a fresh store lives: a new SQLite file, or a new PostgreSQL database."""
    if engine == "sqlite":
        return str(tmp_path / "state" / "faqbot.sqlite3")
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.new_database()


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def make_store(store_target: str, state_dir: Path, clock: FakeClock) -> Iterator[Callable[..., SqlStore]]:
    """Open the test's store (again, to show what survives a restart); closed at teardown."""
    opened: list[SqlStore] = []

    def make(**options: object) -> SqlStore:
        options.setdefault("clock", clock)
        options.setdefault("state_dir", state_dir)
        store = open_store(store_target, **options)  # type: ignore[arg-type]
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def knowledge(tmp_path: Path) -> Knowledge:
    folder = tmp_path / "knowledge"
    folder.mkdir()
    (folder / "faq.yml").write_text(FAQ, encoding="utf-8")
    loaded = load_knowledge([folder], base_url="https://docs.example.org")
    assert not loaded.errors, loaded.errors
    return loaded


def store_settings(environ: dict[str, str]) -> StoreSettings:
    """The store's settings as `faqbot` reads them, from an environment only."""
    return load_settings(environ=environ).store
