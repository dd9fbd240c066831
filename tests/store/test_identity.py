"""Who asked, without user ids: keyed hashes with a private secret in the state folder."""

from __future__ import annotations

import logging
import stat
import threading
from pathlib import Path

import pytest

from faqbot.store import Identity, StoreError
from faqbot.store.identity import SECRET_FILE


def test_the_same_member_gets_the_same_key_across_restarts(tmp_path: Path) -> None:
    first = Identity(tmp_path).key("discord", "1234")
    again = Identity(tmp_path).key("discord", "1234")
    assert first == again
    assert "1234" not in first
    assert Identity(tmp_path).key("discord", "1235") != first
    assert Identity(tmp_path).key("matrix", "1234") != first  # one platform's id is not another's
    assert stat.S_IMODE((tmp_path / SECRET_FILE).stat().st_mode) == 0o600


def test_without_the_secret_a_key_cannot_be_recomputed(tmp_path: Path) -> None:
    key = Identity(tmp_path / "one").key("discord", "1234")
    assert Identity(tmp_path / "two").key("discord", "1234") != key
    assert not Identity(tmp_path / "two").matches(key, "discord", "1234")


def test_keys_match_in_either_form(tmp_path: Path) -> None:
    hashed = Identity(tmp_path).key("matrix", "@alice:example.org")
    plain = Identity(tmp_path, store_user_ids=True).key("matrix", "@alice:example.org")
    assert plain == "id:@alice:example.org"
    for identity in (Identity(tmp_path), Identity(tmp_path, store_user_ids=True)):
        assert identity.matches(hashed, "matrix", "@alice:example.org")
        assert identity.matches(plain, "matrix", "@alice:example.org")
        assert not identity.matches(hashed, "matrix", "@bob:example.org")
        assert not identity.matches(None, "matrix", "@alice:example.org")


def test_the_secret_file_is_never_left_readable_by_others(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    Identity(tmp_path).key("discord", "1")
    secret = tmp_path / SECRET_FILE
    secret.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="faqbot.store"):
        Identity(tmp_path).key("discord", "1")
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert any("readable by others" in r.getMessage() for r in caplog.records)
    assert secret.read_text().strip() not in caplog.text


def test_a_damaged_secret_is_a_clear_error_not_a_silent_new_one(tmp_path: Path) -> None:
    secret = tmp_path / SECRET_FILE
    secret.write_text("not hex at all\n")
    secret.chmod(0o600)
    with pytest.raises(StoreError, match=f"{secret}: expected 64 hexadecimal characters"):
        Identity(tmp_path).key("discord", "1")
    assert secret.read_text() == "not hex at all\n"


def test_repr_shows_where_the_secret_is_not_what_it_is(tmp_path: Path) -> None:
    identity = Identity(secret=b"k" * 32)
    assert "k" * 8 not in repr(identity)
    identity = Identity(tmp_path)
    identity.key("discord", "1")
    assert (tmp_path / SECRET_FILE).read_text().strip() not in repr(identity)


def test_processes_starting_together_agree_on_one_secret(tmp_path: Path) -> None:
    for attempt in range(5):
        folder = tmp_path / str(attempt)
        start = threading.Barrier(12)
        keys: list[str] = []

        def first_key(folder: Path = folder, start: threading.Barrier = start, keys: list[str] = keys) -> None:
            identity = Identity(folder)
            start.wait()
            keys.append(identity.key("discord", "1234"))

        threads = [threading.Thread(target=first_key) for _ in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert len(keys) == 12 and len(set(keys)) == 1
        assert Identity(folder).key("discord", "1234") == keys[0]
        assert [p.name for p in folder.iterdir()] == [SECRET_FILE]  # no temporary file left behind
