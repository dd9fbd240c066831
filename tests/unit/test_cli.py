import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from faqbot.cli import main
from faqbot.store import open_store

from .conftest import SMALL_FAQ, write_tree


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return write_tree(tmp_path / "knowledge", {"faq.yml": SMALL_FAQ})


def run_cli(
    args: list[str], capsys: pytest.CaptureFixture[str], stdin: str | None = None, monkeypatch=None
) -> tuple[int, str, str]:
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_ask_json_contract(folder: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = run_cli(
        # lexical: a one-word "block" is a near-tie between two entries (the encoder leans to one)
        ["ask", "--knowledge", str(folder), "--base-url", "https://x.org", "--json", "--matcher", "lexical"],
        capsys,
        stdin="do you block threads\n\nblock\nzebra crossing\n",
        monkeypatch=monkeypatch,
    )
    assert code == 0
    records = [json.loads(line) for line in out.splitlines()]
    assert len(records) == 3
    first, vague, nothing = records
    assert set(first) == {"question", "answer", "best", "suggestions", "reply", "why"}
    assert first["question"] == "do you block threads" and first["answer"] is True
    assert first["best"] == {
        "id": "threads",
        "title": "Do you block Threads?",
        "url": "https://x.org/about/threads",
        "score": 1.0,
    }
    assert vague["answer"] is False and vague["best"] is not None  # best even when not answered
    assert {s["id"] for s in vague["suggestions"]} >= {"threads", "bluesky"}
    assert all(set(s) == {"id", "title", "url", "score"} for s in vague["suggestions"])
    assert first["reply"].startswith("Do you block Threads?") and "https://x.org/about/threads" in first["reply"]
    assert first["why"]["reason"] == "cleared the bar" and first["why"]["confidence"] >= first["why"]["bar"]
    assert vague["why"]["reason"] in ("below the bar", "too close to the runner-up")
    assert vague["reply"].startswith("I'm not sure. Did you mean")
    assert {k: nothing[k] for k in ("question", "answer", "best", "suggestions")} == {
        "question": "zebra crossing",
        "answer": False,
        "best": None,
        "suggestions": [],
    }
    assert nothing["reply"].startswith("Sorry, I don't have an answer")
    assert nothing["why"] == {"reason": "nothing matched", "confidence": None, "bar": None}


def test_ask_json_goes_through_the_responder_like_the_bot(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`ask --json` and plain `ask` say the same thing, commands included."""
    _, out, _ = run_cli(["ask", "--knowledge", str(folder), "--json", "!faq list"], capsys)
    record = json.loads(out)
    _, plain, _ = run_cli(["ask", "--knowledge", str(folder), "!faq list"], capsys)
    assert record["reply"] == plain.rstrip("\n") and record["reply"].startswith("What I can answer")
    assert record["answer"] is False and record["why"]["reason"] == "a command"


@pytest.mark.parametrize(
    ("question", "reason"),
    [
        ("I block threads", "not a question"),
        ("do you block threads?", "cleared the bar"),
        # Words the knowledge explains worse than everyday chat: settled before ranking.
        ("what is quantum chromodynamics?", "about something else"),
        ("x" * 600 + "?", "too long to be a question"),
    ],
)
def test_ask_json_says_why_in_passive_mode(
    folder: Path, capsys: pytest.CaptureFixture[str], question: str, reason: str
) -> None:
    _, out, _ = run_cli(["ask", "--knowledge", str(folder), "--json", "--mode", "passive", question], capsys)
    record = json.loads(out)
    assert record["why"]["reason"] == reason
    assert (record["reply"] is not None) is (reason == "cleared the bar")


def test_ask_passive_mode_is_stricter(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run_cli(
        ["ask", "--knowledge", str(folder), "--json", "--mode", "passive", "I", "block", "threads"], capsys
    )
    assert json.loads(out)["answer"] is False
    _, out, _ = run_cli(
        ["ask", "--knowledge", str(folder), "--json", "--mode", "explicit", "I", "block", "threads"], capsys
    )
    assert json.loads(out)["answer"] is True


def test_ask_prints_what_the_bot_would_say(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["ask", "--knowledge", str(folder), "who pays for this server?"], capsys)
    assert code == 0 and "Members do" in out
    _, out, _ = run_cli(["ask", "--knowledge", str(folder), "--mode", "passive", "nice weather"], capsys)
    assert "silent" in out


def test_check_passes_clean_knowledge_and_fails_broken(
    tmp_path: Path, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(["check", "--knowledge", str(folder)], capsys)
    assert code == 0 and "0 errors" in err
    broken = write_tree(
        tmp_path / "broken", {"faq.yml": "- question: A?\n  answer: b\n  extra: 1\n- answer: no question\n"}
    )
    code, out, _ = run_cli(["check", "--knowledge", str(broken)], capsys)
    assert code == 1
    assert "faq.yml:4: entry is missing a 'question'" in out
    assert "faq.yml:3: warning: unknown key 'extra'" in out


def test_warnings_alone_do_not_fail_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = write_tree(tmp_path, {"page.md": "# Page\n\nText.\n\n## Empty\n"})
    code, out, _ = run_cli(["check", "--knowledge", str(folder)], capsys)
    assert code == 0 and "warning: section 'Empty' is empty" in out


def test_list_groups_entries(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["list", "--knowledge", str(folder)], capsys)
    assert code == 0
    assert "FAQ:" in out and "Do you block Bluesky?" in out and "4 topics" in out


def test_console_session_end_to_end(folder: Path, tmp_path: Path) -> None:
    session = "hello there\ndo you block threads?\n!faq list\n!faq help\n@faqbot who pays for this server\n/good\n"
    env = {**os.environ, "FAQBOT_STATE_DIR": str(tmp_path / "state")}
    result = subprocess.run(
        [sys.executable, "-m", "faqbot.cli", "console", "--knowledge", str(folder)],
        input=session,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env=env,
    )
    replies = [line for line in result.stdout.splitlines() if line.startswith("faqbot> ")]
    assert len(replies) == 5  # "hello there" gets no reply
    assert replies[0] == "faqbot> Do you block Threads?"
    assert replies[1].startswith("faqbot> What I can answer")
    assert replies[2].startswith("faqbot> !faq <question>")
    assert replies[3] == "faqbot> Who pays for this server?"
    assert replies[4] == "faqbot> Thanks, noted."  # /good: a 👍 for the last answer, in the store
    store = open_store(tmp_path / "state" / "faqbot.sqlite3", state_dir=tmp_path / "state")
    try:
        counts = {c.entry_id: (c.asked, c.passive, c.helpful) for c in store.entry_counts()}
    finally:
        store.close()
    assert counts == {"funding": (1, 0, 1), "threads": (0, 1, 0)}


def test_bundled_knowledge_is_the_default(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["ask", "--json", "do you block threads?"], capsys)
    record = json.loads(out)
    assert code == 0 and record["answer"] is True
    assert record["best"]["url"].startswith("https://docs.vmst.io/about/threads")


@pytest.mark.parametrize("value", ["soon", "-5"])
def test_run_rejects_a_bad_cooldown_before_connecting(
    value: str, folder: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAQBOT_COOLDOWN_SECONDS", value)
    assert main(["run", "matrix", "--knowledge", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "faqbot: error: FAQBOT_COOLDOWN_SECONDS: expected a number of at least 0" in err and value in err


@pytest.mark.parametrize("command", [["console"], ["ask", "hello?"], ["list"], ["run", "discord"]])
def test_a_mistyped_knowledge_path_stops_the_command(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAQBOT_DISCORD_TOKEN", "x" * 40)
    monkeypatch.setenv("FAQBOT_STATE_DIR", str(tmp_path / "state"))
    missing = tmp_path / "knowlege"
    assert main([*command, "--knowledge", str(missing)]) == 2
    err = capsys.readouterr().err
    assert f"faqbot: error: knowledge not found: {missing}" in err


def test_knowledge_without_entries_stops_the_console(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = write_tree(tmp_path / "empty", {"notes.txt": "not knowledge"})
    assert main(["console", "--knowledge", str(empty)]) == 2
    assert "faqbot: error: no knowledge entries in" in capsys.readouterr().err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from faqbot import __version__

    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0 and capsys.readouterr().out.strip() == f"faqbot {__version__}"
