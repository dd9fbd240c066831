"""Flood control for explicit asks: per member and per room, with one quiet refusal.

Every `!faq`, mention or direct message costs the bot a reply, and chat servers
rate-limit the bot as a whole: two members sending `!faq list` in a loop once delayed
an unrelated room's answer by a minute. A token bucket per member and per room keeps
one person or one room from spending everyone's budget. The first ask over the limit
gets one short refusal (so the member knows why the bot went quiet); later ones get
silence until the bucket refills.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection
from dataclasses import dataclass
from enum import Enum


@dataclass(frozen=True)
class Rate:
    """At most `count` asks in any `per_seconds` window (a bucket that refills steadily)."""

    count: int
    per_seconds: float

    @property
    def refill_per_second(self) -> float:
        return self.count / self.per_seconds if self.per_seconds > 0 else float("inf")


MEMBER_ASKS = Rate(6, 60.0)  # a member asking more than once every ten seconds is not reading the answers
ROOM_ASKS = Rate(20, 60.0)


class Admission(Enum):
    ALLOWED = "allowed"
    REFUSED = "refused"  # over the limit, and the member has not been told yet: say so once
    SILENT = "silent"  # over the limit, already told


@dataclass
class _Bucket:
    tokens: float
    updated: float
    told: bool = False


class _Buckets:
    """Token buckets by key, remembering at most `memory` keys (the least recently used go:
    a forgotten bucket is a full one, which costs a flooder nothing they could not get anyway)."""

    def __init__(self, rate: Rate, memory: int) -> None:
        self.rate = rate
        self.memory = memory
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def _refilled(self, key: str, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = _Bucket(float(self.rate.count), now)
            self._buckets[key] = bucket
            while len(self._buckets) > self.memory:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            refill = (now - bucket.updated) * self.rate.refill_per_second
            bucket.tokens = min(float(self.rate.count), bucket.tokens + max(0.0, refill))
            bucket.updated = now
        if bucket.tokens >= 1:
            bucket.told = False
        return bucket

    def has_token(self, key: str, now: float) -> bool:
        return self._refilled(key, now).tokens >= 1

    def take(self, key: str) -> None:
        self._buckets[key].tokens -= 1

    def tell_once(self, key: str) -> bool:
        """True the first time an empty bucket's owner is turned away."""
        bucket = self._buckets[key]
        first = not bucket.told
        bucket.told = True
        return first

    def __len__(self) -> int:
        return len(self._buckets)


class FloodControl:
    """Admits explicit asks within a per-member and a per-room rate."""

    def __init__(self, per_member: Rate, per_room: Rate, memory: int = 10_000) -> None:
        self._members = _Buckets(per_member, memory)
        self._rooms = _Buckets(per_room, memory)

    def admit(self, member: str, room: str, now: float) -> Admission:
        """Spend one ask of `member` in `room`, or say how to turn it away."""
        member_key = member  # across rooms: flooding ten rooms is still one member flooding
        member_ok = self._members.has_token(member_key, now)
        room_ok = self._rooms.has_token(room, now)
        if member_ok and room_ok:
            self._members.take(member_key)
            self._rooms.take(room)
            return Admission.ALLOWED
        # Told once per member and once per room, whichever limit they hit.
        told = self._members.tell_once(member_key) if not member_ok else self._rooms.tell_once(room)
        return Admission.REFUSED if told else Admission.SILENT

    def remembered(self) -> int:
        """How many buckets are kept (bounded by `memory` each), for tests and health."""
        return len(self._members) + len(self._rooms)


# New help posts waiting out their grace period, per process: past the first, a raid of new posts is
# left to humans; past the second, so is one member's flood (it cannot fill the room left for others).
HELP_POSTS_WAITING = 1000
HELP_POSTS_WAITING_PER_POSTER = 3


def why_a_help_post_cannot_wait(waiting_posters: Collection[str | None], poster: str | None) -> str | None:
    """Why a new help post by `poster` gets no answer, given the posters of the posts already
    waiting out their grace period (None: it may wait, and be answered)."""
    if len(waiting_posters) >= HELP_POSTS_WAITING:
        return f"{HELP_POSTS_WAITING} help posts are waiting already"
    theirs = sum(1 for waiting in waiting_posters if waiting == poster)
    if poster is not None and theirs >= HELP_POSTS_WAITING_PER_POSTER:
        return f"{theirs} posts of its poster are waiting already"
    return None
