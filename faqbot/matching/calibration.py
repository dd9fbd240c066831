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
- `semantic`, the sentence encoder's similarity (0 for the lexical matcher).

The weights are fitted by `bench/tune.py` on training and validation data only
(HINT3 cross-validated on its train split, CLINC150 val + oos_val, the vmst.io dev
questions and dev IRC lines), once for all knowledge: there is no per-dataset tuning.
The decision bars (`Thresholds`) are fitted in the same run and travel with the
weights: a bar is a confidence, and only means something under the weights it was
chosen with.
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
class Thresholds:
    """The bars `decision.decide` applies (see there for how they are used)."""

    explicit_answer: float = 0.3  # confidence an explicit ask needs for an outright answer
    explicit_margin: float = 0.04  # an explicit best this close to the runner-up becomes a suggestion
    suggest: float = 0.3  # score a candidate needs to be offered as "did you mean"
    passive_answer: float = 0.35  # confidence plain chat needs for a reply (explicit_answer applies too)
    passive_known: float = 0.6  # share of the message's distinctive words the knowledge must know at all
    # How much better than everyday chat the knowledge must explain a passive question (`background.py`):
    # by its words (mean log-likelihood ratio; checked before any model runs) and by meaning (cosine gap).
    passive_words: float = -100.0
    passive_contrast: float = -100.0
    # Share of the message's distinctive words (IDF mass) the entry that holds most of them must hold.
    passive_coverage: float = 0.0
    help_post_answer: float | None = None  # confidence a new help post needs; None: midway between the two bars

    @property
    def help_post_bar(self) -> float:
        """A help post is a question by construction, asked of whoever helps: its bar sits
        between an explicit ask's and plain chat's."""
        if self.help_post_answer is not None:
            return self.help_post_answer
        return (self.explicit_answer + max(self.explicit_answer, self.passive_answer)) / 2


@dataclass(frozen=True)
class Calibration:
    weights: tuple[float, ...]
    bias: float
    thresholds: Thresholds = Thresholds()

    def probability(self, evidence: tuple[float, ...]) -> float:
        """The confidence for `evidence`, the values `FEATURES` names, in order."""
        z = self.bias + sum(w * x for w, x in zip(self.weights, evidence, strict=True))
        return 1 / (1 + math.exp(-max(-30.0, min(30.0, z))))

    def confidence(self, candidate: _Scored, rival: float) -> float:
        return self.probability(features(candidate, rival))


# Fitted by bench/tune.py (see its output for the data and the resulting dev numbers).
# One per matcher: `bench/tune.py --matcher encoder` (the default) and `--matcher lexical`.
LEXICAL = Calibration(
    weights=(-0.032, 4.994, 4.44, 0.778, 0.02, 0.086, 0.0),
    bias=-3.018,
    thresholds=Thresholds(explicit_answer=0.4, explicit_margin=0.04, passive_answer=0.7, passive_known=0.0,
                          passive_words=-0.5, passive_contrast=0.0),
)  # fmt: skip
# The encoder's word bars are chosen, not fitted (`bench/screens.py`; FINDINGS has the grid): they settle
# chat before the model runs, and each stricter pair costs dev answers while none at all sends more than
# twice the lines to the model. The knowledge must explain the question's words at least as well as
# everyday chat does (word contrast 0; a moderator's phrasing is exempt), and one entry must hold a fifth
# of them.
ENCODER = Calibration(
    weights=(0.885, 6.609, -0.406, 0.094, 0.81, 0.204, 6.229),
    bias=-4.745,
    thresholds=Thresholds(explicit_answer=0.35, explicit_margin=0.02, passive_answer=0.775, passive_known=0.0,
                          passive_words=0.0, passive_contrast=0.0, passive_coverage=0.2),
)  # fmt: skip
