"""The state folder: what the bot keeps between runs, private and crash-safe.

It holds secrets (a Matrix access token, end-to-end encryption keys), so it is
created 0700 and every file in it 0600. Writes are atomic and durable: a temporary
file is written and fsynced, renamed over the old one, and the folder is fsynced,
so a crash or power cut leaves either the old or the new file, never half of one.
A file that cannot be read back (corrupt, truncated, the wrong shape) is set aside
under a timestamped name and reported, and the caller starts from scratch: a bad
file must never stop the bot from starting.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import stat
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

log = logging.getLogger("faqbot.state")

T = TypeVar("T")


class StateFolderError(OSError):
    """The state folder cannot be used (a file in its place, not writable); the message names it."""


class StateFolder:
    """One bot's state folder. `open()` creates or checks it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def open(cls, path: Path) -> StateFolder:
        """Create the folder (0700) if missing, tighten it if too open, and check it is writable."""
        if path.exists() and not path.is_dir():
            raise StateFolderError(f"state folder {path} is a file, not a folder (set FAQBOT_STATE_DIR)")
        try:
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
            mode = stat.S_IMODE(path.stat().st_mode)
            if mode & 0o077:
                os.chmod(path, 0o700)
        except OSError as error:
            raise StateFolderError(f"cannot create state folder {path}: {error.strerror or error}") from None
        probe = path / ".write-test"
        try:
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as error:
            raise StateFolderError(f"state folder {path} is not writable: {error.strerror or error}") from None
        return cls(path)

    def file(self, name: str) -> Path:
        return self.path / name

    def write_bytes(self, name: str, data: bytes) -> None:
        """Atomically and durably replace `name` with `data` (mode 0600)."""
        write_private(self.file(name), data)

    def write_json(self, name: str, value: Any) -> None:
        self.write_bytes(name, json.dumps(value, separators=(",", ":")).encode("utf-8"))

    def read_json(self, name: str, check: Callable[[Any], T]) -> T | None:
        """The file's content as `check` accepts it, or None when missing or unusable.

        `check` turns the parsed JSON into what the caller wants, raising
        ValueError/TypeError/KeyError for the wrong shape; such a file is set aside."""
        target = self.file(name)
        try:
            raw = target.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as error:
            log.error("cannot read %s: %s; starting without it", target, error.strerror or error)
            return None
        try:
            return check(json.loads(raw.decode("utf-8")))
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            self.set_aside(name, f"unreadable ({type(error).__name__}: {error})")
            return None

    def set_aside(self, name: str, why: str) -> Path | None:
        """Rename a bad file (or folder) to `name.corrupt-<time>` and say so loudly."""
        target = self.file(name)
        aside = target.with_name(f"{target.name}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}")
        try:
            os.replace(target, aside)
        except OSError as error:
            log.error("%s is %s and could not be moved aside: %s", target, why, error.strerror or error)
            return None
        log.error("%s is %s: moved it to %s and starting without it", target, why, aside.name)
        return aside


def write_private(target: Path, data: bytes) -> None:
    """Write `target` atomically and durably, readable by its owner only."""
    folder = target.parent
    fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:  # mkstemp creates the file 0600
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    fsync_folder(folder)


def fsync_folder(folder: Path) -> None:
    """Make a rename in `folder` survive a power cut."""
    with contextlib.suppress(OSError):  # some file systems cannot open or fsync a folder
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
