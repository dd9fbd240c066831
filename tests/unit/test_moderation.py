"""Moderators in the core: their commands, pointing the bot at a member's message, and what a
correction teaches. Platform-free: the adapters say who is a moderator and what was replied to."""

from __future__ import annotations

from pathlib import Path

from faqbot.responder import (
    Action,
    IncomingMessage,
    RepliedMessage,
    ReplyKind,
    Responder,
    ResponderSettings,
)
from faqbot.sources.loader import load_knowledge
from faqbot.sources.model import Knowledge

from .conftest import write_tree

MEMBER_WORDS = "who keeps the lights on around here"


def from_moderator(text: str, replying_to: RepliedMessage | None = None, moderator: bool = True) -> IncomingMessage:
    return IncomingMessage(text, "room", "@mod", moderator=moderator, replying_to=replying_to, message_id="$mod")


def members_message(text: str = MEMBER_WORDS) -> RepliedMessage:
    return RepliedMessage("$member", text, author_id="@member")


def test_moderator_commands_are_refused_to_members(small_knowledge: Knowledge) -> None:
    responder = Responder(small_knowledge)
    for command in ("!faq reload", "!faq passive off", "!faq gaps"):
        verdict = responder.consider(from_moderator(command, moderator=False))
        assert verdict.reply.kind is ReplyKind.MODERATORS_ONLY and verdict.action is None
    assert responder.passive_enabled("room")  # nothing changed


def test_a_moderator_turns_passive_answers_off_and_on(small_knowledge: Knowledge) -> None:
    responder = Responder(small_knowledge, ResponderSettings(cooldown_seconds=0))
    off = responder.consider(from_moderator("!faq passive off"))
    assert off.reply.kind is ReplyKind.PASSIVE_SET and off.passive_change is False
    assert responder.respond(IncomingMessage("do you block threads?", "room", "@m")) is None
    assert responder.respond(IncomingMessage("do you block threads?", "other", "@m")) is not None
    on = responder.consider(from_moderator("!faq PASSIVE on"))
    assert on.passive_change is True
    assert responder.respond(IncomingMessage("do you block threads?", "room", "@m")) is not None
    # "!faq passive ..." that is not on/off is a question, not a command
    assert responder.consider(from_moderator("!faq passive answers everywhere?")).passive_change is None


def test_reload_and_gaps_are_work_for_the_caller(small_knowledge: Knowledge) -> None:
    responder = Responder(small_knowledge)
    assert responder.consider(from_moderator("!faq reload")).action is Action.RELOAD
    assert responder.consider(from_moderator("!faq gaps")).action is Action.SHOW_GAPS


def test_an_entry_can_be_asked_for_by_its_id(small_knowledge: Knowledge) -> None:
    reply = Responder(small_knowledge).respond(IncomingMessage("!faq funding", "room", "@m"))
    assert reply.kind is ReplyKind.ANSWER and reply.entry.id == "funding"


def test_a_moderators_reply_correction_answers_the_member_and_teaches_the_bot(small_knowledge: Knowledge) -> None:
    responder = Responder(small_knowledge, ResponderSettings(cooldown_seconds=0))
    before = responder.consider(IncomingMessage(MEMBER_WORDS + "?", "room", "@member"))
    assert before.reply is None  # the bot did not know these words
    verdict = responder.consider(from_moderator("!faq funding", members_message()))
    assert verdict.reply.kind is ReplyKind.ANSWER and verdict.reply.entry.id == "funding"
    assert verdict.reply_to == "$member"  # in reply to the member's message, not the moderator's
    assert verdict.lesson is not None and (verdict.lesson.text, verdict.lesson.entry_id) == (MEMBER_WORDS, "funding")
    # learned at once: the next member who asks the same way gets the answer in plain chat
    later = responder.respond(IncomingMessage(MEMBER_WORDS + "?", "other room", "@another"))
    assert later is not None and later.entry.id == "funding"
    assert [p.text for p in responder.learned] == [MEMBER_WORDS]


def test_a_correction_by_question_teaches_the_entry_it_resolves_to(small_knowledge: Knowledge) -> None:
    responder = Responder(small_knowledge)
    verdict = responder.consider(from_moderator("!faq who pays for this server", members_message("any tips jar?")))
    assert verdict.reply_to == "$member" and verdict.lesson.entry_id == "funding"
    assert verdict.lesson.text == "any tips jar?"


def test_a_correction_the_bot_cannot_resolve_goes_back_to_the_moderator(small_knowledge: Knowledge) -> None:
    responder = Responder(small_knowledge)
    verdict = responder.consider(from_moderator("!faq block", members_message()))
    assert verdict.reply.kind is ReplyKind.SUGGESTIONS and verdict.reply_to is None and verdict.lesson is None
    assert responder.learned == ()


def test_a_member_pointing_the_bot_helps_but_does_not_teach(small_knowledge: Knowledge) -> None:
    responder = Responder(small_knowledge)
    helper = IncomingMessage("!faq funding", "room", "@helper", replying_to=members_message(), message_id="$helper")
    verdict = responder.consider(helper)
    assert verdict.reply.entry.id == "funding" and verdict.reply_to == "$member"
    assert verdict.lesson is None and responder.learned == ()


def test_pointing_alone_answers_the_members_words(small_knowledge: Knowledge) -> None:
    verdict = Responder(small_knowledge).consider(from_moderator("!faq", members_message("do you block bluesky")))
    assert verdict.reply.entry.id == "bluesky" and verdict.reply_to == "$member" and verdict.lesson is None


def test_replies_to_the_bot_or_to_oneself_are_not_pointing(small_knowledge: Knowledge) -> None:
    responder = Responder(small_knowledge)
    to_bot = from_moderator("!faq funding", RepliedMessage("$bot", "Funding ...", author_id="@bot", from_bot=True))
    assert responder.consider(to_bot).reply_to is None
    to_self = from_moderator("!faq funding", RepliedMessage("$own", MEMBER_WORDS, author_id="@mod"))
    assert responder.consider(to_self).reply_to is None and responder.learned == ()


def test_learned_phrasings_never_outrank_the_files(tmp_path: Path) -> None:
    """A learned wording that a file already gives another entry is not used for matching."""
    knowledge = load_knowledge(
        [write_tree(tmp_path, {"faq.yml": "- id: a\n  question: How do I donate?\n  answer: A.\n"
                                          "- id: b\n  question: Where is the code?\n  answer: B.\n"})]
    )  # fmt: skip
    responder = Responder(knowledge)
    assert responder.learn(from_lesson("How do I donate?", "b"))
    assert responder.respond(IncomingMessage("!faq how do i donate", "room", "@m")).entry.id == "a"
    assert not responder.learn(from_lesson("anything", "no-such-entry"))


def from_lesson(text: str, entry_id: str):
    from faqbot.responder import Lesson

    return Lesson(text, entry_id)


def test_replaced_knowledge_keeps_what_was_learned(small_knowledge: Knowledge) -> None:
    responder = Responder(small_knowledge)
    responder.learn(from_lesson(MEMBER_WORDS, "funding"))
    responder.replace_knowledge(small_knowledge)
    assert responder.respond(IncomingMessage("!faq " + MEMBER_WORDS, "room", "@m")).entry.id == "funding"
