"""Finding and reading knowledge files without following anything out of the knowledge folder.

Knowledge folders arrive by pull request, and one symlink in a docs PR
(`environ.md -> /proc/self/environ`) served the bot's tokens into chat. So a file
or folder is read only when it resolves inside its knowledge folder, is a regular
file (not a FIFO, a device or a socket) and is not on /proc or /sys; everything
else that looks like knowledge is refused with a reason. Sizes, counts and depth
are bounded by `KnowledgeLimits`, and the walk keeps its own stack, so neither a
huge nor a deep tree can stall or crash it.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from faqbot.sources.limits import KnowledgeLimits
from faqbot.sources.model import Severity
from faqbot.sources.text_safety import is_unsafe_name

MARKDOWN_SUFFIXES = (".md", ".markdown")
YAML_SUFFIXES = (".yml", ".yaml")
FOLDER_METADATA = "_dir.yml"
_PSEUDO_FILE_SYSTEMS = ("/proc", "/sys")
# Not following a link swapped in since the walk, not blocking on a FIFO, not taking a
# terminal; the flags some systems lack are simply not set there.
_OPEN_FLAGS = os.O_RDONLY
for _flag in ("O_NOFOLLOW", "O_NONBLOCK", "O_NOCTTY", "O_CLOEXEC"):
    _OPEN_FLAGS |= getattr(os, _flag, 0)


def has_knowledge_suffix(name: str) -> bool:
    return name.lower().endswith(MARKDOWN_SUFFIXES + YAML_SUFFIXES)


@dataclass(frozen=True)
class FoundFile:
    """A knowledge file to read: `path` as found (what messages show), `target` where it really is."""

    path: Path
    target: Path
    relative: str
    is_folder_metadata: bool = False


@dataclass(frozen=True)
class Refusal:
    """A file or folder that is not read, and why.

    `unvisited` is the relative path prefix under which no file was looked at (a
    refused folder's path and "/", or "" when the walk stopped at the file limit):
    files last seen there may still exist, so their last good versions keep serving."""

    path: Path
    relative: str
    reason: str
    unvisited: str | None = None
    severity: Severity = Severity.ERROR


class RefusedFile(Exception):
    """A knowledge file that cannot be read safely; the message says why."""


def _is_inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _pseudo_file_system_devices() -> set[int]:
    devices = set()
    for mount in _PSEUDO_FILE_SYSTEMS:
        try:
            devices.add(os.stat(mount).st_dev)
        except OSError:
            continue
    return devices


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def _special_file_reason(status: os.stat_result, real_path: str, pseudo_devices: set[int]) -> str | None:
    if not stat.S_ISREG(status.st_mode):
        return f"is {_kind(status.st_mode)}, not a regular file; refused"
    if status.st_dev in pseudo_devices or any(_is_inside(real_path, m) for m in _PSEUDO_FILE_SYSTEMS):
        return "is on /proc or /sys, not a knowledge file; refused"
    return None


def walk_knowledge(root: Path, limits: KnowledgeLimits) -> Iterator[FoundFile | Refusal]:
    """Every knowledge file under `root` in a stable order (a folder's `_dir.yml` first), and every refusal.

    `root` may be one file; then it must resolve inside its own folder. Hidden and
    `_`-prefixed files and folders are not knowledge and are skipped, except `_dir.yml`.
    """
    pseudo_devices = _pseudo_file_system_devices()
    if not root.is_dir():
        boundary = os.path.realpath(root.parent)
        yield _classify(root, root.name, boundary, pseudo_devices, root_file=True) or Refusal(
            root, root.name, "is not a knowledge file"
        )
        return
    boundary = os.path.realpath(root)
    files = 0
    stack: list[tuple[Path, str, int]] = [(root, "", 0)]
    while stack:
        folder, prefix, depth = stack.pop()
        try:
            with os.scandir(folder) as scan:
                names = sorted(entry.name for entry in scan)
        except OSError as error:
            yield Refusal(folder, prefix.rstrip("/") or ".", f"cannot list folder: {error.strerror}", prefix)
            continue
        if FOLDER_METADATA in names:
            names.remove(FOLDER_METADATA)
            names.insert(0, FOLDER_METADATA)
        subfolders: list[tuple[Path, str, int]] = []
        for name in names:
            path, relative = folder / name, prefix + name
            if name.startswith((".", "_")) and name != FOLDER_METADATA:
                continue
            try:
                is_folder = path.is_dir() and not path.is_symlink()
            except OSError:
                is_folder = False
            if is_folder:
                if is_unsafe_name(name):
                    reason = "folder name holds a control, line-break or bidi character; refused"
                    yield Refusal(path, relative, reason, relative + "/")
                elif depth + 1 > limits.max_folder_depth:
                    reason = f"nested more than {limits.max_folder_depth} folders deep; refused"
                    yield Refusal(path, relative, reason, relative + "/")
                else:
                    subfolders.append((path, relative + "/", depth + 1))
                continue
            item = _classify(path, relative, boundary, pseudo_devices)
            if item is None:
                continue
            if isinstance(item, FoundFile):
                files += 1
                if files > limits.max_files:
                    reason = f"more than {limits.max_files:,} knowledge files; this one and the rest are not loaded"
                    yield Refusal(path, relative, reason, unvisited="")
                    return
            yield item
        # Depth first, in name order, as `sorted(root.rglob("*"))` would list them.
        stack.extend(reversed(subfolders))


def _classify(
    path: Path, relative: str, boundary: str, pseudo_devices: set[int], root_file: bool = False
) -> FoundFile | Refusal | None:
    """What to do with one non-folder entry: read it, refuse it, or ignore it (not knowledge)."""
    name = path.name
    metadata = name == FOLDER_METADATA
    if not (metadata or root_file or has_knowledge_suffix(name)):
        if path.is_symlink() and os.path.isdir(path):
            return _folder_link(path, relative, boundary)
        return None
    if is_unsafe_name(name):
        return Refusal(path, relative, "file name holds a control, line-break or bidi character; refused")
    real = os.path.realpath(path)
    if not _is_inside(real, boundary):
        return Refusal(path, relative, "links to a file outside the knowledge folder; refused")
    try:
        status = os.stat(real)
    except OSError as error:
        return Refusal(path, relative, f"cannot read file: {error.strerror} (a broken link?)")
    if stat.S_ISDIR(status.st_mode):
        return _folder_link(path, relative, boundary)
    reason = _special_file_reason(status, real, pseudo_devices)
    if reason is not None:
        return Refusal(path, relative, reason)
    return FoundFile(path, Path(real), relative, is_folder_metadata=metadata)


def _folder_link(path: Path, relative: str, boundary: str) -> Refusal:
    if _is_inside(os.path.realpath(path), boundary):
        reason = "folder link not followed (its target loads where it is)"
        return Refusal(path, relative, reason, relative + "/", Severity.WARNING)
    return Refusal(path, relative, "links to a folder outside the knowledge folder; refused", relative + "/")


def read_knowledge_file(found: FoundFile, max_bytes: int) -> str:
    """The text of a file `walk_knowledge` found, or `RefusedFile` if it is no longer safe or too big.

    Opens without following a link swapped in since the walk, without blocking on a
    FIFO, and reads at most `max_bytes` + 1 bytes whatever size the file claims
    (/proc files claim 0)."""
    try:
        descriptor = os.open(found.target, _OPEN_FLAGS)
    except OSError as error:
        raise RefusedFile(f"cannot read file: {error.strerror}") from None
    try:
        reason = _special_file_reason(os.fstat(descriptor), str(found.target), _pseudo_file_system_devices())
        if reason is not None:
            raise RefusedFile(reason)
        size = os.fstat(descriptor).st_size
        if size > max_bytes:
            raise RefusedFile(_too_big(f"{size:,} bytes", max_bytes))
        chunks: list[bytes] = []
        length = 0
        while length <= max_bytes:
            chunk = os.read(descriptor, max_bytes + 1 - length)
            if not chunk:
                break
            chunks.append(chunk)
            length += len(chunk)
        if length > max_bytes:
            raise RefusedFile(_too_big(f"more than {max_bytes:,} bytes", max_bytes))
    except OSError as error:
        raise RefusedFile(f"cannot read file: {error.strerror}") from None
    finally:
        os.close(descriptor)
    try:
        return b"".join(chunks).decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise RefusedFile(f"cannot read file: not UTF-8 ({error.reason} at byte {error.start})") from None


def _too_big(size: str, max_bytes: int) -> str:
    return f"file is {size}, over the limit of {max_bytes:,} bytes; refused"
