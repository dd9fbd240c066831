"""The store's settings from the environment: where it is, what it keeps, for how long."""

from __future__ import annotations

from pathlib import Path

import pytest

from faqbot.store import DatabaseUrl
from faqbot.store.sqlite_store import SQLiteStore
from tests.store.conftest import store_settings


def test_defaults_are_sqlite_in_the_state_folder_hashed_ids_and_90_days() -> None:
    settings = store_settings({})
    assert settings.target == Path("faqbot-state") / "faqbot.sqlite3"
    assert (settings.store_user_ids, settings.retention_days) == (False, 90.0)


def test_each_variable_is_read(tmp_path: Path) -> None:
    settings = store_settings(
        {
            "FAQBOT_STATE_DIR": str(tmp_path),
            "FAQBOT_STORE_USER_IDS": "yes",
            "FAQBOT_RETENTION_DAYS": "30",
        }
    )
    assert (settings.target, settings.store_user_ids, settings.retention_days) == (
        tmp_path / "faqbot.sqlite3",
        True,
        30.0,
    )
    store = settings.open()
    try:
        assert isinstance(store, SQLiteStore) and store.retention_days == 30.0
        assert store.identity is not None and store.identity.store_user_ids
    finally:
        store.close()
    url = store_settings({"FAQBOT_DATABASE_URL": "postgresql://bot@db/faqbot"}).target
    assert isinstance(url, DatabaseUrl)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("FAQBOT_RETENTION_DAYS", "0"),
        ("FAQBOT_RETENTION_DAYS", "-5"),
        ("FAQBOT_RETENTION_DAYS", "ninety"),
        ("FAQBOT_RETENTION_DAYS", "nan"),
        ("FAQBOT_RETENTION_DAYS", "inf"),
        ("FAQBOT_STORE_USER_IDS", "maybe"),
        ("FAQBOT_DATABASE_URL", "/var/lib/faqbot.db"),
    ],
)
def test_a_bad_value_names_its_variable(variable: str, value: str) -> None:
    with pytest.raises(ValueError, match=variable):
        store_settings({variable: value})
