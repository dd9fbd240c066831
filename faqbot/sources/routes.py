"""Routes and anchors the way static site generators (Nuxt Content, Docus, ...) make them."""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from urllib.parse import quote

# Every pattern that sees knowledge text runs in linear time: a bracketed part never
# spans the character that opens it (`[^\[\]]`, `[^{}]`, `[^<>]`), so one failing
# `[` cannot rescan what the next `[` scans. `[^\]]*` made `[` x 100,000 quadratic.
_ORDER_PREFIX = re.compile(r"^\d+\.")
_MARKDOWN_LINK = re.compile(r"!?\[([^\[\]]*)\]\([^()]*\)")
_MDC_INLINE = re.compile(r"(?<![\w:]):[a-zA-Z][\w-]*+(?:\[([^\[\]]*)\])?\{[^{}]*\}")
_INLINE_MARKUP = re.compile(r"[*_`~]|<[^<>]+>")
_TRAILING_ATTRIBUTES = re.compile(r"\{[^{}]*\}\s*$")
_NOT_SLUG = re.compile(r"[^\w\- ]", re.UNICODE)
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)
_SAFE_URL = re.compile(r"(?:https?://|mailto:)[^\s\x00-\x1f\x7f]+", re.IGNORECASE)
SAFE_SCHEMES = ("http", "https", "mailto")


def route_for(relative_path: str) -> str:
    """The site route of a Markdown file, given its path inside the content folder.

    `1.funding.md` -> `/funding`, `about/0.index.md` -> `/about`, `0.index.md` -> `/`.
    """
    parts = [_ORDER_PREFIX.sub("", part) for part in PurePosixPath(relative_path).with_suffix("").parts]
    if parts and parts[-1] == "index":
        parts = parts[:-1]
    return "/" + "/".join(parts)


def heading_text(markdown: str) -> str:
    """A heading's visible text: links and emphasis removed, MDC attributes dropped."""
    text = _MDC_INLINE.sub(lambda m: m.group(1) or "", markdown)
    text = _MARKDOWN_LINK.sub(r"\1", text)
    text = _TRAILING_ATTRIBUTES.sub("", text)
    return _INLINE_MARKUP.sub("", text).strip()


class AnchorSlugger:
    """GitHub-style anchors, numbered like GitHub when a heading repeats on a page."""

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}

    def slug(self, heading: str) -> str:
        base = _NOT_SLUG.sub("", heading_text(heading).lower()).replace(" ", "-")
        count = self._seen.get(base, 0)
        self._seen[base] = count + 1
        return base if count == 0 else f"{base}-{count}"


def slugify(text: str) -> str:
    """A one-off GitHub-style slug (for ids made from questions)."""
    return AnchorSlugger().slug(text)


def is_absolute_url(link: str) -> bool:
    """A link with a scheme (`https:`, `mailto:`, `javascript:`) or to another host (`//host/...`)."""
    return bool(_SCHEME.match(link)) or link.startswith("//")


def is_safe_url(url: str) -> bool:
    """A URL the bot may render as a link: http, https or mailto, with no space or control character.

    Everything else (`javascript:`, `data:`, `file:`, `//host` without a scheme) reaches
    members only as text; the one place this rule lives."""
    return _SAFE_URL.fullmatch(url) is not None


def is_unsafe_link(link: str) -> bool:
    """An absolute link that `is_safe_url` refuses; relative routes are safe once joined to the base URL."""
    return is_absolute_url(link) and not is_safe_url(link)


def resolve_route(link: str, from_route: str) -> str:
    """A link found on the page at `from_route`, as an absolute site route (with anchor)."""
    if link.startswith("#"):
        return from_route + link
    if link.startswith("/"):
        return link
    base = PurePosixPath(from_route if from_route.endswith("/") else from_route.rsplit("/", 1)[0] or "/")
    parts: list[str] = []
    for part in (base / link).parts:
        if part == "..":
            if parts:
                parts.pop()
        elif part not in (".", "/"):
            parts.append(part)
    return "/" + "/".join(parts)


def join_url(base_url: str | None, route: str | None) -> str | None:
    """The public URL of a route; absolute links pass through; None without a base URL."""
    if route is None:
        return None
    if is_absolute_url(route):
        return route
    if not base_url:
        return None
    # A route made from a file name may hold spaces or non-ASCII letters: percent-encoded,
    # the URL stays one link in every client (and one Discord accepts in an embed).
    route = quote(route, safe="/#?&=+:@!$'()*,;%~")
    return base_url.rstrip("/") + ("" if route.startswith("/") else "/") + (route if route != "/" else "")


def unsafe_link_message(target: str) -> str:
    """What `check` says about a link whose scheme the bot will not render."""
    shown = target if len(target) <= 60 else target[:57] + "..."
    schemes = ", ".join(SAFE_SCHEMES)
    return f"link '{shown}' is not {schemes} or a site route; members get its text without the link"
