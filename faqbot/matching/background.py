"""Everyday chat, to tell a question about this community from one about something else.

"How many threads should my minecraft server get" shares a word with a page about
Meta's Threads; "what search operators does google support" with the search page.
Overlap alone cannot tell them apart; contrast can: how much better does the knowledge
explain a message than a background of everyday questions does? Two contrasts, both
computed from `data/background.npz` (built by `tools/build_background.py` from
CLINC150, CC BY 3.0, and IRC logs of tech help channels, CC BY 4.0; see
`data/README.md`):

- `word_contrast`: the mean log-likelihood ratio of the message's distinctive words
  under the knowledge's word frequencies (smoothed towards the background's) and the
  background's. Cheap, so it settles chat before any model runs;
- `Background.similarity`: the closest background question's cosine to the message,
  which the encoder's closest knowledge text must beat.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

BUNDLED = Path(__file__).resolve().parent / "data" / "background.npz"
SMOOTHING = 2000  # Dirichlet prior (in words): how far a small knowledge's frequencies lean on the background's


@dataclass(frozen=True)
class WordCounts:
    """How often each stemmed word occurs in the background."""

    counts: Mapping[str, int]
    total: int

    @classmethod
    def load(cls, path: Path = BUNDLED) -> WordCounts:
        with np.load(path) as data:
            terms = str(data["terms"]).split("\n")
            return cls(dict(zip(terms, data["counts"].tolist(), strict=True)), int(data["total"]))


@dataclass(frozen=True)
class Background:
    """Unit sentence vectors of everyday questions (float32 rows)."""

    vectors: np.ndarray

    @classmethod
    def load(cls, path: Path = BUNDLED) -> Background:
        with np.load(path) as data:
            vectors = data["vectors"].astype(np.float32) * data["scales"][:, None]
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
        return cls(vectors)

    def similarity(self, query: np.ndarray) -> float:
        """Cosine of the background question closest to `query` (a unit vector)."""
        return float((self.vectors @ query).max()) if len(self.vectors) else 0.0


class WordContrast:
    """Per-word log-likelihood ratios, knowledge against background, for one knowledge."""

    def __init__(self, background: WordCounts, knowledge_counts: Mapping[str, int]) -> None:
        vocabulary = len(background.counts) + 1
        self._background = background.counts
        self._background_denominator = background.total + vocabulary
        self._knowledge_counts = knowledge_counts
        self._knowledge_denominator = sum(knowledge_counts.values()) + SMOOTHING

    def log_ratio(self, term: str) -> float:
        background = (self._background.get(term, 0) + 1) / self._background_denominator
        knowledge = (self._knowledge_counts.get(term, 0) + SMOOTHING * background) / self._knowledge_denominator
        return math.log(knowledge / background)

    def mean(self, terms: Iterable[str]) -> float:
        """The mean log ratio over `terms` (0 when there are none: no evidence either way)."""
        ratios = [self.log_ratio(t) for t in terms]
        return sum(ratios) / len(ratios) if ratios else 0.0


@lru_cache(maxsize=1)
def bundled_word_counts() -> WordCounts:
    return WordCounts.load()


@lru_cache(maxsize=1)
def bundled_background() -> Background:
    return Background.load()
