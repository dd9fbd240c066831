"""Loading knowledge folders: every YAML and Markdown file, checked as a whole.

A broken file never stops the rest from loading; it is reported with file and
line. Whole-knowledge checks (duplicate ids and phrasings, links to routes the
knowledge does not have) run after every file is read.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Sequence
from pathlib import Path

from faqbot.matching.text import content_terms
from faqbot.sources.files import (
    FOLDER_METADATA,
    MARKDOWN_SUFFIXES,
    YAML_SUFFIXES,
    FoundFile,
    Refusal,
    RefusedFile,
    read_knowledge_file,
    walk_knowledge,
)
from faqbot.sources.limits import KnowledgeLimits, TextBudget
from faqbot.sources.markdown_source import parse_markdown_page
from faqbot.sources.model import (
    Entry,
    Extension,
    Knowledge,
    LinkReference,
    ParsedFile,
    Phrasing,
    Problem,
    Severity,
    TaughtPhrasing,
)
from faqbot.sources.routes import route_for
from faqbot.sources.safe_yaml import load_yaml
from faqbot.sources.yaml_source import parse_faq_file

__all__ = ["MARKDOWN_SUFFIXES", "YAML_SUFFIXES", "KnowledgeLoader", "load_knowledge"]

log = logging.getLogger(__name__)

_LAST_GOOD_NOTE = "serving this file's last good version until it is fixed"

FileKey = tuple[str, str]  # (knowledge root as given, path relative to it)


def _display_path(path: Path) -> str:
    """The path as found, relative to the working folder when inside it; links are not resolved,
    so a refused link shows its own name, never where it points."""
    absolute = os.path.abspath(path)
    try:
        return Path(absolute).relative_to(Path.cwd()).as_posix()
    except ValueError:
        return Path(absolute).as_posix()


class KnowledgeLoader:
    """Loads knowledge folders again and again, never losing what last loaded well.

    A file that now has errors (a moderator mid-edit, a typo in YAML) or is now
    refused (a link out of the folder, over a limit) is reported, and its last good
    version keeps serving until it is fixed; so do files under a folder that is now
    refused, or past the file limit, since nobody looked whether they still exist. A
    file seen broken for the first time contributes whatever of it did load.
    """

    def __init__(
        self, paths: Sequence[Path | str], base_url: str | None = None, limits: KnowledgeLimits | None = None
    ) -> None:
        self.paths = [Path(p) for p in paths]
        self.base_url = base_url
        self.limits = limits or KnowledgeLimits()
        self._last_good: dict[FileKey, ParsedFile] = {}
        self._last_good_titles: dict[FileKey, str] = {}

    def load(self) -> Knowledge:
        """Read and check every file now."""
        knowledge = Knowledge(base_url=self.base_url)
        load = _Load(self)
        for root in self.paths:
            if not root.exists():
                knowledge.problems.append(Problem(_display_path(root), 0, "knowledge folder or file not found"))
                continue
            load.read_root(root)
        self._last_good, self._last_good_titles = load.last_good, load.titles
        taught = [t for parsed in load.files for t in parsed.taught]
        extensions = [x for parsed in load.files for x in parsed.extensions]
        links = [link for parsed in load.files for link in parsed.links]
        for parsed in load.files:
            knowledge.entries += parsed.entries
            knowledge.problems += parsed.problems
        _drop_duplicate_ids(knowledge)
        _attach_taught_phrasings(knowledge, taught)
        _attach_extensions(knowledge, extensions)
        _check_links(knowledge, links)
        _check_duplicate_phrasings(knowledge)
        return knowledge


class _Load:
    """One pass over the knowledge: what each file contributes, within one total budget."""

    def __init__(self, loader: KnowledgeLoader) -> None:
        self.loader = loader
        self.limits = loader.limits
        self.budget = TextBudget(loader.limits)
        self.files: list[ParsedFile] = []
        self.last_good: dict[FileKey, ParsedFile] = {}
        self.titles: dict[FileKey, str] = {}
        self.root_key = ""

    def read_root(self, root: Path) -> None:
        self.root_key = root_key = str(root)
        seen: set[str] = set()
        unvisited: list[str] = []
        for item in walk_knowledge(root, self.limits):
            if isinstance(item, Refusal) and item.unvisited is not None:
                unvisited.append(item.unvisited)
                self._refused(item)
                continue
            seen.add(item.relative)
            if isinstance(item, Refusal):
                self._refused(item)
            elif item.is_folder_metadata:
                self._read_folder_title(item)
            else:
                self._read_file(item)
        for (key_root, relative), parsed in self.loader._last_good.items():
            if key_root == root_key and relative not in seen and any(relative.startswith(p) for p in unvisited):
                self._serve_last_good((root_key, relative), _display_path(root / relative), parsed, [])

    def _refused(self, refusal: Refusal) -> None:
        shown = _display_path(refusal.path)
        problem = Problem(shown, 0 if refusal.unvisited is not None else 1, refusal.reason, refusal.severity)
        if refusal.unvisited is not None:
            self._report([problem])
        elif refusal.path.name == FOLDER_METADATA:
            self._report([problem])
            self._keep_last_good_title(_folder_of(refusal.relative), shown)
        else:
            self._parsed_or_last_good(refusal.relative, shown, ParsedFile(problems=[problem]))

    def _read_text(self, found: FoundFile) -> tuple[str | None, Problem | None, int]:
        """(text, None, what the file may add beyond its text) or (None, why it was refused, 0)."""
        allowance = self.budget.for_next_file()
        try:
            text = read_knowledge_file(found, allowance)
        except RefusedFile as refused:
            reason = str(refused)
            if allowance < self.limits.max_file_bytes:
                reason += f" (what is left of the limit of {self.limits.max_total_bytes:,} bytes for all knowledge)"
            return None, Problem(_display_path(found.path), 1, reason), 0
        self.budget.spend(len(text))
        return text, None, allowance - len(text)

    def _read_file(self, found: FoundFile) -> None:
        shown = _display_path(found.path)
        text, refused, allowance = self._read_text(found)
        if text is None:
            self._parsed_or_last_good(found.relative, shown, ParsedFile(problems=[refused] if refused else []))
            return
        try:
            parsed = self._parse(text, found, shown, allowance)
        except Exception as error:  # a parser bug must cost one file, never the bot
            log.exception("knowledge: parsing %s failed", shown)
            message = f"could not be parsed ({type(error).__name__}); this is a faqbot bug, please report it"
            parsed = ParsedFile(problems=[Problem(shown, 1, message)])
        self.budget.spend(parsed.alias_expansion)
        self._parsed_or_last_good(found.relative, shown, parsed)

    def _parse(self, text: str, found: FoundFile, shown: str, allowance: int) -> ParsedFile:
        bounds = {"max_depth": self.limits.max_yaml_depth, "max_expansion": allowance}
        if found.path.suffix.lower() in YAML_SUFFIXES:
            return parse_faq_file(text, shown, self.loader.base_url, **bounds)
        relative = found.relative
        folder = _folder_of(relative)
        folder_title = self.titles.get((self.root_key, folder)) if folder else None
        if folder_title is None and folder:
            folder_title = relative.split("/", 1)[0].replace("-", " ").title()
        route = route_for(relative)
        return parse_markdown_page(text, shown, route, folder_title, self.loader.base_url, **bounds)

    def _read_folder_title(self, found: FoundFile) -> None:
        """The title a site gives a folder in its `_dir.yml`; a broken one keeps its last good title."""
        key = (self.root_key, _folder_of(found.relative))
        shown = _display_path(found.path)
        text, refused, allowance = self._read_text(found)
        problems = [refused] if refused is not None else []
        title = None
        if text is not None:
            document, yaml_problems = load_yaml(
                text, shown, max_depth=self.limits.max_yaml_depth, max_expansion=allowance
            )
            problems += yaml_problems
            if document is not None:
                self.budget.spend(document.expansion)
                value = document.data.get("title") if isinstance(document.data, dict) else None
                if isinstance(value, str | int | float) and not isinstance(value, bool) and str(value).strip():
                    title = str(value)
                elif value is not None:
                    problems.append(Problem(shown, 1, "'title' must be text"))
        self._report(problems)
        if title is not None:
            self.titles[key] = title
        elif any(p.severity is Severity.ERROR for p in problems):
            self._keep_last_good_title(key[1], shown)

    def _keep_last_good_title(self, folder: str, shown: str) -> None:
        title = self.loader._last_good_titles.get((self.root_key, folder))
        if title is not None:
            self.titles[(self.root_key, folder)] = title
            self._report([Problem(shown, 0, "keeping this folder's last good title", Severity.WARNING)])

    def _report(self, problems: list[Problem]) -> None:
        """Problems of no file's entries, kept in walk order with everything else."""
        if problems:
            self.files.append(ParsedFile(problems=problems))

    def _parsed_or_last_good(self, relative: str, shown: str, parsed: ParsedFile) -> None:
        key = (self.root_key, relative)
        if not any(p.severity is Severity.ERROR for p in parsed.problems):
            self.last_good[key] = parsed
            self.files.append(parsed)
            return
        last_good = self.loader._last_good.get(key)
        if last_good is None:
            self.files.append(parsed)
            return
        self._serve_last_good(key, shown, last_good, parsed.problems)

    def _serve_last_good(self, key: FileKey, shown: str, last_good: ParsedFile, problems: list[Problem]) -> None:
        self.last_good[key] = last_good
        note = Problem(shown, 0, _LAST_GOOD_NOTE, Severity.WARNING)
        self.files.append(dataclasses.replace(last_good, problems=[*problems, note]))


def _folder_of(relative: str) -> str:
    return relative.rsplit("/", 1)[0] if "/" in relative else ""


def load_knowledge(
    paths: Sequence[Path | str], base_url: str | None = None, limits: KnowledgeLimits | None = None
) -> Knowledge:
    """Load and check every knowledge file under `paths`, once."""
    return KnowledgeLoader(paths, base_url, limits).load()


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
    # Gathered first and attached once per entry: a copy per phrasing was quadratic
    # (50,000 FAQ-list items pointing at one page).
    gathered: dict[int, list[Phrasing]] = {}
    for item in taught:
        number = routes.get(item.route) if item.route in routes else routes.get(item.route.rstrip("/") or "/")
        if number is None:
            continue  # reported by the link check
        gathered.setdefault(number, []).append(Phrasing(item.question, item.path, item.line))
    for number, phrasings in gathered.items():
        entry = knowledge.entries[number]
        knowledge.entries[number] = dataclasses.replace(entry, phrasings=(*entry.phrasings, *phrasings))


def _attach_extensions(knowledge: Knowledge, extensions: list[Extension]) -> None:
    """`extends` items: their alternates join the entry with that id, or the page or section at
    that route; one that names nothing the knowledge has is an error, at its line."""
    by_id = {entry.id: number for number, entry in enumerate(knowledge.entries)}
    routes = _routes(knowledge)
    gathered: dict[int, list[Phrasing]] = {}
    for extension in extensions:
        target = extension.target
        number = by_id.get(target)
        if number is None:
            number = routes.get(target) if target in routes else routes.get(target.rstrip("/") or "/")
        if number is None:
            message = f"extends '{target}', which is no entry id or page route of the knowledge"
            knowledge.problems.append(Problem(extension.path, extension.line, message))
            continue
        gathered.setdefault(number, []).extend(extension.alternates)
    for number, phrasings in gathered.items():
        entry = knowledge.entries[number]
        knowledge.entries[number] = dataclasses.replace(entry, phrasings=(*entry.phrasings, *phrasings))


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
