"""Learned phrasings: members' words that moderators pointed at an entry, used in matching.

A moderator's correction ("that message is asking about entry X") is a labelled
example. The store keeps it; the bot never writes it into the knowledge files, which
stay the moderators' own. Here those phrasings join their entries' phrasings for the
match index, so the running bot, `faqbot ask` and `faqbot eval` all answer the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import yaml

from faqbot.matching.text import content_terms
from faqbot.sources.model import Knowledge, Phrasing
from faqbot.store.interface import StoreMissing
from faqbot.store.records import LearnedPhrasing, phrasing_key

if TYPE_CHECKING:
    from faqbot.store.settings import StoreSettings

LEARNED_PATH = "(learned phrasing)"  # where a learned phrasing "is", in place of a file; its line is its id


@dataclass(frozen=True)
class AppliedPhrasings:
    """Knowledge with learned phrasings added, and those that could not be."""

    knowledge: Knowledge
    added: tuple[LearnedPhrasing, ...]
    orphaned: tuple[LearnedPhrasing, ...]  # their entry is no longer in the knowledge
    already_known: tuple[LearnedPhrasing, ...]  # the knowledge files already have that wording


def apply_learned(knowledge: Knowledge, learned: Sequence[LearnedPhrasing]) -> AppliedPhrasings:
    """`knowledge` with each learned phrasing added to its entry's phrasings.

    A wording the files already have (on any entry) is left out: the files are the
    moderators' word and win. A phrasing whose entry is gone stays in the store,
    reported as orphaned, and comes back into use if the entry does."""
    known = {phrasing_key(text) for entry in knowledge.entries for text in (entry.title, *entry.questions)}
    by_entry: dict[str, list[Phrasing]] = {}
    ids = {entry.id for entry in knowledge.entries}
    added, orphaned, already = [], [], []
    for phrasing in learned:
        key = phrasing_key(phrasing.text)
        if phrasing.entry_id not in ids:
            orphaned.append(phrasing)
        elif not key or key in known:
            already.append(phrasing)
        else:
            known.add(key)
            by_entry.setdefault(phrasing.entry_id, []).append(Phrasing(phrasing.text, LEARNED_PATH, phrasing.id))
            added.append(phrasing)
    entries = [
        replace(entry, phrasings=(*entry.phrasings, *by_entry[entry.id])) if entry.id in by_entry else entry
        for entry in knowledge.entries
    ]
    return AppliedPhrasings(
        replace(knowledge, entries=entries, problems=list(knowledge.problems)),
        tuple(added),
        tuple(orphaned),
        tuple(already),
    )


def read_learned(settings: StoreSettings) -> list[LearnedPhrasing]:
    """The learned phrasings for a dry run (`faqbot ask`, `faqbot eval`): the store is opened
    read-only (nothing recorded, migrated or deleted); none when no store exists yet.
    Other `StoreError`s are the caller's to report (the dry run can go on without)."""
    try:
        store = settings.open(read_only=True)
    except StoreMissing:
        return []
    try:
        return store.learned_phrasings()
    finally:
        store.close()


def format_time(at: float) -> str:
    """A stored time as ISO 8601 UTC."""
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def learned_json(learned: Sequence[LearnedPhrasing], knowledge: Knowledge | None = None) -> dict[str, Any]:
    """`faqbot learned --json`: {"learned": [{"id", "text", "entry", "added", "platform",
    "entry_exists"}, ...]}; `entry_exists` is null when no knowledge is given."""
    ids = {entry.id for entry in knowledge.entries} if knowledge is not None else None
    return {
        "learned": [
            {
                "id": p.id,
                "text": p.text,
                "entry": p.entry_id,
                "added": format_time(p.at),
                "platform": p.platform,
                "entry_exists": None if ids is None else p.entry_id in ids,
            }
            for p in learned
        ]
    }


def learned_text(learned: Sequence[LearnedPhrasing], knowledge: Knowledge | None = None) -> str:
    """`faqbot learned`: one line per phrasing, with the id `--forget ID` takes."""
    if not learned:
        return "No learned phrasings: moderators' corrections in chat add them."
    ids = {entry.id for entry in knowledge.entries} if knowledge is not None else None
    lines = []
    for p in learned:
        gone = "  (entry no longer in the knowledge)" if ids is not None and p.entry_id not in ids else ""
        lines.append(f"{p.id:>5}  {format_time(p.at)[:10]}  “{p.text}” → {p.entry_id}{gone}")
    lines.append("")
    lines.append("`faqbot learned --forget ID` deletes one.")
    return "\n".join(lines)


def export_yaml(learned: Sequence[LearnedPhrasing], knowledge: Knowledge, today: str) -> str:
    """`faqbot learned --export`: one YAML file of `extends` items that moderators review and
    commit into the knowledge folder, so the files alone answer what the store taught.

    Only what `faqbot check` will accept is exported: phrasings of entries that still exist,
    whose wording no entry of the files already has (as the duplicate-phrasing check reads
    wordings), each once."""
    taken = {_check_key(text) for entry in knowledge.entries for text in (entry.title, *entry.questions)}
    ids = {entry.id for entry in knowledge.entries}
    by_entry: dict[str, list[str]] = {}
    for phrasing in sorted(learned, key=lambda p: (p.entry_id, p.at, p.id)):
        key = _check_key(phrasing.text)
        if phrasing.entry_id not in ids or not key or key in taken:
            continue
        taken.add(key)
        by_entry.setdefault(phrasing.entry_id, []).append(" ".join(phrasing.text.split()))
    header = (
        f"# Learned phrasings, exported by `faqbot learned --export` on {today}: members' words that\n"
        "# moderators pointed at these entries. Review them, then commit this file to the knowledge\n"
        "# folder; `faqbot check` validates it. Each item adds ways of asking to an entry defined elsewhere.\n"
    )
    items = [{"extends": entry_id, "alternates": texts} for entry_id, texts in sorted(by_entry.items())]
    if not items:
        return header + "[]\n"
    return header + yaml.safe_dump(items, allow_unicode=True, sort_keys=False, width=1000)


def _check_key(text: str) -> tuple[str, ...]:
    """A wording as `faqbot check`'s duplicate-phrasing rule compares them."""
    return tuple(sorted(content_terms(text)))
