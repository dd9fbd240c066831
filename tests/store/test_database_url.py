"""A PostgreSQL URL's password never appears in an error message, a repr or a log."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from faqbot.store import (
    BackgroundRecorder,
    DatabaseUrl,
    Interaction,
    RecordOutcome,
    StoreError,
    open_store,
)
from tests.store.conftest import store_settings
from tests.store.postgres_server import PostgresServer, free_port

PASSWORD = "Tr0ub4dor&3"


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://bot:{PASSWORD}@db.example.org:5432/faqbot",
        "postgresql://bot:Tr0ub4dor%263@db.example.org/faqbot",  # percent-encoded
        f"postgresql://bot@db.example.org/faqbot?sslmode=require&password={PASSWORD}",
        f"postgres://bot:{PASSWORD}@db.example.org:notaport/faqbot",  # unparseable port
    ],
)
def test_the_password_is_never_shown(url: str) -> None:
    database_url = DatabaseUrl(url)
    assert PASSWORD not in repr(database_url) and PASSWORD not in str(database_url)
    assert "Tr0ub4dor%263" not in str(database_url)
    message = database_url.scrub(f"could not connect with {url} (password {PASSWORD})")
    assert PASSWORD not in message and "Tr0ub4dor%263" not in message
    settings = store_settings({"FAQBOT_DATABASE_URL": url})
    assert PASSWORD not in repr(settings)


def test_the_display_form_says_which_store(tmp_path: Path) -> None:
    url = DatabaseUrl(f"postgresql://bot:{PASSWORD}@db.example.org:5433/faqbot?sslmode=require")
    assert str(url) == "postgresql://bot@db.example.org:5433/faqbot"


def test_connection_errors_and_logs_never_carry_the_password(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    url = f"postgresql://faqbot:{PASSWORD}@127.0.0.1:{free_port()}/faqbot"  # nothing listens there
    with pytest.raises(StoreError) as raised:
        open_store(url, state_dir=tmp_path)
    assert "127.0.0.1" in str(raised.value)
    assert PASSWORD not in str(raised.value) and PASSWORD not in repr(raised.value)
    assert raised.value.__cause__ is None and raised.value.__suppress_context__

    with caplog.at_level(logging.DEBUG):
        recorder = BackgroundRecorder(lambda: open_store(url, state_dir=tmp_path), first_retry=0.01).start()
        recorder.record(Interaction("discord", "c", "who pays", RecordOutcome.UNANSWERED, passive=False))
        assert not recorder.flush(0.3)
        recorder.close(timeout=0.1)
    assert "store unavailable" in caplog.text and "127.0.0.1" in caplog.text
    assert PASSWORD not in caplog.text


def test_a_real_server_refusing_the_database_names_it_without_the_password(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    url = postgres.url("no_such_database", password=PASSWORD)
    with pytest.raises(StoreError, match="no_such_database") as raised:
        open_store(url, state_dir=tmp_path)
    assert PASSWORD not in str(raised.value)
    store = open_store(postgres.url("postgres", password=PASSWORD), state_dir=tmp_path, read_only=False)
    try:
        assert PASSWORD not in repr(store)
    finally:
        store.close()


def test_other_url_schemes_are_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'mysql'") as raised:
        open_store(f"mysql://bot:{PASSWORD}@db/faqbot", state_dir=tmp_path)
    assert PASSWORD not in str(raised.value)
    with pytest.raises(ValueError, match="FAQBOT_DATABASE_URL: expected a postgresql:// URL") as raised:
        store_settings({"FAQBOT_DATABASE_URL": f"mysql://bot:{PASSWORD}@db/faqbot"})
    assert PASSWORD not in str(raised.value)


def test_a_password_the_driver_echoes_back_is_hidden(tmp_path: Path) -> None:
    """A password with an unencoded "%" makes libpq quote it in its error message."""
    password = "se%zzcret"
    with pytest.raises(StoreError) as raised:
        open_store(f"postgresql://bot:{password}@127.0.0.1:{free_port()}/faqbot", state_dir=tmp_path)
    assert "percent" in str(raised.value) or "invalid" in str(raised.value)
    assert password not in str(raised.value) and "zzcret" not in str(raised.value)


def test_a_driver_error_quoting_a_row_keeps_the_row_out_of_the_store_error(
    postgres: PostgresServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """PostgreSQL's DETAIL line can quote the values of a row (a member's question);
    the store's errors, which the writer logs, carry the primary message only."""
    url = postgres.new_database()
    store = open_store(url, state_dir=tmp_path)
    try:
        store.learn_phrasing("can I pay with paypal", "funding")
        with pytest.raises(StoreError) as raised, store._transaction(write=True) as run:
            # What a bug writing the same wording twice would hit, through the store's own error path.
            run(
                "INSERT INTO faqbot_learned (at, text, entry_id, phrasing_key) VALUES (0, 'x', 'y', ?)",
                ("can i pay with paypal",),
            )
        assert "faqbot_learned_key" in str(raised.value)
        assert "paypal" not in str(raised.value)
    finally:
        store.close()
