"""A Markdown page becomes one entry for the page and one per H2/H3/H4 section.

Front matter may set `title`, `description`, `link` (the page's public URL, when
it differs from base URL + route), `questions`/`aliases` (phrasings) and `tags`.
A list item whose link text is a question (`- [Do you block Threads?](/about/threads)`)
teaches that phrasing to the page or section it links to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from faqbot.sources.markdown_clean import clean_markdown, is_mdc_slot_line, link_target, links_in, plain_text
from faqbot.sources.model import Entry, LinkReference, ParsedFile, Phrasing, Problem, Severity, TaughtPhrasing
from faqbot.sources.routes import (
    AnchorSlugger,
    heading_text,
    is_absolute_url,
    is_unsafe_link,
    join_url,
    resolve_route,
    unsafe_link_message,
)
from faqbot.sources.safe_yaml import DEFAULT_MAX_DEPTH, DEFAULT_MAX_EXPANSION, load_yaml
from faqbot.sources.scope import parse_scope
from faqbot.sources.text_safety import first_control, remove_controls

# Only the opening `#`s are matched here and the closing ones are cut in Python: the
# pattern `\s+(.+?)\s*#*\s*$` was cubic (`# a` + 2,000 spaces + `b` took 21 s).
_HEADING = re.compile(r"^(#{1,6})[ \t]++(\S.*)$")
_CLOSING_HASHES = re.compile(r"[ \t]#+$")
_FAQ_LINK_ITEM = re.compile(r"^\s*+(?:[-*+]|\d++[.)])\s++\[([^\[\]]+\?)\]\(([^()\s]+)\)\s*$")
_SECTION_LEVELS = (2, 3, 4)


@dataclass
class _Section:
    level: int
    heading: str
    anchor: str
    line: int
    lines: list[str] = field(default_factory=list)


def heading_of(line: str) -> tuple[int, str] | None:
    """(level, text) of an ATX heading line, its closing `#`s removed, or None."""
    heading = _HEADING.match(line)
    if heading is None:
        return None
    text = heading.group(2).rstrip()
    closed = _CLOSING_HASHES.sub("", text).rstrip()
    return len(heading.group(1)), closed or text


def _front_matter(
    lines: list[str], path: str, page: ParsedFile, max_depth: int, max_expansion: int
) -> tuple[dict, int]:
    """(front matter, number of lines it takes); problems reported with file lines."""
    problems = page.problems
    if not lines or lines[0].strip() != "---":
        return {}, 0
    for end in range(1, len(lines)):
        if lines[end].strip() in ("---", "..."):
            break
    else:
        problems.append(Problem(path, 1, "front matter starts with '---' but is never closed"))
        return {}, 0
    document, yaml_problems = load_yaml(
        "\n".join(lines[1:end]),
        path,
        what="front matter",
        first_line=2,
        max_depth=max_depth,
        max_expansion=max_expansion,
    )
    problems += yaml_problems
    if document is None:
        return {}, end + 1
    page.alias_expansion = document.expansion
    data = document.data or {}
    if not isinstance(data, dict):
        problems.append(Problem(path, 2, "front matter must be a mapping of keys to values"))
        return {}, end + 1
    return data, end + 1


def _clean_text(text: str, path: str, problems: list[Problem]) -> str:
    """The page without control characters and bidi overrides, which could spoof what members see."""
    text = text.replace("\r\n", "\n")
    first = first_control(text)
    if first is None:
        return text
    text, removed = remove_controls(text)
    line = text.count("\n", 0, first) + 1
    message = f"{removed} control or bidirectional-override character(s) removed (the first on this line)"
    problems.append(Problem(path, line, message, Severity.WARNING))
    return text


def _text_value(value: object, key: str, path: str, problems: list[Problem]) -> str | None:
    """A front matter value that must be text; numbers read as text, anything else is reported."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    problems.append(Problem(path, 1, f"front matter '{key}' must be text"))
    return None


def _string_list(value: object, key: str, path: str, problems: list[Problem]) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    problems.append(Problem(path, 1, f"front matter '{key}' must be a list of strings"))
    return []


def parse_markdown_page(
    text: str,
    path: str,
    route: str,
    group: str | None,
    base_url: str | None,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_expansion: int = DEFAULT_MAX_EXPANSION,
) -> ParsedFile:
    """Entries, taught phrasings and links of one Markdown file.

    `max_depth` and `max_expansion` bound its front matter (see `safe_yaml`)."""
    page = ParsedFile()
    lines = _clean_text(text, path, page.problems).split("\n")
    meta, body_start = _front_matter(lines, path, page, max_depth, max_expansion)

    intro: list[str] = []
    sections: list[_Section] = []
    title_from_h1: str | None = None
    slugger = AnchorSlugger()
    in_fence = False
    for number in range(body_start, len(lines)):
        line = lines[number]
        line_number = number + 1
        if line.strip().startswith(("```", "~~~")):
            in_fence = not in_fence
        heading = None if in_fence or is_mdc_slot_line(line) else heading_of(line)
        if heading:
            level, heading_markdown = heading
            if level == 1 and title_from_h1 is None and not sections:
                title_from_h1 = heading_text(heading_markdown)
                continue
            if level in _SECTION_LEVELS or level == 1:
                sections.append(
                    _Section(level, heading_text(heading_markdown), slugger.slug(heading_markdown), line_number)
                )
                continue
            line = f"**{heading_text(heading_markdown)}**"
        target = sections[-1].lines if sections else intro
        target.append(line)
        if not in_fence:
            _collect_links(line, line_number, route, path, page)

    file_title = path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    meta_title = _text_value(meta.get("title"), "title", path, page.problems)
    title = meta_title or title_from_h1 or re.sub(r"^\d+\.", "", file_title).replace("-", " ").title()
    public_link = meta.get("link")
    if public_link is not None and not isinstance(public_link, str):
        page.problems.append(Problem(path, 1, "front matter 'link' must be a URL or route"))
        public_link = None
    if public_link is not None and is_unsafe_link(public_link):
        page.problems.append(Problem(path, 1, unsafe_link_message(public_link)))
        public_link = None
    page_route_or_link = public_link or route

    def url_of(anchor: str | None) -> str | None:
        page_url = join_url(base_url, page_route_or_link)
        if page_url is None or anchor is None:
            return page_url
        return f"{page_url}#{anchor}"

    def rewrite(link: str) -> str:
        if is_absolute_url(link) or not base_url:
            return link
        return join_url(base_url, resolve_route(link, route)) or link

    questions = _string_list(meta.get("questions"), "questions", path, page.problems)
    questions += _string_list(meta.get("aliases"), "aliases", path, page.problems)
    tags = tuple(_string_list(meta.get("tags"), "tags", path, page.problems))
    # The page's scope and triggers; its sections share the scope (the triggers are the page's).
    scope, triggers = parse_scope(meta, path, lambda key: 1, page.problems)
    group_title = group or title
    page_id = route.strip("/") or "index"

    intro_text = clean_markdown("\n".join(intro), rewrite)
    description = _text_value(meta.get("description"), "description", path, page.problems) or ""
    own_texts = [clean_markdown("\n".join(s.lines), rewrite) for s in sections]
    page_answer = intro_text or description or next((t for t in own_texts if t), "")
    page.entries.append(
        Entry(
            id=page_id,
            title=title,
            answer=page_answer,
            route=route,
            url=url_of(None),
            group=group_title,
            path=path,
            line=1,
            phrasings=tuple(Phrasing(q, path, 1) for q in questions),
            tags=tags,
            # Only the page's own text: its sections' headings belong to the sections, and
            # listing them here made the page a rival of every section (vmst.io dev
            # questions: explicit 0.609 -> 0.619 plain, 0.741 -> 0.768 with the encoder).
            body=plain_text(f"{description}\n{intro_text}"),
            kind="page",
            scope=scope,
            triggers=triggers,
        )
    )
    for position, section in enumerate(sections):
        subtree = [own_texts[position]]
        for later in range(position + 1, len(sections)):
            if sections[later].level <= section.level:
                break
            subtree.append(f"**{sections[later].heading}**\n{own_texts[later]}")
        answer = own_texts[position] or "\n\n".join(t for t in subtree[1:] if t)
        if not answer.strip():
            page.problems.append(Problem(path, section.line, f"section '{section.heading}' is empty", Severity.WARNING))
            continue
        page.entries.append(
            Entry(
                id=f"{page_id}#{section.anchor}",
                title=f"{title} › {section.heading}",
                answer=answer,
                route=f"{route}#{section.anchor}",
                url=url_of(section.anchor),
                group=group_title,
                path=path,
                line=section.line,
                tags=tags,
                body=plain_text("\n".join(subtree)),
                kind="section",
                scope=scope,
            )
        )
    return page


def _collect_links(line: str, line_number: int, route: str, path: str, page: ParsedFile) -> None:
    faq_item = _FAQ_LINK_ITEM.match(line)
    if faq_item and not is_absolute_url(link_target(faq_item.group(2))):
        question, target = faq_item.group(1), resolve_route(link_target(faq_item.group(2)), route)
        page.taught.append(TaughtPhrasing(question, target, path, line_number))
    for _label, target in links_in(line):
        if is_unsafe_link(target):
            page.problems.append(Problem(path, line_number, unsafe_link_message(target)))
        elif not is_absolute_url(target):
            page.links.append(LinkReference(resolve_route(target, route), path, line_number))
