"""The platform-free bot over a real store (SQLite file and PostgreSQL): what it records, what
moderators' corrections and settings leave behind, and that it survives a restart."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from faqbot.bot import Bot
from faqbot.responder import HelpPost, IncomingMessage, RepliedMessage, ReplyKind, Responder, ResponderSettings
from faqbot.sources.model import Knowledge
from faqbot.store import BackgroundRecorder, open_store
from faqbot.store.interface import StoreUnavailable
from faqbot.store.records import GapReason
from tests.store.conftest import FakeClock

MEMBER_WORDS = "who keeps the lights on around here"

MakeBot = Callable[..., Bot]


@pytest.fixture
def make_bot(store_target: str, state_dir: Path, clock: FakeClock, knowledge: Knowledge) -> Iterator[MakeBot]:
    """A bot as `faqbot run` builds one (a new one is a restart); closed at teardown."""
    made: list[tuple[Bot, BackgroundRecorder]] = []

    def make(reload: Callable[[], Knowledge] | None = None) -> Bot:
        recorder = BackgroundRecorder(lambda: open_store(store_target, state_dir=state_dir, clock=clock)).start()
        assert _wait(lambda: recorder._store is not None)
        responder = Responder(knowledge, ResponderSettings(cooldown_seconds=600), clock=time.monotonic)
        bot = Bot(responder, "matrix", recorder=recorder, reload=reload)
        bot.restore()
        made.append((bot, recorder))
        return bot

    yield make
    for bot, recorder in made:
        bot.close()
        recorder.close()


def _wait(condition: Callable[[], bool], timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def say(bot: Bot, text: str, *, room: str = "!room", sender: str = "@member", message_id: str, reply_id="$r", **extra):
    message = IncomingMessage(text, room, sender, message_id=message_id, **extra)
    handled = bot.handle(message)
    bot.sent(message, handled, reply_id if handled.reply is not None else None)
    return handled


def test_questions_are_recorded_and_chat_is_not(make_bot: MakeBot) -> None:
    bot = make_bot()
    say(bot, "!faq who pays for this server", message_id="$1", reply_id="$r1")  # asked, answered
    say(bot, "do you block threads?", message_id="$2", reply_id="$r2")  # passive, answered
    say(bot, "do you block threads?", message_id="$3")  # the same again: on cooldown
    say(bot, "what is the meaning of the tuba?", message_id="$4")  # a question the bot is silent on
    say(bot, "I had pizza for lunch", message_id="$5")  # chat
    say(bot, "do you block bluesky?", message_id="$6", to_someone_else=True)  # their conversation
    say(bot, "!faq list", message_id="$7")  # a command
    say(bot, "!faq quantum chromodynamics", message_id="$8", reply_id="$r8")  # asked, no answer
    assert bot.recorder.flush(10)
    store = bot.recorder.store
    counts = {c.entry_id: (c.asked, c.passive) for c in store.entry_counts()}
    assert counts == {"funding": (1, 0), "threads": (0, 1)}
    totals = store.outcome_counts()
    assert totals.total == 4  # $1, $2, $4, $8: nothing else entered the store
    reasons = {record.question: record.reason for record in store.gap_records()}
    assert reasons == {
        "what is the meaning of the tuba?": GapReason.SILENT,
        "!faq quantum chromodynamics": GapReason.UNANSWERED,
    }
    assert store.find_reply("matrix", "$r2").entry_id == "threads"
    assert store.is_asker("matrix", "$r1", "@member") and not store.is_asker("matrix", "$r1", "@someone")


def test_a_correction_is_recorded_learned_and_survives_a_restart(make_bot: MakeBot) -> None:
    bot = make_bot()
    say(bot, MEMBER_WORDS + "?", message_id="$q", sender="@member")
    pointed = RepliedMessage("$q", MEMBER_WORDS + "?", author_id="@member")
    handled = say(
        bot, "!faq funding", sender="@mod", moderator=True, replying_to=pointed, message_id="$m", reply_id="$a"
    )
    assert handled.reply.entry.id == "funding" and handled.reply_to == "$q"
    assert bot.recorder.flush(10)
    store = bot.recorder.store
    assert [(p.text, p.entry_id, p.message_id) for p in store.learned_phrasings()] == [
        (MEMBER_WORDS + "?", "funding", "$q")
    ]
    answer = store.find_reply("matrix", "$a")
    assert answer.question_id == "$q" and store.is_asker("matrix", "$a", "@member")  # the member may rate it
    assert [g.question for g in store.gap_records()] == []  # a corrected question is no gap
    bot.close()
    bot.recorder.close()

    restarted = make_bot()
    later = restarted.handle(IncomingMessage(MEMBER_WORDS + "?", "!other", "@newcomer"))
    assert later.reply is not None and later.reply.entry.id == "funding"


def test_passive_off_is_kept_across_a_restart(make_bot: MakeBot) -> None:
    bot = make_bot()
    say(bot, "!faq passive off", sender="@mod", moderator=True, message_id="$p")
    assert bot.recorder.flush(10)
    bot.close()
    bot.recorder.close()
    restarted = make_bot()
    assert restarted.handle(IncomingMessage("do you block threads?", "!room", "@m")).reply is None
    assert restarted.handle(IncomingMessage("do you block threads?", "!elsewhere", "@m")).reply is not None


def test_gaps_in_chat_show_only_that_rooms_questions(make_bot: MakeBot) -> None:
    bot = make_bot()
    say(bot, "!faq how tall is the eiffel tower", room="!here", message_id="$1")
    say(bot, "!faq how tall is the eiffel tower exactly", room="!here", message_id="$2")
    say(bot, "!faq secret plans of the other room", room="!private", message_id="$3")
    assert bot.recorder.flush(10)
    gaps = bot.handle(IncomingMessage("!faq gaps", "!here", "@mod", moderator=True)).reply
    assert gaps.kind is ReplyKind.GAPS and gaps.gaps
    assert sum(line.count for line in gaps.gaps) == 2
    assert all("secret" not in line.example for line in gaps.gaps)
    refused = bot.handle(IncomingMessage("!faq gaps", "!here", "@member")).reply
    assert refused.kind is ReplyKind.MODERATORS_ONLY


def test_reload_reads_the_files_again(make_bot: MakeBot, knowledge: Knowledge) -> None:
    fewer = Knowledge(entries=knowledge.entries[:2], problems=[])
    bot = make_bot(reload=lambda: fewer)
    reply = bot.handle(IncomingMessage("!faq reload", "!room", "@mod", moderator=True)).reply
    assert reply.kind is ReplyKind.RELOADED and reply.reloaded == (2, 0)
    assert len(bot.responder.knowledge.entries) == 2


def test_ratings_and_removals_reach_the_stats(make_bot: MakeBot) -> None:
    bot = make_bot()
    say(bot, "!faq who pays for this server", message_id="$1", reply_id="$r1")
    assert bot.recorder.flush(10)
    bot.rated("$r1", "@member", True)
    bot.rated("$r1", "@other", False)
    bot.rated("$r1", "@other", None)  # taken back
    bot.removed("$r1")
    assert bot.recorder.flush(10)
    (funding,) = bot.recorder.store.entry_counts()
    assert (funding.helpful, funding.unhelpful, funding.removed) == (1, 0, 1)


def test_answers_go_out_while_the_store_is_down(knowledge: Knowledge) -> None:
    def down() -> None:
        raise StoreUnavailable("database is locked")

    recorder = BackgroundRecorder(down, first_retry=0.05).start()  # type: ignore[arg-type]
    bot = Bot(Responder(knowledge), "matrix", recorder=recorder)
    try:
        bot.restore(wait=0.2)  # nothing to restore: starts without
        started = time.monotonic()
        handled = say(bot, "!faq who pays for this server", message_id="$1")
        assert handled.reply.entry.id == "funding" and time.monotonic() - started < 1
        assert bot.is_asker("$r", "@member") is False  # unknown while down, not an error
    finally:
        bot.close()
        recorder.close(timeout=0.2)


# -- help posts ------------------------------------------------------------------------------


def help_post(text: str = "Do you block Bluesky?", post_id: str = "thread-1") -> HelpPost:
    return HelpPost(conversation_id=post_id, post_id=post_id, author_id="@poster", text=text, tags=())


def test_a_help_post_is_answered_once_and_recorded(make_bot: MakeBot) -> None:
    bot = make_bot()
    first = bot.help_post(help_post())
    assert first.reply is not None and first.reply.help_post and first.reply_to == "thread-1"
    bot.help_post_sent(help_post(), first, "answer-1")
    assert bot.help_post(help_post()).reply is None  # the same post again: never twice
    unsure = bot.help_post(help_post("my printer is on fire", "thread-2"))
    bot.help_post_sent(help_post("my printer is on fire", "thread-2"), unsure, None)
    assert bot.recorder.flush(10)
    store = bot.recorder.store
    assert store.find_reply("matrix", "answer-1").question_id == "thread-1"
    assert [g.question for g in store.gap_records()] == ["my printer is on fire"]  # shows in faqbot gaps


def test_solved_and_need_a_human(make_bot: MakeBot) -> None:
    bot = make_bot()
    for number in (1, 2):
        post = help_post(post_id=f"thread-{number}")
        bot.help_post_sent(post, bot.help_post(post), f"answer-{number}")
    assert bot.help_outcome("answer-1", "@someone-else", solved=True).accepted is False
    solved = bot.help_outcome("answer-1", "@poster", solved=True)
    assert solved.accepted and solved.solved and not solved.notify
    human = bot.help_outcome("answer-2", "@poster", solved=False)
    assert human.accepted and human.notify
    assert bot.help_outcome("answer-2", "@poster", solved=False).notify is False  # once per post
    assert bot.recorder.flush(10)
    (bluesky,) = bot.recorder.store.entry_counts()
    assert (bluesky.helpful, bluesky.unhelpful) == (1, 1)


def test_the_poster_is_known_after_a_restart(make_bot: MakeBot) -> None:
    bot = make_bot()
    post = help_post()
    bot.help_post_sent(post, bot.help_post(post), "answer-1")
    assert bot.recorder.flush(10)
    bot.close()
    bot.recorder.close()
    restarted = make_bot()
    assert restarted.help_outcome("answer-1", "@someone-else", solved=False).accepted is False
    assert restarted.help_outcome("answer-1", "@poster", solved=False).notify is True


def test_helpers_are_told_once_per_post_across_restarts(make_bot: MakeBot) -> None:
    bot = make_bot()
    post = help_post()
    bot.help_post_sent(post, bot.help_post(post), "answer-1")
    assert bot.help_outcome("answer-1", "@poster", solved=False).notify is True
    assert bot.recorder.flush(10)
    bot.close()
    bot.recorder.close()
    restarted = make_bot()
    again = restarted.help_outcome("answer-1", "@poster", solved=False)
    assert again.accepted and not again.notify
    assert restarted.recorder.store.find_reply("matrix", "answer-1").handed_off


def test_hand_offs_are_rate_limited(make_bot: MakeBot) -> None:
    bot = make_bot()
    notified = []
    for number in range(15):
        post = help_post(post_id=f"thread-{number}")
        bot.help_post_sent(post, bot.help_post(post), f"answer-{number}")
        notified.append(bot.help_outcome(f"answer-{number}", "@poster", solved=False).notify)
    assert sum(notified) == 10 and notified[:10] == [True] * 10


def test_restore_waits_for_a_store_that_opens_a_moment_later(
    store_target: str, state_dir: Path, clock: FakeClock, knowledge: Knowledge
) -> None:
    store = open_store(store_target, state_dir=state_dir, clock=clock)
    store.learn_phrasing(MEMBER_WORDS, "funding")
    store.close()

    def slow_open():
        time.sleep(0.3)
        return open_store(store_target, state_dir=state_dir, clock=clock)

    recorder = BackgroundRecorder(slow_open).start()
    bot = Bot(Responder(knowledge), "matrix", recorder=recorder)
    try:
        bot.restore()
        assert [p.text for p in bot.responder.learned] == [MEMBER_WORDS]
    finally:
        bot.close()
        recorder.close()
