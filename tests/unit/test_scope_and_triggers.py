"""Per-entry scope (`channels`, `not_channels`, `passive: false`) and `triggers`."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from faqbot.cli import main
from faqbot.responder import IncomingMessage, ReplyKind, Responder, ResponderSettings
from faqbot.sources.loader import load_knowledge

from .conftest import write_tree

PYTHON_ERROR = "'python' is not recognized as an internal or external command"

SCOPED = """\
- id: windows-python
  question: How do I install Python on Windows?
  answer: Use the installer from python.org and tick "Add python.exe to PATH".
  triggers:
    - "'python' is not recognized as an internal or external command"
- id: help-only
  question: How do I open a help ticket?
  answer: Create a post in the help forum.
  channels: ["#help", "999"]
- id: not-in-offtopic
  question: Where are the server rules?
  answer: In the about page.
  not_channels: [off-topic]
- id: asked-only
  question: How do I reset the whole server?
  answer: Ask an admin.
  passive: false
"""


@pytest.fixture
def responder(tmp_path: Path) -> Responder:
    knowledge = load_knowledge([write_tree(tmp_path / "kb", {"faq.yml": SCOPED})])
    assert not knowledge.errors, knowledge.errors
    return Responder(knowledge, ResponderSettings(cooldown_seconds=600))


def chat(text: str, room: str = "100", names: tuple[str, ...] = ("general",), **extra) -> IncomingMessage:
    return IncomingMessage(text, room, "@member", conversation_names=names, **extra)


def test_a_trigger_answers_a_pasted_error_whatever_the_matcher_thinks(responder: Responder) -> None:
    pasted = f"C:\\Users\\me> python app.py\n{PYTHON_ERROR},\noperable program or batch file."
    reply = responder.respond(chat(pasted))
    assert reply.kind is ReplyKind.ANSWER and reply.entry.id == "windows-python" and reply.passive
    long_paste = pasted + "\n" + "at frame\n" * 400  # longer than any question: triggers still read it
    assert responder.respond(chat(long_paste, room="200")).entry.id == "windows-python"


def test_a_trigger_respects_the_cooldown_and_chat_said_to_someone_else(responder: Responder) -> None:
    assert responder.respond(chat(PYTHON_ERROR)) is not None
    assert responder.respond(chat(PYTHON_ERROR)) is None  # answered here a moment ago
    assert responder.respond(chat(PYTHON_ERROR, room="300", to_someone_else=True)) is None
    assert responder.respond(chat(f"!faq {PYTHON_ERROR}")).entry.id == "windows-python"  # asked: always


def test_channels_limit_where_an_entry_answers(responder: Responder) -> None:
    asked = "!faq how do i open a help ticket"
    assert responder.respond(chat(asked, names=("#Help",))).entry.id == "help-only"
    assert responder.respond(chat(asked, room="999", names=())).entry.id == "help-only"
    elsewhere = responder.respond(chat(asked, names=("general",)))
    assert elsewhere.entry is None or elsewhere.entry.id != "help-only"
    in_thread = chat(asked, room="thread-1", names=(), parent_id="999")  # a thread counts as its channel
    assert responder.respond(in_thread).entry.id == "help-only"


def test_not_channels_keep_an_entry_out(responder: Responder) -> None:
    assert responder.respond(chat("!faq where are the server rules")).entry.id == "not-in-offtopic"
    refused = responder.respond(chat("!faq where are the server rules", names=("off-topic",)))
    assert refused.entry is None or refused.entry.id != "not-in-offtopic"


def test_passive_false_answers_only_when_asked(responder: Responder) -> None:
    assert responder.respond(chat("how do i reset the whole server?")) is None
    verdict = responder.consider(chat("how do i reset the whole server?", room="400"))
    assert verdict.why.value == "the entry answers only when asked"
    assert responder.respond(chat("!faq how do i reset the whole server")).entry.id == "asked-only"


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        ("(a)\\1", "RE2 cannot run it in linear time"),  # a backreference
        ("(?=python)", "RE2 cannot run it in linear time"),  # a lookahead
        ("[unclosed", "RE2 cannot run it in linear time"),
        (".*", "it matches every message"),
    ],
)
def test_check_refuses_triggers_it_cannot_run_safely(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], pattern: str, why: str
) -> None:
    faq = f"- question: Q?\n  answer: A.\n  triggers:\n    - '{pattern}'\n"
    folder = write_tree(tmp_path / "kb", {"faq.yml": faq})
    assert main(["check", "--knowledge", str(folder)]) == 1
    out = capsys.readouterr().out
    assert "faq.yml:3: trigger '" in out and why in out


def test_a_catastrophic_pattern_for_backtracking_engines_runs_in_linear_time(tmp_path: Path) -> None:
    faq = "- question: Q?\n  answer: A.\n  triggers: ['(a+)+$']\n"
    knowledge = load_knowledge([write_tree(tmp_path / "kb", {"faq.yml": faq})])
    responder = Responder(knowledge)
    started = time.perf_counter()
    responder.respond(chat("a" * 7_999 + "!"))
    assert time.perf_counter() - started < 1.0  # Python's re takes longer than the age of the universe


def test_scope_keys_are_read_from_front_matter_too(tmp_path: Path) -> None:
    front = "---\ntitle: Help desk\nchannels: [help]\npassive: false\ntriggers: ['HELP-\\d+']\n---\n"
    page = front + "\nText.\n\n## More\n\nX.\n"
    knowledge = load_knowledge([write_tree(tmp_path / "kb", {"desk.md": page})])
    assert not knowledge.errors, knowledge.errors
    page_entry, section = knowledge.entries
    assert page_entry.scope.channels == ("help",) and not page_entry.scope.passive
    assert section.scope == page_entry.scope and [t.pattern for t in page_entry.triggers] == ["HELP-\\d+"]
