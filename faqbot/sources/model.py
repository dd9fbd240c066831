"""The knowledge model: what every source (YAML, Markdown) turns files into."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum

from faqbot.sources.text_safety import printable


class Severity(Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    """Something wrong in a knowledge file, located so a moderator can fix it."""

    path: str
    line: int
    message: str
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        """`file:line: message` on one line: a newline or bidi override in a file name or quoted
        text is shown escaped, so it cannot forge or disguise other lines of `faqbot check`."""
        prefix = "warning: " if self.severity is Severity.WARNING else ""
        return printable(f"{self.path}:{self.line}: {prefix}{self.message}")


@dataclass(frozen=True)
class Phrasing:
    """One way members ask for an entry, and where a moderator wrote it."""

    text: str
    path: str
    line: int


@dataclass(frozen=True)
class Trigger:
    """A pattern whose match in a message makes its entry the answer (see `sources.scope`)."""

    pattern: str
    path: str
    line: int


def channel_key(name: str) -> str:
    """A channel as scopes compare them: `#Help`, `help` and ` help ` are the same channel."""
    return name.strip().lstrip("#").casefold()


@dataclass(frozen=True)
class Scope:
    """Where an entry applies (`channels`, `not_channels`: ids or names; empty `channels`:
    everywhere) and whether plain chat may get it (`passive`). See `sources.scope`."""

    channels: tuple[str, ...] = ()
    not_channels: tuple[str, ...] = ()
    passive: bool = True

    def applies_in(self, conversation: Iterable[str]) -> bool:
        """Whether the entry may answer in a conversation known by these ids and names."""
        known = {channel_key(name) for name in conversation if name}
        if self.channels and not known & {channel_key(c) for c in self.channels}:
            return False
        return not known & {channel_key(c) for c in self.not_channels}


EVERYWHERE = Scope()


@dataclass(frozen=True)
class Entry:
    """One answerable thing: a YAML FAQ entry, a Markdown page or one of its sections.

    `route` is the site-relative path ("/about/threads#known-issues") or an absolute
    URL; `url` is what members get, once a base URL has been applied.
    """

    id: str
    title: str
    answer: str
    route: str | None
    url: str | None
    group: str
    path: str
    line: int
    phrasings: tuple[Phrasing, ...] = ()
    tags: tuple[str, ...] = ()
    body: str = ""
    kind: str = "faq"  # "faq", "page" or "section"
    scope: Scope = EVERYWHERE  # where it applies, and whether plain chat may get it
    triggers: tuple[Trigger, ...] = ()  # messages that must get it (see `sources.scope`)

    @property
    def questions(self) -> tuple[str, ...]:
        return tuple(p.text for p in self.phrasings)


@dataclass(frozen=True)
class LinkReference:
    """A site-relative link, to be checked against the routes the knowledge has."""

    route: str
    path: str
    line: int


@dataclass(frozen=True)
class TaughtPhrasing:
    """A question that a FAQ link list says the page or section at `route` answers."""

    question: str
    route: str
    path: str
    line: int


@dataclass(frozen=True)
class Extension:
    """Alternates for an entry defined elsewhere (`- extends: ID or route`), e.g. the phrasings
    moderators' corrections taught the bot, exported by `faqbot learned --export`."""

    target: str
    alternates: tuple[Phrasing, ...]
    path: str
    line: int


@dataclass
class ParsedFile:
    """What one knowledge file contributes, before whole-knowledge checks."""

    entries: list[Entry] = field(default_factory=list)
    taught: list[TaughtPhrasing] = field(default_factory=list)
    links: list[LinkReference] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    extensions: list[Extension] = field(default_factory=list)
    alias_expansion: int = 0
    """Characters YAML aliases added beyond the file's own text; they count towards the limits."""


@dataclass
class Knowledge:
    """Everything loaded from one or more knowledge folders."""

    entries: list[Entry] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    base_url: str | None = None

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.WARNING]

    def by_id(self, entry_id: str) -> Entry | None:
        for entry in self.entries:
            if entry.id == entry_id:
                return entry
        return None
