"""Moderators in the core: their commands, pointing the bot at a member's message, and what a
correction teaches. Platform-free: the adapters say who is a moderator and what was replied to."""

from __future__ import annotations

from pathlib import Path

from faqbot.responder import (
    Action,
    HelpPost,
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


# -- help posts --------------------------------------------------------------------------


def post(text: str, **extra) -> HelpPost:
    return HelpPost(conversation_id="thread-1", post_id="thread-1", author_id="@poster", text=text, **extra)


def test_a_help_post_gets_one_answer_when_the_bot_is_sure(small_knowledge: Knowledge) -> None:
    responder = Responder(small_knowledge)
    verdict = responder.consider_help_post(post("Do you block Bluesky?"))
    assert verdict.reply.kind is ReplyKind.ANSWER and verdict.reply.entry.id == "bluesky" and verdict.reply.help_post
    assert responder.consider_help_post(post("my printer is on fire")).reply is None  # no "did you mean"


def test_tagged_posts_and_posts_a_moderator_answered_are_left_to_humans(small_knowledge: Knowledge) -> None:
    responder = Responder(small_knowledge)
    assert responder.consider_help_post(post("Do you block Bluesky?", tags=("Solved",))).why.value.startswith(
        "the post"
    )
    assert responder.consider_help_post(post("Do you block Bluesky?", tags=("#needs human",))).reply is None
    assert responder.consider_help_post(post("Do you block Bluesky?", moderator_replied=True)).reply is None


def test_later_in_a_help_post_only_the_posters_asks_are_answered(small_knowledge: Knowledge) -> None:
    responder = Responder(small_knowledge, ResponderSettings(cooldown_seconds=0))

    def in_post(text: str, sender: str, moderator: bool = False):
        message = IncomingMessage(text, "thread-1", sender, help_post_author="@poster", moderator=moderator)
        return responder.respond(message)

    assert in_post("!faq do you block threads", "@poster").entry.id == "threads"
    assert in_post("do you block threads?", "@poster") is None  # plain chat in the post: the humans'
    assert in_post("!faq do you block threads", "@someone") is None
    assert in_post("!faq do you block threads", "@mod", moderator=True).entry.id == "threads"


def test_help_post_bar_sits_between_the_explicit_and_passive_bars() -> None:
    from faqbot.matching.calibration import Thresholds

    bars = Thresholds(explicit_answer=0.3, passive_answer=0.5)
    assert bars.explicit_answer < bars.help_post_bar < bars.passive_answer
    assert Thresholds(help_post_answer=0.42).help_post_bar == 0.42
