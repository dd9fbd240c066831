"""Confidence: the probability that a ranked candidate is the right answer.

A raw similarity is a poor bar on its own: 0.6 means "sure" for a question whose
every word the knowledge knows and whose runner-up trails far behind, and means
little for one that is half unknown words, or that ties with another entry. A small
logistic model turns a candidate's evidence into a probability:

- `score`, the candidate's similarity in [0, 1];
- `margin`, its lead over the best other entry;
- `phrasing`, how well moderator-vetted phrasings alone match;
- `text`, how much of the question the page or section text covers;
- `coverage`, the share of the question's distinctive words (IDF mass) the entry contains;
- `known`, the share of them the knowledge contains at all (questions about
  things the knowledge never mentions are out of scope, whatever the overlap);
- `semantic`, the word-vector similarity (only with vectors; 0 otherwise).

The weights are fitted by `bench/tune.py` on training and validation data only
(HINT3 cross-validated on its train split, CLINC150 val + oos_val, the vmst.io dev
questions and dev IRC lines), once for all knowledge: there is no per-dataset tuning.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

FEATURES = ("score", "margin", "phrasing", "text", "coverage", "known", "semantic")


class _Scored(Protocol):
    @property
    def score(self) -> float: ...
    @property
    def phrasing_score(self) -> float: ...
    @property
    def text_score(self) -> float: ...
    @property
    def coverage(self) -> float: ...
    @property
    def known(self) -> float: ...
    @property
    def semantic_score(self) -> float: ...


def features(candidate: _Scored, rival: float) -> tuple[float, ...]:
    """The evidence `FEATURES` names, for a candidate whose best rival scored `rival`."""
    return (
        candidate.score,
        candidate.score - rival,
        candidate.phrasing_score,
        candidate.text_score,
        candidate.coverage,
        candidate.known,
        candidate.semantic_score,
    )


@dataclass(frozen=True)
class Calibration:
    weights: tuple[float, ...]
    bias: float

    def probability(self, evidence: tuple[float, ...]) -> float:
        """The confidence for `evidence`, the values `FEATURES` names, in order."""
        z = self.bias + sum(w * x for w, x in zip(self.weights, evidence, strict=True))
        return 1 / (1 + math.exp(-max(-30.0, min(30.0, z))))

    def confidence(self, candidate: _Scored, rival: float) -> float:
        return self.probability(features(candidate, rival))


# Fitted by bench/tune.py (see its output for the data and the resulting dev numbers).
# One per configuration: `bench/tune.py` (default), `--encoder`, `--vectors`. The bars in
# `decision.py` are the default configuration's and are shared.
LEXICAL = Calibration(weights=(-0.742, 4.948, 5.153, 0.875, 0.123, 0.061, 0.0), bias=-3.080)
ENCODER = Calibration(weights=(-0.004, 5.532, 2.474, -0.523, 2.052, -0.289, 2.168), bias=-3.093)
SEMANTIC = Calibration(weights=(-0.928, 6.292, 3.798, -0.198, 1.239, -0.277, 1.701), bias=-3.054)
