from pathlib import Path

import numpy as np

from faqbot.flood_control import (
    HELP_POSTS_WAITING,
    HELP_POSTS_WAITING_PER_POSTER,
    FloodControl,
    Rate,
    why_a_help_post_cannot_wait,
)
from faqbot.matching.calibration import LEXICAL
from faqbot.matching.decision import Why
from faqbot.matching.vectors import SemanticIndex
from faqbot.responder import IncomingMessage, ReplyKind, Responder, ResponderSettings
from faqbot.sources.loader import load_knowledge
from faqbot.sources.model import Knowledge

from .conftest import write_tree


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def say(responder: Responder, text: str, room: str = "room", addressed: bool = False):
    return responder.respond(IncomingMessage(text, room, "@member", addressed=addressed))


def test_commands(small_knowledge: Knowledge) -> None:
    responder = Responder(small_knowledge)
    assert say(responder, "!faq").kind is ReplyKind.HELP
    assert say(responder, "!faq help").kind is ReplyKind.HELP
    listing = say(responder, "!FAQ list")
    assert listing.kind is ReplyKind.LIST and listing.listing.total == 4
    answer = say(responder, "!faq do you block bluesky")
    assert answer.kind is ReplyKind.ANSWER and answer.entry.id == "bluesky" and not answer.passive
    assert say(responder, "!faq quantum chromodynamics").kind is ReplyKind.NO_ANSWER
    assert say(responder, "!faqs are great") is None  # not the command


def test_a_list_of_entries_is_not_mistaken_for_the_list_command(small_knowledge: Knowledge) -> None:
    reply = say(Responder(small_knowledge), "!faq list of servers you block threads")
    assert reply.kind in (ReplyKind.ANSWER, ReplyKind.SUGGESTIONS)
    offered = [reply.entry] if reply.entry else list(reply.suggestions)
    assert offered[0].id == "threads"


def test_list_paginates(tmp_path: Path) -> None:
    faq = "".join(
        f"- question: Topic number {n} about {w}?\n  answer: Answer {n}.\n"
        for n, w in enumerate("abcdefghijklmnopqrstuvwxyz")
    )
    knowledge = load_knowledge([write_tree(tmp_path, {"faq.yml": faq})])
    responder = Responder(knowledge, ResponderSettings(list_page_size=10))
    first = say(responder, "!faq list").listing
    assert (first.page, first.page_count, first.total) == (1, 3, 26)
    assert sum(len(g.entries) for g in first.groups) == 10
    third = say(responder, "!faq list 3").listing
    assert third.page == 3 and sum(len(g.entries) for g in third.groups) == 6
    assert say(responder, "!faq list 99").listing.page == 3


def test_passive_answers_and_silence(small_knowledge: Knowledge) -> None:
    responder = Responder(small_knowledge)
    reply = say(responder, "do you block threads?")
    assert reply.kind is ReplyKind.ANSWER and reply.passive and reply.entry.id == "threads"
    assert say(responder, "I had pizza for lunch") is None
    assert say(responder, "block") is None


def test_chat_said_to_someone_else_gets_no_passive_answer(small_knowledge: Knowledge) -> None:
    responder = Responder(small_knowledge)
    to_alice = IncomingMessage("do you block threads?", "room", "@member", to_someone_else=True)
    assert responder.respond(to_alice) is None  # their conversation
    assert say(responder, "do you block threads?").entry.id == "threads"  # and no cooldown was started
    asked_too = IncomingMessage("do you block bluesky?", "room", "@member", addressed=True, to_someone_else=True)
    assert responder.respond(asked_too).entry.id == "bluesky"  # the bot was asked as well
    command = IncomingMessage("!faq do you block threads", "room", "@member", to_someone_else=True)
    assert responder.respond(command).entry.id == "threads"


def test_addressed_messages_get_the_explicit_treatment(small_knowledge: Knowledge) -> None:
    responder = Responder(small_knowledge)
    assert say(responder, "block", addressed=True).kind is ReplyKind.SUGGESTIONS
    assert say(responder, "", addressed=True).kind is ReplyKind.HELP
    assert say(responder, "the weather in Paris", addressed=True).kind is ReplyKind.NO_ANSWER


def test_cooldown_per_entry_per_conversation(small_knowledge: Knowledge) -> None:
    clock = FakeClock()
    responder = Responder(small_knowledge, ResponderSettings(cooldown_seconds=60), clock=clock)
    assert say(responder, "do you block threads?") is not None
    assert say(responder, "do you block threads?") is None  # same room, same entry
    assert say(responder, "do you block threads?", room="other") is not None
    assert say(responder, "do you block bluesky?") is not None  # another entry
    assert say(responder, "!faq do you block threads").kind is ReplyKind.ANSWER  # explicit asks always answered
    clock.now += 61
    assert say(responder, "do you block threads?") is not None


def test_passive_can_be_turned_off_per_conversation(small_knowledge: Knowledge) -> None:
    responder = Responder(small_knowledge)
    responder.set_passive("quiet-room", False)
    assert say(responder, "do you block threads?", room="quiet-room") is None
    assert say(responder, "!faq do you block threads", room="quiet-room").kind is ReplyKind.ANSWER
    assert say(responder, "do you block threads?", room="chatty-room") is not None
    off_by_default = Responder(small_knowledge, ResponderSettings(passive_by_default=False))
    assert say(off_by_default, "do you block threads?") is None


def test_autocomplete_offers_matching_entries(small_knowledge: Knowledge) -> None:
    responder = Responder(small_knowledge)
    assert responder.autocomplete("bluesk")[0].id == "bluesky"
    assert len(responder.autocomplete("", limit=2)) == 2


def test_replacing_knowledge_takes_effect(small_knowledge: Knowledge, tmp_path: Path) -> None:
    responder = Responder(small_knowledge)
    other = load_knowledge(
        [write_tree(tmp_path / "k", {"faq.yml": "- question: Is there a Discord?\n  answer: No.\n"})]
    )
    responder.replace_knowledge(other)
    assert say(responder, "!faq is there a discord").entry.id == "is-there-a-discord"


def test_a_picked_entry_is_answered_exactly_and_starts_its_cooldown(small_knowledge: Knowledge) -> None:
    responder = Responder(small_knowledge)
    reply = responder.answer_entry("bluesky", "room")
    assert reply is not None and reply.kind is ReplyKind.ANSWER and reply.entry.id == "bluesky"
    assert say(responder, "do you block bluesky?") is None  # just answered in this room
    assert responder.answer_entry("no-such-entry", "room") is None


def test_help_says_whether_plain_questions_are_answered_here(small_knowledge: Knowledge) -> None:
    responder = Responder(small_knowledge)
    responder.set_passive("quiet", False)
    assert say(responder, "!faq help").passive_enabled
    assert not say(responder, "!faq help", room="quiet").passive_enabled


def test_cooldown_memory_stays_bounded_on_a_busy_server(small_knowledge: Knowledge) -> None:
    clock = FakeClock()
    responder = Responder(small_knowledge, ResponderSettings(cooldown_seconds=60), clock=clock)
    for room in range(25_000):
        responder.answer_entry("threads", f"room-{room}")
        clock.now += 0.01
    assert len(responder._last_answered) <= 10_000
    assert say(responder, "do you block threads?", room="room-24999") is None  # recent ones are kept


def ask_as(responder: Responder, member: str, room: str = "room", text: str = "!faq list"):
    return responder.respond(IncomingMessage(text, room, member))


def test_a_flooding_member_is_told_once_then_ignored_until_the_limit_refills(small_knowledge: Knowledge) -> None:
    clock = FakeClock()
    settings = ResponderSettings(asks_per_member=Rate(3, 30.0), asks_per_room=Rate(100, 30.0))
    responder = Responder(small_knowledge, settings, clock=clock)
    assert [ask_as(responder, "@flood").kind for _ in range(3)] == [ReplyKind.LIST] * 3
    assert ask_as(responder, "@flood").kind is ReplyKind.SLOW_DOWN  # told once
    assert ask_as(responder, "@flood") is None and ask_as(responder, "@flood", room="elsewhere") is None
    assert ask_as(responder, "@calm").kind is ReplyKind.LIST  # other members are not affected
    clock.now += 10  # one ask refilled (3 per 30 s)
    assert ask_as(responder, "@flood").kind is ReplyKind.LIST
    assert ask_as(responder, "@flood").kind is ReplyKind.SLOW_DOWN  # a new episode: told again, once
    assert ask_as(responder, "@flood") is None


def test_a_busy_room_is_limited_as_a_whole(small_knowledge: Knowledge) -> None:
    settings = ResponderSettings(asks_per_member=Rate(100, 60.0), asks_per_room=Rate(4, 60.0))
    responder = Responder(small_knowledge, settings, clock=FakeClock())
    kinds = [ask_as(responder, f"@m{n}").kind for n in range(4)]
    assert kinds == [ReplyKind.LIST] * 4
    assert ask_as(responder, "@m5").kind is ReplyKind.SLOW_DOWN
    assert ask_as(responder, "@m6") is None
    assert ask_as(responder, "@m7", room="other room").kind is ReplyKind.LIST


def test_passive_chat_is_not_flood_limited_but_explicit_mentions_are(small_knowledge: Knowledge) -> None:
    settings = ResponderSettings(asks_per_member=Rate(1, 60.0), cooldown_seconds=0)
    responder = Responder(small_knowledge, settings, clock=FakeClock())
    assert say(responder, "do you block threads?") is not None
    assert say(responder, "do you block threads?") is not None  # plain chat: cooldowns govern it
    assert say(responder, "do you block threads", addressed=True) is not None
    assert say(responder, "do you block threads", addressed=True).kind is ReplyKind.SLOW_DOWN


def test_flood_memory_stays_bounded() -> None:
    flood = FloodControl(Rate(1, 60.0), Rate(1, 60.0), memory=100)
    for n in range(10_000):
        flood.admit(f"@m{n}", f"room{n}", 0.0)
    assert flood.remembered() <= 200


def test_more_suggestions_when_the_settings_ask_for_them(tmp_path: Path) -> None:
    names = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]
    faq = "".join(f"- question: How do I block {w}?\n  answer: Like this ({w}).\n" for w in names)
    knowledge = load_knowledge([write_tree(tmp_path, {"faq.yml": faq})])
    reply = say(Responder(knowledge, ResponderSettings(suggestion_count=6)), "how do i block", addressed=True)
    assert reply.kind is ReplyKind.SUGGESTIONS and len(reply.suggestions) == 6


def test_chat_far_longer_than_a_question_gets_no_passive_answer(small_knowledge: Knowledge) -> None:
    responder = Responder(small_knowledge, ResponderSettings(max_question_chars=100))
    long_chat = "do you block threads? " + "and then some more words about my day " * 5
    assert say(responder, long_chat) is None
    assert responder.consider(IncomingMessage(long_chat, "room", "@member")).why is Why.TOO_LONG
    # asked, it is read as far as a question could go
    assert say(responder, "!faq " + long_chat).entry.id == "threads"


class CountingSource:
    """A meaning-based source that counts how often it is asked to embed a question."""

    dims = 2
    calibration = LEXICAL
    semantic_weight = 0.0
    reads_sentences = False

    def __init__(self) -> None:
        self.questions: list[str] = []

    def embed(self, text: str) -> np.ndarray | None:
        self.questions.append(text)
        return np.ones(2, dtype=np.float32) / np.sqrt(2)

    def entry_index(self, phrasings, bodies):
        return SemanticIndex(self, phrasings, bodies)


def test_chat_that_cannot_get_a_passive_answer_reaches_no_model(small_knowledge: Knowledge) -> None:
    source = CountingSource()
    responder = Responder(small_knowledge, vectors=source)
    source.questions.clear()  # the index embedded its phrasings
    responder.set_passive("quiet", False)
    say(responder, "I had pizza for lunch")
    responder.respond(IncomingMessage("do you block threads?", "room", "@m", to_someone_else=True))
    say(responder, "do you block threads?", room="quiet")
    say(responder, "so " * 400 + "do you block threads?")
    assert source.questions == []
    say(responder, "do you block threads?")
    assert source.questions == ["do you block threads?"]


def test_passive_off_from_the_settings_covers_threads_of_that_channel(small_knowledge: Knowledge) -> None:
    responder = Responder(small_knowledge, ResponderSettings(passive_off=frozenset({"quiet"})))
    in_thread = IncomingMessage("do you block threads?", "thread-1", "@m", parent_id="quiet")
    assert responder.respond(in_thread) is None
    assert not responder.respond(IncomingMessage("!faq help", "thread-1", "@m", parent_id="quiet")).passive_enabled
    assert say(responder, "do you block threads?", room="quiet") is None
    assert say(responder, "do you block threads?", room="elsewhere") is not None
    responder.set_passive("quiet", True)  # a moderator's choice wins over the settings
    assert say(responder, "do you block bluesky?", room="quiet") is not None


def test_help_posts_waiting_are_capped_in_all_and_per_poster() -> None:
    others = [f"member-{n}" for n in range(HELP_POSTS_WAITING - 1)]
    assert why_a_help_post_cannot_wait(others, "alice") is None
    assert "help posts are waiting" in (why_a_help_post_cannot_wait([*others, "bob"], "alice") or "")
    flood = ["alice"] * HELP_POSTS_WAITING_PER_POSTER
    assert "of its poster" in (why_a_help_post_cannot_wait(flood, "alice") or "")
    assert why_a_help_post_cannot_wait(flood, "bob") is None
    assert why_a_help_post_cannot_wait([None] * 5, None) is None  # a poster nobody knows is not one flood
