"""What the store keeps, as plain values: one member's question and what the bot did
with it, feedback on answers, learned phrasings, and what the reports read back.

These types carry no platform objects, so every adapter records the same shapes and
tests build them from strings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from faqbot.matching.decision import Decision, Mode, Outcome
from faqbot.matching.text import looks_like_question, words

MAX_TEXT_CHARS = 2000  # a Discord message's limit; a Matrix body can be 64 KB and is cut here
MAX_ID_CHARS = 255  # platform ids are far shorter; anything longer is not an id to keep whole


class RecordOutcome(Enum):
    """What the bot did with a question, as stored (the `outcome` column).

    Finer than `matching.decision.Outcome`: an explicit ask the bot could not answer
    got a reply ("no answer, try `!faq list`"), a passive question it was unsure of got
    none, and moderators read the two differently."""

    ANSWERED = "answered"  # replied with an entry's answer
    SUGGESTED = "suggested"  # replied "did you mean ..." only
    UNANSWERED = "unanswered"  # asked, and replied that it has no answer
    SILENT = "silent"  # plain chat it judged a question, and said nothing


class GapReason(Enum):
    """Why a recorded question is a gap in the knowledge (`faqbot gaps`)."""

    UNANSWERED = "unanswered"
    SILENT = "silent"
    SUGGESTED = "suggested"
    RATED_DOWN = "rated down"
    REMOVED = "removed"


def clean_text(value: str, limit: int = MAX_TEXT_CHARS) -> str:
    """Text as both engines accept it: no NUL (PostgreSQL refuses it), no lone surrogate
    (no UTF-8 encoding exists for it), at most `limit` characters. Without this one chat
    message could make every retry of its record fail and hold up the queue behind it."""
    value = value.replace("\x00", "")
    value = value.encode("utf-8", "replace").decode("utf-8")
    if len(value) > limit:
        value = value[: limit - 1] + "…"
    return value


def clean_id(value: str | None) -> str | None:
    """A platform id (room, message, user) cleaned like text and cut to `MAX_ID_CHARS`."""
    if value is None:
        return None
    return clean_text(str(value), MAX_ID_CHARS)


def phrasing_key(text: str) -> str:
    """The wording of a phrasing, as matching reads it: case, accents, punctuation and
    contractions do not make two learned phrasings different."""
    return " ".join(words(text))


@dataclass(frozen=True)
class Interaction:
    """One member's message the bot handled, and what it did.

    `question_id` is the member's message and `reply_id` the bot's reply, so a later
    rating, removal or correction finds this record. `user_id` is the platform's id of
    the asker: the store keeps a keyed hash of it (or the id itself only when
    `store_user_ids` is set), never the raw id by default. `at` is filled in by the
    recorder when left None."""

    platform: str
    conversation_id: str
    question: str
    outcome: RecordOutcome
    passive: bool
    question_id: str | None = None
    reply_id: str | None = None
    entry_id: str | None = None
    score: float | None = None
    confidence: float | None = None
    user_id: str | None = field(default=None, repr=False)
    at: float | None = None


def outcome_to_record(outcome: Outcome, mode: Mode, text: str, to_someone_else: bool = False) -> RecordOutcome | None:
    """The stored outcome for a decision, or None when the message is not recorded at all.

    Passive chat is recorded only when it reads as a question and was not said to
    someone else: ordinary conversation never enters the store."""
    if mode is Mode.PASSIVE:
        if outcome is Outcome.ANSWER:
            return RecordOutcome.ANSWERED
        if to_someone_else or not looks_like_question(text):
            return None
        return RecordOutcome.SILENT
    if mode is Mode.HELP_POST:  # a help post the bot left alone got no reply at all
        return RecordOutcome.ANSWERED if outcome is Outcome.ANSWER else RecordOutcome.SILENT
    return {
        Outcome.ANSWER: RecordOutcome.ANSWERED,
        Outcome.SUGGEST: RecordOutcome.SUGGESTED,
        Outcome.SILENT: RecordOutcome.UNANSWERED,
    }[outcome]


def interaction_for(
    decision: Decision,
    mode: Mode,
    *,
    platform: str,
    conversation_id: str,
    question: str,
    question_id: str | None = None,
    reply_id: str | None = None,
    user_id: str | None = None,
    to_someone_else: bool = False,
    at: float | None = None,
) -> Interaction | None:
    """The record of one decision the responder took, with its best candidate (even when
    the bot stayed silent: that is what `faqbot gaps` needs), or None for ordinary chat."""
    outcome = outcome_to_record(decision.outcome, mode, question, to_someone_else)
    if outcome is None:
        return None
    best = decision.best
    return Interaction(
        platform=platform,
        conversation_id=conversation_id,
        question=question,
        outcome=outcome,
        passive=mode is Mode.PASSIVE,
        question_id=question_id,
        reply_id=reply_id,
        entry_id=best.entry.id if best else None,
        score=best.score if best else None,
        confidence=best.confidence if best else None,
        user_id=user_id,
        at=at,
    )


@dataclass(frozen=True)
class AnswerRecord:
    """One reply of the bot, found again by its message id (for removal and ratings)."""

    interaction_id: int
    platform: str
    conversation_id: str
    question_id: str | None
    entry_id: str | None
    passive: bool
    removed: bool
    asker: str | None = field(repr=False)  # the stored identity key, see `Identity`
    handed_off: bool = False  # a help post's answer whose poster asked for a human (helpers were told)


@dataclass(frozen=True)
class GapRecord:
    """A recorded question the knowledge did not serve well, for `faqbot gaps`."""

    interaction_id: int
    at: float
    question: str
    reason: GapReason
    entry_id: str | None  # the entry answered (rated down, removed) or the best candidate
    score: float | None


@dataclass(frozen=True)
class EntryCounts:
    """What happened to one entry's answers (`faqbot stats`)."""

    entry_id: str
    passive: int
    asked: int
    helpful: int
    unhelpful: int
    removed: int

    @property
    def answered(self) -> int:
        return self.passive + self.asked


@dataclass(frozen=True)
class OutcomeCounts:
    """How many recorded questions ended each way, split by passive and asked."""

    passive: dict[RecordOutcome, int]
    asked: dict[RecordOutcome, int]

    @property
    def total(self) -> int:
        return sum(self.passive.values()) + sum(self.asked.values())

    @property
    def answered(self) -> int:
        return self.passive.get(RecordOutcome.ANSWERED, 0) + self.asked.get(RecordOutcome.ANSWERED, 0)


@dataclass(frozen=True)
class LearnedPhrasing:
    """A member's words that a moderator pointed at an entry: a labelled example.

    After the retention period the link to the original message (`conversation_id`,
    `message_id`) is cleared; the words and the entry stay until a moderator forgets them."""

    id: int
    text: str
    entry_id: str
    at: float
    platform: str | None = None
    conversation_id: str | None = None
    message_id: str | None = None
