"""`faqbot gaps`: recorded questions the knowledge did not serve, grouped by what they ask."""

from __future__ import annotations

import json
import random
from collections.abc import Callable

import pytest

from faqbot.gaps import LexicalSimilarity, SemanticSimilarity, advise, gaps_report, group_gaps
from faqbot.matching.index import MatchIndex
from faqbot.sources.model import Knowledge
from faqbot.store import GapReason, GapRecord, Interaction, RecordOutcome
from faqbot.store.sql_store import SqlStore
from tests.store.conftest import START


def record(store: SqlStore, text: str, outcome: RecordOutcome, **fields: object) -> None:
    """Record one question, a minute after the one before."""
    fields.setdefault("at", START + 60 * len(store.gap_records()) + 60 * len(store.entry_counts()))
    store.record_interaction(
        Interaction(
            platform="discord",
            conversation_id="general",
            question=text,
            outcome=outcome,
            passive=outcome is RecordOutcome.SILENT,
            **fields,  # type: ignore[arg-type]
        )
    )


def fill(store: SqlStore) -> None:
    """A few weeks of a community's gaps."""
    for text in ("how do I change my password?", "How to change password", "changing my password"):
        record(store, text, RecordOutcome.SILENT, entry_id="password", score=0.4)
    record(store, "password change??", RecordOutcome.SUGGESTED, entry_id="password", score=0.35)
    for text in ("is there an android app", "Is there an Android app?", "android app for this server"):
        record(store, text, RecordOutcome.UNANSWERED)
    record(store, "who pays for this server", RecordOutcome.ANSWERED, entry_id="funding", reply_id="r-1")
    store.rate("discord", "r-1", "u-1", helpful=False)
    record(store, "what is the character limit for posts", RecordOutcome.UNANSWERED)
    record(store, "do you block bluesky", RecordOutcome.ANSWERED, entry_id="bluesky", reply_id="r-ok")


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


def test_with_the_encoder_paraphrases_without_shared_words_group() -> None:
    encoder = pytest.importorskip("faqbot.matching.encoder", reason="needs faqbot[encoder]").load_bundled()
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
