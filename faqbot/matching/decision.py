"""Answer, suggest, or stay silent: the bar a ranking must clear, per mode.

A member who asks the bot (`!faq ...`, a mention) wants a reply even when the bot
is unsure, so explicit asks get an answer, a "did you mean", or a pointer to
`!faq list`. Plain chat is not addressed to the bot; there it answers only
questions it is sure about and otherwise says nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from faqbot.matching.index import Candidate
from faqbot.matching.text import looks_like_question


class Mode(Enum):
    PASSIVE = "passive"
    EXPLICIT = "explicit"


class Outcome(Enum):
    ANSWER = "answer"
    SUGGEST = "suggest"
    SILENT = "silent"


@dataclass(frozen=True)
class Thresholds:
    explicit_answer: float = 0.55
    explicit_margin: float = 0.04  # an explicit answer this close to the runner-up becomes a suggestion
    confident: float = 0.8  # above this, a close runner-up does not matter
    suggest: float = 0.3
    passive_answer: float = 0.75
    passive_phrasing: float = 0.6  # passive answers need a moderator-vetted phrasing to match this well


DEFAULT_THRESHOLDS = Thresholds()


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    best: Candidate | None
    suggestions: tuple[Candidate, ...]


def decide(
    ranked: Sequence[Candidate],
    mode: Mode,
    text: str = "",
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    suggestion_count: int = 3,
) -> Decision:
    """What to do with a ranking. In passive mode `text` is the message, which
    must read as a question."""
    best = ranked[0] if ranked else None
    suggestions = tuple(c for c in ranked[:suggestion_count] if c.score >= thresholds.suggest)
    if best is None:
        return Decision(Outcome.SILENT, None, ())
    if mode is Mode.PASSIVE:
        if (
            best.score >= thresholds.passive_answer
            and best.phrasing_score >= thresholds.passive_phrasing
            and looks_like_question(text)
        ):
            return Decision(Outcome.ANSWER, best, suggestions)
        return Decision(Outcome.SILENT, best, suggestions)
    runner_up = ranked[1].score if len(ranked) > 1 else 0.0
    if best.score >= thresholds.explicit_answer and (
        best.score >= thresholds.confident or best.score - runner_up >= thresholds.explicit_margin
    ):
        return Decision(Outcome.ANSWER, best, suggestions)
    if suggestions:
        return Decision(Outcome.SUGGEST, best, suggestions)
    return Decision(Outcome.SILENT, best, suggestions)
