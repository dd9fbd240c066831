"""`faqbot stats`: per entry, answers given, 👍, 👎 and removals; the overall answer rate."""

from __future__ import annotations

import json
from collections.abc import Callable

from faqbot.answer_stats import answer_rate, stats_report
from faqbot.store import Interaction, RecordOutcome
from faqbot.store.sql_store import SqlStore
from tests.store.conftest import DAY, FakeClock


def answer(store: SqlStore, entry: str, reply: str, passive: bool = False, **fields: object) -> None:
    store.record_interaction(
        Interaction("discord", "general", f"about {entry}", RecordOutcome.ANSWERED, passive, entry_id=entry,
                    reply_id=reply, **fields)  # type: ignore[arg-type]
    )  # fmt: skip


def test_stats_per_entry_and_answer_rate(make_store: Callable[..., SqlStore], clock: FakeClock) -> None:
    store = make_store()
    answer(store, "threads", "r-1", passive=True)
    answer(store, "threads", "r-2", passive=True)
    answer(store, "threads", "r-3")
    answer(store, "funding", "r-4")
    answer(store, "funding", "r-old", at=clock.now - 40 * DAY)
    store.record_interaction(Interaction("discord", "general", "is there an app", RecordOutcome.UNANSWERED, False))
    store.record_interaction(Interaction("discord", "general", "app?", RecordOutcome.SILENT, True))
    store.rate("discord", "r-1", "u-1", helpful=True)
    store.rate("discord", "r-1", "u-2", helpful=True)
    store.rate("discord", "r-4", "u-1", helpful=False)
    store.mark_removed("discord", "r-2")

    report = stats_report(store)
    assert report.to_json() == {
        "entries": [
            {"id": "threads", "answered": 3, "helpful": 2, "unhelpful": 0, "removed": 1},
            {"id": "funding", "answered": 2, "helpful": 0, "unhelpful": 1, "removed": 0},
        ]
    }
    assert report.overall_answer_rate == 5 / 7
    text = report.to_text()
    assert "Answers in the last 90 days:" in text
    assert "Overall answer rate: 71% of 7 questions" in text
    assert "plain chat questions:   67% of 3 questions" in text

    recent = stats_report(store, since_days=30)
    assert json.loads(json.dumps(recent.to_json()))["entries"][1] == {
        "id": "funding",
        "answered": 1,
        "helpful": 0,
        "unhelpful": 1,
        "removed": 0,
    }


def test_an_empty_store_has_no_rate_rather_than_zero(make_store: Callable[..., SqlStore]) -> None:
    report = stats_report(make_store())
    assert report.to_json() == {"entries": []}
    assert report.overall_answer_rate is None
    assert "no questions recorded" in report.to_text()
    assert answer_rate({RecordOutcome.SUGGESTED: 2, RecordOutcome.ANSWERED: 2}) == 0.5
