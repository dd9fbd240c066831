from pathlib import Path

from faqbot.sources.bundled import bundled_knowledge
from faqbot.sources.loader import load_knowledge
from faqbot.sources.routes import route_for

from .conftest import SMALL_FAQ, write_tree


def test_several_folders_combine(tmp_path: Path) -> None:
    first = write_tree(tmp_path / "one", {"faq.yml": SMALL_FAQ})
    second = write_tree(tmp_path / "two", {"guide.md": "# Guide\n\nHow to start.\n"})
    knowledge = load_knowledge([first, second], base_url="https://x.org")
    assert knowledge.by_id("threads") is not None
    guide = knowledge.by_id("guide")
    assert guide is not None and guide.url == "https://x.org/guide"


def test_missing_folder_is_reported(tmp_path: Path) -> None:
    knowledge = load_knowledge([tmp_path / "nope"])
    [error] = knowledge.errors
    assert "not found" in error.message


def test_unreadable_bytes_are_reported_and_the_rest_loads(tmp_path: Path) -> None:
    write_tree(tmp_path, {"faq.yml": SMALL_FAQ})
    (tmp_path / "latin1.md").write_bytes(b"# Caf\xe9\n")
    knowledge = load_knowledge([tmp_path])
    assert any(p.path.endswith("latin1.md") and p.line == 1 for p in knowledge.errors)
    assert knowledge.by_id("threads") is not None


def test_bundled_knowledge_loads_cleanly() -> None:
    knowledge = load_knowledge([bundled_knowledge()])
    assert not knowledge.errors, [str(p) for p in knowledge.errors]
    assert len(knowledge.entries) >= 10
    for entry in knowledge.entries:
        assert entry.url and entry.url.startswith("https://docs.vmst.io"), entry.id


def test_the_real_docs_tree_loads_with_a_route_and_anchor_for_every_page_and_section(docs_tree: Path) -> None:
    knowledge = load_knowledge([docs_tree], base_url="https://docs.vmst.io")
    assert not knowledge.errors, [str(p) for p in knowledge.errors]
    pages = {e.route for e in knowledge.entries if e.kind == "page"}
    expected_pages = {route_for(p.relative_to(docs_tree).as_posix()) for p in docs_tree.rglob("*.md")}
    assert pages == expected_pages
    assert {"/", "/about", "/funding", "/about/threads", "/infrastructure/monitoring"} <= pages
    routes = {e.route for e in knowledge.entries}
    for route in (
        "/about/bridges#bluesky",
        "/about/bridges#x-twitter",
        "/about/accounts#preserving-your-account",
        "/about/moderation#i-dont-like-it",
        "/rules/brands#groups--associations",
        "/about/threads#key-themes",
        "/funding#processing-fees",
    ):
        assert route in routes, route
    bluesky = knowledge.by_id("about/bridges#bluesky")
    assert bluesky is not None and bluesky.url == "https://docs.vmst.io/about/bridges#bluesky"
    assert "Do you block Bluesky?" in bluesky.questions
    for entry in knowledge.entries:
        for noise in ("::", ":button-link", ":icon{", "<a ", "](/"):
            assert noise not in entry.answer, (entry.id, noise)
