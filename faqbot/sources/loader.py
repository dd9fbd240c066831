"""Loading knowledge folders: every YAML and Markdown file, checked as a whole.

A broken file never stops the rest from loading; it is reported with file and
line. Whole-knowledge checks (duplicate ids and phrasings, links to routes the
knowledge does not have) run after every file is read.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from pathlib import Path

import yaml

from faqbot.matching.text import content_terms
from faqbot.sources.markdown_source import LinkReference, TaughtPhrasing, parse_markdown_page
from faqbot.sources.model import Entry, Knowledge, Phrasing, Problem
from faqbot.sources.routes import route_for
from faqbot.sources.yaml_source import parse_faq_file

MARKDOWN_SUFFIXES = (".md", ".markdown")
YAML_SUFFIXES = (".yml", ".yaml")
DEFAULT_KNOWLEDGE = Path(__file__).resolve().parents[2] / "knowledge"


def default_knowledge_path() -> Path:
    """The bundled knowledge: next to the package in a checkout, or /app/knowledge in the image."""
    for candidate in (DEFAULT_KNOWLEDGE, Path("/app/knowledge")):
        if candidate.is_dir():
            return candidate
    return DEFAULT_KNOWLEDGE


def _is_content_file(path: Path) -> bool:
    """Knowledge files; `_dir.yml`-style folder metadata and hidden files are not."""
    return not path.name.startswith(("_", ".")) and path.suffix.lower() in MARKDOWN_SUFFIXES + YAML_SUFFIXES


def _files_under(root: Path) -> Iterable[tuple[Path, str]]:
    """(file, path relative to root) for every knowledge file, in a stable order."""
    if root.is_file():
        yield root, root.name
        return
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(part.startswith((".", "_")) for part in relative.parts[:-1]):
            continue
        if path.is_file() and _is_content_file(path):
            yield path, relative.as_posix()


def _folder_title(folder: Path) -> str | None:
    """The title a site gives a folder in its `_dir.yml`, if any."""
    metadata = folder / "_dir.yml"
    if not metadata.is_file():
        return None
    try:
        data = yaml.safe_load(metadata.read_text(encoding="utf-8"))
    except (yaml.YAMLError, OSError, UnicodeDecodeError):
        return None
    return str(data["title"]) if isinstance(data, dict) and data.get("title") else None


def _display_path(path: Path) -> str:
    try:
        return path.resolve().relative_to(Path.cwd()).as_posix()
    except ValueError:
        return path.as_posix()


def load_knowledge(paths: Sequence[Path | str], base_url: str | None = None) -> Knowledge:
    """Load and check every knowledge file under `paths`."""
    knowledge = Knowledge(base_url=base_url)
    taught: list[TaughtPhrasing] = []
    links: list[LinkReference] = []
    for root in map(Path, paths):
        if not root.exists():
            knowledge.problems.append(Problem(str(root), 0, "knowledge folder or file not found"))
            continue
        for file, relative in _files_under(root):
            shown = _display_path(file)
            try:
                text = file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as error:
                knowledge.problems.append(Problem(shown, 1, f"cannot read file: {error}"))
                continue
            if file.suffix.lower() in YAML_SUFFIXES:
                faq = parse_faq_file(text, shown, base_url)
                knowledge.entries += faq.entries
                links += faq.links
                knowledge.problems += faq.problems
            else:
                folder_title = _folder_title(file.parent) if file.parent != root else None
                if folder_title is None and "/" in relative:
                    folder_title = relative.split("/", 1)[0].replace("-", " ").title()
                page = parse_markdown_page(text, shown, route_for(relative), folder_title, base_url)
                knowledge.entries += page.entries
                taught += page.taught
                links += page.links
                knowledge.problems += page.problems
    _drop_duplicate_ids(knowledge)
    _attach_taught_phrasings(knowledge, taught)
    _check_links(knowledge, links)
    _check_duplicate_phrasings(knowledge)
    return knowledge


def _drop_duplicate_ids(knowledge: Knowledge) -> None:
    first_seen: dict[str, Entry] = {}
    kept: list[Entry] = []
    for entry in knowledge.entries:
        earlier = first_seen.get(entry.id)
        if earlier is not None:
            knowledge.problems.append(
                Problem(
                    entry.path, entry.line, f"duplicate id '{entry.id}' (first used at {earlier.path}:{earlier.line})"
                )
            )
            continue
        first_seen[entry.id] = entry
        kept.append(entry)
    knowledge.entries = kept


def _routes(knowledge: Knowledge) -> dict[str, int]:
    """Routes the Markdown pages define (a YAML entry's link points at a route, it makes none)."""
    return {e.route: number for number, e in enumerate(knowledge.entries) if e.route and e.kind != "faq"}


def _attach_taught_phrasings(knowledge: Knowledge, taught: list[TaughtPhrasing]) -> None:
    routes = _routes(knowledge)
    for item in taught:
        number = routes.get(item.route) if item.route in routes else routes.get(item.route.rstrip("/") or "/")
        if number is None:
            continue  # reported by the link check
        entry = knowledge.entries[number]
        phrasing = Phrasing(item.question, item.path, item.line)
        knowledge.entries[number] = dataclasses.replace(entry, phrasings=(*entry.phrasings, phrasing))


def _check_links(knowledge: Knowledge, links: list[LinkReference]) -> None:
    routes = set(_routes(knowledge))
    pages = {route.split("#", 1)[0] for route in routes}
    if not pages:
        return
    for link in links:
        route = link.route.split("?", 1)[0]
        page, _, anchor = route.partition("#")
        page = page.rstrip("/") or "/"
        if page not in pages and not _looks_like_asset(page):
            knowledge.problems.append(
                Problem(link.path, link.line, f"link to '{link.route}', a page the knowledge does not have")
            )
        elif anchor and f"{page}#{anchor}" not in routes and page in pages:
            knowledge.problems.append(
                Problem(link.path, link.line, f"link to '{link.route}': page '{page}' has no section '#{anchor}'")
            )


def _looks_like_asset(route: str) -> bool:
    last = route.rsplit("/", 1)[-1]
    return "." in last and not last.endswith((".md", ".html"))


def _check_duplicate_phrasings(knowledge: Knowledge) -> None:
    """The same question on two entries makes the bot pick between them by chance."""
    owners: dict[tuple[str, ...], tuple[Entry, Phrasing]] = {}
    for entry in knowledge.entries:
        for phrasing in entry.phrasings:
            key = tuple(sorted(content_terms(phrasing.text)))
            if not key:
                continue
            owner = owners.get(key)
            if owner is None:
                owners[key] = (entry, phrasing)
            elif owner[0].id != entry.id:
                first_entry, first_phrasing = owner
                where = f"{first_phrasing.path}:{first_phrasing.line}"
                message = f"phrasing '{phrasing.text}' is also on entry '{first_entry.id}' ({where})"
                knowledge.problems.append(Problem(phrasing.path, phrasing.line, message))
