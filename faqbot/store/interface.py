"""The one interface every store implements, and the errors it raises.

Callers (the background recorder, the reports, the chat adapters' moderator
commands) depend on `Store` only; `open_store` picks the engine. Every method is a
plain blocking call: from an event loop, writes go through `BackgroundRecorder` and
reads run in a thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from faqbot.store.records import AnswerRecord, EntryCounts, GapRecord, Interaction, LearnedPhrasing, OutcomeCounts

DEFAULT_RETENTION_DAYS = 90.0


class StoreError(Exception):
    """The store refused an operation for a reason that retrying will not fix (a newer
    schema, a corrupt file, bad data). Messages never contain a database password."""


class StoreUnavailable(StoreError):
    """The store is down, locked or full right now: retrying later may succeed."""


class StoreMissing(StoreError):
    """A read-only open found no store (nothing was ever recorded there)."""


class Store(Protocol):
    """What the bot answered and missed, feedback on answers, learned phrasings and
    per-room settings, for every platform. Records older than `retention_days` are
    deleted by `apply_retention`; `since_days` arguments look back that many days
    (None: everything kept)."""

    retention_days: float

    def now(self) -> float:
        """The store's clock (seconds since the epoch); injectable for tests."""
        ...

    # -- writing --------------------------------------------------------------

    def record_interaction(self, interaction: Interaction) -> int:
        """Store one handled question; returns its record id."""
        ...

    def rate(
        self,
        platform: str,
        reply_id: str,
        user_id: str,
        helpful: bool | None,
        at: float | None = None,
        given_by: str | None = None,
    ) -> bool:
        """A member's 👍 (True) or 👎 (False) on the reply `reply_id`, or None to take it
        back; one rating per member per reply. `given_by` names what gave it (a Matrix
        reaction's digest, an emoji): taken back with a `given_by`, only a rating it gave goes, so
        removing a 👍 does not take back the 👎 that replaced it. False when no such reply
        is recorded."""
        ...

    def take_back_ratings(self, platform: str, given_by: Sequence[str]) -> int:
        """The reactions `given_by` (as `rate` was given them) were redacted: the ratings they gave go, where they
        still stand; how many went. Needs neither the reply nor the member, which a redaction does
        not name."""
        ...

    def mark_removed(self, platform: str, reply_id: str, at: float | None = None) -> bool:
        """The reply `reply_id` was removed (by its asker or a moderator)."""
        ...

    def mark_handed_off(self, platform: str, reply_id: str, at: float | None = None) -> bool:
        """The poster of the help post `reply_id` answered asked for a human (`find_reply` says so
        after a restart, so helpers are told once per post)."""
        ...

    def learn_phrasing(
        self,
        text: str,
        entry_id: str,
        *,
        platform: str | None = None,
        conversation_id: str | None = None,
        message_id: str | None = None,
        at: float | None = None,
    ) -> int:
        """Keep a member's words as a phrasing of `entry_id` (a moderator's correction);
        the same wording learned again points at the newer entry. Returns its id."""
        ...

    def forget_phrasing(self, phrasing_id: int) -> bool:
        """Delete one learned phrasing; False when there is none with that id."""
        ...

    def set_passive(self, platform: str, conversation_id: str, enabled: bool, at: float | None = None) -> None:
        """Passive answers on or off in one room, as a moderator set it in chat."""
        ...

    def apply_retention(self) -> int:
        """Delete what is older than the retention period; returns the records deleted."""
        ...

    # -- reading --------------------------------------------------------------

    def find_reply(self, platform: str, reply_id: str) -> AnswerRecord | None:
        """The record of the bot's reply `reply_id`, if it is kept."""
        ...

    def is_asker(self, platform: str, reply_id: str, user_id: str) -> bool:
        """Whether `user_id` asked the question that `reply_id` answers."""
        ...

    def learned_phrasings(self) -> list[LearnedPhrasing]:
        """Every learned phrasing, oldest first."""
        ...

    def passive_settings(self, platform: str) -> dict[str, bool]:
        """Rooms of `platform` where a moderator turned passive answers on or off."""
        ...

    def gap_records(
        self, since_days: float | None = None, platform: str | None = None, conversation_id: str | None = None
    ) -> list[GapRecord]:
        """Questions left unanswered, silent-but-question, suggested-only, rated down
        (more 👎 than 👍) or removed, newest first, excluding those a moderator corrected;
        only one conversation's when `platform` and `conversation_id` are given."""
        ...

    def entry_counts(self, since_days: float | None = None) -> list[EntryCounts]:
        """Per entry: answers given (passive, asked), 👍, 👎 and removals."""
        ...

    def outcome_counts(self, since_days: float | None = None) -> OutcomeCounts:
        """How recorded questions ended, for the overall answer rate."""
        ...

    def close(self) -> None:
        """Release the connection; the store cannot be used afterwards."""
        ...
