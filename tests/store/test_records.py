"""What gets recorded for each decision: questions only, never ordinary chat."""

from __future__ import annotations

from faqbot.matching.decision import Mode, Outcome, decide
from faqbot.matching.index import MatchIndex
from faqbot.sources.model import Knowledge
from faqbot.store import Interaction, RecordOutcome, interaction_for, outcome_to_record


def test_explicit_asks_are_always_recorded() -> None:
    assert outcome_to_record(Outcome.ANSWER, Mode.EXPLICIT, "threads") is RecordOutcome.ANSWERED
    assert outcome_to_record(Outcome.SUGGEST, Mode.EXPLICIT, "threads") is RecordOutcome.SUGGESTED
    assert outcome_to_record(Outcome.SILENT, Mode.EXPLICIT, "threads") is RecordOutcome.UNANSWERED


def test_plain_chat_is_recorded_only_when_it_is_a_question_for_nobody_else() -> None:
    assert outcome_to_record(Outcome.ANSWER, Mode.PASSIVE, "do you block threads?") is RecordOutcome.ANSWERED
    assert outcome_to_record(Outcome.SILENT, Mode.PASSIVE, "is there an android app?") is RecordOutcome.SILENT
    assert outcome_to_record(Outcome.SILENT, Mode.PASSIVE, "lol nice, see you tomorrow") is None
    assert outcome_to_record(Outcome.SILENT, Mode.PASSIVE, "alice: is it up?", to_someone_else=True) is None


def test_a_silent_question_keeps_its_best_candidate_for_the_gaps_report(knowledge: Knowledge) -> None:
    index = MatchIndex(knowledge.entries)
    text = "does threads work here?"
    decision = decide(index.rank(text), Mode.PASSIVE, text=text, thresholds=index.thresholds)
    record = interaction_for(
        decision, Mode.PASSIVE, platform="matrix", conversation_id="!r", question=text, user_id="@a:b"
    )
    assert record is not None and decision.best is not None
    assert (record.entry_id, record.score, record.confidence, record.passive) == (
        decision.best.entry.id,
        decision.best.score,
        decision.best.confidence,
        True,
    )
    nothing = decide(index.rank("good morning all"), Mode.PASSIVE, text="good morning all")
    assert (
        interaction_for(nothing, Mode.PASSIVE, platform="matrix", conversation_id="!r", question="good morning all")
        is None
    )


def test_a_record_never_shows_its_user_id() -> None:
    record = Interaction("matrix", "!r", "q", RecordOutcome.ANSWERED, False, user_id="@secret-alice:example.org")
    assert "secret-alice" not in repr(record)
