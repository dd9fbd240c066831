"""Learned phrasings: moderators' corrections, used in matching but never written to files."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from faqbot.learned_phrasings import apply_learned, learned_json, learned_text, read_learned
from faqbot.matching.decision import Mode, Outcome, decide
from faqbot.matching.index import MatchIndex
from faqbot.sources.model import Knowledge
from faqbot.store.sql_store import SqlStore
from tests.store.conftest import store_settings

MEMBERS_WORDS = "where do I send money to keep vmst.io running"


def test_a_learned_phrasing_makes_the_bot_find_its_entry(
    make_store: Callable[..., SqlStore], knowledge: Knowledge, tmp_path: Path
) -> None:
    index = MatchIndex(knowledge.entries)
    assert decide(index.rank(MEMBERS_WORDS), Mode.EXPLICIT, thresholds=index.thresholds).outcome is Outcome.SILENT
    store = make_store()
    store.learn_phrasing(MEMBERS_WORDS, "funding", platform="discord", message_id="m-1")
    files_before = sorted((p, p.read_bytes()) for p in (tmp_path / "knowledge").rglob("*"))

    applied = apply_learned(knowledge, store.learned_phrasings())
    learned_index = MatchIndex(applied.knowledge.entries)
    decision = decide(learned_index.rank(MEMBERS_WORDS), Mode.EXPLICIT, thresholds=learned_index.thresholds)
    assert decision.outcome is Outcome.ANSWER and decision.best is not None
    assert (decision.best.entry.id, decision.best.score) == ("funding", 1.0)
    assert [p.text for p in applied.added] == [MEMBERS_WORDS]
    # The knowledge given is not changed, nor are its files.
    assert MEMBERS_WORDS not in knowledge.by_id("funding").questions  # type: ignore[union-attr]
    assert sorted((p, p.read_bytes()) for p in (tmp_path / "knowledge").rglob("*")) == files_before


def test_files_win_and_gone_entries_are_reported(make_store: Callable[..., SqlStore], knowledge: Knowledge) -> None:
    store = make_store()
    store.learn_phrasing("Can I donate?", "threads")  # the files say this wording is funding's
    store.learn_phrasing("how do I migrate my account here", "moving")  # no such entry (any more)
    applied = apply_learned(knowledge, store.learned_phrasings())
    assert [p.text for p in applied.already_known] == ["Can I donate?"]
    assert [p.entry_id for p in applied.orphaned] == ["moving"]
    assert applied.knowledge.entries == knowledge.entries
    listing = learned_json(store.learned_phrasings(), knowledge)["learned"]
    assert [(p["text"], p["entry"], p["entry_exists"]) for p in listing] == [
        ("Can I donate?", "threads", True),
        ("how do I migrate my account here", "moving", False),
    ]
    assert set(listing[0]) == {"id", "text", "entry", "added", "platform", "entry_exists"}
    json.dumps(listing)
    assert "(entry no longer in the knowledge)" in learned_text(store.learned_phrasings(), knowledge)


def test_a_dry_run_reads_learned_phrasings_and_records_nothing(tmp_path: Path) -> None:
    settings = store_settings({"FAQBOT_STATE_DIR": str(tmp_path / "state")})
    assert read_learned(settings) == []
    assert not (tmp_path / "state").exists()  # a dry run made no store, not even a folder

    store = settings.open()
    store.learn_phrasing(MEMBERS_WORDS, "funding")
    store.close()
    before = (tmp_path / "state" / "faqbot.sqlite3").read_bytes()
    assert [p.entry_id for p in read_learned(settings)] == ["funding"]
    assert (tmp_path / "state" / "faqbot.sqlite3").read_bytes() == before
