"""Text built to attack the loader and the renderers: backtracking lines, bad link schemes,
lone surrogates, control characters, mentions inside URLs."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from faqbot.render import defuse_mentions, render_discord, render_matrix, render_plain
from faqbot.responder import Reply, ReplyKind
from faqbot.sources.loader import load_knowledge
from faqbot.sources.model import Entry

from .conftest import write_tree
from .hostile import everything_shown, messages_for, rendered_everywhere

# Lines that took the old patterns from 2.6 s to minutes to load; each loads in milliseconds
# now. The bound is a sanity check, far above the time measured by bench/hostile_knowledge.py.
BACKTRACKING_LINES = {
    "heading": "# a" + " " * 3000 + "b",  # 97 s: `\s+(.+?)\s*#*\s*$` was cubic
    "table separator": "\n".join([" " * 8000 + "x"] * 10),  # 2.6 s a line
    "brackets": "[" * 100_000,
    "link openers": "[a](" * 30_000,
    "images": "![a](" * 30_000,
    "html comments": "<!--" * 30_000,
    "html links": "<a href='x'>" * 20_000,
    "html tags": "<a" * 50_000,
    "mdc components": ":x[a]{" * 20_000,
    "mdc attributes": "]{" * 50_000,
    "emphasis": "**a" * 50_000,
    "list link items": "- [" + "a?" * 50_000 + "](",
}
SANITY_SECONDS = 10.0


@pytest.mark.timeout(120)
@pytest.mark.parametrize("line", BACKTRACKING_LINES.values(), ids=BACKTRACKING_LINES.keys())
def test_lines_that_made_the_patterns_backtrack_load_at_once(tmp_path: Path, line: str) -> None:
    page = f"# Page\n\n{line}\n\n## {line}\n\n| {line} |\n\n{line}\n"
    write_tree(tmp_path, {"page.md": page, "faq.yml": f"- question: Q?\n  answer: '{line}'\n"})
    start = time.perf_counter()
    knowledge = load_knowledge([tmp_path], base_url="https://docs.example.org")
    for entry in knowledge.entries:
        rendered_everywhere(entry)
    assert time.perf_counter() - start < SANITY_SECONDS
    assert knowledge.by_id("page") is not None


@pytest.mark.timeout(120)
def test_a_paragraph_of_many_short_lines_loads_at_once(tmp_path: Path) -> None:
    write_tree(tmp_path, {"page.md": "# Page\n\n" + "a\n" * 400_000})  # joined line by line: quadratic
    start = time.perf_counter()
    [entry] = load_knowledge([tmp_path]).entries
    assert time.perf_counter() - start < SANITY_SECONDS
    assert entry.answer.startswith("a a a")


@pytest.mark.timeout(120)
def test_many_faq_list_items_to_one_page_load_at_once(tmp_path: Path) -> None:
    items = "".join(f"- [Question {n}?](/page)\n" for n in range(20_000))  # one entry copy each: quadratic
    write_tree(tmp_path, {"page.md": "# Page\n\nText.\n", "faq.md": "# FAQ\n\n" + items})
    start = time.perf_counter()
    knowledge = load_knowledge([tmp_path])
    assert time.perf_counter() - start < SANITY_SECONDS
    assert len(knowledge.by_id("page").phrasings) == 20_000


def test_headings_keep_their_text_and_lose_only_a_closing_sequence(tmp_path: Path) -> None:
    page = "# Page\n\n## Setup ##\n\nA.\n\n## C#\n\nB.\n\n##   Spaced   \n\nC.\n"
    knowledge = load_knowledge([write_tree(tmp_path, {"page.md": page})])
    assert [e.title for e in knowledge.entries] == ["Page", "Page › Setup", "Page › C#", "Page › Spaced"]


UNSAFE_LINKS = [
    ("faq.yml", 2, "- question: Click?\n  answer: '[here](javascript:alert(1))'\n"),
    ("data.yml", 2, "- question: Data?\n  answer: 'See [this](data:text/html;base64,PHNjcmlwdD4=).'\n"),
    ("link.yml", 3, "- question: Link?\n  answer: Yes.\n  link: 'javascript:alert(document.cookie)'\n"),
    ("vb.md", 3, "# VB\n\n[x](VBScript:msgbox(1))\n"),
    ("html.md", 3, '# HTML\n\n<a href="javascript:alert(1)">click</a>\n'),
    ("mdc.md", 3, '# MDC\n\n:button-link[Go]{href="data:text/html,x"}\n'),
    ("angle.md", 3, "# Angle\n\n[x](<javascript:alert(1)>)\n"),
    ("entity.md", 3, "# Entity\n\n[x](&#106;avascript:alert(1))\n"),
    ("reference.md", 5, "# Reference\n\n[x][1]\n\n[1]: javascript:alert(1)\n"),
    ("file.md", 3, "# File\n\n[x](file:///etc/passwd)\n"),
    ("front.md", 1, "---\nlink: javascript:alert(1)\n---\n# Front\n\nText.\n"),
    ("relative.md", 3, "# Scheme-relative\n\n[x](//evil.example/page)\n"),
]


@pytest.mark.parametrize(("name", "line", "text"), UNSAFE_LINKS, ids=[n for n, _, _ in UNSAFE_LINKS])
def test_links_that_are_not_http_https_or_mailto_are_reported_and_never_rendered(
    tmp_path: Path, name: str, line: int, text: str
) -> None:
    knowledge = load_knowledge([write_tree(tmp_path, {name: text})], base_url="https://docs.example.org")
    unsafe = [p for p in knowledge.errors if "is not http, https, mailto or a site route" in p.message]
    assert [(p.path.rsplit("/", 1)[-1], p.line) for p in unsafe] == [(name, line)]
    assert knowledge.entries
    for entry in knowledge.entries:
        for shown in rendered_everywhere(entry):
            lowered = shown.lower()
            for scheme in ("javascript:", "vbscript:", "data:", "file:", "//evil"):
                assert f'href="{scheme}' not in lowered and f"]({scheme}" not in lowered
                assert f"'url': '{scheme}" not in lowered and f"<{scheme}" not in lowered


def faq_entry(answer: str, url: str | None, title: str = "Title") -> Entry:
    """An entry as any source could build it, bypassing the loader's checks."""
    return Entry(id="e", title=title, answer=answer, route=None, url=url, group="FAQ", path="faq.yml", line=1)


def test_renderers_link_only_safe_urls_whatever_an_entry_holds() -> None:
    entry = faq_entry(
        "[a](javascript:alert(1)) [b](data:image/png;base64,AAAA) [c][r] <javascript:x>\n\n[r]: vbscript:y",
        url="javascript:alert(2)",
    )
    reply = Reply(ReplyKind.ANSWER, entry=entry)
    matrix = render_matrix(reply).formatted_body
    assert "href" not in matrix
    [embed] = render_discord(reply).embeds
    assert "url" not in embed and "](javascript" not in embed["description"] and "](data" not in embed["description"]
    assert "javascript:alert(2)" not in render_plain(reply)
    listing = Reply(ReplyKind.SUGGESTIONS, suggestions=(entry,))
    assert "href" not in render_matrix(listing).formatted_body and "](javascript" not in str(render_discord(listing))


def test_safe_links_still_render_and_discord_gets_only_web_links() -> None:
    entry = faq_entry(
        "Mail [the admins](mailto:admins@example.org) or see [the docs](https://docs.example.org/x_(y)).",
        url="mailto:admins@example.org",
        title="Contact",
    )
    reply = Reply(ReplyKind.ANSWER, entry=entry)
    matrix = render_matrix(reply).formatted_body
    assert 'href="mailto:admins@example.org"' in matrix and 'href="https://docs.example.org/x_(y)"' in matrix
    assert "the docs <https://docs.example.org/x_(y)>" in render_plain(reply)
    [embed] = render_discord(reply).embeds
    assert "url" not in embed  # Discord refuses a message whose embed URL is not http(s)
    assert "[the docs](https://docs.example.org/x_(y))" in embed["description"]
    assert "Mail the admins (admins@example.org)" in embed["description"]


def test_a_page_named_with_spaces_gets_a_url_every_client_links(tmp_path: Path) -> None:
    knowledge = load_knowledge([write_tree(tmp_path, {"getting started.md": "# Start\n\nHi.\n"})], "https://x.org")
    [entry] = knowledge.entries
    assert entry.url == "https://x.org/getting%20started"
    reply = Reply(ReplyKind.ANSWER, entry=entry)
    assert render_discord(reply).embeds[0]["url"] == entry.url
    assert 'href="https://x.org/getting%20started"' in render_matrix(reply).formatted_body


def test_a_lone_surrogate_is_reported_and_never_sent(tmp_path: Path) -> None:
    faq = '- question: Broken?\n  answer: "x \\ud800 y"\n- question: Emoji?\n  answer: "\\ud83d\\ude00 yes"\n'
    knowledge = load_knowledge([write_tree(tmp_path, {"faq.yml": faq})])
    [error] = knowledge.errors
    assert error.path.endswith("faq.yml") and error.line == 2 and "lone surrogate" in error.message
    assert knowledge.by_id("emoji").answer == "\U0001f600 yes"  # a pair written as two escapes is one emoji
    everything_shown(knowledge).encode("utf-8")


def test_renderers_never_emit_a_lone_surrogate_whatever_an_entry_holds() -> None:
    entry = faq_entry("x \ud800 y", url="https://x.org/\udfff", title="Title \udc80")
    for shown in rendered_everywhere(entry):
        shown.encode("utf-8")
    listing = Reply(ReplyKind.SUGGESTIONS, suggestions=(entry,))
    render_plain(listing).encode("utf-8")
    render_matrix(listing).formatted_body.encode("utf-8")
    str(render_discord(listing)).encode("utf-8")


def test_control_characters_and_bidi_overrides_are_removed_and_reported(tmp_path: Path) -> None:
    page = "# Ti\u202etle\n\nText with an ANSI \x1b[2J clear and a carriage\r return.\r\n\nMore.\r\n"
    faq = '- question: "Spoof \\u202egnp.exe?"\n  answer: "ok \\x1b[31m red"\n'
    knowledge = load_knowledge([write_tree(tmp_path, {"page.md": page, "faq.yml": faq})])
    assert not knowledge.errors
    assert [(w.path.rsplit("/", 1)[-1], w.line) for w in knowledge.warnings] == [
        ("faq.yml", 1),
        ("faq.yml", 2),
        ("page.md", 1),
    ]
    shown = everything_shown(knowledge)
    for character in ("\u202e", "\x1b", "\r"):
        assert character not in shown
    assert knowledge.by_id("page").title == "Title"


def test_mentions_are_defused_in_text_but_urls_stay_whole(tmp_path: Path) -> None:
    faq = (
        "- question: Who runs it?\n"
        "  answer: Ask @everyone or see [the team](https://vmst.io/@channel) and https://vmst.io/@here.\n"
        "  link: https://vmst.io/@room\n"
    )
    [entry] = load_knowledge([write_tree(tmp_path, {"faq.yml": faq})]).entries
    reply = Reply(ReplyKind.ANSWER, entry=entry)
    plain = render_plain(reply)
    assert "https://vmst.io/@channel" in plain and "https://vmst.io/@here" in plain
    assert "More: https://vmst.io/@room" in plain and "@everyone" not in plain
    matrix = render_matrix(reply).formatted_body
    assert 'href="https://vmst.io/@channel"' in matrix and 'href="https://vmst.io/@room"' in matrix
    assert "@everyone" not in matrix
    [embed] = render_discord(reply).embeds
    assert "(https://vmst.io/@channel)" in embed["description"] and embed["url"] == "https://vmst.io/@room"
    assert "@everyone" not in embed["description"]


def test_defusing_stops_where_a_url_ends() -> None:
    text = defuse_mentions("see https://x.org/a)@everyone and <https://x.org/@here>@room")
    assert "https://x.org/a)" in text and "https://x.org/@here>" in text
    assert "@everyone" not in text and "@room" not in text


def test_an_unclosed_comment_stays_text_and_a_closed_one_goes(tmp_path: Path) -> None:
    page = "# Page\n\nKeep <!-- hidden --> this.\n\n## Open\n\nLeft <!-- open\n"
    knowledge = load_knowledge([write_tree(tmp_path, {"page.md": page})])
    assert knowledge.by_id("page").answer == "Keep  this."
    assert "open" in knowledge.by_id("page#open").answer
    assert not messages_for(knowledge, "page.md")
