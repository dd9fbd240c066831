"""`faqbot gaps`: what members keep asking that the knowledge does not serve.

Read from the store: questions left unanswered, judged a question but met with
silence, answered only with "did you mean", rated down, or removed. They are
**grouped** so that each group is one thing members keep asking, most frequent
first, each with a few examples, its count, the nearest entry and what to do.

Grouping is deterministic and explainable:
1. questions with the same distinctive words (`content_terms`: case, punctuation,
   stop words and word endings aside) are one wording, counted together;
2. wordings are taken most frequent first (equal counts: most recently asked first); each
   joins the group it is most like, if at least `same_thing` alike, or starts a new
   group. A group is compared by its centroid, the mean of its wordings weighted by
   how often each was asked. On CLINC150 validation utterances with the encoder that
   gave precision 0.91 and recall 0.43, where comparing with a group's first wording
   only (a variant measured once, not kept) gave 0.89 and 0.37 at its best bar;
3. the group's first wording is its most asked; the nearest entry is the best match
   for it, from the bot's own match index; `advise` says what to do about it.

How alike a wording and a group are comes from a `TextSimilarity`:
`LexicalSimilarity` (the default) or `SemanticSimilarity` over the bot's optional
encoder or word vectors. Each carries the bar it was measured with (`bench/gaps.py`).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from faqbot.matching.text import content_terms, fold
from faqbot.store.records import GapReason, GapRecord

if TYPE_CHECKING:
    from faqbot.matching.index import MatchIndex
    from faqbot.matching.vectors import SemanticSource
    from faqbot.store.interface import Store

EXAMPLES_PER_GROUP = 3
# Chosen by bench/gaps.py on CLINC150 validation utterances: the best B-cubed F1 among
# bars whose B-cubed precision is at least 0.9 (a mixed group gives some of its questions
# the wrong advice; a split one only shows the same thing twice). Lexical 0.55: precision
# 0.93, recall 0.19; encoder 0.6: precision 0.91, recall 0.43.
LEXICAL_SAME_THING = 0.55
SEMANTIC_SAME_THING = 0.6


# -- how alike a wording is to a group ---------------------------------------------------


class GroupIndex(Protocol):
    """The groups formed so far over a fixed list of wordings (known by position), each
    summarised by its *centroid*: the mean of its wordings, weighted by how often each
    was asked."""

    def closest(self, position: int, at_least: float) -> tuple[int, float] | None:
        """The group whose centroid wording `position` is most like (cosine) if that is
        at least `at_least`, and how alike; the earlier group on a tie; else None."""
        ...

    def start(self, position: int, weight: float) -> None:
        """Wording `position` starts the next group (groups are numbered from 0)."""
        ...

    def join(self, group: int, position: int, weight: float) -> None:
        """Wording `position` joins `group`, moving its centroid."""
        ...


class TextSimilarity(Protocol):
    same_thing: float  # a wording at least this alike to a group's centroid is the same thing

    def groups(self, texts: Sequence[str]) -> GroupIndex:
        """An empty group index over `texts`."""
        ...


class LexicalSimilarity:
    """Cosine of distinctive words, each weighted by how rare it is among the questions
    being grouped (IDF): "password" ties two questions together, "how" or "mastodon",
    which half of them contain, barely does."""

    def __init__(self, same_thing: float = LEXICAL_SAME_THING) -> None:
        self.same_thing = same_thing

    def groups(self, texts: Sequence[str]) -> GroupIndex:
        return _LexicalGroups(texts)


class _LexicalGroups:
    """Sparse centroids; a wording is compared only with groups that share a word with it."""

    def __init__(self, texts: Sequence[str]) -> None:
        term_sets = [set(content_terms(text)) for text in texts]
        document_frequency: Counter[str] = Counter(t for terms in term_sets for t in terms)
        count = len(texts)
        self._vectors: list[dict[str, float]] = []
        for terms in term_sets:
            weights = {t: math.log((1 + count) / (1 + document_frequency[t])) + 1 for t in terms}
            norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
            self._vectors.append({t: w / norm for t, w in weights.items()})
        self._centroids: list[dict[str, float]] = []
        self._squared_norms: list[float] = []
        self._groups_with: dict[str, set[int]] = defaultdict(set)

    def closest(self, position: int, at_least: float) -> tuple[int, float] | None:
        vector = self._vectors[position]
        best: tuple[int, float] | None = None
        for group in sorted(self._candidates(vector, at_least)):
            centroid = self._centroids[group]
            score = sum(w * centroid.get(t, 0.0) for t, w in vector.items()) / math.sqrt(self._squared_norms[group])
            if score >= at_least and (best is None or score > best[1]):
                best = (group, score)
        return best

    def _candidates(self, vector: dict[str, float], at_least: float) -> set[int]:
        """Groups that could reach `at_least`: a group sharing only terms whose weights'
        norm is below the bar cannot (its cosine is at most that norm), so only groups
        with one of the heaviest terms are scored. Exact, and common words like "how",
        in thousands of groups, stop costing a comparison with each."""
        remaining = sum(w * w for w in vector.values())
        candidates: set[int] = set()
        for term, weight in sorted(vector.items(), key=lambda item: (-item[1], item[0])):
            if math.sqrt(max(0.0, remaining)) < at_least - 1e-9:
                break
            candidates.update(self._groups_with.get(term, ()))
            remaining -= weight * weight
        return candidates

    def start(self, position: int, weight: float) -> None:
        self._centroids.append({})
        self._squared_norms.append(0.0)
        self.join(len(self._centroids) - 1, position, weight)

    def join(self, group: int, position: int, weight: float) -> None:
        centroid = self._centroids[group]
        for term, value in self._vectors[position].items():
            before = centroid.get(term, 0.0)
            centroid[term] = before + weight * value
            self._squared_norms[group] += centroid[term] ** 2 - before**2
            self._groups_with[term].add(group)


class SemanticSimilarity:
    """Cosine of the wordings' vectors from a `SemanticSource` (the bundled sentence
    encoder or word vectors), so "who keeps the lights on" and "who pays for the
    server" can be one group. A wording the source cannot embed is compared by its
    words (`LexicalSimilarity`)."""

    def __init__(self, source: SemanticSource, same_thing: float = SEMANTIC_SAME_THING) -> None:
        self.source = source
        self.same_thing = same_thing

    def groups(self, texts: Sequence[str]) -> GroupIndex:
        return _SemanticGroups(self.source, texts)


class _SemanticGroups:
    def __init__(self, source: SemanticSource, texts: Sequence[str]) -> None:
        import numpy as np

        self._np = np
        self._lexical = _LexicalGroups(texts)
        self._vectors = [source.embed(text) for text in texts]
        self._sums = np.zeros((max(1, len(texts)), source.dims), dtype=np.float64)
        self._norms = np.ones(max(1, len(texts)), dtype=np.float64)
        self._count = 0

    def closest(self, position: int, at_least: float) -> tuple[int, float] | None:
        vector = self._vectors[position]
        if vector is None or self._count == 0:
            return self._lexical.closest(position, at_least)
        scores = (self._sums[: self._count] @ vector) / self._norms[: self._count]
        group = int(self._np.argmax(scores))  # the first of equals: the earlier group
        return (group, float(scores[group])) if scores[group] >= at_least else None

    def start(self, position: int, weight: float) -> None:
        self._count += 1
        self._lexical.start(position, weight)
        self._add(self._count - 1, position, weight)

    def join(self, group: int, position: int, weight: float) -> None:
        self._lexical.join(group, position, weight)
        self._add(group, position, weight)

    def _add(self, group: int, position: int, weight: float) -> None:
        vector = self._vectors[position]
        if vector is not None:
            self._sums[group] += weight * vector
            self._norms[group] = float(self._np.linalg.norm(self._sums[group])) or 1.0


# -- groups ---------------------------------------------------------------------------


@dataclass(frozen=True)
class NearestEntry:
    id: str
    title: str
    url: str | None
    score: float


@dataclass(frozen=True)
class GapGroup:
    """One thing members keep asking. `reasons`: why its questions are gaps, most common
    first; `answered_entry`: the entry the bot gave, when answers were rated down or removed."""

    count: int
    examples: tuple[str, ...]
    nearest: NearestEntry | None
    reasons: tuple[tuple[GapReason, int], ...]
    answered_entry: str | None
    advice: str

    def to_json(self) -> dict[str, Any]:
        nearest = self.nearest
        return {
            "count": self.count,
            "examples": list(self.examples),
            "nearest": None
            if nearest is None
            else {"id": nearest.id, "title": nearest.title, "url": nearest.url, "score": round(nearest.score, 4)},
        }


def advise(nearest: NearestEntry | None, answered_entry: str | None, alternate_bar: float) -> str:
    """What a moderator should do about one group: the one place this is decided.

    - the bot answered with an entry, and members rated it down or removed it, and that
      entry is still the nearest: its answer does not serve them, so check it;
    - an entry is near enough that the bot would at least suggest it (`alternate_bar`,
      the index's "did you mean" bar): the knowledge has the answer, but not the way
      members ask, so add their wording as an alternate;
    - otherwise nothing in the knowledge is close: write a new entry."""
    if nearest is not None and answered_entry == nearest.id:
        return f"check the answer of entry {nearest.id!r} ({nearest.title}): members rated it down or removed it"
    if nearest is not None and nearest.score >= alternate_bar:
        return f"add an alternate to entry {nearest.id!r} ({nearest.title})"
    return "write a new entry: nothing in the knowledge is close"


@dataclass
class _Wording:
    text: str  # the newest way a member typed it
    count: int
    reasons: Counter[GapReason]
    answered: Counter[str]  # entries whose answers to it were rated down or removed


def _wordings(records: Sequence[GapRecord]) -> list[_Wording]:
    """Records with the same distinctive words, counted together, most frequent first."""
    by_key: dict[str, _Wording] = {}
    for record in sorted(records, key=lambda r: (-r.at, -r.interaction_id)):
        terms = sorted(set(content_terms(record.question)))
        key = " ".join(terms) if terms else " ".join(fold(record.question).split())
        if not key:
            continue
        wording = by_key.get(key)
        if wording is None:
            wording = by_key[key] = _Wording(record.question.strip(), 0, Counter(), Counter())
        wording.count += 1
        wording.reasons[record.reason] += 1
        if record.reason in (GapReason.RATED_DOWN, GapReason.REMOVED) and record.entry_id:
            wording.answered[record.entry_id] += 1
    # Records were read newest first, and the sort is stable: equal counts stay newest first.
    return sorted(by_key.values(), key=lambda w: -w.count)


def _nearest(index: MatchIndex | None, text: str) -> NearestEntry | None:
    if index is None:
        return None
    ranked = index.rank(text, limit=1)
    if not ranked:
        return None
    entry = ranked[0].entry
    return NearestEntry(entry.id, entry.title, entry.url, ranked[0].score)


def _most_common(counter: Counter[Any]) -> list[tuple[Any, int]]:
    """Most common first; equal counts in a fixed order (by value), so output is stable."""
    return sorted(counter.items(), key=lambda item: (-item[1], str(getattr(item[0], "value", item[0]))))


def group_gaps(
    records: Sequence[GapRecord],
    *,
    index: MatchIndex | None = None,
    similarity: TextSimilarity | None = None,
    examples: int = EXAMPLES_PER_GROUP,
) -> list[GapGroup]:
    """Gap records grouped into things members keep asking, most frequent first
    (see the module's docstring for how). `index`: the bot's match index, for each
    group's nearest entry and the advice; without it, groups have neither (advice "")."""
    similarity = similarity or LexicalSimilarity()
    wordings = _wordings(records)
    index_of_groups = similarity.groups([w.text for w in wordings])
    members: list[list[_Wording]] = []
    for position, wording in enumerate(wordings):
        found = index_of_groups.closest(position, similarity.same_thing)
        if found is not None:
            members[found[0]].append(wording)
            index_of_groups.join(found[0], position, wording.count)
        else:
            index_of_groups.start(position, wording.count)
            members.append([wording])
    groups: list[GapGroup] = []
    for group in members:
        reasons: Counter[GapReason] = Counter()
        answered: Counter[str] = Counter()
        for wording in group:
            reasons.update(wording.reasons)
            answered.update(wording.answered)
        count = sum(w.count for w in group)
        # The answer is the problem only when most of the group is answers members rejected.
        rejected = reasons[GapReason.RATED_DOWN] + reasons[GapReason.REMOVED]
        answered_entry = _most_common(answered)[0][0] if answered and 2 * rejected >= count else None
        nearest = _nearest(index, group[0].text)
        groups.append(
            GapGroup(
                count=count,
                examples=tuple(w.text for w in group[:examples]),
                nearest=nearest,
                reasons=tuple(_most_common(reasons)),
                answered_entry=answered_entry,
                advice=advise(nearest, answered_entry, index.thresholds.suggest) if index is not None else "",
            )
        )
    groups.sort(key=lambda group: -group.count)  # stable: equal counts keep the order they formed in
    return groups


# -- the report -----------------------------------------------------------------------


@dataclass(frozen=True)
class GapsReport:
    groups: tuple[GapGroup, ...]
    since_days: float
    questions: int  # gap records read

    def to_json(self) -> dict[str, Any]:
        """`faqbot gaps --json`: {"groups": [{"count", "examples", "nearest"}, ...]}."""
        return {"groups": [group.to_json() for group in self.groups]}

    def to_text(self) -> str:
        """`faqbot gaps`: one paragraph per group, for moderators."""
        days = f"{self.since_days:g} day" + ("" if self.since_days == 1 else "s")
        if not self.groups:
            return f"No gaps in the last {days}: every recorded question was answered and kept."
        lines = [f"{self.questions} questions in the last {days} in {len(self.groups)} groups, most asked first:"]
        for number, group in enumerate(self.groups, 1):
            why = ", ".join(f"{count} {reason.value}" for reason, count in group.reasons)
            lines.append("")
            lines.append(f"{number}. asked {group.count}× ({why})")
            lines.extend(f"   “{example}”" for example in group.examples)
            if group.nearest is not None:
                nearest = group.nearest
                where = f" {nearest.url}" if nearest.url else ""
                lines.append(f"   nearest: {nearest.id} ({nearest.title}){where}, score {nearest.score:.2f}")
            lines.append(f"   → {group.advice}")
        return "\n".join(lines)


def gaps_report(
    store: Store,
    *,
    index: MatchIndex | None = None,
    similarity: TextSimilarity | None = None,
    since_days: float | None = None,
    platform: str | None = None,
    conversation_id: str | None = None,
) -> GapsReport:
    """`faqbot gaps [--since DAYS]` over `store` (since_days None: everything kept); one
    conversation's only (`!faq gaps` in chat) when `platform` and `conversation_id` are given."""
    records = store.gap_records(since_days, platform, conversation_id)
    groups = group_gaps(records, index=index, similarity=similarity)
    days = store.retention_days if since_days is None else min(since_days, store.retention_days)
    return GapsReport(tuple(groups), days, len(records))
