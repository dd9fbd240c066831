"""The bundled vmst.io knowledge answers the About page's FAQ list, as members ask it."""

import pytest

from faqbot.responder import IncomingMessage, ReplyKind, Responder
from faqbot.sources.bundled import bundled_knowledge
from faqbot.sources.loader import load_knowledge

SEED_FAQ = {
    "Who's paying for this to exist?": "https://docs.vmst.io/funding",
    "Can my company sign up?": "https://docs.vmst.io/rules/brands",
    "Who's running this place?": "https://docs.vmst.io/about/staff",
    "Where are you hosted?": "https://docs.vmst.io/infrastructure",
    "Do you use AI or feed data to LLMs?": "https://docs.vmst.io/about/ai",
    "How reliable is your service?": "https://docs.vmst.io/infrastructure/monitoring",
    "Do you block (defederate) other servers?": "https://docs.vmst.io/about/defederation",
    "Do you block Threads?": "https://docs.vmst.io/about/threads",
    "Do you block Bluesky?": "https://docs.vmst.io/about/bridges#bluesky",
    "Will you add my favorite custom emoji?": "https://docs.vmst.io/about/emoji",
}


@pytest.fixture(scope="module")
def responder() -> Responder:
    return Responder(load_knowledge([bundled_knowledge()]))


@pytest.mark.parametrize(("question", "url"), SEED_FAQ.items())
def test_each_faq_question_is_answered_in_plain_chat_with_its_link(
    responder: Responder, question: str, url: str
) -> None:
    reply = responder.respond(IncomingMessage(question, f"room-{question}", "member"))
    assert reply is not None and reply.kind is ReplyKind.ANSWER and reply.passive
    assert reply.entry.url == url


@pytest.mark.parametrize("chat", ["lol my build is broken again", "how do i install ubuntu?", "good morning!"])
def test_ordinary_chat_gets_no_answer(responder: Responder, chat: str) -> None:
    assert responder.respond(IncomingMessage(chat, "room", "member")) is None
