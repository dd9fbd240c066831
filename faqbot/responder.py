"""Platform-free conversation logic: what, if anything, the bot says to a message.

Adapters (console, Discord, Matrix) turn their events into `IncomingMessage`,
call `Responder.respond`, and send the `Reply` they get back rendered by
`faqbot.render`. Everything that decides *whether* and *what* to answer lives
here, driven by plain strings and an injectable clock, so tests need no network.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import TYPE_CHECKING

from faqbot.flood_control import MEMBER_ASKS, ROOM_ASKS, Admission, FloodControl, Rate
from faqbot.matching.calibration import Thresholds
from faqbot.matching.decision import Decision, Mode, Outcome, Why, decide, settled_without_ranking
from faqbot.matching.index import Candidate, MatchIndex
from faqbot.sources.model import Entry, Knowledge

if TYPE_CHECKING:
    from faqbot.matching.vectors import SemanticSource


@dataclass(frozen=True)
class IncomingMessage:
    """A chat message as the core sees it.

    `text` has the bot's own mention already removed by the adapter; `addressed`
    is true when the member spoke to the bot directly (a mention, a direct
    message), which earns the explicit treatment without `!faq`; `to_someone_else`
    when they spoke to another member (replied to them, mentioned them, or opened
    with their name: see `text.addressee`), which keeps passive answers out of it.
    """

    text: str
    conversation_id: str
    sender_id: str
    addressed: bool = False
    to_someone_else: bool = False


class ReplyKind(Enum):
    ANSWER = "answer"
    SUGGESTIONS = "suggestions"
    NO_ANSWER = "no_answer"
    LIST = "list"
    HELP = "help"
    SLOW_DOWN = "slow_down"  # flood control: said once, then silence until the member may ask again


@dataclass(frozen=True)
class ListingGroup:
    title: str
    entries: tuple[Entry, ...]


@dataclass(frozen=True)
class Listing:
    """One page of `!faq list`."""

    groups: tuple[ListingGroup, ...]
    page: int
    page_count: int
    total: int


@dataclass(frozen=True)
class Reply:
    """What the bot says. Never carries the member's own text, so nothing they
    typed can be turned into a ping by echoing it."""

    kind: ReplyKind
    passive: bool = False
    entry: Entry | None = None
    score: float = 0.0
    suggestions: tuple[Entry, ...] = ()
    listing: Listing | None = None
    command_prefix: str = "!faq"
    passive_enabled: bool = True  # help says whether plain questions get answers here


@dataclass(frozen=True)
class ResponderSettings:
    command_prefix: str = "!faq"
    passive_by_default: bool = True
    cooldown_seconds: float = 600.0
    list_page_size: int = 15
    suggestion_count: int = 3
    # The longest member question in our labelled sets is 136 characters. Longer chat is not a
    # question to answer passively, and an explicit ask is read up to this length: matching
    # costs time per word, so this bounds the work one message can cause.
    max_question_chars: int = 500
    asks_per_member: Rate = MEMBER_ASKS
    asks_per_room: Rate = ROOM_ASKS


@dataclass(frozen=True)
class Verdict:
    """What the bot says to a message (or None: silence), and why: `faqbot ask --json` shows it.

    `decision` is the matcher's, when the message got that far (commands and messages
    settled before ranking have none, unless the caller asked for an explanation)."""

    reply: Reply | None
    why: Why
    decision: Decision | None = None


def judge(
    index: MatchIndex | None,
    text: str,
    mode: Mode,
    *,
    to_someone_else: bool = False,
    thresholds: Thresholds | None = None,
    suggestion_count: int = 3,
    ranked: Sequence[Candidate] | None = None,
    explain: bool = False,
) -> Decision:
    """The one path from a text to a decision: every caller (the responder, `faqbot ask`,
    `faqbot eval`, the benchmarks) goes through here, so they cannot disagree.

    Chat that cannot get a passive answer whatever the ranking (not a question, said to
    someone else) is settled before ranking, so it costs no model run; `explain` ranks it
    anyway, for a caller that shows the best candidate. `ranked` reuses a ranking (tuning
    tries many bars on one; `index` may then be None); `thresholds` default to the index's."""
    if ranked is None and index is None:
        raise ValueError("judge needs an index to rank with, or a ranking")
    bars = thresholds or (index.thresholds if index is not None else None)
    settled = settled_without_ranking(mode, text, to_someone_else, index, bars)
    if settled is not None and not explain and ranked is None:
        return Decision(Outcome.SILENT, None, (), settled)
    if ranked is None:
        assert index is not None
        # Only a passive answer reads the background contrast, and only above the passive bar.
        contrast_from = max(bars.passive_answer, bars.explicit_answer) if mode is Mode.PASSIVE else math.inf
        ranked = index.rank(text, limit=max(10, suggestion_count), contrast_from=contrast_from)
    decision = decide(ranked, mode, text, bars, suggestion_count=suggestion_count, to_someone_else=to_someone_else)
    if settled is not None:  # explained: the ranking is shown, the reason stays the one that settled it
        decision = replace(decision, outcome=Outcome.SILENT, why=settled)
    return decision


_LIST_WORDS = {"list", "ls", "all", "topics", "index"}
_HELP_WORDS = {"help", "?", "commands", "usage"}
_PAGE_PATTERN = re.compile(r"^(?:page\s*)?(\d{1,4})$")
_COOLDOWN_MEMORY = 10_000  # (conversation, entry) pairs remembered; a busy server never grows past it


@dataclass
class Responder:
    """Decides the bot's reply to each message; keeps per-conversation state."""

    knowledge: Knowledge
    settings: ResponderSettings = field(default_factory=ResponderSettings)
    clock: Callable[[], float] = time.monotonic
    vectors: SemanticSource | None = None  # meaning-based matching (`matchers.load_matcher`); None: lexical only

    def __post_init__(self) -> None:
        self._index = MatchIndex(self.knowledge.entries, vectors=self.vectors)
        self._passive_overrides: dict[str, bool] = {}
        self._last_answered: dict[tuple[str, str], float] = {}
        self._flood = FloodControl(self.settings.asks_per_member, self.settings.asks_per_room)

    # -- knowledge -----------------------------------------------------------

    def replace_knowledge(self, knowledge: Knowledge) -> None:
        """Swap in freshly loaded knowledge (live reloads); the index is built before the swap."""
        index = MatchIndex(knowledge.entries, vectors=self.vectors)
        self._index, self.knowledge = index, knowledge

    @property
    def index(self) -> MatchIndex:
        return self._index

    # -- per-conversation settings --------------------------------------------

    def set_passive(self, conversation_id: str, enabled: bool) -> None:
        self._passive_overrides[conversation_id] = enabled

    def passive_enabled(self, conversation_id: str) -> bool:
        return self._passive_overrides.get(conversation_id, self.settings.passive_by_default)

    # -- the conversation ----------------------------------------------------

    def respond(self, message: IncomingMessage) -> Reply | None:
        """The reply to `message`, or None to stay silent."""
        return self.consider(message).reply

    def consider(self, message: IncomingMessage, explain: bool = False) -> Verdict:
        """The reply to `message` and why. `explain` ranks even chat that is settled without
        a ranking, so the verdict can show the best candidate (`faqbot ask --json`)."""
        text = message.text.strip()
        command = self._command_argument(text)
        if command is not None or message.addressed:
            admission = self._flood.admit(message.sender_id, message.conversation_id, self.clock())
            if admission is Admission.REFUSED:
                return Verdict(Reply(ReplyKind.SLOW_DOWN, command_prefix=self.settings.command_prefix), Why.FLOODED)
            if admission is Admission.SILENT:
                return Verdict(None, Why.FLOODED)
        if command is not None:
            return self._run_command(command, message, explain)
        if message.addressed:
            if not text:
                return Verdict(self.help_reply(message.conversation_id), Why.COMMAND)
            return self._explicit_answer(text, message, explain)
        return self._passive_answer(text, message, explain)

    def autocomplete(self, partial: str, limit: int = 25) -> list[Entry]:
        """Entries to offer while a member is still typing a question."""
        partial = partial.strip()[: self.settings.max_question_chars]
        if not partial:
            return self.knowledge.entries[:limit]
        return [c.entry for c in self._index.rank(partial, limit=limit)]

    def answer_entry(self, entry_id: str, conversation_id: str) -> Reply | None:
        """The answer of one entry a member picked (e.g. from autocomplete), or None if it is gone."""
        entry = self.knowledge.by_id(entry_id)
        if entry is None:
            return None
        self._remember(conversation_id, entry)
        return Reply(ReplyKind.ANSWER, entry=entry, score=1.0, command_prefix=self.settings.command_prefix)

    def listing_reply(self, page: int = 1) -> Reply:
        return Reply(ReplyKind.LIST, listing=self.list_page(page), command_prefix=self.settings.command_prefix)

    def help_reply(self, conversation_id: str) -> Reply:
        return Reply(
            ReplyKind.HELP,
            command_prefix=self.settings.command_prefix,
            passive_enabled=self.passive_enabled(conversation_id),
        )

    def list_page(self, page: int = 1) -> Listing:
        """`!faq list`, grouped by section of the knowledge, one page at a time."""
        entries = [e for e in self.knowledge.entries if e.kind != "section"]
        size = max(1, self.settings.list_page_size)
        page_count = max(1, math.ceil(len(entries) / size))
        page = min(max(1, page), page_count)
        chunk = entries[(page - 1) * size : page * size]
        groups: list[ListingGroup] = []
        for entry in chunk:
            if groups and groups[-1].title == entry.group:
                groups[-1] = ListingGroup(entry.group, (*groups[-1].entries, entry))
            else:
                groups.append(ListingGroup(entry.group, (entry,)))
        return Listing(tuple(groups), page, page_count, len(entries))

    # -- internals -----------------------------------------------------------

    def _command_argument(self, text: str) -> str | None:
        prefix = self.settings.command_prefix
        if text.lower() == prefix.lower():
            return ""
        if text[: len(prefix) + 1].lower() == prefix.lower() + " ":
            return text[len(prefix) + 1 :].strip()
        return None

    def _run_command(self, argument: str, message: IncomingMessage, explain: bool) -> Verdict:
        words = argument.split()
        first = words[0].lower() if words else ""
        if not words or first in _HELP_WORDS:
            return Verdict(self.help_reply(message.conversation_id), Why.COMMAND)
        if first in _LIST_WORDS and len(words) <= 3:
            rest = " ".join(words[1:]).lower()
            page_match = _PAGE_PATTERN.match(rest) if rest else None
            if not rest or page_match:
                return Verdict(self.listing_reply(int(page_match.group(1)) if page_match else 1), Why.COMMAND)
        return self._explicit_answer(argument, message, explain)

    def _judge(self, text: str, mode: Mode, to_someone_else: bool, explain: bool) -> Decision:
        return judge(
            self._index,
            text,
            mode,
            to_someone_else=to_someone_else,
            suggestion_count=self.settings.suggestion_count,
            explain=explain,
        )

    def _explicit_answer(self, question: str, message: IncomingMessage, explain: bool) -> Verdict:
        # Asked, a long message still gets a reply: read as far as a question could go.
        decision = self._judge(question[: self.settings.max_question_chars], Mode.EXPLICIT, False, explain)
        prefix = self.settings.command_prefix
        if decision.outcome is Outcome.ANSWER and decision.best is not None:
            self._remember(message.conversation_id, decision.best.entry)
            reply = Reply(ReplyKind.ANSWER, entry=decision.best.entry, score=decision.best.score, command_prefix=prefix)
        elif decision.outcome is Outcome.SUGGEST:
            reply = Reply(
                ReplyKind.SUGGESTIONS, suggestions=tuple(c.entry for c in decision.suggestions), command_prefix=prefix
            )
        else:
            reply = Reply(ReplyKind.NO_ANSWER, command_prefix=prefix)
        return Verdict(reply, decision.why, decision)

    def _passive_answer(self, text: str, message: IncomingMessage, explain: bool) -> Verdict:
        """Plain chat: the cheap reasons for silence come first, so most chat costs no ranking."""
        if not text:
            return Verdict(None, Why.NOT_A_QUESTION)
        if len(text) > self.settings.max_question_chars:
            return Verdict(None, Why.TOO_LONG)
        if not self.passive_enabled(message.conversation_id):
            silent = self._judge(text, Mode.PASSIVE, message.to_someone_else, True) if explain else None
            return Verdict(None, Why.PASSIVE_OFF, silent)
        decision = self._judge(text, Mode.PASSIVE, message.to_someone_else, explain)
        if decision.outcome is not Outcome.ANSWER or decision.best is None:
            return Verdict(None, decision.why, decision)
        if self._on_cooldown(message.conversation_id, decision.best.entry):
            return Verdict(None, Why.ON_COOLDOWN, decision)
        self._remember(message.conversation_id, decision.best.entry)
        reply = Reply(
            ReplyKind.ANSWER,
            passive=True,
            entry=decision.best.entry,
            score=decision.best.score,
            command_prefix=self.settings.command_prefix,
        )
        return Verdict(reply, decision.why, decision)

    def _on_cooldown(self, conversation_id: str, entry: Entry) -> bool:
        last = self._last_answered.get((conversation_id, entry.id))
        return last is not None and self.clock() - last < self.settings.cooldown_seconds

    def _remember(self, conversation_id: str, entry: Entry) -> None:
        now = self.clock()
        if len(self._last_answered) >= _COOLDOWN_MEMORY:
            expired = [key for key, at in self._last_answered.items() if now - at >= self.settings.cooldown_seconds]
            for key in expired or list(self._last_answered)[: _COOLDOWN_MEMORY // 2]:
                del self._last_answered[key]
        self._last_answered[(conversation_id, entry.id)] = now
