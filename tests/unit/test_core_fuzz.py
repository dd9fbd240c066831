"""The core as the adapters call it, fed whatever chat can contain.

Properties, over generated messages: answering never raises; a message's work is
bounded (the slowest input found is reported); no rendered reply can ping anyone; and
no reply echoes what the member wrote (so nothing they type can be turned into a
ping, a link or a spoof by the bot).
"""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import HealthCheck, given, settings, target
from hypothesis import strategies as st

from faqbot.render import render_discord, render_matrix, render_plain
from faqbot.responder import IncomingMessage, Reply, Responder, ResponderSettings
from faqbot.sources.bundled import bundled_knowledge
from faqbot.sources.loader import load_knowledge

MARKER = "zqxmarkerjv"  # a word no knowledge has: if it shows in a reply, the reply echoed the member
# Live pings: a crowd mention not broken by the zero-width space, or a Discord user/role mention.
_PING = re.compile(r"@(?:everyone|here|room|channel)\b|<@[!&]?\d+>", re.IGNORECASE)
_WORST: list[tuple[float, str]] = [(0.0, "")]

chat_text = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=3000),
    st.lists(st.sampled_from(["do", "you", "block", "threads", "?", "@everyone", "<@123>", "!faq", "list", "announce",
                              "who", "pays", "\u202e", "\u0301", "🗑️", "http://x", "@room", "mod", "emoji"]),
             max_size=400).map(" ".join),
    st.builds(lambda word, n: (word * n), st.sampled_from(["a", "threads ", "ß", "\u200b"]), st.integers(1, 20_000)),
)  # fmt: skip


PINGING_KNOWLEDGE = """\
- id: announce
  question: How do I announce something to everyone?
  answer: "Never write @everyone, @here or @room; not <@&400000000000000001> or <@!500000000000000002> either."
- id: "@everyone"
  question: "@everyone @here who pays <@123>?"
  answer: Members pay, @channel.
"""


@pytest.fixture(scope="module")
def responder(tmp_path_factory: pytest.TempPathFactory) -> Responder:
    """The bundled knowledge plus entries whose own text tries to ping."""
    extra = tmp_path_factory.mktemp("pinging") / "pings.yml"
    extra.write_text(PINGING_KNOWLEDGE, encoding="utf-8")
    knowledge = load_knowledge([bundled_knowledge(), extra], base_url="https://docs.example.org")
    assert not knowledge.errors, knowledge.errors
    return Responder(knowledge, ResponderSettings(cooldown_seconds=0))


def rendered(reply: Reply) -> list[str]:
    matrix = render_matrix(reply)
    discord = render_discord(reply)
    texts = [render_plain(reply), matrix.body, matrix.formatted_body, discord.content]
    for embed in discord.embeds:
        texts += [str(embed.get("title", "")), str(embed.get("description", ""))]
        texts += [f"{f['name']} {f['value']}" for f in embed.get("fields", [])]
    return texts


def knowledge_words() -> st.SearchStrategy[str]:
    """Questions the knowledge answers, so that generated messages reach answers and listings too."""
    knowledge = load_knowledge([bundled_knowledge()])
    phrasings = sorted({p.text for entry in knowledge.entries for p in entry.phrasings})
    return st.sampled_from([*phrasings, "How do I announce something to everyone?", "@everyone who pays?"])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    before=st.one_of(chat_text, knowledge_words()),
    after=chat_text,
    command=st.sampled_from(["", "", "!faq ", "!FAQ list", "!faq list 2", "!faq help"]),
    addressed=st.booleans(),
    to_someone_else=st.booleans(),
)
def test_any_message_gets_a_safe_reply_or_silence_quickly(
    responder: Responder, before: str, after: str, command: str, addressed: bool, to_someone_else: bool
) -> None:
    if command.startswith(("!FAQ list", "!faq list", "!faq help")):
        text = command  # a command with nothing after it: the listing and help are rendered too
    else:
        text = f"{command}{before} {MARKER} {after}" if after else f"{command}{before} {MARKER}"
    message = IncomingMessage(text, "room", "@member", addressed=addressed, to_someone_else=to_someone_else)
    started = time.perf_counter()
    reply = responder.respond(message)
    elapsed = time.perf_counter() - started
    target(elapsed, label="seconds per message")
    if elapsed > _WORST[0][0]:
        _WORST[0] = (elapsed, text[:80])
    assert elapsed < 2.0, f"{elapsed:.2f} s for {text[:80]!r}"  # a sanity bound; bench/ measures speed
    if reply is None:
        return
    for shown in rendered(reply):
        assert MARKER not in shown
        assert not _PING.search(shown), shown


def test_report_the_slowest_message_found() -> None:
    """Printed with `pytest -s`: the worst time per message the search above found."""
    seconds, text = _WORST[0]
    print(f"\nslowest message: {seconds * 1000:.1f} ms for {text!r}")
    assert seconds < 2.0
