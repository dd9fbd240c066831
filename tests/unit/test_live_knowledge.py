import os
import time
from pathlib import Path

from faqbot.live_knowledge import KnowledgeWatcher
from faqbot.responder import IncomingMessage, ReplyKind, Responder
from faqbot.sources.loader import KnowledgeLoader

from .conftest import SMALL_FAQ, write_tree

EXTRA = "- id: discord\n  question: Is there a Discord server?\n  answer: No, only Matrix.\n"


def touch_later(path: Path, text: str) -> None:
    """Write `text` so that the change is visible even on coarse file-system clocks."""
    path.write_text(text, encoding="utf-8")
    stamp = time.time() + 5
    os.utime(path, (stamp, stamp))


def ask(responder: Responder, question: str):
    return responder.respond(IncomingMessage(f"!faq {question}", "room", "member"))


def test_a_file_broken_mid_edit_keeps_serving_its_last_good_version(tmp_path: Path) -> None:
    write_tree(tmp_path, {"faq.yml": SMALL_FAQ, "extra.yml": EXTRA})
    loader = KnowledgeLoader([tmp_path])
    assert not loader.load().errors
    touch_later(tmp_path / "faq.yml", SMALL_FAQ + "- question: [broken\n")
    touch_later(tmp_path / "extra.yml", EXTRA.replace("only Matrix", "only Matrix and IRC"))
    knowledge = loader.load()
    [error] = knowledge.errors
    assert error.path.endswith("faq.yml") and "malformed YAML" in error.message
    assert any("last good version" in w.message for w in knowledge.warnings)
    assert knowledge.by_id("threads") is not None  # from the last good faq.yml
    assert "IRC" in knowledge.by_id("discord").answer  # the other file's edit applies


def test_a_file_broken_from_the_start_contributes_what_loads(tmp_path: Path) -> None:
    write_tree(tmp_path, {"faq.yml": SMALL_FAQ + "- question: No answer?\n"})
    knowledge = KnowledgeLoader([tmp_path]).load()
    assert len(knowledge.errors) == 1 and knowledge.by_id("threads") is not None


def test_the_watcher_swaps_new_knowledge_into_the_responder(tmp_path: Path) -> None:
    write_tree(tmp_path, {"faq.yml": SMALL_FAQ})
    loader = KnowledgeLoader([tmp_path])
    responder = Responder(loader.load())
    watcher = KnowledgeWatcher(loader, responder, interval=0.05)
    assert watcher.check_once() is None  # nothing changed
    assert ask(responder, "is there a discord server").kind is not ReplyKind.ANSWER
    touch_later(tmp_path / "extra.yml", EXTRA)
    watcher.start()
    try:
        deadline = time.monotonic() + 5
        while responder.knowledge.by_id("discord") is None and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        watcher.stop()
    reply = ask(responder, "is there a discord server")
    assert reply.kind is ReplyKind.ANSWER and reply.entry.id == "discord"
