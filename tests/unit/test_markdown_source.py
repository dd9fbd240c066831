from pathlib import Path

from faqbot.sources.loader import load_knowledge
from faqbot.sources.markdown_clean import clean_markdown
from faqbot.sources.model import Severity

from .conftest import write_tree

PAGE = """\
---
title: Bridges and friends
questions:
  - can I follow people on other networks
---
# Bridges

Some people use bridges to follow accounts elsewhere.

![Example of Bridging](/bridges.png)

## Protocol Level

Protocol level bridging is generally prohibited.

### Bluesky

Bluesky uses the [AT Protocol](https://atproto.com).
We blocked the known Bluesky bridge.

### Nostr

Nostr bridges are blocked too.

## Empty One

## Tools

```text
bridge --help
```
:button-link[Read the source]{icon="x" href="https://example.org/src" blank}
"""

ABOUT = """\
# About

vmst.io is Mastodon for nerds.

## FAQs

::list{type="info"}
- [Do you block Bluesky?](/about/bridges#bluesky)
- [Who's paying for this to exist?](/funding)
::
"""

FUNDING = """\
# Funding

Members pay. <a rel="me" href="https://vmst.io/@funding">@funding</a> says thanks.
:button-link[Fund with Ko-Fi]{icon="cib:ko-fi" href="https://ko-fi.com/vmstio" blank}

| **Frontend** | **Transaction** |
|---|---|
| **Patreon** | 8% per donation |

## Merch :icon{name="tabler:shirt"}

Shirts.
"""


def _load(tmp_path: Path):
    write_tree(
        tmp_path,
        {
            "about/bridges.md": PAGE,
            "about/0.index.md": ABOUT,
            "1.funding/0.index.md": FUNDING,
            "about/_dir.yml": "title: 'About us'\n",
        },
    )
    return load_knowledge([tmp_path], base_url="https://docs.example.org")


def test_pages_and_sections_get_routes_anchors_and_links(tmp_path: Path) -> None:
    knowledge = _load(tmp_path)
    by_id = {e.id: e for e in knowledge.entries}
    page = by_id["about/bridges"]
    assert page.title == "Bridges and friends"  # front matter wins over the H1
    assert page.url == "https://docs.example.org/about/bridges"
    assert page.group == "About us"  # from _dir.yml
    assert "can I follow people on other networks" in page.questions
    bluesky = by_id["about/bridges#bluesky"]
    assert bluesky.route == "/about/bridges#bluesky"
    assert bluesky.url == "https://docs.example.org/about/bridges#bluesky"
    assert bluesky.title == "Bridges and friends › Bluesky"
    assert bluesky.line == 16
    assert "[AT Protocol](https://atproto.com)" in bluesky.answer
    assert by_id["about"].url == "https://docs.example.org/about"
    assert by_id["funding"].route == "/funding"
    assert "funding#merch" in by_id  # the inline icon does not leak into the anchor


def test_a_section_without_text_of_its_own_answers_with_its_subsections(tmp_path: Path) -> None:
    protocol = {e.id: e for e in _load(tmp_path).entries}["about/bridges#protocol-level"]
    assert "prohibited" in protocol.answer
    assert "Nostr" in protocol.body


def test_empty_sections_are_warnings_not_errors(tmp_path: Path) -> None:
    knowledge = _load(tmp_path)
    assert not knowledge.errors
    [warning] = [p for p in knowledge.problems if "Empty One" in p.message]
    assert warning.severity is Severity.WARNING
    assert warning.line == 25


def test_faq_link_lists_teach_phrasings_to_their_targets(tmp_path: Path) -> None:
    by_id = {e.id: e for e in _load(tmp_path).entries}
    assert "Do you block Bluesky?" in by_id["about/bridges#bluesky"].questions
    assert "Who's paying for this to exist?" in by_id["funding"].questions


def test_mdc_html_images_tables_and_code_do_not_leak(tmp_path: Path) -> None:
    by_id = {e.id: e for e in _load(tmp_path).entries}
    funding = by_id["funding"].answer
    assert "[@funding](https://vmst.io/@funding)" in funding
    assert "[Fund with Ko-Fi](https://ko-fi.com/vmstio)" in funding
    assert "Patreon — 8% per donation" in funding
    for noise in ("<a", "::", "{icon", "|---", "**Patreon**"):
        assert noise not in funding
    about = by_id["about#faqs"].answer
    assert "::list" not in about and about.startswith("- [Do you block Bluesky?]")
    assert "bridges.png" not in by_id["about/bridges"].answer
    tools = by_id["about/bridges#tools"].answer
    assert "bridge --help" not in tools and "```" not in tools
    assert tools == "[Read the source](https://example.org/src)"


def test_relative_links_in_answers_become_absolute() -> None:
    cleaned = clean_markdown("See [the rules](/rules).", lambda link: "https://docs.example.org" + link)
    assert cleaned == "See [the rules](https://docs.example.org/rules)."


def test_title_falls_back_to_first_h1_then_file_name(tmp_path: Path) -> None:
    write_tree(tmp_path, {"a.md": "# Hello There\n\nText.\n", "2.my-page.md": "Just text.\n"})
    by_id = {e.id: e for e in load_knowledge([tmp_path]).entries}
    assert by_id["a"].title == "Hello There"
    assert by_id["my-page"].title == "My Page"


def test_malformed_front_matter_is_reported_with_its_line_and_the_page_still_loads(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {"bad.md": "---\ntitle: ok\nquestions: [unclosed\n---\n# Bad\n\nStill here.\n", "good.md": "# Good\n\nFine.\n"},
    )
    knowledge = load_knowledge([tmp_path])
    [error] = knowledge.errors
    assert error.path.endswith("bad.md") and error.line in (3, 4)
    assert "front matter" in error.message
    assert {e.id for e in knowledge.entries} == {"bad", "good"}


def test_headings_inside_code_fences_are_not_sections(tmp_path: Path) -> None:
    write_tree(tmp_path, {"p.md": "# P\n\nIntro.\n\n```\n## not a heading\n```\n\n## Real\n\nText.\n"})
    ids = {e.id for e in load_knowledge([tmp_path]).entries}
    assert ids == {"p", "p#real"}
