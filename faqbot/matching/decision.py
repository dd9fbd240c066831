"""Answer, suggest, or stay silent: the bar a ranking must clear, per mode.

A member who asks the bot (`!faq ...`, a mention) wants a reply even when the bot
is unsure, so explicit asks get an answer, a "did you mean", or a pointer to
`!faq list`. Plain chat is not addressed to the bot; there it answers only
questions it is sure about and otherwise says nothing, and it never joins in when a
member speaks to someone else (a reply to them, a mention of them, their name first):
that conversation is theirs.

Both bars are on the best candidate's calibrated *confidence* (see `calibration.py`),
the probability that it is the right answer; "did you mean" lists candidates whose
score clears `suggest`. A passive answer needs at least the confidence an explicit
one needs, its own bar, a message that reads as a question and is not said to
someone else, and (in some configurations) whose distinctive words the knowledge
mostly knows. The bars (`Thresholds`) were chosen by `bench/tune.py`
on dev data only, for each configuration together with its calibration
(`MatchIndex.thresholds`): the explicit bar for the best mean dev accuracy, the
passive bar for the most correct passive answers while at most 0.5% of dev chat
lines get a reply.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from faqbot.matching.calibration import LEXICAL, Thresholds
from faqbot.matching.index import Candidate, MatchIndex
from faqbot.matching.text import looks_like_question

DEFAULT_THRESHOLDS = LEXICAL.thresholds
# A question this close to one of a moderator's phrasings (the lexical phrasing score) is a way of
# asking they vouched for: it needs no contrast with everyday chat, by meaning or by its words
# ("Who's paying for this to exist?", the bundled FAQ's, is -0.16 by words). "Where are you hosted?" is the
# About page's own FAQ, and as close to everyday questions ("where are you located") as to the
# knowledge. On dev (bench/tune.py's rows), 0.6 answered the most member questions right (0.153,
# vs 0.148 from 0.65 to 0.9 and 0.143 without it) with no more chat or off-topic lines; 0.5 answered
# an IRC line.
VOUCHED_PHRASING = 0.6


class Mode(Enum):
    PASSIVE = "passive"
    EXPLICIT = "explicit"
    HELP_POST = "help_post"  # a new post in a help forum: answered once, if sure enough, never "did you mean"


class Outcome(Enum):
    ANSWER = "answer"
    SUGGEST = "suggest"
    SILENT = "silent"


class Why(Enum):
    """The reason behind an outcome, as `faqbot ask --json` reports it."""

    CLEARED_BAR = "cleared the bar"
    CLOSE_CALL = "too close to the runner-up"  # asked: a near-tie becomes "did you mean"
    BELOW_BAR = "below the bar"
    UNKNOWN_WORDS = "mostly words the knowledge does not know"
    SOMETHING_ELSE = "about something else"  # everyday chat explains it better than the knowledge
    NOT_A_QUESTION = "not a question"
    TO_SOMEONE_ELSE = "said to someone else"
    NOTHING_MATCHED = "nothing matched"
    # Settled by the responder, not by the ranking:
    PASSIVE_OFF = "passive off"
    ON_COOLDOWN = "on cooldown"
    TOO_LONG = "too long to be a question"
    FLOODED = "too many asks"
    COMMAND = "a command"
    TAGGED = "the post carries a tag that keeps the bot out"
    HUMAN_REPLIED = "a moderator already replied"
    ANSWERED_BEFORE = "the post was answered before"
    NOT_THE_POSTER = "only the poster's asks are answered in a help post"
    TRIGGERED = "a trigger of the entry matched"
    ASK_ONLY = "the entry answers only when asked"


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    best: Candidate | None
    suggestions: tuple[Candidate, ...]
    why: Why = Why.NOTHING_MATCHED
    bar: float | None = None  # the confidence bar the best candidate was held to, where one applied


def settled_without_ranking(
    mode: Mode,
    text: str,
    to_someone_else: bool = False,
    index: MatchIndex | None = None,
    thresholds: Thresholds | None = None,
) -> Why | None:
    """Why a message gets no passive answer whatever the ranking, or None. Checked before
    ranking (so chat that is no question costs no model run) and again by `decide`. Given the
    `index`, what the question's words alone rule out is settled too (`MatchIndex.evidence_by_words`):
    words everyday chat explains better than the knowledge's (`thresholds.passive_words`), unless
    they are close to a moderator's phrasing, and words no entry holds enough of
    (`thresholds.passive_coverage`). `decide` applies the same rules to the ranked best candidate,
    which can only do worse than the best entry by words."""
    if mode is not Mode.PASSIVE:
        return None
    if to_someone_else:
        return Why.TO_SOMEONE_ELSE
    if not looks_like_question(text):
        return Why.NOT_A_QUESTION
    if index is not None:
        bars = thresholds or index.thresholds
        words_say = index.evidence_by_words(text)
        if words_say.word_contrast < bars.passive_words and words_say.best_phrasing < VOUCHED_PHRASING:
            return Why.SOMETHING_ELSE
        if words_say.best_coverage < bars.passive_coverage:
            return Why.UNKNOWN_WORDS
    return None


def decide(
    ranked: Sequence[Candidate],
    mode: Mode,
    text: str = "",
    thresholds: Thresholds | None = None,
    suggestion_count: int = 3,
    to_someone_else: bool = False,
) -> Decision:
    """What to do with a ranking. In passive mode `text` is the message, which
    must read as a question, and `to_someone_else` says the member spoke to another
    member. `thresholds`: the ranking index's (`MatchIndex.thresholds`); the default
    configuration's when not given. Callers go through `faqbot.responder.judge`."""
    if thresholds is None:
        thresholds = DEFAULT_THRESHOLDS
    best = ranked[0] if ranked else None
    suggestions = tuple(c for c in ranked[:suggestion_count] if c.score >= thresholds.suggest)
    if best is None:
        return Decision(Outcome.SILENT, None, (), Why.NOTHING_MATCHED)
    runner_up = ranked[1].score if len(ranked) > 1 else 0.0
    confident = (
        best.confidence >= thresholds.explicit_answer
        and best.score >= thresholds.suggest  # an answer must at least be worth suggesting
    )
    if mode is Mode.PASSIVE:
        # What an explicit answer needs, and more. No margin rule: asked,
        # a near-tie becomes a "did you mean", but chat gets no suggestions, and the confidence
        # already weighs the lead over the runner-up.
        bar = max(thresholds.passive_answer, thresholds.explicit_answer)
        settled = settled_without_ranking(mode, text, to_someone_else)
        if settled is not None:
            return Decision(Outcome.SILENT, best, suggestions, settled, bar)
        if not (confident and best.confidence >= thresholds.passive_answer):
            return Decision(Outcome.SILENT, best, suggestions, Why.BELOW_BAR, bar)
        if best.known < thresholds.passive_known or best.best_coverage < thresholds.passive_coverage:
            return Decision(Outcome.SILENT, best, suggestions, Why.UNKNOWN_WORDS, bar)
        if not best.entry.scope.passive:
            return Decision(Outcome.SILENT, best, suggestions, Why.ASK_ONLY, bar)
        vouched = best.phrasing_score >= VOUCHED_PHRASING
        unlike = best.word_contrast < thresholds.passive_words or best.contrast < thresholds.passive_contrast
        if unlike and not vouched:
            return Decision(Outcome.SILENT, best, suggestions, Why.SOMETHING_ELSE, bar)
        return Decision(Outcome.ANSWER, best, suggestions, Why.CLEARED_BAR, bar)
    if mode is Mode.HELP_POST:
        bar = thresholds.help_post_bar
        if confident and best.confidence >= bar and best.score - runner_up >= thresholds.explicit_margin:
            return Decision(Outcome.ANSWER, best, suggestions, Why.CLEARED_BAR, bar)
        return Decision(Outcome.SILENT, best, suggestions, Why.BELOW_BAR, bar)
    bar = thresholds.explicit_answer
    if confident and best.score - runner_up >= thresholds.explicit_margin:
        return Decision(Outcome.ANSWER, best, suggestions, Why.CLEARED_BAR, bar)
    why = Why.CLOSE_CALL if confident else Why.BELOW_BAR
    if suggestions:
        return Decision(Outcome.SUGGEST, best, suggestions, why, bar)
    return Decision(Outcome.SILENT, best, suggestions, why, bar)
