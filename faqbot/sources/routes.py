"""Routes and anchors the way static site generators (Nuxt Content, Docus, ...) make them."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

_ORDER_PREFIX = re.compile(r"^\d+\.")
_MARKDOWN_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MDC_INLINE = re.compile(r"(?<![\w:]):[a-zA-Z][\w-]*(?:\[([^\]]*)\])?\{[^}]*\}")
_INLINE_MARKUP = re.compile(r"[*_`~]|<[^>]+>")
_NOT_SLUG = re.compile(r"[^\w\- ]", re.UNICODE)


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
    text = re.sub(r"\{[^}]*\}\s*$", "", text)
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
    return bool(re.match(r"^[a-z][a-z0-9+.-]*:", link, re.IGNORECASE)) or link.startswith("//")


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
    return base_url.rstrip("/") + ("" if route.startswith("/") else "/") + (route if route != "/" else "")
