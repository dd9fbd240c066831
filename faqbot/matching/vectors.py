"""Semantic similarity between a question and each entry, from text vectors.

A `SemanticSource` (the sentence encoder, `encoder.py`) turns texts into unit vectors;
`SemanticIndex` holds the knowledge's. An entry's semantic score is its phrasings'
centroid's similarity, or its closest text sentence's when that is higher (each
sentence read with the entry's title: a whole section averaged into one vector answers
no particular question). The knowledge's common direction (the mean of its phrasings'
vectors) is removed from all vectors first, as in SIF's common-component removal.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from faqbot.matching.calibration import Calibration

REMOVE_COMMON = True  # project the phrasings' mean direction out of every vector (as SIF does)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
MIN_SENTENCE_CHARS = 4


class SemanticSource(Protocol):
    """What the match index needs from a meaning-based matcher (the sentence encoder, or a test double)."""

    dims: int
    calibration: Calibration
    semantic_weight: float
    reads_sentences: bool  # embed an entry's text per sentence (True) or whole (False)

    def embed(self, text: str) -> np.ndarray | None: ...

    def entry_index(self, phrasings: Sequence[Sequence[str]], bodies: Sequence[str]) -> SemanticIndex: ...


def _embed_all(source: SemanticSource, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The vectors of the texts that have one (float32 rows, in order) and which texts those are;
    all at once when the source can (the sentence encoder caches them)."""
    if hasattr(source, "embed_many"):
        present = np.array([bool(t and t.strip()) for t in texts], dtype=bool)
        rows = source.embed_many([t for t, kept in zip(texts, present, strict=True) if kept])
        return np.asarray(rows, dtype=np.float32).reshape(-1, source.dims), present
    vectors = [source.embed(t) if t else None for t in texts]
    present = np.array([v is not None for v in vectors], dtype=bool)
    rows = [v for v in vectors if v is not None]
    return (np.stack(rows).astype(np.float32) if rows else np.zeros((0, source.dims), np.float32)), present


def _sentences(text: str, title: str) -> list[str]:
    """A text's sentences (or lines), each read with the title it belongs under."""
    found = [part.strip() for part in _SENTENCE_END.split(text) if len(part.strip()) >= MIN_SENTENCE_CHARS]
    return [f"{title}: {sentence}" if title else sentence for sentence in found]


@dataclass(frozen=True)
class SemanticScores:
    """A question's similarities to every entry (arrays indexed by entry number, -1 where an
    entry has no such text), and its vector, for the contrast with the background."""

    centroid: np.ndarray  # to the centroid of the entry's phrasings
    phrasing: np.ndarray  # to its closest phrasing
    text: np.ndarray  # to its closest text sentence (read with its title)
    query: np.ndarray  # the question's own unit vector


def _best_per_owner(similarities: np.ndarray, owners: np.ndarray, count: int) -> np.ndarray:
    """Per entry, the highest of its rows' similarities (-1 for an entry with none). Rows are grouped
    by owner in order (`np.maximum.reduceat` over the groups: `np.maximum.at` took 6x as long)."""
    best = np.full(count, -1.0, dtype=np.float32)
    if len(owners):
        starts = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]])
        best[owners[starts]] = np.maximum.reduceat(similarities, starts)
    return best


class SemanticIndex:
    """Per-entry semantic scores for a question (entries in the order given)."""

    def __init__(self, vectors: SemanticSource, phrasings: Sequence[Sequence[str]], bodies: Sequence[str]) -> None:
        self._vectors = vectors
        self._background = getattr(vectors, "background", None)
        count = len(phrasings)
        self._count = count
        flat = [(entry_number, text) for entry_number, texts in enumerate(phrasings) for text in texts]
        # The entries' texts: whole, or (for a sentence encoder) as titled sentences.
        texts, text_owners = [], []
        for entry_number, body in enumerate(bodies):
            title = phrasings[entry_number][0] if phrasings[entry_number] else ""
            for text in _sentences(body, title) if vectors.reads_sentences else [body]:
                texts.append(text)
                text_owners.append(entry_number)
        self.texts = [t for _, t in flat] + texts  # every text embedded, for a cache to keep
        embedded, present = _embed_all(vectors, self.texts)
        # Rows come in the texts' order: the phrasings' first, then the sentences'.
        phrasings_present = int(present[: len(flat)].sum())
        matrix, text_matrix = embedded[:phrasings_present], embedded[phrasings_present:]
        empty = np.zeros((0, vectors.dims), dtype=np.float32)
        self._raw = embedded  # for the contrast with the background
        # The knowledge's common direction (what all its phrasings share) says nothing about
        # which entry a question is about; it is projected out of every vector.
        self._common: np.ndarray | None = None
        if REMOVE_COMMON and phrasings_present > 1:
            mean = matrix.mean(axis=0)
            self._common = (mean / max(float(np.linalg.norm(mean)), 1e-9))[None, :]
            matrix = self._without_common(matrix)
        self._phrasing_owners = np.array([n for n, _ in flat], dtype=np.intp)[present[: len(flat)]]
        self._phrasings = matrix
        centroids = np.zeros((count, vectors.dims), dtype=np.float32)
        np.add.at(centroids, self._phrasing_owners, matrix)
        self._centroids = centroids / np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-9)
        self._has_phrasing = np.zeros(count, dtype=bool)
        self._has_phrasing[self._phrasing_owners] = True
        self._text_owners = np.array(text_owners, dtype=np.intp)[present[len(flat) :]]
        self._texts = self._without_common(text_matrix) if len(text_matrix) else empty

    def _without_common(self, vectors: np.ndarray) -> np.ndarray:
        if self._common is None:
            return vectors
        vectors = vectors - (vectors @ self._common.T) @ self._common
        return vectors / np.maximum(np.linalg.norm(vectors, axis=-1, keepdims=True), 1e-9)

    def scores(self, question: str) -> SemanticScores | None:
        """The question's similarities (each in [-1, 1]), or None when it cannot be embedded."""
        raw = self._vectors.embed(question)
        if raw is None or not self._count:
            return None
        query = self._without_common(raw)
        centroid = np.where(self._has_phrasing, self._centroids @ query, -1.0)
        phrasing = _best_per_owner(self._phrasings @ query, self._phrasing_owners, self._count)
        text = _best_per_owner(self._texts @ query, self._text_owners, self._count)
        return SemanticScores(centroid, phrasing, text, raw)

    def contrast(self, found: SemanticScores) -> float:
        """How much closer the knowledge comes to the question than everyday questions do
        (0 without a background: no evidence either way)."""
        if self._background is None:
            return 0.0
        # The closest text of the whole knowledge, before common-direction removal (read only here:
        # most rankings need no contrast, and this product reads every text's vector).
        knowledge = float((self._raw @ found.query).max()) if len(self._raw) else -1.0
        return knowledge - self._background.similarity(found.query)
