"""Sentence vectors kept across restarts, so unchanged knowledge is never encoded twice.

Encoding every phrasing and sentence is what a start-up spends its time on (about
2 ms a phrasing, 4 ms a sentence, one text at a time). This file keeps the vectors of
the current knowledge's texts in memory (so a live reload encodes only what changed)
and, given a folder, on disk: one file, keyed by the model's identity and by each
text's SHA-256, so a restart with unchanged knowledge runs the model on nothing.

The file lives in the state folder, which others may be able to write to. It is
never trusted: a file written by another model version, for other dimensions,
truncated, padded, corrupted (a SHA-256 over the whole file), holding non-finite or
non-unit vectors, larger than the cap, or not a regular file is ignored, logged and
rebuilt. It is written atomically (a temporary file in the same folder, fsync,
rename), with mode 0600. Memory is bounded by the knowledge: only the texts of the
index built last are kept; questions from chat never enter the cache.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

MAGIC = b"FAQBOT-VECTORS\n\x01"
FILE_NAME = "sentence-vectors.bin"
DIGEST = 32  # SHA-256 bytes, per text and for the whole file
MAX_FILE_BYTES = 1 << 30  # about 690,000 texts; a larger file is not one we wrote for any real knowledge
_HEADER_LENGTH = 4


class CacheRejected(Exception):
    """The cache file is not one this model wrote whole; the message says why."""


def text_key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


class VectorCache:
    """Vectors of the current knowledge's texts, by exact text, for one model identity.

    `folder` None keeps them in memory only (tests, benchmarks); otherwise they are
    read from and written to `folder / FILE_NAME`."""

    def __init__(self, model_id: str, dims: int, folder: Path | None = None) -> None:
        self.model_id = model_id
        self.dims = dims
        self.path = folder / FILE_NAME if folder is not None else None
        self._vectors: dict[bytes, np.ndarray] = {}
        self._dirty = False
        if self.path is not None:
            self._load()

    def __len__(self) -> int:
        return len(self._vectors)

    def __contains__(self, text: str) -> bool:
        return text_key(text) in self._vectors

    def get(self, text: str) -> np.ndarray | None:
        return self._vectors.get(text_key(text))

    def put(self, text: str, vector: np.ndarray) -> None:
        self._vectors[text_key(text)] = np.asarray(vector, dtype=np.float32)
        self._dirty = True

    def keep_only(self, texts: Iterable[str]) -> None:
        """Forget every vector but those of `texts` (the knowledge just indexed), then persist."""
        wanted = {text_key(t) for t in texts}
        if len(wanted) != len(self._vectors) or not wanted.issuperset(self._vectors):
            self._vectors = {k: v for k, v in self._vectors.items() if k in wanted}
            self._dirty = True
        self.save()

    def clear(self) -> None:
        self._vectors.clear()
        self._dirty = True

    # -- the file ------------------------------------------------------------

    def _header(self, count: int) -> bytes:
        return json.dumps({"model": self.model_id, "dims": self.dims, "count": count}, sort_keys=True).encode()

    def save(self) -> None:
        """Write the file if anything changed: temporary file, fsync, rename (readers never see half a file)."""
        if self.path is None or not self._dirty:
            return
        keys = sorted(self._vectors)
        header = self._header(len(keys))
        matrix = np.stack([self._vectors[k] for k in keys]) if keys else np.zeros((0, self.dims), np.float32)
        body = b"".join(
            (
                MAGIC,
                len(header).to_bytes(_HEADER_LENGTH, "little"),
                header,
                b"".join(keys),
                matrix.astype("<f4", copy=False).tobytes(),
            )
        )
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(prefix=".vectors-", dir=self.path.parent)  # mode 0600
            try:
                with os.fdopen(handle, "wb") as out:
                    out.write(body)
                    out.write(hashlib.sha256(body).digest())
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(temporary, self.path)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
            _fsync_folder(self.path.parent)
        except OSError as error:  # a read-only state folder costs restarts their speed, nothing else
            log.warning("cannot write the vector cache %s: %s", self.path, error)
            return
        self._dirty = False

    def _load(self) -> None:
        assert self.path is not None
        try:
            self._vectors = self._read(self.path)
        except FileNotFoundError:
            return
        except (OSError, CacheRejected) as error:
            log.warning("ignoring the vector cache %s (%s); it will be rebuilt", self.path, error)
            self._vectors = {}
            self._dirty = True  # replace it with a good one at the next save

    def _read(self, path: Path) -> dict[bytes, np.ndarray]:
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
        handle = os.open(path, flags)
        with os.fdopen(handle, "rb") as source:
            status = os.fstat(source.fileno())
            if not stat.S_ISREG(status.st_mode):
                raise CacheRejected("not a regular file")
            if status.st_size > MAX_FILE_BYTES:
                raise CacheRejected(f"{status.st_size} bytes, more than {MAX_FILE_BYTES}")
            data = source.read(MAX_FILE_BYTES + 1)
        return self._parse(data)

    def _parse(self, data: bytes) -> dict[bytes, np.ndarray]:
        if not data.startswith(MAGIC):
            raise CacheRejected("not a faqbot vector cache")
        if len(data) < len(MAGIC) + _HEADER_LENGTH + DIGEST:
            raise CacheRejected("truncated")
        body, checksum = data[:-DIGEST], data[-DIGEST:]
        if hashlib.sha256(body).digest() != checksum:
            raise CacheRejected("checksum mismatch (truncated or corrupted)")
        start = len(MAGIC) + _HEADER_LENGTH
        header_length = int.from_bytes(body[len(MAGIC) : start], "little")
        try:
            header = json.loads(body[start : start + header_length])
            count = int(header["count"])
        except (ValueError, KeyError, TypeError) as error:
            raise CacheRejected(f"unreadable header: {error}") from None
        if header.get("model") != self.model_id or header.get("dims") != self.dims:
            raise CacheRejected("written by another model version")
        keys_start = start + header_length
        vectors_start = keys_start + count * DIGEST
        if count < 0 or len(body) != vectors_start + count * self.dims * 4:
            raise CacheRejected("wrong length")
        matrix = np.frombuffer(body, dtype="<f4", offset=vectors_start).reshape(count, self.dims)
        norms = np.linalg.norm(matrix, axis=1) if count else np.zeros(0)
        if not np.all(np.isfinite(matrix)) or not np.allclose(norms, 1.0, atol=1e-3):
            raise CacheRejected("vectors that no model run gives")
        keys = [body[keys_start + n * DIGEST : keys_start + (n + 1) * DIGEST] for n in range(count)]
        if len(set(keys)) != count:
            raise CacheRejected("repeated texts")
        matrix = matrix.astype(np.float32)  # a writable copy, independent of the file's bytes
        return dict(zip(keys, matrix, strict=True))


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (where the platform allows opening a folder)."""
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)
