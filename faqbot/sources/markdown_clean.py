"""Markdown as moderators write it for a docs site, made readable in a chat reply.

Removes what only a site generator understands: MDC components (`::list{...}`
blocks, `:button-link[Label]{href=...}`, `:icon{...}`), raw HTML, images, code
fences and table pipes, while keeping the words, lists and links.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_MDC_INLINE_WITH_LABEL = re.compile(r"(?<![\w:]):[a-zA-Z][\w-]*\[([^\]]*)\](\{[^}]*\})?")
_MDC_INLINE_BARE = re.compile(r"(?<![\w:/]):[a-zA-Z][\w-]*\{[^}]*\}")
_MDC_ATTRIBUTES = re.compile(r"(?<=[\])`*_])\{[^}\n]*\}")
_MDC_HREF = re.compile(r"""\bhref=["']([^"']+)["']""")
_HTML_LINK = re.compile(r"""<a\b[^>]*\bhref=["']([^"']+)["'][^>]*>(.*?)</a>""", re.IGNORECASE | re.DOTALL)
_HTML_TAG = re.compile(r"</?[a-zA-Z][^>]*>")
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_TABLE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_LINK = re.compile(r"(?<!!)\[([^\]]*)\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_EMPHASIS = re.compile(r"(\*\*|__)(.+?)\1")
_BLANK_RUNS = re.compile(r"\n{3,}")


def is_mdc_block_line(line: str) -> bool:
    """`::name{...}` opening or `::` closing a block component (any nesting depth)."""
    return bool(re.match(r"^\s*::+([a-zA-Z][\w-]*.*)?$", line))


def is_mdc_slot_line(line: str) -> bool:
    """`#title` inside a block component: a named slot, not a heading."""
    return bool(re.match(r"^\s*#[a-zA-Z][\w-]*\s*$", line))


def _inline_component(match: re.Match[str]) -> str:
    label, attributes = match.group(1), match.group(2) or ""
    href = _MDC_HREF.search(attributes)
    return f"[{label}]({href.group(1)})" if href and label else label


def _html_link(match: re.Match[str]) -> str:
    href, label = match.group(1), _HTML_TAG.sub("", match.group(2)).strip()
    return f"[{label}]({href})" if label else ""


def _table_row(line: str) -> str:
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    cells = [_EMPHASIS.sub(r"\2", c) for c in cells if c]
    return " — ".join(cells)


def clean_markdown(markdown: str, rewrite_link: Callable[[str], str] | None = None) -> str:
    """Chat-ready Markdown: site-generator syntax removed, relative links rewritten."""
    out: list[str] = []
    in_fence = False
    fence_marker = ""
    in_props = False
    previous_was_component = False
    for raw_line in _HTML_COMMENT.sub("", markdown).split("\n"):
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
        if _TABLE_SEPARATOR.match(line):
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
        if rewrite_link is not None:
            line = _LINK.sub(lambda m: f"[{m.group(1)}]({rewrite_link(m.group(2))})", line)
        if line.strip() or (out and out[-1].strip()):
            out.append(line.rstrip())
    return _join_soft_breaks(_BLANK_RUNS.sub("\n\n", "\n".join(out)).strip())


_BLOCK_START = re.compile(r"^\s*([-*+]\s|\d+[.)]\s|>|\*\*[^*]+\*\*$)")


def _join_soft_breaks(markdown: str) -> str:
    """One line per paragraph, as Markdown renders it; list items stay on their own lines."""
    lines: list[str] = []
    for line in markdown.split("\n"):
        continues_paragraph = (
            lines
            and lines[-1].strip()
            and line.strip()
            and not _BLOCK_START.match(line)
            and not _BLOCK_START.match(lines[-1])
            and not lines[-1].endswith("  ")
        )
        if continues_paragraph:
            lines[-1] = lines[-1] + " " + line.strip()
        else:
            lines.append(line)
    return "\n".join(lines)


def plain_text(markdown: str) -> str:
    """Words only, for matching: links keep their label, emphasis marks go."""
    text = _LINK.sub(r"\1", markdown)
    text = _EMPHASIS.sub(r"\2", text)
    return re.sub(r"[*_`>#]+", " ", text)


def links_in(markdown: str) -> list[tuple[str, str]]:
    """(label, target) of each Markdown link, images excluded."""
    return [(m.group(1), m.group(2)) for m in _LINK.finditer(markdown)]
