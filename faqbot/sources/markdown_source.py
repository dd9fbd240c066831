"""A Markdown page becomes one entry for the page and one per H2/H3/H4 section.

Front matter may set `title`, `description`, `link` (the page's public URL, when
it differs from base URL + route), `questions`/`aliases` (phrasings) and `tags`.
A list item whose link text is a question (`- [Do you block Threads?](/about/threads)`)
teaches that phrasing to the page or section it links to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import yaml

from faqbot.sources.markdown_clean import clean_markdown, is_mdc_slot_line, links_in, plain_text
from faqbot.sources.model import Entry, LinkReference, ParsedFile, Phrasing, Problem, Severity, TaughtPhrasing
from faqbot.sources.routes import AnchorSlugger, heading_text, is_absolute_url, join_url, resolve_route

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FAQ_LINK_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+\[([^\]]+\?)\]\(([^)\s]+)\)\s*$")
_SECTION_LEVELS = (2, 3, 4)


@dataclass
class _Section:
    level: int
    heading: str
    anchor: str
    line: int
    lines: list[str] = field(default_factory=list)


def _front_matter(text: str, path: str, problems: list[Problem]) -> tuple[dict, int]:
    """(front matter, number of lines it takes); problems reported with file lines."""
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        return {}, 0
    for end in range(1, len(lines)):
        if lines[end].strip() in ("---", "..."):
            break
    else:
        problems.append(Problem(path, 1, "front matter starts with '---' but is never closed"))
        return {}, 0
    try:
        data = yaml.safe_load("\n".join(lines[1:end])) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = 2 + mark.line if mark is not None else 1
        reason = getattr(error, "problem", None) or str(error)
        problems.append(Problem(path, line, f"malformed front matter: {reason}"))
        return {}, end + 1
    if not isinstance(data, dict):
        problems.append(Problem(path, 2, "front matter must be a mapping of keys to values"))
        return {}, end + 1
    return data, end + 1


def _string_list(value: object, key: str, path: str, problems: list[Problem]) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    problems.append(Problem(path, 1, f"front matter '{key}' must be a list of strings"))
    return []


def parse_markdown_page(text: str, path: str, route: str, group: str | None, base_url: str | None) -> ParsedFile:
    """Entries, taught phrasings and links of one Markdown file."""
    page = ParsedFile()
    meta, body_start = _front_matter(text, path, page.problems)
    lines = text.split("\n")

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
        heading = None if in_fence or is_mdc_slot_line(line) else _HEADING.match(line)
        if heading:
            level, heading_markdown = len(heading.group(1)), heading.group(2)
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
    title = str(meta.get("title") or title_from_h1 or re.sub(r"^\d+\.", "", file_title).replace("-", " ").title())
    public_link = meta.get("link")
    if public_link is not None and not isinstance(public_link, str):
        page.problems.append(Problem(path, 1, "front matter 'link' must be a URL or route"))
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
    group_title = group or title
    page_id = route.strip("/") or "index"

    intro_text = clean_markdown("\n".join(intro), rewrite)
    description = meta.get("description") if isinstance(meta.get("description"), str) else ""
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
            )
        )
    return page


def _collect_links(line: str, line_number: int, route: str, path: str, page: ParsedFile) -> None:
    faq_item = _FAQ_LINK_ITEM.match(line)
    if faq_item and not is_absolute_url(faq_item.group(2)):
        question, target = faq_item.group(1), resolve_route(faq_item.group(2), route)
        page.taught.append(TaughtPhrasing(question, target, path, line_number))
    for _label, target in links_in(line):
        if not is_absolute_url(target) and not target.startswith("mailto:"):
            page.links.append(LinkReference(resolve_route(target, route), path, line_number))
