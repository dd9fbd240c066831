"""Who asked, without keeping user ids: a keyed hash of platform and user id.

The store must let "the asker may remove or rate their own answer" survive a
restart, and count one rating per member. Both need only to recognise the same
member again, not to know who they are. So the store keeps HMAC-SHA256(secret,
platform + user id): the same member gives the same key, nobody can turn a key back
into an id, and without the secret nobody can even test a guessed id against the
store (chat user ids are public and enumerable, so a plain hash would not do).

The secret is 32 random bytes in the state folder (`store-secret`, mode 0600),
created on first use and kept apart from the database: a leaked database or backup
alone says nothing about who asked. Processes sharing one PostgreSQL store should
share the file. Deleting it makes every earlier key unrecognisable (askers can then
no longer remove their old answers; moderators still can).

Only when `store_user_ids` is set does the store keep the ids themselves.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import stat
import threading
from pathlib import Path

from faqbot.store.interface import StoreError, StoreUnavailable

log = logging.getLogger("faqbot.store")

SECRET_FILE = "store-secret"
_SECRET_BYTES = 32
_HASHED = "h:"  # stored keys say which form they are, so a change of setting keeps both readable
_PLAIN = "id:"


class Identity:
    """Turns a platform's user id into the key the store keeps, and recognises it again."""

    def __init__(self, folder: Path | None = None, *, secret: bytes | None = None, store_user_ids: bool = False):
        """`folder`: where `store-secret` lives (read or created on first use); or `secret`
        given directly. `store_user_ids`: keep ids themselves (a deliberate setting)."""
        if folder is None and secret is None:
            raise ValueError("Identity needs the state folder (for its secret) or a secret")
        self._folder = folder
        self._secret = secret
        self._lock = threading.Lock()
        self.store_user_ids = store_user_ids

    def __repr__(self) -> str:
        where = str(self._folder / SECRET_FILE) if self._folder else "given secret"
        return f"Identity({where}, store_user_ids={self.store_user_ids})"

    def key(self, platform: str, user_id: str) -> str:
        """What the store keeps for this member."""
        if self.store_user_ids:
            return _PLAIN + user_id
        return _HASHED + self._hash(platform, user_id)

    def source_key(self, platform: str, given_by: str) -> str:
        """What the store keeps for what gave a rating (a reaction), keyed whatever `store_user_ids`
        says: a reaction's ids are public in its room, and kept plain they would name the member
        behind a rating's keyed hash to anyone who has the store and can read the room."""
        return _HASHED + self._hash(platform, "given_by\x00" + given_by)

    def matches(self, stored: str | None, platform: str, user_id: str) -> bool:
        """Whether a stored key is this member's, in whichever form it was stored."""
        if not stored:
            return False
        if stored.startswith(_PLAIN):
            return hmac.compare_digest(stored[len(_PLAIN) :], user_id)
        if stored.startswith(_HASHED):
            return hmac.compare_digest(stored[len(_HASHED) :], self._hash(platform, user_id))
        return False

    def _hash(self, platform: str, user_id: str) -> str:
        message = f"{platform}\x00{user_id}".encode("utf-8", "replace")
        return hmac.new(self._load_secret(), message, hashlib.sha256).hexdigest()[:32]

    def _load_secret(self) -> bytes:
        with self._lock:
            if self._secret is None:
                assert self._folder is not None
                self._secret = _read_or_create_secret(self._folder / SECRET_FILE)
            return self._secret


def _create_secret(path: Path) -> None:
    """Write a new secret beside `path` and link it into place: the link fails when another
    process got there first, and nobody ever reads a half-written file."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(_SECRET_BYTES) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return
        log.info("created %s (keys the hashes that stand for user ids in the store)", path)
    finally:
        temporary.unlink(missing_ok=True)


def _read_or_create_secret(path: Path) -> bytes:
    """The secret in `path`, created (0600) when absent; two processes starting together
    agree on one. A file others can read is tightened and reported."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not path.exists():
            _create_secret(path)
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            os.chmod(path, 0o600)
            log.warning("%s was readable by others (mode %o); now 0600", path, mode)
        text = path.read_text(encoding="ascii", errors="replace").strip()
    except OSError as error:
        raise StoreUnavailable(f"cannot read or create {path}: {error.strerror or error}") from None
    try:
        secret = bytes.fromhex(text)
    except ValueError:
        secret = b""
    if len(secret) != _SECRET_BYTES:
        raise StoreError(
            f"{path}: expected {2 * _SECRET_BYTES} hexadecimal characters; delete the file to make a new "
            "secret (askers of earlier answers can then no longer remove them)"
        )
    return secret
