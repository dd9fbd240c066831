"""The encoder's vectors survive restarts, and a bad cache file is never trusted."""

from __future__ import annotations

import stat
from pathlib import Path

import numpy as np
import pytest

from faqbot.matching.encoder import DATA, SentenceEncoder
from faqbot.matching.index import MatchIndex
from faqbot.matching.vector_cache import FILE_NAME, MAGIC, VectorCache
from faqbot.sources.model import Knowledge


class RefusingSession:
    """Stands in for onnxruntime's session where the model must not run."""

    def run(self, *_args: object) -> None:
        raise AssertionError("the model ran")


def fresh_start(cache_dir: Path) -> SentenceEncoder:
    return SentenceEncoder(DATA, cache_dir)


def test_a_restart_with_unchanged_knowledge_encodes_nothing(small_knowledge: Knowledge, tmp_path: Path) -> None:
    state = tmp_path / "state" / "vectors"
    first = MatchIndex(small_knowledge.entries, vectors=fresh_start(state))
    path = state / FILE_NAME
    assert path.is_file() and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert [p.name for p in state.iterdir()] == [FILE_NAME]  # no temporary file left behind
    restarted = fresh_start(state)
    restarted._session = RefusingSession()
    index = MatchIndex(small_knowledge.entries, vectors=restarted)
    restarted._session = fresh_start(None)._session  # questions are encoded as they come
    question = "who covers the hosting bills?"
    assert [c.entry.id for c in index.rank(question)] == [c.entry.id for c in first.rank(question)]
    assert index.rank(question)[0].score == first.rank(question)[0].score


def test_the_cache_keeps_only_the_knowledge_indexed_last(tmp_path: Path) -> None:
    encoder = fresh_start(tmp_path)
    encoder.embed_many(["an old phrasing", "a kept phrasing"])
    encoder.cache.keep_only(["a kept phrasing"])
    reread = VectorCache(encoder.cache.model_id, encoder.dims, tmp_path)
    assert len(reread) == 1 and "a kept phrasing" in reread and "an old phrasing" not in reread
    assert np.array_equal(reread.get("a kept phrasing"), encoder.embed("a kept phrasing"))


def _written(tmp_path: Path) -> tuple[VectorCache, bytes]:
    cache = VectorCache("model-a", 4, tmp_path)
    cache.put("who pays for this", np.array([0.5, 0.5, 0.5, 0.5], dtype=np.float32))
    cache.put("do you block threads", np.array([1.0, 0.0, 0.0, 0.0], dtype=np.float32))
    cache.save()
    return cache, (tmp_path / FILE_NAME).read_bytes()


def test_a_good_file_is_read_back(tmp_path: Path) -> None:
    _written(tmp_path)
    again = VectorCache("model-a", 4, tmp_path)
    assert len(again) == 2 and again.get("who pays for this") == pytest.approx([0.5] * 4)


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda data: data[: len(data) // 2], id="truncated"),
        pytest.param(lambda data: data[:-40] + bytes([data[-40] ^ 1]) + data[-39:], id="one bit flipped"),
        pytest.param(lambda data: data + b"\0" * 16, id="padded"),
        pytest.param(lambda data: b"#!/bin/sh\nrm -rf ~\n", id="not ours"),
        pytest.param(lambda data: MAGIC + b"\xff\xff\xff\xff" + b"x" * 64, id="garbage header"),
        pytest.param(lambda data: b"", id="empty"),
    ],
)
def test_a_broken_file_is_ignored_and_rebuilt(tmp_path: Path, damage, caplog: pytest.LogCaptureFixture) -> None:
    _, data = _written(tmp_path)
    (tmp_path / FILE_NAME).write_bytes(damage(data))
    cache = VectorCache("model-a", 4, tmp_path)
    assert len(cache) == 0 and "rebuilt" in caplog.text
    cache.put("who pays for this", np.array([0.0, 1.0, 0.0, 0.0], dtype=np.float32))
    cache.save()
    assert len(VectorCache("model-a", 4, tmp_path)) == 1  # replaced by a good file


def test_a_file_from_another_model_version_is_not_trusted(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    _written(tmp_path)
    assert len(VectorCache("model-b", 4, tmp_path)) == 0 and "another model version" in caplog.text
    assert len(VectorCache("model-a", 8, tmp_path)) == 0


def test_a_well_formed_file_with_vectors_no_model_gives_is_not_trusted(tmp_path: Path) -> None:
    cache = VectorCache("model-a", 4, tmp_path)
    cache.put("who pays for this", np.array([3.0, 0.0, 0.0, 0.0], dtype=np.float32))  # not unit length
    cache.save()
    assert len(VectorCache("model-a", 4, tmp_path)) == 0


def test_a_symlink_in_place_of_the_file_is_not_followed(tmp_path: Path) -> None:
    _written(tmp_path / "elsewhere")
    (tmp_path / FILE_NAME).symlink_to(tmp_path / "elsewhere" / FILE_NAME)
    assert len(VectorCache("model-a", 4, tmp_path)) == 0


def test_the_model_identity_changes_with_the_model_file(tmp_path: Path) -> None:
    from faqbot.matching.encoder import MODEL_FILE, TOKENIZER_FILE, model_identity

    for name in (MODEL_FILE, TOKENIZER_FILE):
        (tmp_path / name).write_bytes((DATA / name).read_bytes()[:1000])
    before = model_identity(tmp_path)
    (tmp_path / MODEL_FILE).write_bytes((DATA / MODEL_FILE).read_bytes()[:999] + b"!")
    assert model_identity(tmp_path) != before
