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
from faqbot.sources.markdown_source import parse_markdown_page
from faqbot.sources.model import (
    Entry,
    Knowledge,
    LinkReference,
    ParsedFile,
    Phrasing,
    Problem,
    Severity,
    TaughtPhrasing,
)
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


class KnowledgeLoader:
    """Loads knowledge folders again and again, never losing what last loaded well.

    A file that now has errors (a moderator mid-edit, a typo in YAML) is reported,
    and its last good version keeps serving until it is fixed; a file seen broken
    for the first time contributes whatever of it did load.
    """

    def __init__(self, paths: Sequence[Path | str], base_url: str | None = None) -> None:
        self.paths = [Path(p) for p in paths]
        self.base_url = base_url
        self._last_good: dict[str, ParsedFile] = {}

    def load(self) -> Knowledge:
        """Read and check every file now."""
        knowledge = Knowledge(base_url=self.base_url)
        taught: list[TaughtPhrasing] = []
        links: list[LinkReference] = []
        for root in self.paths:
            if not root.exists():
                knowledge.problems.append(Problem(str(root), 0, "knowledge folder or file not found"))
                continue
            for file, relative in _files_under(root):
                parsed = self._parse_or_last_good(file, relative, root)
                knowledge.entries += parsed.entries
                taught += parsed.taught
                links += parsed.links
                knowledge.problems += parsed.problems
        _drop_duplicate_ids(knowledge)
        _attach_taught_phrasings(knowledge, taught)
        _check_links(knowledge, links)
        _check_duplicate_phrasings(knowledge)
        return knowledge

    def _parse_or_last_good(self, file: Path, relative: str, root: Path) -> ParsedFile:
        shown = _display_path(file)
        parsed = _parse_file(file, relative, root, shown, self.base_url)
        if not any(p.severity is Severity.ERROR for p in parsed.problems):
            self._last_good[shown] = parsed
            return parsed
        last_good = self._last_good.get(shown)
        if last_good is None:
            return parsed
        note = Problem(shown, 0, "serving this file's last good version until it is fixed", Severity.WARNING)
        return ParsedFile(last_good.entries, last_good.taught, last_good.links, [*parsed.problems, note])


def _parse_file(file: Path, relative: str, root: Path, shown: str, base_url: str | None) -> ParsedFile:
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        return ParsedFile(problems=[Problem(shown, 1, f"cannot read file: {error}")])
    if file.suffix.lower() in YAML_SUFFIXES:
        return parse_faq_file(text, shown, base_url)
    folder_title = _folder_title(file.parent) if file.parent != root else None
    if folder_title is None and "/" in relative:
        folder_title = relative.split("/", 1)[0].replace("-", " ").title()
    return parse_markdown_page(text, shown, route_for(relative), folder_title, base_url)


def load_knowledge(paths: Sequence[Path | str], base_url: str | None = None) -> Knowledge:
    """Load and check every knowledge file under `paths`, once."""
    return KnowledgeLoader(paths, base_url).load()


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
