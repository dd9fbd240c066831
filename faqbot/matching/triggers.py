"""Triggers: patterns moderators give an entry for messages that must get it, such as a
pasted error message, whatever the matcher would make of them.

Patterns were checked when the knowledge loaded (`sources.scope`); here they are
compiled once per index with RE2, which matches in time linear in the text whatever the
pattern, and only the start of a long message is searched (a pasted log is long, the
error line is near its top)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from faqbot.sources.model import Entry
from faqbot.sources.scope import compile_trigger

SEARCHED_CHARS = 8_000


class TriggerIndex:
    """Every entry's triggers, in knowledge order: the first entry with a match wins."""

    def __init__(self, entries: Sequence[Entry]) -> None:
        self._patterns: list[tuple[Any, Entry]] = []
        for entry in entries:
            for trigger in entry.triggers:
                try:
                    self._patterns.append((compile_trigger(trigger.pattern), entry))
                except ValueError:
                    continue  # reported by the loader; never fire on what check refused

    def __len__(self) -> int:
        return len(self._patterns)

    def fire(self, text: str, allowed: Callable[[Entry], bool] = lambda entry: True) -> Entry | None:
        """The entry a trigger in `text` names, among those `allowed` here, or None."""
        if not self._patterns:
            return None
        searched = text[:SEARCHED_CHARS]
        for pattern, entry in self._patterns:
            if allowed(entry) and pattern.search(searched) is not None:
                return entry
        return None
