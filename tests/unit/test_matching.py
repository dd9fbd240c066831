from dataclasses import replace
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from faqbot.evaluation import LabelledQuestion, evaluate
from faqbot.matching.calibration import LEXICAL, Thresholds
from faqbot.matching.decision import Mode, Outcome, decide
from faqbot.matching.index import TEXT_WEIGHT, MatchIndex
from faqbot.matching.text import addressee, looks_like_question, words
from faqbot.sources.loader import load_knowledge
from faqbot.sources.model import Knowledge

from .conftest import write_tree


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


def test_each_calibration_brings_its_own_bars(small_knowledge: Knowledge) -> None:
    """A bar is a confidence under one calibration's weights, so the index hands its own to `decide`."""
    assert MatchIndex(small_knowledge.entries).thresholds == LEXICAL.thresholds
    cautious = replace(LEXICAL, thresholds=Thresholds(explicit_answer=1.0, passive_answer=1.0))
    index = MatchIndex(small_knowledge.entries, calibration=cautious)
    question = "who pays for this server?"
    assert decide(index.rank(question), Mode.EXPLICIT, question, index.thresholds).outcome is Outcome.SUGGEST
    report = evaluate(index, [LabelledQuestion(question, ("funding",))])
    assert report.top1_accuracy() == 1.0 and report.explicit_accuracy() == 0.0  # evaluate uses the index's bars


def test_passive_mode_is_stricter_than_explicit(small_knowledge: Knowledge) -> None:
    index = MatchIndex(small_knowledge.entries)
    # A question that would be answered when asked, but half of whose words the knowledge never uses.
    question = "how do donations work"
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


@pytest.mark.parametrize(
    "message",
    [
        "sorry new here, what does fediblock mean",  # a later clause opens like a question
        "ok dumb q but what even is an llm",
        "over what time window is the uptime measured",  # a preposition before the question word
        "in kubernetes do you use the stock ingress controller",  # verb before subject
        "so is there a character limit",
    ],
)
def test_questions_without_a_question_mark_at_the_start(message: str) -> None:
    assert looks_like_question(message)


@pytest.mark.parametrize(
    "message",
    ["this is it", "lol i think you can do it", "I block threads", "the build is red again, reverting"],
)
def test_statements_do_not_read_as_questions(message: str) -> None:
    assert not looks_like_question(message)


def test_confidence_is_a_probability_that_prefers_clear_matches(small_knowledge: Knowledge) -> None:
    index = MatchIndex(small_knowledge.entries)
    clear = index.rank("do you block threads")[0]
    vague = index.rank("block")[0]
    assert all(0.0 <= c.confidence <= 1.0 for c in index.rank("block") + index.rank("do you block threads"))
    assert clear.confidence > 0.9 > vague.confidence


def test_passive_needs_the_message_to_be_about_what_the_knowledge_knows(small_knowledge: Knowledge) -> None:
    index = MatchIndex(small_knowledge.entries)
    # Same entry, same matching words; the second message is mostly about things the knowledge never mentions.
    known = "can I follow bluesky people?"
    unknown = "can I follow bluesky people from my kubernetes cluster with terraform?"
    assert decide(index.rank(known), Mode.PASSIVE, text=known).outcome is Outcome.ANSWER
    ranked = index.rank(unknown)
    assert ranked[0].entry.id == "bluesky" and ranked[0].known < 0.6
    assert decide(ranked, Mode.PASSIVE, text=unknown).outcome is Outcome.SILENT


def test_text_that_folds_further_when_folded_again_reads_as_words_read_it() -> None:
    """ASCII is folded once and its clauses read as they are; "\u210c" (black-letter H) folds
    to "H", which the clause's words fold again, so "\u210cow" still opens a question."""
    assert looks_like_question("\u210cow does funding work")
    assert looks_like_question("hmm, \u210cow does funding work")
    assert words("DON`T Stop") == ["do", "not", "stop"]  # the ASCII path: a backtick is an apostrophe


def test_the_word_contrast_is_of_the_question_asked(small_knowledge: Knowledge) -> None:
    """The last question's terms are kept for its ranking: another question must get its own."""
    index = MatchIndex(small_knowledge.entries)
    fresh = MatchIndex(small_knowledge.entries)
    index.rank("do you block threads")
    assert index.word_contrast("how is the server funded") == fresh.word_contrast("how is the server funded")
    assert index.rank("who pays for the server")[0].entry.id == fresh.rank("who pays for the server")[0].entry.id


def test_words_are_stemmed_by_snowballs_c_stemmer_as_its_python_one_would() -> None:
    """The background's word counts were made with the pure-Python stemmer: PyStemmer's stems
    must be the same (checked on the 31,826 words of the shared corpora and benchmarks)."""
    import Stemmer
    from snowballstemmer.english_stemmer import EnglishStemmer

    from faqbot.matching import text

    assert isinstance(text._stemmer, Stemmer.Stemmer)
    python = EnglishStemmer()
    for word in ("threads", "federated", "defederation", "generously", "skies", "dying", "news", "hosting", "llms"):
        assert text.stem(word) == python.stemWord(word)


def test_chat_contractions_of_question_words_read_as_questions() -> None:
    assert looks_like_question("whats the funding bot for")
    assert looks_like_question("hows the server doing")


class TopicVectors:
    """A semantic source of hand-made topic vectors: a direction every word shares, plus one per topic."""

    calibration = LEXICAL
    semantic_weight = 1.0
    reads_sentences = False
    TOPICS: ClassVar[dict[str, int]] = {"pays": 1, "funded": 1, "donate": 1, "finances": 1, "money": 1}
    TOPICS |= {"block": 2, "threads": 3, "follow": 4, "bluesky": 5, "emoji": 6, "custom": 6}
    dims = 7

    def embed(self, text: str) -> np.ndarray | None:
        found = [self.TOPICS[w] for w in words(text) if w in self.TOPICS]
        if not found:
            return None
        vector = np.zeros(self.dims, dtype=np.float32)
        for topic in found:
            vector[0] += 0.5
            vector[topic] += 1.0
        return vector / np.linalg.norm(vector)

    def entry_index(self, phrasings, bodies):
        from faqbot.matching.vectors import SemanticIndex

        return SemanticIndex(self, phrasings, bodies)


def test_a_semantic_source_matches_paraphrases_without_shared_words(small_knowledge: Knowledge) -> None:
    index = MatchIndex(small_knowledge.entries, vectors=TopicVectors())
    assert MatchIndex(small_knowledge.entries).rank("money finances?") == []
    ranked = index.rank("money finances?")
    assert ranked[0].entry.id == "funding" and ranked[0].semantic_score > 0.8
    assert all(0.0 <= c.score <= 1.0 and 0.0 <= c.confidence <= 1.0 for c in ranked)
    assert index.rank("is it the?") == []  # only stop words
    assert MatchIndex([], vectors=TopicVectors()).rank("money finances?") == []


def test_the_encoder_is_the_default_matcher_and_lexical_needs_no_model() -> None:
    from faqbot.matching.encoder import SentenceEncoder
    from faqbot.matching.matchers import DEFAULT_MATCHER, MatcherUnavailable, load_matcher

    assert DEFAULT_MATCHER == "encoder"
    assert isinstance(load_matcher("encoder"), SentenceEncoder)
    assert load_matcher("lexical") is None
    with pytest.raises(MatcherUnavailable, match="unknown matcher 'vectors'"):
        load_matcher("vectors")


def test_the_optional_sentence_encoder_matches_by_meaning(small_knowledge: Knowledge) -> None:
    from faqbot.matching.encoder import load_bundled

    encoder = load_bundled()
    money, price, weather = encoder.embed_many(["who covers the hosting bills", "what does it cost", "is it raining"])
    assert float(money @ price) > float(money @ weather)
    assert encoder.embed("   ") is None
    index = MatchIndex(small_knowledge.entries, vectors=encoder)
    ranked = index.rank("who covers the hosting bills?")  # no word in common with the funding entry
    assert ranked[0].entry.id == "funding"
    assert all(0.0 <= c.score <= 1.0 and 0.0 <= c.confidence <= 1.0 for c in ranked)
    assert index.rank("do you block threads")[0].entry.id == "threads"


HEADING_ECHO_DOCS = {
    "about/moderation.md": """\
        # Moderation

        How the moderators handle reports from members and from other servers.

        ## Fan Accounts

        Reports about them reach the moderators, who look at the profile and the recent posts before acting.

        ## Appeals

        A suspended member may appeal once, by email, within thirty days.
        """,
    "rules/brands.md": """\
        # Brands and organisations

        A company may have an official presence here when it is verified.
        Anyone may run an unofficial tribute to a company or product if its profile says it is unofficial.
        """,
    "about/search.md": """\
        # Search

        Full-text search covers posts of members who opted in.
        """,
}


@pytest.mark.parametrize(
    ("matcher", "question"),
    [
        ("lexical", "can I run an unofficial tribute account for a product?"),
        ("encoder", "may I run a fan account as an unofficial tribute to a product?"),
    ],
)
def test_a_heading_that_echoes_the_question_loses_to_the_text_that_answers_it(
    tmp_path: Path, matcher: str, question: str
) -> None:
    """The heading "Fan Accounts" under moderation echoes words of the question; the brands page
    holds the rest of them ("run", "unofficial", "tribute", "product") and is the answer."""
    from faqbot.matching.matchers import load_matcher

    knowledge = load_knowledge([write_tree(tmp_path, HEADING_ECHO_DOCS)], base_url="https://docs.example.org")
    ranked = MatchIndex(knowledge.entries, vectors=load_matcher(matcher)).rank(question)
    assert [c.entry.route for c in ranked[:2]] == ["/rules/brands", "/about/moderation#fan-accounts"]


def test_an_entry_without_a_body_is_scored_by_the_evidence_it_has(tmp_path: Path) -> None:
    """A page whose text is all in its sections (or an intent known only by its phrasings) has no
    body to cover the question: its score is its word score, not lowered by a coverage of its titles alone."""
    docs = {"infrastructure.md": "# Infrastructure\n\n## Databases\n\nPostgreSQL runs on managed servers.\n"}
    knowledge = load_knowledge([write_tree(tmp_path, docs)], base_url="https://docs.example.org")
    page = next(c for c in MatchIndex(knowledge.entries).rank("infrastructure overview") if c.entry.kind == "page")
    words_score = max(page.phrasing_score, (1 - TEXT_WEIGHT) * page.phrasing_score + TEXT_WEIGHT * page.text_score)
    assert not page.entry.body.strip() and page.score == pytest.approx(words_score) and page.score > 0


# Cosine similarities from the original all-MiniLM-L6-v2 (sentence-transformers, PyTorch, float32).
REFERENCE_SIMILARITIES = [
    ("who pays for the server", "We use Let's Encrypt as our primary certificate authority.", 0.260),
    ("who pays for the server", "Funding: donations from members pay for hosting.", 0.551),
    ("can my company sign up", "Brand and business accounts are not allowed.", 0.396),
    ("is it raining", "Brand and business accounts are not allowed.", -0.078),
]


def test_the_sentence_encoder_agrees_with_the_original_model() -> None:
    """The int8 model, our tokenisation and our padding must give the original's similarities:
    a tokenizer that pads every text to 128 tokens once made all texts look alike (0.8+)."""
    from faqbot.matching.encoder import load_bundled

    encoder = load_bundled()
    for question, text, expected in REFERENCE_SIMILARITIES:
        alone = encoder._run_model([question, text])
        assert float(alone[0] @ alone[1]) == pytest.approx(expected, abs=0.04), (question, text)


def test_a_text_gets_the_same_vector_whatever_is_encoded_with_it() -> None:
    """A phrasing and the same words asked as a question must get one vector (the int8 model's
    activation ranges once came from the whole batch, neighbours and padding included)."""
    from faqbot.matching.encoder import load_bundled

    encoder = load_bundled()
    long_text = " ".join(["the server is hosted in a data centre with backups every night"] * 8)
    beside_others = encoder._run_model(["is it raining", "who pays for the server", long_text])[1]
    alone = encoder._run_model(["who pays for the server"])[0]
    assert np.array_equal(beside_others, alone)
    # A question is tokenised alone, knowledge in batches: both cut a long text at the same token.
    longer = long_text + " and then some more words about the hosting"
    assert np.array_equal(encoder._run_model(["is it raining", longer])[1], encoder._run_model([longer])[0])


def test_an_index_built_again_for_the_same_texts_reuses_the_semantic_index(small_knowledge: Knowledge) -> None:
    """Restoring learned phrasings or a reload that changed nothing builds the index again: the
    semantic part (stacking and projecting every vector) is the last one's."""
    from faqbot.matching.encoder import load_bundled

    encoder = load_bundled()
    first = MatchIndex(small_knowledge.entries, vectors=encoder)._semantic
    assert MatchIndex(small_knowledge.entries, vectors=encoder)._semantic is first
    changed = [replace(small_knowledge.entries[0], body="Threads is blocked now."), *small_knowledge.entries[1:]]
    assert MatchIndex(changed, vectors=encoder)._semantic is not first


def test_the_sentence_encoder_reuses_knowledge_vectors_but_keeps_no_question() -> None:
    from faqbot.matching.encoder import load_bundled

    encoder = load_bundled()
    first = encoder.embed_many(["can my company sign up", "who runs this place"])
    again = encoder.embed_many(["who runs this place", "a phrasing added by a moderator"])
    assert (again[0] == first[1]).all()
    assert "a phrasing added by a moderator" in encoder.cache
    asked = encoder.embed("what a member typed in chat")
    assert asked is not None and "what a member typed in chat" not in encoder.cache


@pytest.mark.parametrize(
    ("message", "name"),
    [
        ("alice: try the docs", "alice"),
        ("@Bob Smith, see the funding page", "bob smith"),
        ("  Matt|, command prompt", "matt|"),
        ("well, it works now", "well"),  # a name only if the platform knows such a member
        ("do you block threads?", None),
        (":) nice", None),
        ("who pays for all this", None),
    ],
)
def test_the_name_a_message_opens_with(message: str, name: str | None) -> None:
    assert addressee(message) == name


def test_passive_answers_stay_out_of_chat_said_to_someone_else(small_knowledge: Knowledge) -> None:
    index = MatchIndex(small_knowledge.entries)
    ranked = index.rank("do you block threads?")
    asked = decide(ranked, Mode.PASSIVE, "do you block threads?", to_someone_else=True)
    assert asked.outcome is Outcome.SILENT
    assert decide(ranked, Mode.PASSIVE, "do you block threads?").outcome is Outcome.ANSWER
    assert decide(ranked, Mode.EXPLICIT, "do you block threads?", to_someone_else=True).outcome is Outcome.ANSWER


def test_pasted_noise_does_not_fill_the_word_caches(small_knowledge: Knowledge) -> None:
    """Caches are bounded by count; keeping long 'words' out of them bounds them by size too."""
    from faqbot.matching import text

    index = MatchIndex(small_knowledge.entries)
    before = text._cached_stem.cache_info().currsize
    noise = " ".join(f"{n:05d}" + "q" * 200 for n in range(50))
    index.rank(noise + " threads")
    assert text._cached_stem.cache_info().currsize - before <= 2  # "threads" (and nothing long)
    assert all(len(word) <= text.CACHED_WORD_LENGTH for word in index._typo_cache)


def test_hostile_unicode_reaches_the_encoder_without_breaking_it(small_knowledge: Knowledge) -> None:
    """Lone surrogates (a broken client, JSON "\\ud800") once raised a TypeError in the tokenizer."""
    from faqbot.matching.encoder import load_bundled

    index = MatchIndex(small_knowledge.entries, vectors=load_bundled())
    for text in ("who pays \ud800 for this \udfff server?", "\u202eis there\u202c funding?", "a\u0300" * 300):
        assert all(0.0 <= c.score <= 1.0 for c in index.rank(text))


def test_a_question_full_of_unknown_words_costs_a_bounded_number_of_typo_searches(
    small_knowledge: Knowledge,
) -> None:
    from faqbot.matching.index import MAX_TYPO_REPAIRS

    index = MatchIndex(small_knowledge.entries)
    noise = " ".join(f"zq{chr(97 + n % 26)}{chr(97 + n // 26)}xwv" for n in range(60))
    index.rank("blok threds " + noise)
    assert len(index._typo_cache) == MAX_TYPO_REPAIRS
    assert index.rank("do u blok threds")[0].entry.id == "threads"  # a member's few typos are still repaired
