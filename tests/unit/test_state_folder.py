"""The state folder: private, crash-safe, and never a reason not to start."""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
from pathlib import Path

import pytest

from faqbot.cli import main
from faqbot.state_folder import StateFolder, StateFolderError


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_created_private_and_files_written_private(tmp_path: Path) -> None:
    folder = StateFolder.open(tmp_path / "state" / "nested")
    assert mode(folder.path) == 0o700
    folder.write_json("session.json", {"token": "x"})
    assert mode(folder.file("session.json")) == 0o600
    assert json.loads(folder.file("session.json").read_text()) == {"token": "x"}
    assert [p.name for p in folder.path.iterdir()] == ["session.json"]  # no temporary left behind


def test_an_existing_folder_that_is_too_open_is_tightened(tmp_path: Path) -> None:
    (tmp_path / "state").mkdir(mode=0o755)
    os.chmod(tmp_path / "state", 0o755)
    assert mode(StateFolder.open(tmp_path / "state").path) == 0o700


def test_a_file_in_place_of_the_folder_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "state").write_text("oops")
    with pytest.raises(StateFolderError, match=r"is a file, not a folder"):
        StateFolder.open(tmp_path / "state")


def test_an_unwritable_folder_is_one_clear_error(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    if os.geteuid() == 0:  # root writes through permissions: a read-only file system it cannot
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,mode=0700", "tmpfs", str(state)], check=False)
        if mounted.returncode != 0:
            pytest.skip("running as root and cannot mount a read-only tmpfs here")
    else:
        os.chmod(state, 0o500)
    try:
        with pytest.raises(StateFolderError, match=r"state folder .* is not writable"):
            StateFolder.open(state)
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", str(state)], check=False)


def test_run_refuses_a_state_folder_that_is_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "state").write_text("oops")
    monkeypatch.setenv("FAQBOT_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("FAQBOT_DISCORD_TOKEN", "x" * 30)
    assert main(["run", "discord"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"faqbot: error: state folder {tmp_path / 'state'} is a file, not a folder (set FAQBOT_STATE_DIR)"]


@pytest.mark.parametrize("content", [b"null", b"[]", b'{"answered": 5}', b"{trunc", b"\xff\xfe"])
def test_an_unreadable_file_is_set_aside_and_reported(
    tmp_path: Path, content: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    folder = StateFolder.open(tmp_path / "state")
    folder.file("state.json").write_bytes(content)

    def shape(data: object) -> list[str]:
        if not isinstance(data, dict) or not isinstance(data.get("answered"), list):
            raise ValueError("expected an object with a list of answered events")
        return data["answered"]

    with caplog.at_level(logging.ERROR):
        assert folder.read_json("state.json", shape) is None
    assert not folder.file("state.json").exists()
    aside = [p for p in folder.path.iterdir() if p.name.startswith("state.json.corrupt-")]
    assert len(aside) == 1 and aside[0].read_bytes() == content
    assert "moved it to state.json.corrupt-" in caplog.text


def test_a_missing_file_is_no_problem(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    assert StateFolder.open(tmp_path).read_json("absent.json", dict) is None
    assert not caplog.records
