"""Knowledge folders built to attack the bot: links out of the folder, special files, sizes, odd names."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from faqbot.cli import main
from faqbot.live_knowledge import KnowledgeWatcher
from faqbot.responder import Responder
from faqbot.sources.limits import KnowledgeLimits
from faqbot.sources.loader import KnowledgeLoader, load_knowledge
from faqbot.sources.model import Severity

from .conftest import SMALL_FAQ, write_tree
from .hostile import everything_shown, messages_for
from .test_live_knowledge import touch_later

SECRET = "tok-3f9a-do-not-serve"
STATE_FILES = {"token.md": f"# Token\n\n{SECRET}\n", "token.yml": f"- question: token?\n  answer: {SECRET}\n"}


@pytest.fixture
def kb(tmp_path: Path) -> Path:
    """A knowledge folder with one good page, beside a 'state' folder holding a fake token."""
    write_tree(tmp_path / "state", STATE_FILES)
    return write_tree(tmp_path / "kb", {"guide.md": "# Guide\n\nHow to start.\n"})


def environ_sample() -> str:
    """A value from this process's /proc/self/environ, which a link to it would serve."""
    first = Path("/proc/self/environ").read_bytes().split(b"\0")[0]
    return first.decode("utf-8", "replace").split("=", 1)[-1]


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc")
def test_links_to_secrets_outside_the_folder_are_refused_and_never_shown(
    kb: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (kb / "environ.md").symlink_to("/proc/self/environ")
    (kb / "passwd.md").symlink_to("/etc/passwd")
    (kb / "state.md").symlink_to(kb.parent / "state" / "token.md")
    (kb / "token.yml").symlink_to("../state/token.yml")
    (kb / "linked").symlink_to(kb.parent / "state")
    knowledge = load_knowledge([kb], base_url="https://docs.example.org")
    for name in ("environ.md", "passwd.md", "state.md", "token.yml"):
        assert any("outside the knowledge folder" in m for m in messages_for(knowledge, name)), name
    assert any("folder outside" in m for m in messages_for(knowledge, "linked"))
    assert {e.id for e in knowledge.entries} == {"guide"}
    shown = everything_shown(knowledge)
    for secret in (SECRET, "root:x:0:0", environ_sample()):
        assert secret not in shown
    assert main(["check", "--knowledge", str(kb)]) == 1
    out, err = capsys.readouterr()
    assert SECRET not in out + err and "root:x:0:0" not in out + err and environ_sample() not in out + err
    assert "environ.md:1: links to a file outside the knowledge folder" in out


def test_a_link_inside_the_folder_still_loads(kb: Path) -> None:
    (kb / "start.md").symlink_to("guide.md")
    knowledge = load_knowledge([kb])
    assert not knowledge.errors
    assert {e.id for e in knowledge.entries} == {"guide", "start"}


def test_a_knowledge_file_given_by_name_must_not_link_out_of_its_folder(kb: Path) -> None:
    (kb / "faq.yml").symlink_to(kb.parent / "state" / "token.yml")
    knowledge = load_knowledge([kb / "faq.yml"])
    assert not knowledge.entries and "outside the knowledge folder" in knowledge.errors[0].message


def test_a_fifo_is_refused_without_blocking(kb: Path) -> None:
    os.mkfifo(kb / "pipe.md")
    os.mkfifo(kb / "quiet")  # not named like knowledge: ignored, not reported
    knowledge = load_knowledge([kb])
    assert [m for m in messages_for(knowledge, "pipe.md")] == ["is a FIFO, not a regular file; refused"]
    assert not messages_for(knowledge, "quiet") and knowledge.by_id("guide") is not None


def test_a_device_is_refused(kb: Path) -> None:
    try:
        os.mknod(kb / "null.md", stat.S_IFCHR | 0o600, os.makedev(1, 3))
    except (PermissionError, OSError):
        pytest.skip("cannot create a device node here")
    (kb / "zero.md").symlink_to("/dev/zero")  # outside the folder, and endless
    knowledge = load_knowledge([kb])
    assert messages_for(knowledge, "null.md") == ["is a device, not a regular file; refused"]
    assert "outside the knowledge folder" in messages_for(knowledge, "zero.md")[0]


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc")
def test_a_knowledge_folder_on_proc_is_refused(tmp_path: Path) -> None:
    knowledge = load_knowledge([Path("/proc/self/environ")])
    assert not knowledge.entries and "/proc" in knowledge.errors[0].message


def test_a_file_over_the_size_limit_is_refused_and_the_rest_loads(kb: Path) -> None:
    (kb / "huge.yml").write_text("- question: big?\n  answer: " + "x" * (2 * 1024 * 1024) + "\n")
    knowledge = load_knowledge([kb])
    [message] = messages_for(knowledge, "huge.yml")
    assert "over the limit of 1,048,576 bytes" in message
    assert knowledge.by_id("guide") is not None and knowledge.by_id("big") is None


def test_knowledge_over_the_total_limit_refuses_the_files_past_it(tmp_path: Path) -> None:
    pages = {f"page{n}.md": f"# Page {n}\n\n" + "words " * 600 + "\n" for n in range(6)}
    kb = write_tree(tmp_path, pages)
    knowledge = load_knowledge([kb], limits=KnowledgeLimits(max_file_bytes=4000, max_total_bytes=8000))
    loaded = {e.id for e in knowledge.entries}
    assert loaded == {"page0", "page1"}
    assert all("limit of 8,000 bytes for all knowledge" in messages_for(knowledge, f"page{n}.md")[0] for n in (2, 5))


def test_past_the_file_limit_the_walk_stops_and_last_good_versions_keep_serving(tmp_path: Path) -> None:
    pages = {f"page{n}.md": f"# Page {n}\n\nText {n}.\n" for n in range(5)}
    kb = write_tree(tmp_path, pages)
    loader = KnowledgeLoader([kb])
    assert len(loader.load().entries) == 5
    loader.limits = KnowledgeLimits(max_files=3)
    knowledge = loader.load()
    assert any("more than 3 knowledge files" in p.message for p in knowledge.errors)
    assert {e.id for e in knowledge.entries} == {f"page{n}" for n in range(5)}  # 3 read, 2 from their last load
    assert len([w for w in knowledge.warnings if "last good version" in w.message]) == 2


def test_folders_nested_past_the_limit_are_refused_without_crashing(tmp_path: Path) -> None:
    deep = tmp_path
    for _ in range(1200):  # os.walk, Path.rglob and Path.mkdir recurse: RecursionError near 1,000
        deep = deep / "d"
        deep.mkdir()
    (deep / "bottom.md").write_text("# Bottom\n\nFar down.\n")
    write_tree(tmp_path, {"top.md": "# Top\n\nUp here.\n"})
    try:
        knowledge = load_knowledge([tmp_path])
        assert {e.id for e in knowledge.entries} == {"top"}
        [error] = knowledge.errors
        assert "nested more than 16 folders deep" in error.message
    finally:  # shutil.rmtree recurses too: pytest could not clean this up
        (deep / "bottom.md").unlink()
        while deep != tmp_path:
            deep.rmdir()
            deep = deep.parent


def test_limits_must_be_positive_whole_numbers() -> None:
    with pytest.raises(ValueError, match="max_file_bytes"):
        KnowledgeLimits(max_file_bytes=0)
    with pytest.raises(ValueError, match="max_files"):
        KnowledgeLimits(max_files=2.5)  # type: ignore[arg-type]


def test_a_file_name_with_a_newline_cannot_forge_check_output(tmp_path: Path, capsys) -> None:
    write_tree(tmp_path, {"faq.yml": SMALL_FAQ, "bad\nfaq.yml:1: all good.md": "# Sneaky\n\nHi.\n"})
    knowledge = load_knowledge([tmp_path])
    [problem] = knowledge.errors
    assert "control, line-break or bidi character" in problem.message
    assert "\n" not in str(problem) and "bad\\nfaq.yml:1: all good.md:1:" in str(problem)
    assert main(["check", "--knowledge", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert not any(line.startswith("faq.yml:1: all good") for line in out.splitlines())


def test_right_to_left_overrides_and_undecodable_bytes_in_names_are_refused(tmp_path: Path) -> None:
    write_tree(tmp_path, {"faq.yml": SMALL_FAQ, "exe.\u202egnp.md": "# Spoof\n\nHi.\n", "rtl\u202e/page.md": "# P\n"})
    (tmp_path / os.fsdecode(b"caf\xe9.md")).write_text("# Cafe\n\nLatin-1 name.\n")
    knowledge = load_knowledge([tmp_path], base_url="https://docs.example.org")
    assert len(knowledge.errors) == 3
    assert all("control, line-break or bidi" in p.message for p in knowledge.errors)
    assert all("\u202e" not in str(p) and "\udce9" not in str(p) for p in knowledge.problems)
    assert {e.id for e in knowledge.entries} == {"threads", "bluesky", "funding", "emoji"}
    everything_shown(knowledge).encode("utf-8")


def test_a_file_swapped_for_a_link_out_keeps_serving_its_last_good_version(kb: Path) -> None:
    write_tree(kb, {"faq.yml": SMALL_FAQ, "guides/setup.md": "# Setup\n\nInstall it.\n"})
    loader = KnowledgeLoader([kb])
    responder = Responder(loader.load())
    watcher = KnowledgeWatcher(loader, responder, interval=60)
    (kb / "faq.yml").unlink()
    (kb / "faq.yml").symlink_to(kb.parent / "state" / "token.yml")
    guides = kb / "guides"
    guides.rename(kb / "old-guides")
    guides.symlink_to(kb.parent / "state")
    touch_later(kb / "guide.md", "# Guide\n\nHow to start, now with more words.\n")
    knowledge = watcher.check_once()
    assert knowledge is not None and responder.knowledge is knowledge
    assert knowledge.by_id("threads") is not None and knowledge.by_id("guides/setup") is not None
    assert "more words" in knowledge.by_id("guide").answer
    assert any("last good version" in w.message and w.path.endswith("faq.yml") for w in knowledge.warnings)
    assert SECRET not in everything_shown(knowledge)
    assert not any(e.path.startswith(str(kb.parent / "state")) for e in knowledge.entries)


def test_deleted_files_stop_serving_and_leave_nothing_behind(tmp_path: Path) -> None:
    write_tree(tmp_path, {"faq.yml": SMALL_FAQ, "extra.md": "# Extra\n\nMore.\n"})
    loader = KnowledgeLoader([tmp_path])
    loader.load()
    (tmp_path / "extra.md").unlink()
    knowledge = loader.load()
    assert knowledge.by_id("extra") is None and not knowledge.problems
    assert len(loader._last_good) == 1  # the deleted file's last good version is not kept forever


def test_check_exits_non_zero_and_names_each_refused_file(kb: Path, capsys) -> None:
    os.mkfifo(kb / "pipe.md")
    (kb / "state.md").symlink_to(kb.parent / "state" / "token.md")
    code = main(["check", "--knowledge", str(kb)])
    out = capsys.readouterr().out
    assert code == 1
    assert "pipe.md:1: is a FIFO" in out and "state.md:1: links to a file outside" in out


def test_a_folder_link_inside_the_folder_is_a_warning(kb: Path) -> None:
    write_tree(kb, {"real/page.md": "# Page\n\nHere.\n"})
    (kb / "alias").symlink_to(kb / "real")
    knowledge = load_knowledge([kb])
    assert not knowledge.errors and knowledge.by_id("real/page") is not None
    [warning] = knowledge.warnings
    assert warning.severity is Severity.WARNING and "folder link not followed" in warning.message


if sys.platform != "linux":  # pragma: no cover
    pytestmark = pytest.mark.skip("FIFOs, devices and /proc as on Linux")


def test_a_folder_title_linked_from_outside_is_refused_and_the_last_good_title_kept(kb: Path) -> None:
    write_tree(kb.parent / "state", {"title.yml": f"title: {SECRET}\n"})
    write_tree(kb, {"guides/_dir.yml": "title: Handy guides\n", "guides/setup.md": "# Setup\n\nInstall it.\n"})
    loader = KnowledgeLoader([kb])
    assert loader.load().by_id("guides/setup").group == "Handy guides"
    (kb / "guides" / "_dir.yml").unlink()
    (kb / "guides" / "_dir.yml").symlink_to(kb.parent / "state" / "title.yml")
    knowledge = loader.load()
    assert "outside the knowledge folder" in messages_for(knowledge, "guides/_dir.yml")[0]
    assert knowledge.by_id("guides/setup").group == "Handy guides"
    assert SECRET not in everything_shown(knowledge)
    fresh = load_knowledge([kb])  # no last good title: the folder's name
    assert fresh.by_id("guides/setup").group == "Guides" and SECRET not in everything_shown(fresh)
