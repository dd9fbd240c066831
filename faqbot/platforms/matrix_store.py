"""The bot's end-to-end encryption store (matrix-nio's), private and hard to lose.

matrix-nio keeps a device's keys in an SQLite file under `nio/` in the state folder,
pickled with a key that defaults to the same string for everyone. Here the store gets
a random key of its own, kept in the session file beside it (an older store is
re-keyed); its files are 0600; one that cannot be read (truncated, a wrong key) is set
aside under a timestamped name so the bot can start; and once it is open, a write the
disk refuses is reported instead of raised inside a sync, then written once the disk
has room again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import os
import secrets
import sqlite3
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import peewee
from nio import AsyncClient, AsyncClientConfig
from nio.store import DefaultStore

from faqbot.health import Health
from faqbot.logging_setup import REDACTOR
from faqbot.platforms.matrix_state import SESSION_FILE, LegacySession, Session
from faqbot.state_folder import StateFolder

logger = logging.getLogger("faqbot.matrix")

NIO_STORE_DIR = "nio"
NIO_DEFAULT_PICKLE_KEY = AsyncClientConfig().pickle_key  # the same for everyone: never ours

_STORE_CORRUPTION = (peewee.DatabaseError, sqlite3.DatabaseError, ValueError)  # ValueError: a pickle's MAC
# SQLite's words for a store that is fine but cannot be used right now.
_STORE_BUSY = ("disk is full", "disk i/o error", "unable to open", "locked", "readonly")


class StoreUnavailable(Exception):
    """The encryption store or the session cannot be written right now (a full disk, a lock):
    retried, never set aside."""


class NewDeviceNeeded(Exception):
    """The device's encryption store was unreadable and a password can make a new device."""


def store_unavailable(error: BaseException) -> bool:
    """A full disk or a lock, as opposed to a store that is damaged."""
    return isinstance(error, OSError) or (
        isinstance(error, peewee.OperationalError | sqlite3.OperationalError)
        and any(words in str(error).lower() for words in _STORE_BUSY)
    )


class KeyStore(DefaultStore):
    """matrix-nio's default store, except that a write the disk refuses (full, read-only)
    is reported to `report` instead of raised, once the store is open.

    Raised inside a sync, such an error would cost the rest of the batch: matrix-nio has
    moved past it already, and an olm message cannot be decrypted twice. The keys stay in
    memory, and `EncryptionStore.catch_up` writes them once the disk has room."""

    report: Callable[[Exception], None] | None = None


_STORE_WRITES = (
    "save_account",
    "save_session",
    "save_inbound_group_session",
    "save_device_keys",
    "save_encrypted_rooms",
    "delete_encrypted_room",
    "add_outgoing_key_request",
    "remove_outgoing_key_request",
    "ignore_devices",  # on sending to an encrypted room with devices nobody verified
)


def _reported_write(name: str) -> Callable[..., Any]:
    write = getattr(DefaultStore, name)

    @functools.wraps(write)
    def reported(self: KeyStore, *args: Any, **kwargs: Any) -> Any:
        try:
            return write(self, *args, **kwargs)
        except Exception as error:
            if self.report is None or not store_unavailable(error):
                raise  # while opening (handled there), or a damaged store
            self.report(error)
            return None

    return reported


for _name in _STORE_WRITES:
    setattr(KeyStore, _name, _reported_write(_name))


def _save_every_key(store: DefaultStore, olm: Any) -> None:
    """Write the device's account and every session it holds in memory to `store`."""
    with store.database.atomic():
        store.save_account(olm.account)
        for sender_key, sessions in olm.session_store.items():
            for session in sessions:
                store.save_session(sender_key, session)
        for group_session in olm.inbound_group_store:
            store.save_inbound_group_session(group_session)


def close_store(client: AsyncClient) -> None:
    """Close the client's store (or a tmpfs the state folder is on stays busy)."""
    if client.store is not None:
        client.store.database.close()
    client.store = None
    client.olm = None


def _glob_escape(text: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in text)


class EncryptionStore:
    """The `nio/` folder of one bot's state folder, and what the adapter does with it."""

    def __init__(self, folder: StateFolder, user_id: str, health: Health) -> None:
        self.folder = folder
        self.user_id = user_id
        self.health = health
        self.path: Path = folder.path / NIO_STORE_DIR
        self._behind = False  # writes failed (a full disk): keys live in memory only

    def prepare(self) -> None:
        self.path.mkdir(mode=0o700, exist_ok=True)

    def open(
        self, client: AsyncClient, session: Session | LegacySession | None, keep_token: bool, renewable: bool
    ) -> None:
        """Open the device's store with its own key, and save the session that holds the key.

        `client` is logged in (device id and token set). A store from before the key
        (matrix-nio's default) is re-keyed. One that cannot be read is set aside; when
        `renewable` (a password can make a new device) that raises `NewDeviceNeeded`; a
        token bot keeps its device with a fresh store, whose new one-time keys may clash
        with the old ones on the server (reported in the health)."""
        assert client.device_id is not None and client.access_token
        key = session.pickle_key if isinstance(session, Session) else secrets.token_urlsafe(32)
        REDACTOR.add_secrets([key, client.access_token])
        saved = Session(self.user_id, client.device_id, key, client.access_token if keep_token else None)
        # The key is saved before the store is re-keyed: a crash between the two is repaired by
        # the fallback to the default key below.
        try:
            self.folder.write_json(SESSION_FILE, saved.to_json())
        except OSError as error:
            where = self.folder.path
            raise StoreUnavailable(f"cannot save the session in {where}: {error.strerror or error}") from None
        problem: Exception | None = None
        for candidate in (key, NIO_DEFAULT_PICKLE_KEY):
            try:
                self._load(client, candidate)
            except _STORE_CORRUPTION as error:
                problem = problem or error
                continue
            if candidate != key:
                self._rekey(client, key)
            break
        else:
            close_store(client)
            self._set_aside(client.device_id, problem)
            if renewable:
                logger.warning("logging in anew for a new device with a new encryption store")
                raise NewDeviceNeeded
            self.health.problem(
                "encryption-store",
                f"the encryption store of device {client.device_id} was unreadable and is set aside: encrypted "
                "rooms may stay unreadable until the bot gets a new device (a new access token, or a password)",
            )
            self._load(client, key)
        client.config = dataclasses.replace(client.config, pickle_key=key)
        assert isinstance(client.store, KeyStore)
        client.store.report = self._write_failed
        self._make_private()

    def catch_up(self, client: AsyncClient | None) -> None:
        """Once the state folder has room again (a state save succeeded): write every key
        kept in memory since the store's writes failed."""
        if not self._behind or client is None or client.store is None or client.olm is None:
            return
        self._behind = False  # a failing write below sets it again
        try:
            _save_every_key(client.store, client.olm)
        except Exception as error:  # the commit of the writes, which the store does not report itself
            if not store_unavailable(error):
                raise
            self._write_failed(error)
        if not self._behind:
            logger.info("stored the encryption keys kept in memory while the store could not be written")
            self.health.clear("encryption-store-writes")

    def _write_failed(self, error: Exception) -> None:
        self._behind = True
        self.health.problem(
            "encryption-store-writes",
            f"cannot write the encryption store in {self.path} ({error}): keys that arrive meanwhile are "
            "kept in memory and stored once the disk has room",
        )

    def _load(self, client: AsyncClient, key: str) -> None:
        close_store(client)
        client.config = dataclasses.replace(client.config, pickle_key=key)
        try:
            client.restore_login(self.user_id, client.device_id or "", client.access_token)
        except (*_STORE_CORRUPTION, OSError) as error:
            close_store(client)
            if isinstance(error, _STORE_CORRUPTION) and not store_unavailable(error):
                raise
            raise StoreUnavailable(f"cannot open the encryption store in {self.path}: {error}") from error

    @staticmethod
    def _rekey(client: AsyncClient, key: str) -> None:
        """Pickle every secret of the store again under `key` (it had matrix-nio's default)."""
        store, olm = client.store, client.olm
        assert store is not None and olm is not None
        store.pickle_key = key
        try:
            _save_every_key(store, olm)
        except (peewee.PeeweeException, sqlite3.Error) as error:
            close_store(client)
            raise StoreUnavailable(f"cannot re-key the encryption store: {error}") from error
        logger.info("the encryption store now has a key of its own (it had matrix-nio's default)")

    def _set_aside(self, device_id: str, problem: Exception | None) -> None:
        prefix = f"{self.user_id}_{device_id}."
        why = f"unreadable ({type(problem).__name__}: {problem})" if problem else "unreadable"
        for path in sorted(self.path.glob(f"{_glob_escape(prefix)}*")):
            if ".corrupt-" not in path.name:
                self.folder.set_aside(f"{NIO_STORE_DIR}/{path.name}", why)

    def _make_private(self) -> None:
        """matrix-nio creates its files with the process umask; they hold the device's keys."""
        os.chmod(self.path, 0o700)
        for path in self.path.iterdir():
            with contextlib.suppress(OSError):
                if path.is_file() and stat.S_IMODE(path.stat().st_mode) & 0o077:
                    os.chmod(path, 0o600)
