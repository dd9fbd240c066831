"""YAML FAQ files: a list of entries, each `question` + `answer` (Markdown) and
optionally `id`, `alternates`, `link`, `tags`; or `extends` (an entry's id or a page's
route, defined in another file) + `alternates`, which adds ways of asking to that entry."""

from __future__ import annotations

from typing import Any

import yaml

from faqbot.sources.markdown_clean import clean_markdown, links_in, plain_text
from faqbot.sources.model import Entry, Extension, LinkReference, ParsedFile, Phrasing, Problem, Severity
from faqbot.sources.routes import (
    is_absolute_url,
    is_unsafe_link,
    join_url,
    resolve_route,
    slugify,
    unsafe_link_message,
)
from faqbot.sources.safe_yaml import DEFAULT_MAX_DEPTH, DEFAULT_MAX_EXPANSION, BoundedSafeLoader, load_yaml
from faqbot.sources.scope import SCOPE_KEYS, parse_scope

KNOWN_KEYS = frozenset({"id", "question", "answer", "alternates", "link", "tags"}) | SCOPE_KEYS
EXTENSION_KEYS = frozenset({"extends", "alternates"})


class LineNumberLoader(BoundedSafeLoader):
    """A bounded safe loader that records each mapping's line (`__line__`) and its keys' (`__key_lines__`)."""


def _construct_mapping(loader: LineNumberLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping = loader.construct_mapping(node, deep=True)
    mapping["__line__"] = node.start_mark.line + 1
    mapping["__key_lines__"] = {
        key_node.value: key_node.start_mark.line + 1
        for key_node, _ in node.value
        if isinstance(key_node, yaml.ScalarNode)
    }
    return mapping


LineNumberLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def group_title_for(stem: str) -> str:
    return "FAQ" if stem.lower() in ("faq", "faqs") else stem.replace("-", " ").replace("_", " ").title()


def _as_text(value: object) -> str | None:
    """Text, or a number written as text; None for anything else, and for an int too long for
    Python to write out (`0b` and 20,000 ones), which raised ValueError."""
    if isinstance(value, str):
        return value
    if not isinstance(value, int | float):
        return None
    try:
        return str(value)
    except ValueError:
        return None


def _strings(value: object) -> list[str] | None:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    texts = [_as_text(v) for v in value] if isinstance(value, list) else [None]
    return None if None in texts else texts  # type: ignore[return-value]


def parse_faq_file(
    text: str,
    path: str,
    base_url: str | None,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_expansion: int = DEFAULT_MAX_EXPANSION,
) -> ParsedFile:
    """Entries of one YAML FAQ file; malformed items are reported and skipped.

    `max_depth` and `max_expansion` bound the YAML (see `safe_yaml`)."""
    parsed = ParsedFile()
    document, parsed.problems = load_yaml(
        text, path, loader_class=LineNumberLoader, max_depth=max_depth, max_expansion=max_expansion
    )
    if document is None:
        return parsed
    parsed.alias_expansion = document.expansion
    data = document.data
    if data is None:
        parsed.problems.append(Problem(path, 1, "file has no entries", Severity.WARNING))
        return parsed
    if not isinstance(data, list):
        parsed.problems.append(Problem(path, 1, "a FAQ file must be a list of entries ('- question: ...')"))
        return parsed
    group = group_title_for(path.rsplit("/", 1)[-1].rsplit(".", 1)[0])
    for item in data:
        if isinstance(item, dict) and "extends" in item:
            _extension_from_item(item, path, parsed)
            continue
        entry = _entry_from_item(item, path, group, base_url, parsed)
        if entry is not None:
            parsed.entries.append(entry)
    return parsed


def _extension_from_item(item: dict[str, Any], path: str, parsed: ParsedFile) -> None:
    """`- extends: funding` + `alternates: [...]`: ways of asking for an entry defined elsewhere."""
    line = item.pop("__line__")
    key_lines: dict[str, int] = item.pop("__key_lines__")
    for key in item:
        if key not in EXTENSION_KEYS:
            message = f"'{key}' does not belong in an 'extends' item (only 'alternates' does)"
            parsed.problems.append(Problem(path, key_lines.get(key, line), message))
            return
    target = _as_text(item.get("extends"))
    if target is None or not target.strip():
        parsed.problems.append(Problem(path, key_lines.get("extends", line), "'extends' must be an entry id or route"))
        return
    alternates = _strings(item.get("alternates"))
    if not alternates:
        message = "an 'extends' item needs 'alternates': the ways of asking to add"
        parsed.problems.append(Problem(path, key_lines.get("alternates", line), message))
        return
    alternate_line = key_lines.get("alternates", line)
    phrasings = tuple(Phrasing(a.strip(), path, alternate_line) for a in alternates if a.strip())
    parsed.extensions.append(Extension(target.strip(), phrasings, path, key_lines.get("extends", line)))


def _entry_from_item(item: object, path: str, group: str, base_url: str | None, parsed: ParsedFile) -> Entry | None:
    if not isinstance(item, dict):
        parsed.problems.append(Problem(path, 1, "each entry must be a mapping with 'question' and 'answer'"))
        return None
    line = item.pop("__line__")
    key_lines: dict[str, int] = item.pop("__key_lines__")
    problems = parsed.problems

    def fail(message: str, key: str | None = None) -> None:
        problems.append(Problem(path, key_lines.get(key, line) if key else line, message))

    for key in item:
        if key not in KNOWN_KEYS:
            problems.append(Problem(path, key_lines.get(key, line), f"unknown key '{key}' (ignored)", Severity.WARNING))
    question, answer = item.get("question"), item.get("answer")
    if not isinstance(question, str) or not question.strip():
        fail("entry is missing a 'question'" if question is None else "'question' must be text", "question")
        return None
    if answer is None or (isinstance(answer, str) and not answer.strip()):
        fail(f"entry '{question}' is missing an 'answer'", "answer")
        return None
    answer = _as_text(answer)
    if answer is None:
        fail("'answer' must be text (Markdown)", "answer")
        return None
    alternates, tags = _strings(item.get("alternates")), _strings(item.get("tags"))
    if alternates is None:
        fail("'alternates' must be a list of phrasings", "alternates")
        return None
    if tags is None:
        fail("'tags' must be a list of words", "tags")
        return None
    entry_id = _as_text(item.get("id", slugify(question)))
    if entry_id is None or not entry_id.strip():
        fail("'id' must be a short text", "id")
        return None
    link = item.get("link")
    if link is not None and not isinstance(link, str):
        fail("'link' must be a URL or a route such as /about/threads", "link")
        return None
    if link and is_unsafe_link(link):
        fail(unsafe_link_message(link), "link")
        link = None
    if link and not is_absolute_url(link):
        parsed.links.append(LinkReference(link, path, key_lines.get("link", line)))
    for _label, target in links_in(str(answer)):
        if is_unsafe_link(target):
            fail(unsafe_link_message(target), "answer")
        elif not is_absolute_url(target):
            parsed.links.append(LinkReference(resolve_route(target, "/"), path, key_lines.get("answer", line)))

    def rewrite(target: str) -> str:
        if is_absolute_url(target) or not base_url:
            return target
        return join_url(base_url, resolve_route(target, "/")) or target

    answer_text = clean_markdown(str(answer), rewrite)
    scope, triggers = parse_scope(item, path, lambda key: key_lines.get(key, line), problems)
    alternate_line = key_lines.get("alternates", line)
    phrasings = (
        Phrasing(question.strip(), path, key_lines.get("question", line)),
        *(Phrasing(a.strip(), path, alternate_line) for a in alternates if a.strip()),
    )
    return Entry(
        id=str(entry_id).strip(),
        title=question.strip(),
        answer=answer_text,
        route=link or None,
        url=join_url(base_url, link) if link else None,
        group=group,
        path=path,
        line=line,
        phrasings=phrasings,
        tags=tuple(tags),
        body=plain_text(answer_text),
        kind="faq",
        scope=scope,
        triggers=triggers,
    )
