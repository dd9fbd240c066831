"""The store's behaviour, on a real SQLite file and a real PostgreSQL server alike."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from faqbot.store import (
    GapReason,
    Interaction,
    RecordOutcome,
    StoreError,
    StoreMissing,
    open_store,
)
from faqbot.store.records import MAX_TEXT_CHARS
from faqbot.store.schema import CURRENT_VERSION
from faqbot.store.sql_store import SqlStore
from tests.store.conftest import DAY, FakeClock, raw_rows


def asked(question: str, outcome: RecordOutcome = RecordOutcome.ANSWERED, **fields: object) -> Interaction:
    values: dict[str, object] = {
        "platform": "discord",
        "conversation_id": "room-1",
        "question": question,
        "outcome": outcome,
        "passive": False,
    }
    values.update(fields)
    return Interaction(**values)  # type: ignore[arg-type]


def test_a_reply_is_found_again_after_a_restart_and_knows_its_asker(make_store: Callable[..., SqlStore]) -> None:
    store = make_store()
    store.record_interaction(
        asked("how do I reset my password", question_id="q-1", reply_id="r-1", entry_id="password", user_id="u-42")
    )
    store.close()

    reopened = make_store()
    record = reopened.find_reply("discord", "r-1")
    assert record is not None
    assert (record.conversation_id, record.question_id, record.entry_id) == ("room-1", "q-1", "password")
    assert reopened.is_asker("discord", "r-1", "u-42")
    assert not reopened.is_asker("discord", "r-1", "u-43")
    assert not reopened.is_asker("matrix", "r-1", "u-42")  # another platform's reply of the same id
    assert reopened.find_reply("discord", "r-unknown") is None


def test_user_ids_are_not_stored_unless_a_setting_asks(make_store: Callable[..., SqlStore], store_target: str) -> None:
    user_id = "@alice:example.org"
    store = make_store()
    store.record_interaction(asked("who pays for this", reply_id="r-1", user_id=user_id))
    store.rate("discord", "r-1", user_id, helpful=True)
    for table in ("faqbot_interactions", "faqbot_ratings"):
        assert user_id not in repr(raw_rows(store_target, table))
    assert store.is_asker("discord", "r-1", user_id)
    store.close()

    keeping_ids = make_store(store_user_ids=True)
    keeping_ids.record_interaction(asked("who pays for this", reply_id="r-2", user_id=user_id))
    assert user_id in repr(raw_rows(store_target, "faqbot_interactions"))
    # Both forms stay recognisable after the setting changed.
    assert keeping_ids.is_asker("discord", "r-1", user_id)
    assert keeping_ids.is_asker("discord", "r-2", user_id)


def test_one_rating_per_member_per_answer(make_store: Callable[..., SqlStore]) -> None:
    store = make_store()
    store.record_interaction(asked("do you block threads", reply_id="r-1", entry_id="threads"))
    assert store.rate("discord", "r-1", "u-1", helpful=False)
    assert store.rate("discord", "r-1", "u-1", helpful=True)  # changed their mind: replaces
    assert store.rate("discord", "r-1", "u-2", helpful=True)
    assert store.rate("discord", "r-1", "u-3", helpful=False)
    assert store.rate("discord", "r-1", "u-3", helpful=None)  # took it back
    assert not store.rate("discord", "r-unknown", "u-1", helpful=True)
    [counts] = store.entry_counts()
    assert (counts.entry_id, counts.helpful, counts.unhelpful) == ("threads", 2, 0)


def test_a_reaction_taken_back_takes_back_only_the_rating_it_gave(make_store: Callable[..., SqlStore]) -> None:
    """A 👍 replaced by a 👎, then the 👍's reaction removed: the 👎 stands (Discord names the emoji)."""
    store = make_store()
    store.record_interaction(asked("do you block threads", reply_id="r-1", entry_id="threads"))
    store.rate("discord", "r-1", "u-1", helpful=True, given_by="👍")
    store.rate("discord", "r-1", "u-1", helpful=False, given_by="👎")
    store.rate("discord", "r-1", "u-1", helpful=None, given_by="👍")
    [counts] = store.entry_counts()
    assert (counts.helpful, counts.unhelpful) == (0, 1)
    store.rate("discord", "r-1", "u-1", helpful=None, given_by="👎")
    [counts] = store.entry_counts()
    assert (counts.helpful, counts.unhelpful) == (0, 0)


def test_a_rating_given_before_sources_were_kept_is_taken_back_by_its_reaction(
    make_store: Callable[..., SqlStore],
) -> None:
    """A 👍 rated by a release before schema 4 has no `given_by`: removing it after the upgrade
    still takes it back, or every rating older than the upgrade would stand for good."""
    store = make_store()
    store.record_interaction(asked("do you block threads", reply_id="r-1", entry_id="threads"))
    store.rate("discord", "r-1", "u-1", helpful=True)  # as the old release wrote it: no given_by
    store.rate("discord", "r-1", "u-1", helpful=None, given_by="👍")
    [counts] = store.entry_counts()
    assert (counts.helpful, counts.unhelpful) == (0, 0)


def test_what_gave_a_rating_is_kept_keyed_so_it_does_not_name_the_rater(
    make_store: Callable[..., SqlStore], store_target: str
) -> None:
    """A reaction's id is public in its room with its sender: kept plain, it would tie a rating's
    keyed hash (the same one that keys who asked) back to the member."""
    store = make_store()
    store.record_interaction(asked("who pays", platform="matrix", reply_id="$answer", entry_id="funding"))
    store.rate("matrix", "$answer", "@a:x", helpful=True, given_by="$their-reaction")
    [(_, _, _, _, given_by)] = raw_rows(store_target, "faqbot_ratings")
    assert given_by and "their-reaction" not in given_by
    assert store.take_back_ratings("matrix", ["$their-reaction"]) == 1


def test_a_redacted_reaction_takes_back_its_rating_by_its_id_alone(make_store: Callable[..., SqlStore]) -> None:
    """A Matrix redaction names only the redacted event: the store finds the rating it gave, if any."""
    store = make_store()
    for platform in ("matrix", "discord"):
        store.record_interaction(asked("who pays", platform=platform, reply_id="$answer", entry_id="funding"))
    store.rate("matrix", "$answer", "@a:x", helpful=True, given_by="$up-a")
    store.rate("matrix", "$answer", "@b:x", helpful=False, given_by="$down-b")
    store.rate("discord", "$answer", "c", helpful=True, given_by="$up-a")  # another platform's, same id
    store.close()

    reopened = make_store()  # after a restart: nothing in memory
    assert reopened.take_back_ratings("matrix", ["$up-a", "$a-message", "$never-seen"]) == 1
    assert reopened.take_back_ratings("matrix", ["$up-a"]) == 0  # already gone
    assert reopened.take_back_ratings("matrix", []) == 0
    counts = {(c.entry_id, c.helpful, c.unhelpful) for c in reopened.entry_counts()}
    assert counts == {("funding", 1, 1)}  # the Discord 👍 and the Matrix 👎 stand


def test_entry_counts_split_passive_and_asked_and_count_removals(make_store: Callable[..., SqlStore]) -> None:
    store = make_store()
    store.record_interaction(asked("do you block threads?", passive=True, entry_id="threads", reply_id="r-1"))
    store.record_interaction(asked("!faq threads", entry_id="threads", reply_id="r-2"))
    store.record_interaction(asked("threads?", entry_id="threads", reply_id="r-3"))
    store.record_interaction(asked("who pays", entry_id="funding", reply_id="r-4"))
    store.record_interaction(asked("who runs this", RecordOutcome.SUGGESTED, entry_id="funding"))
    assert store.mark_removed("discord", "r-1")
    assert not store.mark_removed("discord", "r-unknown")
    store.rate("discord", "r-4", "u-1", helpful=False)
    threads, funding = store.entry_counts()
    assert (threads.entry_id, threads.passive, threads.asked, threads.removed) == ("threads", 1, 2, 1)
    assert (funding.entry_id, funding.answered, funding.unhelpful) == ("funding", 1, 1)
    outcomes = store.outcome_counts()
    assert outcomes.total == 5 and outcomes.answered == 4
    assert outcomes.passive == {RecordOutcome.ANSWERED: 1}


def test_gap_records_are_the_questions_the_knowledge_did_not_serve(make_store: Callable[..., SqlStore]) -> None:
    store = make_store()
    store.record_interaction(asked("where is the code of conduct", RecordOutcome.UNANSWERED, question_id="q-1"))
    store.record_interaction(asked("can I run a bot here?", RecordOutcome.SILENT, passive=True, entry_id="rules"))
    store.record_interaction(asked("is there an app", RecordOutcome.SUGGESTED, entry_id="apps"))
    store.record_interaction(asked("how do I donate", entry_id="funding", reply_id="r-down"))
    store.record_interaction(asked("who pays", entry_id="funding", reply_id="r-even"))
    store.record_interaction(asked("do you block threads", entry_id="threads", reply_id="r-removed"))
    store.record_interaction(asked("do you block bluesky", entry_id="bluesky", reply_id="r-fine"))
    store.rate("discord", "r-down", "u-1", helpful=False)
    store.rate("discord", "r-even", "u-1", helpful=False)
    store.rate("discord", "r-even", "u-2", helpful=True)
    store.mark_removed("discord", "r-removed")

    reasons = {r.question: r.reason for r in store.gap_records()}
    assert reasons == {
        "where is the code of conduct": GapReason.UNANSWERED,
        "can I run a bot here?": GapReason.SILENT,
        "is there an app": GapReason.SUGGESTED,
        "how do I donate": GapReason.RATED_DOWN,
        "do you block threads": GapReason.REMOVED,
    }

    # A moderator's correction of a question resolves it: it is no longer a gap.
    store.learn_phrasing("where is the code of conduct", "rules", platform="discord", message_id="q-1")
    assert "where is the code of conduct" not in {r.question for r in store.gap_records()}


def test_since_days_looks_back_only_that_far(make_store: Callable[..., SqlStore], clock: FakeClock) -> None:
    store = make_store()
    store.record_interaction(asked("old question", RecordOutcome.UNANSWERED, at=clock.now - 10 * DAY))
    store.record_interaction(asked("new question", RecordOutcome.UNANSWERED, entry_id="x", at=clock.now - DAY))
    assert [r.question for r in store.gap_records(since_days=7)] == ["new question"]
    assert [r.question for r in store.gap_records()] == ["new question", "old question"]
    assert store.outcome_counts(since_days=7).total == 1
    with pytest.raises(ValueError, match="since_days"):
        store.gap_records(since_days=0)


def test_learned_phrasings_one_per_wording_listable_and_forgettable(make_store: Callable[..., SqlStore]) -> None:
    store = make_store()
    first = store.learn_phrasing("Can I pay with PayPal?", "funding", platform="matrix", message_id="$e1")
    again = store.learn_phrasing("can i pay with paypal", "donations", platform="matrix", message_id="$e2")
    other = store.learn_phrasing("is there an app", "apps")
    assert first == again  # the same wording: the newer correction wins
    assert [(p.text, p.entry_id) for p in store.learned_phrasings()] == [
        ("can i pay with paypal", "donations"),
        ("is there an app", "apps"),
    ]
    assert store.forget_phrasing(other)
    assert not store.forget_phrasing(other)
    newest = store.learn_phrasing("how do I mute someone", "muting")
    assert newest > other  # a forgotten id is never handed out again
    with pytest.raises(ValueError, match="word"):
        store.learn_phrasing("?!", "funding")


def test_passive_settings_survive_a_restart(make_store: Callable[..., SqlStore]) -> None:
    store = make_store()
    store.set_passive("matrix", "!room:example.org", False)
    store.set_passive("matrix", "!other:example.org", False)
    store.set_passive("matrix", "!other:example.org", True)
    store.set_passive("discord", "123", False)
    store.close()
    assert make_store().passive_settings("matrix") == {"!other:example.org": True, "!room:example.org": False}


def test_retention_deletes_old_records_at_open_and_when_asked(
    make_store: Callable[..., SqlStore], clock: FakeClock
) -> None:
    store = make_store()
    store.record_interaction(asked("asked long ago", reply_id="r-old", user_id="u-1"))
    store.rate("discord", "r-old", "u-2", helpful=False)
    store.learn_phrasing("asked long ago", "funding", platform="discord", conversation_id="room-1", message_id="q-old")
    clock.advance(days=60)
    store.record_interaction(asked("asked recently", reply_id="r-new"))
    store.close()

    clock.advance(days=31)  # the first records are 91 days old, the second 31
    reopened = make_store()
    assert reopened.find_reply("discord", "r-old") is None
    assert reopened.find_reply("discord", "r-new") is not None
    [learned] = reopened.learned_phrasings()
    assert (learned.text, learned.entry_id) == ("asked long ago", "funding")  # moderators' choice: kept
    assert (learned.conversation_id, learned.message_id) == (None, None)  # but no longer linked to the message

    clock.advance(days=60)
    assert reopened.apply_retention() == 1
    assert reopened.find_reply("discord", "r-new") is None


def test_a_shorter_retention_period_is_honoured(make_store: Callable[..., SqlStore], clock: FakeClock) -> None:
    store = make_store(retention_days=7)
    store.record_interaction(asked("a week and a day ago", RecordOutcome.UNANSWERED, at=clock.now - 8 * DAY))
    store.record_interaction(asked("yesterday", RecordOutcome.UNANSWERED, at=clock.now - DAY))
    # Reports never show what is past the retention period, even before it is deleted.
    assert [r.question for r in store.gap_records(since_days=30)] == ["yesterday"]
    assert [r.question for r in store.gap_records()] == ["yesterday"]
    assert store.outcome_counts(since_days=30).total == 1
    store.apply_retention()
    assert [r.question for r in store.gap_records(since_days=30)] == ["yesterday"]
    with pytest.raises(ValueError, match="retention_days"):
        make_store(retention_days=0)


def test_chat_text_that_engines_refuse_is_stored_cleaned(make_store: Callable[..., SqlStore]) -> None:
    """A NUL (PostgreSQL refuses it), a lone surrogate (no UTF-8 for it), a 64 KB message."""
    store = make_store()
    store.record_interaction(asked("null\x00byte", RecordOutcome.UNANSWERED, question_id="q\x00"))
    store.record_interaction(asked("lone \ud800 surrogate", RecordOutcome.UNANSWERED))
    store.record_interaction(asked("x" * 65_536, RecordOutcome.UNANSWERED))
    questions = sorted(r.question for r in store.gap_records())
    assert questions[0] == "lone ? surrogate"
    assert questions[1] == "null" + "byte"
    assert len(questions[2]) == MAX_TEXT_CHARS and questions[2].endswith("…")


def test_two_processes_opening_a_new_store_together_migrate_it_once(
    store_target: str, state_dir: Path, clock: FakeClock
) -> None:
    opened: list[SqlStore] = []
    errors: list[BaseException] = []

    def open_one() -> None:
        try:
            opened.append(open_store(store_target, state_dir=state_dir, clock=clock))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=open_one) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    try:
        assert not errors, errors
        for number, store in enumerate(opened):
            store.record_interaction(asked(f"question {number}", RecordOutcome.UNANSWERED))
        assert len(opened[0].gap_records()) == 3
        assert raw_rows(store_target, "faqbot_schema") == [(CURRENT_VERSION,)]
    finally:
        for store in opened:
            store.close()


def test_read_only_opens_create_nothing_and_write_nothing(
    make_store: Callable[..., SqlStore], store_target: str, engine: str
) -> None:
    with pytest.raises(StoreMissing):
        make_store(read_only=True)
    if engine == "sqlite":
        assert not Path(store_target).exists()
    else:
        with psycopg.connect(store_target) as connection:
            assert connection.execute("SELECT to_regclass('faqbot_schema')").fetchone() == (None,)
    make_store().learn_phrasing("is there an app", "apps")
    reader = make_store(read_only=True)
    assert [p.text for p in reader.learned_phrasings()] == ["is there an app"]
    with pytest.raises(StoreError, match="read-only"):
        reader.learn_phrasing("another", "apps")


def test_a_store_newer_than_this_faqbot_is_refused_untouched(
    make_store: Callable[..., SqlStore], store_target: str
) -> None:
    make_store().close()
    if store_target.startswith("postgresql://"):
        with psycopg.connect(store_target, autocommit=True) as connection:
            connection.execute("UPDATE faqbot_schema SET version = 99")
    else:
        with sqlite3.connect(store_target) as connection:
            connection.execute("UPDATE faqbot_schema SET version = 99")
    with pytest.raises(StoreError, match="version 99, newer than this faqbot"):
        make_store()
    assert raw_rows(store_target, "faqbot_schema") == [(99,)]


def test_a_file_that_is_not_a_store_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "faqbot.sqlite3"
    path.write_text("this is not a database\n" * 100)
    with pytest.raises(StoreError, match=str(path)) as raised:
        open_store(path, state_dir=tmp_path)
    assert "not a database" in str(raised.value)
    assert path.read_text().startswith("this is not a database")


def test_a_folder_target_holds_a_private_store_file(tmp_path: Path) -> None:
    folder = tmp_path / "state"
    folder.mkdir()
    store = open_store(folder)
    try:
        store.record_interaction(asked("who pays", reply_id="r", user_id="u"))
        store.is_asker("discord", "r", "u")
    finally:
        store.close()
    assert (folder / "faqbot.sqlite3").stat().st_mode & 0o777 == 0o600
    assert (folder / "store-secret").stat().st_mode & 0o777 == 0o600
