from pathlib import Path

import pytest

from faqbot.matching.decision import Mode, Outcome, decide
from faqbot.matching.index import MatchIndex
from faqbot.matching.text import looks_like_question, words
from faqbot.sources.loader import load_knowledge
from faqbot.sources.model import Knowledge


def best_id(knowledge: Knowledge, question: str) -> str | None:
    ranked = MatchIndex(knowledge.entries).rank(question)
    return ranked[0].entry.id if ranked else None


@pytest.mark.parametrize(
    "question",
    [
        "Do you block Threads?",
        "do you block threads",
        "DO YOU BLOCK THREADS!!!",
        "threads, do you block it?",  # word order
        "do u blok threds",  # typos and chat shorthand
        "are you blocking Threads",  # verb form
        "is threads blocked",
    ],
)
def test_survives_case_punctuation_order_typos_and_word_forms(small_knowledge: Knowledge, question: str) -> None:
    assert best_id(small_knowledge, question) == "threads"


def test_distinctive_words_decide_between_similar_questions(small_knowledge: Knowledge) -> None:
    assert best_id(small_knowledge, "do you block threads") == "threads"
    assert best_id(small_knowledge, "do you block bluesky") == "bluesky"
    assert best_id(small_knowledge, "block bluesky?") == "bluesky"


def test_scores_are_between_zero_and_one_and_exact_phrasings_score_one(small_knowledge: Knowledge) -> None:
    ranked = MatchIndex(small_knowledge.entries).rank("Who pays for this server?")
    assert ranked[0].entry.id == "funding"
    assert ranked[0].score == pytest.approx(1.0)
    assert all(0.0 <= c.score <= 1.0 for c in ranked)


def test_answer_text_is_evidence_too(small_knowledge: Knowledge) -> None:
    assert best_id(small_knowledge, "patreon or ko-fi?") == "funding"


def test_three_outcomes_in_explicit_mode(small_knowledge: Knowledge) -> None:
    index = MatchIndex(small_knowledge.entries)
    assert decide(index.rank("who pays for this server"), Mode.EXPLICIT).outcome is Outcome.ANSWER
    vague = decide(index.rank("block"), Mode.EXPLICIT)
    assert vague.outcome is Outcome.SUGGEST
    assert {c.entry.id for c in vague.suggestions} >= {"threads", "bluesky"}
    assert decide(index.rank("what's the weather in Paris"), Mode.EXPLICIT).outcome is Outcome.SILENT


def test_passive_mode_is_stricter_than_explicit(small_knowledge: Knowledge) -> None:
    index = MatchIndex(small_knowledge.entries)
    # A question that would be answered when asked, but only partly matches a phrasing.
    question = "how do donations work for the server"
    explicit = decide(index.rank(question), Mode.EXPLICIT, text=question)
    passive = decide(index.rank(question), Mode.PASSIVE, text=question)
    assert explicit.best is not None and explicit.best.entry.id == "funding"
    assert explicit.outcome in (Outcome.ANSWER, Outcome.SUGGEST)
    assert passive.outcome is Outcome.SILENT
    # A confident match is answered passively only when it reads as a question.
    assert (
        decide(index.rank("do you block threads?"), Mode.PASSIVE, text="do you block threads?").outcome
        is Outcome.ANSWER
    )
    assert decide(index.rank("I block threads"), Mode.PASSIVE, text="I block threads").outcome is Outcome.SILENT


@pytest.mark.parametrize(
    "chat",
    ["lol same", "good morning everyone", "has anyone tried the new kernel?", "my build is broken again", "ok"],
)
def test_ordinary_chat_gets_no_passive_answer(small_knowledge: Knowledge, chat: str) -> None:
    index = MatchIndex(small_knowledge.entries)
    assert decide(index.rank(chat), Mode.PASSIVE, text=chat).outcome is Outcome.SILENT


def test_an_empty_index_and_an_empty_question_rank_nothing(tmp_path: Path) -> None:
    assert MatchIndex([]).rank("anything") == []
    assert MatchIndex(load_knowledge([tmp_path]).entries).rank("") == []
    assert decide([], Mode.EXPLICIT).outcome is Outcome.SILENT


def test_text_normalisation() -> None:
    assert words("What's vmst.io's policy?") == ["what", "vmst.io", "policy"]
    assert words("Café DON'T") == ["cafe", "do", "not"]
    assert looks_like_question("anyone know who runs this")
    assert looks_like_question("funding?")
    assert not looks_like_question("I like turtles")
