"""Markdown as moderators write it for a docs site, made readable in a chat reply.

Removes what only a site generator understands: MDC components (`::list{...}`
blocks, `:button-link[Label]{href=...}`, `:icon{...}`), raw HTML, images, code
fences and table pipes, while keeping the words, lists and links.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

from faqbot.sources.routes import is_unsafe_link

# Every pattern here runs in linear time on any line (a moderator's typo or an attack
# must not stall a reload): a bracketed part never spans the character that opens
# it, so a failed match cannot be rescanned from the next opener; possessive
# quantifiers (`*+`) where a give-back could only fail again. Before, the table
# separator took 2.6 s on an 8,000-space indent and `[` x 100,000 was quadratic.
_IMAGE = re.compile(r"!\[[^\[\]]*\]\([^()]*\)")
_MDC_INLINE_WITH_LABEL = re.compile(r"(?<![\w:]):[a-zA-Z][\w-]*+\[([^\[\]]*)\](\{[^{}]*\})?")
_MDC_INLINE_BARE = re.compile(r"(?<![\w:/]):[a-zA-Z][\w-]*+\{[^{}]*\}")
_MDC_ATTRIBUTES = re.compile(r"(?<=[\])`*_])\{[^{}\n]*\}")
_MDC_HREF = re.compile(r"""\bhref=["']([^"']+)["']""")
# `<a ...>label</a>`: the label may hold other tags but not another `<a`.
_HTML_LINK = re.compile(r"<a\b([^<>]*+)>((?>[^<]*+(?:<(?!/?a\b)[^<]*+)*+))</a>", re.IGNORECASE)
_HTML_HREF = re.compile(r"""\bhref\s*=\s*["']([^"'<>]+)["']""", re.IGNORECASE)
_HTML_TAG = re.compile(r"</?[a-zA-Z][^<>]*>")
_TABLE_CELL_SEPARATOR = re.compile(r"\s*:?-{2,}:?\s*")
# `[label](target "title")`; the target may hold balanced parentheses (`Foo_(bar)`).
LINK = re.compile(r"(?<!!)\[([^\[\]]*)\]\(\s*+((?:[^()\s]|\([^()\s]*\))++)(?:\s++\"[^\"]*+\")?+\s*+\)")
_REFERENCE_DEFINITION = re.compile(r"^ {0,3}\[([^\[\]]+)\]:\s*+(\S+)")
_EMPHASIS = re.compile(r"(\*\*|__)(.+?)\1")
_BLANK_RUNS = re.compile(r"\n{3,}")
_MDC_BLOCK_LINE = re.compile(r"^\s*+::+([a-zA-Z][\w-]*.*)?$")
_MDC_SLOT_LINE = re.compile(r"^\s*+#[a-zA-Z][\w-]*+\s*$")


def is_mdc_block_line(line: str) -> bool:
    """`::name{...}` opening or `::` closing a block component (any nesting depth)."""
    return bool(_MDC_BLOCK_LINE.match(line))


def is_mdc_slot_line(line: str) -> bool:
    """`#title` inside a block component: a named slot, not a heading."""
    return bool(_MDC_SLOT_LINE.match(line))


def _inline_component(match: re.Match[str]) -> str:
    label, attributes = match.group(1), match.group(2) or ""
    href = _MDC_HREF.search(attributes)
    return f"[{label}]({href.group(1)})" if href and label else label


def _html_link(match: re.Match[str]) -> str:
    href = _HTML_HREF.search(match.group(1))
    label = _HTML_TAG.sub("", match.group(2)).strip()
    if href is None:
        return label
    return f"[{label}]({href.group(1)})" if label else ""


def _is_table_separator(line: str) -> bool:
    """`| --- | :---: |`: a Markdown table's header rule."""
    if "--" not in line:
        return False
    cells = line.strip()
    cells = cells[1:] if cells.startswith("|") else cells
    cells = cells[:-1] if cells.endswith("|") else cells
    return all(_TABLE_CELL_SEPARATOR.fullmatch(cell) for cell in cells.split("|"))


def _without_html_comments(markdown: str) -> str:
    """`<!-- ... -->` removed, by search rather than a lazy `.*?`, which rescanned to the end of
    the text from every unclosed `<!--`; an unclosed comment stays as text, as before."""
    pieces: list[str] = []
    position = 0
    while (start := markdown.find("<!--", position)) != -1:
        end = markdown.find("-->", start + 4)
        if end == -1:
            break
        pieces.append(markdown[position:start])
        position = end + 3
    pieces.append(markdown[position:])
    return "".join(pieces)


def link_target(raw: str) -> str:
    """A Markdown link target as a renderer reads it: `<...>` unwrapped."""
    return raw[1:-1] if raw.startswith("<") and raw.endswith(">") else raw


def _link_as_markdown(match: re.Match[str], rewrite_link: Callable[[str], str] | None) -> str:
    label, target = match.group(1), link_target(match.group(2))
    if is_unsafe_link(target):
        return label  # `check` reports it; members get the words, never a javascript: or data: link
    return f"[{label}]({rewrite_link(target) if rewrite_link else target})"


def _table_row(line: str) -> str:
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    cells = [_EMPHASIS.sub(r"\2", c) for c in cells if c]
    return " — ".join(cells)


def clean_markdown(markdown: str, rewrite_link: Callable[[str], str] | None = None) -> str:
    """Chat-ready Markdown: site-generator syntax removed, relative links rewritten, unsafe links
    (`is_unsafe_link`) reduced to their label."""
    out: list[str] = []
    in_fence = False
    fence_marker = ""
    in_props = False
    previous_was_component = False
    for raw_line in _without_html_comments(markdown).split("\n"):
        line = raw_line.rstrip()
        stripped = line.strip()
        if in_fence:
            if stripped.startswith(fence_marker):
                in_fence = False
            continue
        if stripped.startswith(("```", "~~~")):
            in_fence, fence_marker = True, stripped[:3]
            continue
        if in_props:
            in_props = stripped != "---"
            continue
        if previous_was_component and stripped == "---":
            in_props = True
            continue
        previous_was_component = is_mdc_block_line(line)
        if previous_was_component or is_mdc_slot_line(line):
            continue
        if _is_table_separator(line):
            continue
        if stripped.startswith("|") and stripped.endswith("|"):
            line = _table_row(line)
            if not line:
                continue
        line = _IMAGE.sub("", line)
        line = _MDC_INLINE_WITH_LABEL.sub(_inline_component, line)
        line = _MDC_INLINE_BARE.sub("", line)
        line = _MDC_ATTRIBUTES.sub("", line)
        line = _HTML_LINK.sub(_html_link, line)
        line = _HTML_TAG.sub("", line)
        line = html.unescape(line)
        line = LINK.sub(lambda m: _link_as_markdown(m, rewrite_link), line)
        if line.strip() or (out and out[-1].strip()):
            out.append(line.rstrip())
    return _join_soft_breaks(_BLANK_RUNS.sub("\n\n", "\n".join(out)).strip())


_BLOCK_START = re.compile(r"^\s*+([-*+]\s|\d++[.)]\s|>|\*\*[^*]++\*\*$)")


def _join_soft_breaks(markdown: str) -> str:
    """One line per paragraph, as Markdown renders it; list items stay on their own lines.

    A paragraph's lines are gathered and joined once: appending each to the joined
    text so far was quadratic on a paragraph of many short lines."""
    paragraphs: list[list[str]] = []
    for line in markdown.split("\n"):
        last = paragraphs[-1] if paragraphs else None
        continues_paragraph = (
            last is not None
            and last[-1].strip()
            and line.strip()
            and not _BLOCK_START.match(line)
            and not _BLOCK_START.match(last[0])
            and not (len(last) == 1 and last[0].endswith("  "))
        )
        if continues_paragraph:
            last.append(line.strip())
        else:
            paragraphs.append([line])
    return "\n".join(" ".join(lines) for lines in paragraphs)


def plain_text(markdown: str) -> str:
    """Words only, for matching: links keep their label, emphasis marks go."""
    text = LINK.sub(r"\1", markdown)
    text = _EMPHASIS.sub(r"\2", text)
    return re.sub(r"[*_`>#]+", " ", text)


def links_in(markdown: str) -> list[tuple[str, str]]:
    """(label, target) of each link in one line or text, as the cleaned answer will have it:
    Markdown links, HTML `<a href>`, MDC `:component[label]{href=...}` and reference definitions
    (`[1]: https://...`); images excluded."""
    text = _MDC_INLINE_WITH_LABEL.sub(_inline_component, markdown)
    text = html.unescape(_HTML_LINK.sub(_html_link, text))
    links = [(m.group(1), link_target(m.group(2))) for m in LINK.finditer(text)]
    for line in text.split("\n"):
        definition = _REFERENCE_DEFINITION.match(line)
        if definition:
            links.append((definition.group(1), link_target(definition.group(2))))
    return links
