"""`faqbot gaps`: recorded questions the knowledge did not serve, grouped by what they ask."""

from __future__ import annotations

import itertools
import json
import math
import random
from collections.abc import Callable

import pytest

from faqbot.gaps import LexicalSimilarity, SemanticSimilarity, advise, gaps_report, group_gaps
from faqbot.matching.index import MatchIndex
from faqbot.sources.model import Knowledge
from faqbot.store import GapReason, GapRecord, Interaction, RecordOutcome
from faqbot.store.sql_store import SqlStore
from tests.store.conftest import START


def fill(store: SqlStore) -> None:
    """A few weeks of a community's gaps, one question a minute."""
    minutes = itertools.count()

    def record(text: str, outcome: RecordOutcome, **fields: object) -> None:
        passive = outcome is RecordOutcome.SILENT
        at = START + 60 * next(minutes)
        store.record_interaction(
            Interaction("discord", "general", text, outcome, passive, at=at, **fields)  # type: ignore[arg-type]
        )

    for text in ("how do I change my password?", "How to change password", "changing my password"):
        record(text, RecordOutcome.SILENT, entry_id="password", score=0.4)
    record("password change??", RecordOutcome.SUGGESTED, entry_id="password", score=0.35)
    for text in ("is there an android app", "Is there an Android app?", "android app for this server"):
        record(text, RecordOutcome.UNANSWERED)
    record("who pays for this server", RecordOutcome.ANSWERED, entry_id="funding", reply_id="r-1")
    store.rate("discord", "r-1", "u-1", helpful=False)
    record("what is the character limit for posts", RecordOutcome.UNANSWERED)
    record("do you block bluesky", RecordOutcome.ANSWERED, entry_id="bluesky", reply_id="r-ok")


def test_gaps_are_grouped_most_asked_first_with_nearest_entry_and_advice(
    make_store: Callable[..., SqlStore], knowledge: Knowledge
) -> None:
    store = make_store()
    fill(store)
    report = gaps_report(store, index=MatchIndex(knowledge.entries))
    summary = [(g.count, g.examples[0], g.advice) for g in report.groups]
    assert summary == [
        (4, "password change??", "add an alternate to entry 'password' (How do I reset my password?)"),
        (3, "Is there an Android app?", "write a new entry: nothing in the knowledge is close"),
        # Equal counts: the newest first.
        (1, "what is the character limit for posts", "write a new entry: nothing in the knowledge is close"),
        (1, "who pays for this server", "check the answer of entry 'funding' (Who pays for this server?): members "
         "rated it down or removed it"),
    ]  # fmt: skip
    passwords, apps, limit, funding = report.groups
    assert passwords.nearest is not None and passwords.nearest.id == "password"
    # Wordings are distinctive words: case, order, endings and stop words aside. The most
    # asked leads (on a tie, the newest), each shown as it was last typed.
    assert passwords.examples == ("password change??", "How to change password")
    assert dict(passwords.reasons) == {GapReason.SILENT: 3, GapReason.SUGGESTED: 1}
    assert apps.examples == ("Is there an Android app?", "android app for this server")
    assert dict(funding.reasons) == {GapReason.RATED_DOWN: 1}
    assert limit.examples == ("what is the character limit for posts",)
    assert report.questions == 9
    assert "do you block bluesky" not in json.dumps(report.to_json())  # served well: not a gap


def test_gaps_json_has_exactly_the_documented_shape(make_store: Callable[..., SqlStore], knowledge: Knowledge) -> None:
    store = make_store()
    fill(store)
    printed = json.dumps(gaps_report(store, index=MatchIndex(knowledge.entries)).to_json())
    data = json.loads(printed)
    assert set(data) == {"groups"}
    for group in data["groups"]:
        assert set(group) == {"count", "examples", "nearest"}
        assert isinstance(group["count"], int) and all(isinstance(e, str) for e in group["examples"])
        assert 1 <= len(group["examples"]) <= 3
        if group["nearest"] is not None:
            assert set(group["nearest"]) == {"id", "title", "url", "score"}
            assert 0.0 <= group["nearest"]["score"] <= 1.0
    first = data["groups"][0]
    assert first["nearest"]["url"] == "https://docs.example.org/accounts/password"


def test_gaps_text_names_each_group_and_what_to_do(make_store: Callable[..., SqlStore], knowledge: Knowledge) -> None:
    store = make_store()
    fill(store)
    text = gaps_report(store, index=MatchIndex(knowledge.entries), since_days=30).to_text()
    assert text.startswith("9 questions in the last 30 days in 4 groups")
    assert "1. asked 4× (3 silent, 1 suggested)" in text
    assert "→ add an alternate to entry 'password'" in text
    assert "→ write a new entry" in text


def test_no_gaps_says_so(make_store: Callable[..., SqlStore]) -> None:
    report = gaps_report(make_store())
    assert report.to_json() == {"groups": []}
    assert "No gaps in the last 90 days" in report.to_text()


def gap(number: int, text: str, reason: GapReason = GapReason.UNANSWERED, entry: str | None = None) -> GapRecord:
    return GapRecord(number, 1000.0 + number, text, reason, entry, None)


def test_grouping_does_not_depend_on_the_order_records_come_in(knowledge: Knowledge) -> None:
    texts = [
        "how do I change my password",
        "change my password?",
        "password change",
        "is there an android app",
        "android app?",
        "what is the character limit",
        "character limit of posts",
        "can I run a bot account",
        "bot accounts allowed?",
    ]
    records = [gap(n, t) for n, t in enumerate(texts * 2)]
    index = MatchIndex(knowledge.entries)
    expected = group_gaps(records, index=index)
    for seed in range(5):
        shuffled = records[:]
        random.Random(seed).shuffle(shuffled)
        assert group_gaps(shuffled, index=index) == expected


def test_questions_sharing_only_a_common_word_stay_apart() -> None:
    records = [
        gap(1, "who pays for the server"),
        gap(2, "who pays for the server"),
        gap(3, "is the server down"),
        gap(4, "who pays for this server?"),
        gap(5, "server down again?"),
    ]
    groups = group_gaps(records, similarity=LexicalSimilarity())
    assert [(g.count, g.examples) for g in groups] == [
        (3, ("who pays for this server?",)),
        (2, ("server down again?",)),  # "is", "the" and "again" are stop words: the same wording
    ]
    assert all(g.nearest is None and g.advice == "" for g in groups)  # no knowledge given: no advice


def test_a_group_grows_by_what_its_later_wordings_add() -> None:
    """ "app for phones" shares only "app" with the first wording, too little alone; but the
    group also holds "android app for phones", so its centroid is close enough."""
    records = [gap(n, "is there an android app") for n in range(3)]
    records += [gap(n, "android app for phones") for n in range(3, 5)]
    records.append(gap(5, "app for phones"))
    [group] = group_gaps(records)
    assert group.count == 6
    assert group.examples == ("is there an android app", "android app for phones", "app for phones")


def test_with_the_encoder_paraphrases_without_shared_words_group() -> None:
    from faqbot.matching.encoder import load_bundled

    encoder = load_bundled()
    records = [gap(1, "is there an android app"), gap(2, "which app works on my phone")]
    assert len(group_gaps(records, similarity=LexicalSimilarity())) == 2
    assert [g.count for g in group_gaps(records, similarity=SemanticSimilarity(encoder))] == [2]


def test_advice_is_decided_in_one_place() -> None:
    from faqbot.gaps import NearestEntry

    near = NearestEntry("password", "How do I reset my password?", None, 0.6)
    far = NearestEntry("password", "How do I reset my password?", None, 0.1)
    assert advise(near, None, alternate_bar=0.3).startswith("add an alternate to entry 'password'")
    assert advise(far, None, alternate_bar=0.3).startswith("write a new entry")
    assert advise(None, None, alternate_bar=0.3).startswith("write a new entry")
    assert advise(near, "password", alternate_bar=0.3).startswith("check the answer of entry 'password'")
    assert advise(near, "funding", alternate_bar=0.3).startswith("add an alternate")


def test_a_rejected_answer_is_the_advice_only_when_most_of_the_group_rejected_it(knowledge: Knowledge) -> None:
    index = MatchIndex(knowledge.entries)
    mostly_unanswered = [gap(n, "who pays for this server") for n in range(3)]
    mostly_unanswered.append(gap(9, "who pays for this server", GapReason.RATED_DOWN, "funding"))
    [group] = group_gaps(mostly_unanswered, index=index)
    assert group.answered_entry is None and group.advice.startswith("add an alternate to entry 'funding'")
    rejected = [gap(n, "who pays for this server", GapReason.REMOVED, "funding") for n in range(2)]
    [group] = group_gaps([*rejected, gap(5, "who pays for this server")], index=index)
    assert group.advice.startswith("check the answer of entry 'funding'")


def test_a_group_is_compared_by_its_centroid_not_only_its_first_wording() -> None:
    """A wording that shares words only with a later member still finds the group,
    in proportion to how often that member was asked."""
    texts = ["reset my password", "password reset link email", "email link never arrived"]
    groups = LexicalSimilarity().groups(texts)
    groups.start(0, weight=3)
    assert groups.closest(2, at_least=0.01) is None  # nothing in common with the first wording
    groups.join(0, 1, weight=2)
    found = groups.closest(2, at_least=0.01)
    assert found is not None and found[0] == 0 and 0 < found[1] < 1


def test_a_wording_asked_more_often_pulls_its_group_harder() -> None:
    texts = ["is there an android app", "android app for phones", "app for phones"]
    scores = []
    for weight in (1, 5):
        groups = LexicalSimilarity().groups(texts)
        groups.start(0, weight=1)
        groups.join(0, 1, weight=weight)
        found = groups.closest(2, at_least=0.01)
        assert found is not None
        scores.append(found[1])
    assert scores[1] > scores[0]


def test_skipping_groups_that_cannot_reach_the_bar_never_misses_one() -> None:
    """The lexical index scores only groups sharing one of a wording's heaviest words;
    against scoring every group, it finds the same closest group at every bar."""
    vocabulary = "password reset email app android iphone server down pays donate block threads bluesky how what is"
    words = vocabulary.split()
    generator = random.Random(7)
    texts = [" ".join(generator.sample(words, generator.randint(2, 5))) for _ in range(300)]
    for bar in (0.2, 0.4, 0.55, 0.7):
        groups = LexicalSimilarity().groups(texts)
        for position in range(0, 300, 2):
            groups.start(position, weight=1 + position % 3)
        lexical = groups._centroids, groups._squared_norms, groups._vectors  # type: ignore[attr-defined]
        centroids, squared_norms, vectors = lexical
        for position in range(1, 300, 2):
            scores = [
                sum(w * centroid.get(t, 0.0) for t, w in vectors[position].items()) / math.sqrt(norm)
                for centroid, norm in zip(centroids, squared_norms, strict=True)
            ]
            best = max(range(len(scores)), key=lambda g: (scores[g], -g))
            expected = (best, scores[best]) if scores[best] >= bar else None
            found = groups.closest(position, at_least=bar)
            assert (found is None) == (expected is None), (bar, texts[position])
            if found is not None and expected is not None:
                assert found[0] == expected[0] and found[1] == pytest.approx(expected[1])
