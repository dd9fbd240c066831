"""Questions about something else: the knowledge must explain a passive question better than everyday chat."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from faqbot.matching.background import WordContrast, WordCounts, bundled_background, bundled_word_counts
from faqbot.matching.calibration import ENCODER, LEXICAL
from faqbot.matching.decision import Mode, Outcome, Why
from faqbot.matching.encoder import load_bundled
from faqbot.matching.index import MatchIndex
from faqbot.responder import judge
from faqbot.sources.model import Knowledge


def test_words_typical_of_the_knowledge_count_for_it_and_everyday_words_against() -> None:
    background = WordCounts({"weather": 500, "server": 50, "threads": 5}, total=10_000)
    words = WordContrast(background, {"threads": 40, "server": 30, "donate": 10})
    assert words.log_ratio("threads") > words.log_ratio("server") > 0 > words.log_ratio("weather")
    assert words.log_ratio("minecraft") < 0  # a word neither has: the knowledge would not say it
    assert words.mean([]) == 0.0
    assert words.mean(["threads", "weather"]) == (words.log_ratio("threads") + words.log_ratio("weather")) / 2


def test_the_bundled_background_is_everyday_chat() -> None:
    counts = bundled_word_counts()
    assert counts.counts["weather"] > counts.counts.get("fediverse", 0)
    vectors = bundled_background().vectors
    assert vectors.shape[1] == 384 and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    encoder = load_bundled()
    everyday = encoder.embed("what is the weather going to be like tomorrow")
    community = encoder.embed("do you defederate from instances that host harassment")
    assert bundled_background().similarity(everyday) > bundled_background().similarity(community)


def test_a_question_about_something_else_gets_no_passive_answer(small_knowledge: Knowledge) -> None:
    """'how do i donate to wikipedia' shares 'donate' with the funding entry and the encoder finds it
    close, but everyday questions explain it as well as the knowledge does: no contrast."""
    index = MatchIndex(small_knowledge.entries, vectors=load_bundled())
    bars = replace(ENCODER.thresholds, passive_answer=0.3, explicit_answer=0.3, passive_contrast=0.2)
    elsewhere = judge(index, "how do i donate to wikipedia?", Mode.PASSIVE, thresholds=bars)
    assert elsewhere.outcome is Outcome.SILENT and elsewhere.why is Why.SOMETHING_ELSE
    assert elsewhere.best is not None and elsewhere.best.entry.id == "funding"
    assert judge(index, "can i donate?", Mode.PASSIVE, thresholds=bars).outcome is Outcome.ANSWER
    asked = judge(index, "how do i donate to wikipedia?", Mode.EXPLICIT, thresholds=bars)
    assert asked.outcome is not Outcome.SILENT  # asked directly, the member still gets an answer or a suggestion


class CountingTopics:
    """A semantic source that counts the questions it embeds (every text maps to one direction)."""

    dims = 2
    calibration = replace(LEXICAL, thresholds=replace(LEXICAL.thresholds, passive_words=0.0))
    semantic_weight = 1.0
    reads_sentences = False

    def __init__(self) -> None:
        self.embedded: list[str] = []

    def embed(self, text: str) -> np.ndarray:
        self.embedded.append(text)
        return np.array([1.0, 0.0], dtype=np.float32)

    def entry_index(self, phrasings, bodies):
        from faqbot.matching.vectors import SemanticIndex

        return SemanticIndex(self, phrasings, bodies)


def test_a_question_in_everyday_words_is_settled_before_any_model_runs(small_knowledge: Knowledge) -> None:
    source = CountingTopics()
    index = MatchIndex(small_knowledge.entries, vectors=source)
    source.embedded.clear()
    question = "how do i install nvidia drivers on ubuntu?"
    assert index.word_contrast(question) < 0.0
    decision = judge(index, question, Mode.PASSIVE)
    assert decision.outcome is Outcome.SILENT and decision.why is Why.SOMETHING_ELSE
    assert source.embedded == []
    judge(index, "do you block threads?", Mode.PASSIVE)
    assert source.embedded == ["do you block threads?"]


def test_a_question_no_entry_holds_enough_of_is_settled_before_any_model_runs(small_knowledge: Knowledge) -> None:
    """The knowledge has "threads", but most of what the question names is in no entry: it is
    about a cluster, not about Threads, and no model needs to run to say so."""
    source = CountingTopics()
    source.calibration = replace(
        source.calibration, thresholds=replace(source.calibration.thresholds, passive_coverage=0.2)
    )
    index = MatchIndex(small_knowledge.entries, vectors=source)
    source.embedded.clear()
    question = "do you block threads on my kubernetes terraform ansible cluster with helm?"
    said = index.evidence_by_words(question)
    assert said.word_contrast >= 0.0 and said.best_coverage < 0.2
    decision = judge(index, question, Mode.PASSIVE)
    assert decision.outcome is Outcome.SILENT and decision.why is Why.UNKNOWN_WORDS
    assert source.embedded == []
    ranked = index.rank(question)  # ranked anyway (tuning, evaluation), the decision is the same
    assert judge(index, question, Mode.PASSIVE, ranked=ranked).why is Why.UNKNOWN_WORDS
    clear = index.rank("do you block threads?")
    assert judge(index, "do you block threads?", Mode.PASSIVE).outcome is Outcome.ANSWER
    # The ranked best carries the question's best coverage, so a ranking alone is judged the same way.
    narrow = [replace(clear[0], best_coverage=0.1), *clear[1:]]
    decided = judge(None, "do you block threads?", Mode.PASSIVE, ranked=narrow, thresholds=index.thresholds)
    assert decided.why is Why.UNKNOWN_WORDS


def test_a_moderators_phrasing_in_everyday_words_still_reaches_the_model() -> None:
    """The bundled FAQ's "Who's paying for this to exist?" is everyday words (word contrast under 0):
    a question this close to a moderator's phrasing is not settled by its words."""
    from faqbot.sources.bundled import bundled_knowledge
    from faqbot.sources.loader import load_knowledge

    source = CountingTopics()
    index = MatchIndex(load_knowledge([bundled_knowledge()]).entries, vectors=source)
    source.embedded.clear()
    question = "Who's paying for this to exist?"
    said = index.evidence_by_words(question)
    assert said.word_contrast < index.thresholds.passive_words and said.best_phrasing >= 0.6
    judge(index, question, Mode.PASSIVE)
    assert source.embedded == [question]
    everyday = "who is paying for dinner tonight?"
    assert judge(index, everyday, Mode.PASSIVE).why is Why.SOMETHING_ELSE and source.embedded == [question]


def test_meaning_alone_must_come_close_to_count_as_a_match(small_knowledge: Knowledge) -> None:
    index = MatchIndex(small_knowledge.entries, vectors=load_bundled())
    assert index.rank("zebra crossing") == []  # faintly like the Bluesky entry (0.2), nothing like an answer
    assert index.rank("who covers the hosting bills?")[0].entry.id == "funding"


def test_a_phrasing_typed_verbatim_scores_one_with_the_encoder(small_knowledge: Knowledge) -> None:
    index = MatchIndex(small_knowledge.entries, vectors=load_bundled())
    assert index.rank("Do you block Bluesky?")[0].score == 1.0
    assert index.rank("do you block bluesky people please")[0].score < 1.0


class CountingBackground:
    """Everyday questions all pointing one way; counts how often the index compares with them."""

    def __init__(self) -> None:
        self.compared = 0

    def similarity(self, query: np.ndarray) -> float:
        self.compared += 1
        return 0.0


def test_the_background_is_compared_only_where_a_passive_bar_could_be_cleared(small_knowledge: Knowledge) -> None:
    source = CountingTopics()
    source.background = CountingBackground()
    source.calibration = replace(
        source.calibration, thresholds=replace(source.calibration.thresholds, passive_answer=0.7)
    )
    index = MatchIndex(small_knowledge.entries, vectors=source)
    assert judge(index, "do you block threads?", Mode.PASSIVE).outcome is Outcome.ANSWER
    assert source.background.compared == 1
    assert judge(index, "threads or bluesky?", Mode.PASSIVE).why is Why.BELOW_BAR  # a near-tie of two entries
    judge(index, "do you block threads?", Mode.EXPLICIT)  # asked: no contrast needed
    assert source.background.compared == 1
    assert index.rank("threads or bluesky?")[0].contrast == 1.0  # a plain ranking has it (tuning, evaluation)


def test_an_explained_verdict_gives_the_reason_that_settled_it(small_knowledge: Knowledge) -> None:
    """`faqbot ask --json` ranks settled chat to show its best candidate; its "why" must stay
    the reason the bot had, not what the ranking alone would say."""
    index = MatchIndex(small_knowledge.entries, vectors=CountingTopics())
    question = "how do i install nvidia drivers on ubuntu?"
    explained = judge(index, question, Mode.PASSIVE, explain=True)
    assert explained.why is Why.SOMETHING_ELSE and explained.outcome is Outcome.SILENT
    assert explained.best is not None


def test_the_bundled_faq_is_answered_in_plain_chat_with_the_default_matcher() -> None:
    """The About page's own questions are ways of asking the moderators wrote: however much
    they sound like everyday questions ("Where are you hosted?"), they get their answer."""
    from faqbot.responder import IncomingMessage, Responder
    from faqbot.sources.bundled import bundled_knowledge
    from faqbot.sources.loader import load_knowledge

    from .test_bundled_knowledge import SEED_FAQ

    responder = Responder(load_knowledge([bundled_knowledge()]), vectors=load_bundled())
    for question, url in SEED_FAQ.items():
        reply = responder.respond(IncomingMessage(question, f"room-{question}", "member"))
        assert reply is not None and reply.passive and reply.entry.url == url, question
