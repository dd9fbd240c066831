"""The moderators' loop from the command line, on a real store: teach, ask, export, check,
report, forget; and dry runs (`ask`, `eval`) that record nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from faqbot.bot import Bot
from faqbot.cli import main
from faqbot.responder import IncomingMessage, Responder
from faqbot.sources.loader import load_knowledge
from faqbot.store import BackgroundRecorder, open_store
from tests.store.conftest import FAQ

MEMBER_WORDS = "who keeps the lights on around here"


@pytest.fixture
def setup(tmp_path: Path, store_target: str, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A knowledge folder, and the environment pointing faqbot at the test's store."""
    folder = tmp_path / "knowledge"
    folder.mkdir()
    (folder / "faq.yml").write_text(FAQ, encoding="utf-8")
    state = tmp_path / "state"
    monkeypatch.setenv("FAQBOT_STATE_DIR", str(state))
    monkeypatch.setenv("FAQBOT_MATCHER", "lexical")
    if store_target.startswith("postgresql://"):
        monkeypatch.setenv("FAQBOT_DATABASE_URL", store_target)
    return folder, state


def ask(folder: Path, capsys: pytest.CaptureFixture[str], question: str, *extra: str) -> dict:
    capsys.readouterr()
    assert main(["ask", "--json", "--mode", "passive", "--knowledge", str(folder), *extra, question]) == 0
    return json.loads(capsys.readouterr().out)


def test_teach_ask_export_check_and_ask_from_the_files_alone(
    setup: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, _ = setup
    assert ask(folder, capsys, MEMBER_WORDS + "?")["answer"] is False
    assert main(["teach", MEMBER_WORDS, "funding", "--knowledge", str(folder)]) == 0
    assert ask(folder, capsys, MEMBER_WORDS + "?")["best"]["id"] == "funding"  # ask uses learned phrasings

    capsys.readouterr()
    assert main(["learned", "--json", "--knowledge", str(folder)]) == 0
    (learned,) = json.loads(capsys.readouterr().out)["learned"]
    assert (learned["text"], learned["entry"], learned["entry_exists"]) == (MEMBER_WORDS, "funding", True)

    assert main(["learned", "--export", "--knowledge", str(folder)]) == 0
    exported = capsys.readouterr().out
    fresh = tmp_path / "fresh"
    shutil.copytree(folder, fresh)
    (fresh / "learned.yml").write_text(exported, encoding="utf-8")
    monkeypatch.setenv("FAQBOT_STATE_DIR", str(tmp_path / "empty-state"))
    monkeypatch.delenv("FAQBOT_DATABASE_URL", raising=False)
    assert main(["check", "--knowledge", str(fresh)]) == 0
    assert "0 errors, 0 warnings" in capsys.readouterr().err
    answered = ask(fresh, capsys, MEMBER_WORDS + "?")
    assert answered["answer"] is True and answered["best"]["id"] == "funding"
    assert not (tmp_path / "empty-state").exists()  # the dry run made no store


def test_teaching_an_unknown_entry_is_refused(setup: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    folder, _ = setup
    assert main(["teach", MEMBER_WORDS, "fundng", "--knowledge", str(folder)]) == 2
    assert "no entry with id 'fundng' (did you mean funding?)" in capsys.readouterr().err


def test_forget_removes_a_learned_phrasing(setup: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    folder, _ = setup
    assert main(["teach", MEMBER_WORDS, "funding", "--knowledge", str(folder)]) == 0
    capsys.readouterr()
    main(["learned", "--json", "--knowledge", str(folder)])
    (learned,) = json.loads(capsys.readouterr().out)["learned"]
    assert main(["learned", "--forget", str(learned["id"]), "--knowledge", str(folder)]) == 0
    assert ask(folder, capsys, MEMBER_WORDS + "?")["answer"] is False
    assert main(["learned", "--forget", str(learned["id"]), "--knowledge", str(folder)]) == 2


def test_gaps_and_stats_print_the_documented_json(
    setup: tuple[Path, Path], store_target: str, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, state = setup
    knowledge = load_knowledge([folder], base_url="https://docs.example.org")
    recorder = BackgroundRecorder(lambda: open_store(store_target, state_dir=state)).start()
    bot = Bot(Responder(knowledge), "discord", recorder=recorder)
    for number, text in enumerate(["!faq how tall is the eiffel tower", "!faq eiffel tower height", "!faq funding"]):
        message = IncomingMessage(text, "42", "7", message_id=str(number))
        bot.sent(message, bot.handle(message), f"r{number}")
    bot.rated("r2", "7", True)
    bot.close()
    recorder.close()

    capsys.readouterr()
    assert main(["gaps", "--json", "--knowledge", str(folder)]) == 0
    groups = json.loads(capsys.readouterr().out)["groups"]
    assert groups and all(set(g) == {"count", "examples", "nearest"} for g in groups)
    assert sum(g["count"] for g in groups) == 2
    assert main(["stats", "--json", "--knowledge", str(folder)]) == 0
    (funding,) = json.loads(capsys.readouterr().out)["entries"]
    assert funding == {"id": "funding", "answered": 1, "helpful": 1, "unhelpful": 0, "removed": 0}


def test_dry_runs_record_nothing(
    setup: tuple[Path, Path], store_target: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, state = setup
    assert main(["teach", MEMBER_WORDS, "funding", "--knowledge", str(folder)]) == 0
    store = open_store(store_target, state_dir=state)
    before = store.outcome_counts().total
    store.close()
    ask(folder, capsys, "!faq who pays for this server")
    labels = tmp_path / "labels.yaml"
    labels.write_text("- question: who pays?\n  expect: funding\n", encoding="utf-8")
    assert main(["eval", str(labels), "--knowledge", str(folder)]) == 0
    store = open_store(store_target, state_dir=state)
    assert store.outcome_counts().total == before == 0
    store.close()


def test_reports_before_anything_was_recorded(setup: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    folder, _ = setup
    assert main(["gaps", "--json", "--knowledge", str(folder)]) == 0
    assert json.loads(capsys.readouterr().out) == {"groups": []}
    assert main(["stats", "--json", "--knowledge", str(folder)]) == 0
    assert json.loads(capsys.readouterr().out) == {"entries": []}
