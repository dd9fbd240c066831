"""Properties over random and adversarial knowledge: loading and rendering never raise, stay
quick, link only safe URLs, never send a lone surrogate and never leave a crowd mention.

Inputs are built from the pieces the patterns react to, both mixed at random and one
short run repeated thousands of times (what makes a backtracking pattern blow up).
`bench/hostile_knowledge.py` runs the same search longer and prints the slowest input.
"""

from __future__ import annotations

import re
import tempfile
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from faqbot.render import render_discord, render_matrix, render_plain
from faqbot.responder import Reply, ReplyKind
from faqbot.sources.loader import load_knowledge
from faqbot.sources.markdown_source import parse_markdown_page
from faqbot.sources.model import Entry, Knowledge
from faqbot.sources.routes import is_safe_url
from faqbot.sources.yaml_source import parse_faq_file

MARKDOWN_PIECES = [
    *("[", "]", "(", ")", "![", "](", "[a](", "[a?](/p)", "- ", "1. ", "> ", "#", "# ", "## ", " #", "\n", "\n\n"),
    *(" ", "  ", "\t", "|", "| --- |", "-", "--", ":", "::", "::list{", "#title", "```", "~~~", "---", "{", "}"),
    *(":x[", ":icon{", "]{", "{href='/x'}", "<a ", "<a href='x'>", "</a>", "<", ">", "<!--", "-->", "<b>"),
    *("**", "__", "*", "_", "`", '"', "'", "&#106;", "&amp;", "javascript:", "data:", "https://x.org/@here"),
    *("mailto:a@b", "//x", "@everyone", "<@&1>", "\u202e", "\x1b[2J", "\r", "\r\n", "a", "word ", "?", "é"),
]
YAML_PIECES = [
    *("- ", "question: ", "answer: ", "alternates: ", "link: ", "id: ", "tags: ", "&a ", "*a", "&b ", "*b"),
    *("[", "]", "{", "}", ": ", ", ", "\n", "  ", "    ", '"', "'", "\\ud800", "\\ud83d\\ude00", "\\x1b", "\\u202e"),
    *("!!binary ", "!!str ", "!!python/object ", "<<: ", "? ", "#", "|", ">", "2024-13-01", "0b1", "9" * 12, "~"),
    *("null", "yes", "1e999", "a", "x", "javascript:x", "[a](javascript:x)", "---", "...", "%YAML 1.1\n", "\t"),
]
SANITY_SECONDS = 10.0  # per example; the bench's slowest input takes a small fraction of this
SURROGATES = ["\ud800", "\udfff", "\ud83d\ude00"]


def texts(pieces: list[str]) -> st.SearchStrategy[str]:
    mixed = st.lists(st.one_of(st.sampled_from(pieces), st.text(max_size=3)), max_size=120).map("".join)
    run = st.lists(st.sampled_from(pieces), min_size=1, max_size=4).map("".join)
    repeated = st.tuples(run, st.integers(1, 4000), st.sampled_from(["", "\n", " x", "]"])).map(
        lambda parts: parts[0] * parts[1] + parts[2]
    )
    return st.one_of(mixed, repeated)


_HREF = re.compile(r'href="([^"]*)"')
_URL_SPAN = re.compile(r"\b(?:https?://|mailto:)[^\s<>\"'()\[\]]*", re.IGNORECASE)
_CROWD = re.compile(r"@(everyone|here|room|channel)\b", re.IGNORECASE)


def strings_in(value: object) -> list[str]:
    """Every string in a Discord payload (its repr would escape control characters)."""
    if isinstance(value, str):
        return [value]
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    return [text for item in items for text in strings_in(item)]


def check_rendering(entries: list[Entry]) -> None:
    """Every reply these entries make: encodable, only safe links, no crowd mention outside a URL."""
    replies = [Reply(ReplyKind.ANSWER, entry=e) for e in entries]
    if entries:
        replies.append(Reply(ReplyKind.SUGGESTIONS, suggestions=tuple(entries[:3])))
    for reply in replies:
        plain, matrix, discord = render_plain(reply), render_matrix(reply), render_discord(reply)
        outputs = [plain, matrix.body, matrix.formatted_body, discord.content, *strings_in(discord.embeds)]
        for output in outputs:
            output.encode("utf-8")
            assert not _CROWD.search(_URL_SPAN.sub("", output)), output
        for href in _HREF.findall(matrix.formatted_body):
            assert is_safe_url(href.replace("&amp;", "&")), href
        for embed in discord.embeds:
            assert "url" not in embed or embed["url"].lower().startswith(("http://", "https://"))


def check_knowledge(knowledge: Knowledge) -> None:
    assert not any("faqbot bug" in p.message for p in knowledge.problems), knowledge.problems
    for problem in knowledge.problems:
        assert "\n" not in str(problem) and "\u202e" not in str(problem)
    check_rendering(knowledge.entries)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts(MARKDOWN_PIECES))
def test_any_markdown_page_parses_and_renders_quickly(text: str) -> None:
    start = time.perf_counter()
    page = parse_markdown_page(text, "page.md", "/page", None, "https://docs.example.org")
    check_rendering(page.entries)
    assert time.perf_counter() - start < SANITY_SECONDS


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts(YAML_PIECES))
def test_any_faq_file_parses_and_renders_quickly(text: str) -> None:
    start = time.perf_counter()
    parsed = parse_faq_file(text, "faq.yml", "https://docs.example.org")
    check_rendering(parsed.entries)
    assert time.perf_counter() - start < SANITY_SECONDS


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts(MARKDOWN_PIECES), texts(YAML_PIECES), texts(YAML_PIECES))
def test_any_knowledge_folder_loads_through_the_loader(page: str, front_matter: str, faq: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "page.md").write_text(page, encoding="utf-8")
        (root / "front.md").write_text(f"---\n{front_matter}\n---\n{page}", encoding="utf-8")
        (root / "faq.yml").write_text(faq, encoding="utf-8")
        (root / "group").mkdir()
        (root / "group" / "_dir.yml").write_text(front_matter, encoding="utf-8")
        (root / "group" / "inner.md").write_text(page, encoding="utf-8")
        start = time.perf_counter()
        knowledge = load_knowledge([root], base_url="https://docs.example.org")
        check_knowledge(knowledge)
        assert time.perf_counter() - start < SANITY_SECONDS


entry_text = st.lists(st.one_of(st.sampled_from(MARKDOWN_PIECES + SURROGATES), st.text(max_size=4)), max_size=60).map(
    "".join
)


@settings(max_examples=200, deadline=None)
@given(entry_text, entry_text, st.one_of(st.none(), entry_text, st.sampled_from(["javascript:x", "https://x/@room"])))
def test_renderers_are_safe_whatever_an_entry_holds(title: str, answer: str, url: str | None) -> None:
    check_rendering([Entry("e", title, answer, None, url, "FAQ", "faq.yml", 1)])
