"""Optional static word vectors: semantic similarity for paraphrases that share no word.

Needs numpy (`pip install faqbot[vectors]`); the default install does not use this.
The bundled vectors (`data/words-minilm.npz`, built by `tools/build_vectors.py`) are
all-MiniLM-L6-v2's embeddings of the 30,000 most frequent English words, reduced to
128 dimensions and stored as int8 (about 3 MB). A text's vector is the SIF-weighted
mean of its words' vectors (frequent words count less); an entry's semantic score is
its phrasings' centroid's similarity, or its page or section text's when that is
higher (blending in the best single phrasing, as the lexical score does, added
nothing on dev data). The knowledge's common direction (the mean of its phrasings'
vectors) is removed from all vectors first, as in SIF's common-component removal.

A sentence encoder (`encoder.py`) plugs into the same `SemanticIndex`; it reads an
entry's text sentence by sentence, each prefixed with the entry's title, and the
closest sentence speaks for the text (a whole section averaged into one vector
answers no particular question).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from faqbot.matching.calibration import SEMANTIC, Calibration
from faqbot.matching.text import fold

BUNDLED = Path(__file__).resolve().parent / "data" / "words-minilm.npz"
REMOVE_COMMON = True  # project the phrasings' mean direction out of every vector (as SIF does)
_PLAIN = re.compile(r"[a-z0-9]+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
MIN_SENTENCE_CHARS = 4


class SemanticSource(Protocol):
    """What the match index needs from word vectors or a sentence encoder."""

    dims: int
    calibration: Calibration
    semantic_weight: float
    reads_sentences: bool  # embed an entry's text per sentence (True) or whole (False)

    def embed(self, text: str) -> np.ndarray | None: ...

    def entry_index(self, phrasings: Sequence[Sequence[str]], bodies: Sequence[str]) -> SemanticIndex: ...


class WordVectors:
    """Static word vectors; a text's vector is the weighted mean of its words' vectors."""

    calibration = SEMANTIC  # fitted by bench/tune.py --vectors
    semantic_weight = 0.5  # score = (lexical + w * semantic) / (1 + w); 0.3 and 1.0 were worse on dev
    reads_sentences = False  # a mean of word vectors reads a whole text as well as its sentences

    def __init__(self, words: Sequence[str], vectors: np.ndarray, weights: np.ndarray) -> None:
        self._lookup = {w: i for i, w in enumerate(words)}
        self._weighted = (vectors.astype(np.float32) / 127.0) * weights.astype(np.float32)[:, None]
        self.dims = vectors.shape[1]

    @classmethod
    def load(cls, path: Path) -> WordVectors:
        with np.load(path) as data:
            return cls(str(data["words"]).split("\n"), data["vectors"], data["weights"])

    def embed(self, text: str) -> np.ndarray | None:
        """The text's unit vector, or None when it has no known word."""
        ids = [i for i in (self._lookup.get(w) for w in _PLAIN.findall(fold(text))) if i is not None]
        if not ids:
            return None
        vector = self._weighted[ids].sum(axis=0)
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm else None

    def entry_index(self, phrasings: Sequence[Sequence[str]], bodies: Sequence[str]) -> SemanticIndex:
        return SemanticIndex(self, phrasings, bodies)


def _embed_all(source, texts: list[str]) -> list[np.ndarray | None]:
    """Embed many texts, all at once when the source can (a sentence encoder caches them)."""
    if hasattr(source, "embed_many"):
        present = [i for i, t in enumerate(texts) if t and t.strip()]
        vectors: list[np.ndarray | None] = [None] * len(texts)
        for i, row in zip(present, source.embed_many([texts[i] for i in present]), strict=True):
            vectors[i] = row
        return vectors
    return [source.embed(t) if t else None for t in texts]


def _sentences(text: str, title: str) -> list[str]:
    """A text's sentences (or lines), each read with the title it belongs under."""
    found = [part.strip() for part in _SENTENCE_END.split(text) if len(part.strip()) >= MIN_SENTENCE_CHARS]
    return [f"{title}: {sentence}" if title else sentence for sentence in found]


class SemanticIndex:
    """Per-entry semantic scores for a question (entries in the order given)."""

    def __init__(self, vectors: SemanticSource, phrasings: Sequence[Sequence[str]], bodies: Sequence[str]) -> None:
        self._vectors = vectors
        count = len(phrasings)
        self._count = count
        rows, owners = [], []
        flat = [(entry_number, text) for entry_number, texts in enumerate(phrasings) for text in texts]
        for (entry_number, _), vector in zip(flat, _embed_all(vectors, [t for _, t in flat]), strict=True):
            if vector is not None:
                rows.append(vector)
                owners.append(entry_number)
        matrix = np.stack(rows) if rows else np.zeros((0, vectors.dims), dtype=np.float32)
        # The knowledge's common direction (what all its phrasings share) says nothing about
        # which entry a question is about; it is projected out of every vector.
        self._common: np.ndarray | None = None
        if REMOVE_COMMON and len(rows) > 1:
            mean = matrix.mean(axis=0)
            self._common = (mean / max(float(np.linalg.norm(mean)), 1e-9))[None, :]
            matrix = self._without_common(matrix)
        centroids = np.zeros((count, vectors.dims), dtype=np.float32)
        np.add.at(centroids, np.array(owners, dtype=np.intp), matrix)
        self._centroids = centroids / np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-9)
        # The entries' texts: whole, or (for a sentence encoder) as titled sentences.
        texts, text_owners = [], []
        for entry_number, body in enumerate(bodies):
            title = phrasings[entry_number][0] if phrasings[entry_number] else ""
            for text in _sentences(body, title) if vectors.reads_sentences else [body]:
                texts.append(text)
                text_owners.append(entry_number)
        text_rows = [(n, v) for n, v in zip(text_owners, _embed_all(vectors, texts), strict=True) if v is not None]
        self._text_owners = np.array([n for n, _ in text_rows], dtype=np.intp)
        self._texts = (
            self._without_common(np.stack([v for _, v in text_rows]))
            if text_rows
            else np.zeros((0, vectors.dims), dtype=np.float32)
        )

    def _without_common(self, vectors: np.ndarray) -> np.ndarray:
        if self._common is None:
            return vectors
        vectors = vectors - (vectors @ self._common.T) @ self._common
        return vectors / np.maximum(np.linalg.norm(vectors, axis=-1, keepdims=True), 1e-9)

    def scores(self, question: str, top: int) -> tuple[list[float], list[int]] | None:
        """One score in [-1, 1] per entry and the `top` best entries (unordered), or None
        when the question has no known word."""
        query = self._vectors.embed(question)
        if query is None or not self._count:
            return None
        query = self._without_common(query)
        # An entry's phrasings' centroid, or its page or section text when that is closer.
        blended = self._centroids @ query
        np.maximum.at(blended, self._text_owners, self._texts @ query)
        count = self._count
        leaders = np.argpartition(-blended, top)[:top].tolist() if top < count else list(range(count))
        return blended.tolist(), leaders


@lru_cache(maxsize=1)
def load_bundled() -> WordVectors:
    return WordVectors.load(BUNDLED)
