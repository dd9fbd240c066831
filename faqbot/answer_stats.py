"""`faqbot stats`: per entry, answers given (passive / asked), removals, 👍 and 👎,
and the overall answer rate, from the store."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from faqbot.store.records import EntryCounts, OutcomeCounts, RecordOutcome

if TYPE_CHECKING:
    from faqbot.store.interface import Store


def answer_rate(counts: dict[RecordOutcome, int]) -> float | None:
    """Share of recorded questions that got an entry's answer: the one definition.
    Suggestions, "no answer" replies and passive silence all count as not answered.
    None when nothing was recorded."""
    total = sum(counts.values())
    return counts.get(RecordOutcome.ANSWERED, 0) / total if total else None


@dataclass(frozen=True)
class StatsReport:
    entries: tuple[EntryCounts, ...]
    outcomes: OutcomeCounts
    since_days: float

    @property
    def overall_answer_rate(self) -> float | None:
        combined = dict(self.outcomes.asked)
        for outcome, count in self.outcomes.passive.items():
            combined[outcome] = combined.get(outcome, 0) + count
        return answer_rate(combined)

    def to_json(self) -> dict[str, Any]:
        """`faqbot stats --json`: {"entries": [{"id", "answered", "helpful", "unhelpful", "removed"}, ...]}."""
        return {
            "entries": [
                {
                    "id": entry.entry_id,
                    "answered": entry.answered,
                    "helpful": entry.helpful,
                    "unhelpful": entry.unhelpful,
                    "removed": entry.removed,
                }
                for entry in self.entries
            ]
        }

    def to_text(self) -> str:
        """`faqbot stats`: a table per entry, then the answer rates."""
        days = f"{self.since_days:g} day" + ("" if self.since_days == 1 else "s")
        lines = [f"Answers in the last {days}:"]
        if not self.entries:
            lines.append("  (no answers recorded)")
        else:
            width = max(5, *(len(e.entry_id) for e in self.entries))
            lines.append(f"  {'entry':<{width}}  passive  asked  👍  👎  removed")
            for e in self.entries:
                lines.append(
                    f"  {e.entry_id:<{width}}  {e.passive:>7}  {e.asked:>5}  {e.helpful:>2}  {e.unhelpful:>2}"
                    f"  {e.removed:>7}"
                )
        lines.append("")
        lines.append(f"Overall answer rate: {_rate(self.overall_answer_rate, self.outcomes.total)}")
        asked = sum(self.outcomes.asked.values())
        passive = sum(self.outcomes.passive.values())
        lines.append(f"  asked (!faq, mentions): {_rate(answer_rate(self.outcomes.asked), asked)}")
        lines.append(f"  plain chat questions:   {_rate(answer_rate(self.outcomes.passive), passive)}")
        return "\n".join(lines)


def _rate(rate: float | None, total: int) -> str:
    if rate is None:
        return "no questions recorded"
    return f"{rate:.0%} of {total} question" + ("" if total == 1 else "s")


def stats_report(store: Store, since_days: float | None = None) -> StatsReport:
    """`faqbot stats [--since DAYS]` over `store` (since_days None: everything kept)."""
    days = store.retention_days if since_days is None else min(since_days, store.retention_days)
    return StatsReport(tuple(store.entry_counts(since_days)), store.outcome_counts(since_days), days)
