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
from faqbot.learned_phrasings import apply_learned
from faqbot.matching.calibration import Thresholds
from faqbot.matching.decision import Decision, Mode, Outcome, Why, decide, settled_without_ranking
from faqbot.matching.index import Candidate, MatchIndex
from faqbot.matching.triggers import TriggerIndex
from faqbot.sources.model import Entry, Knowledge, channel_key
from faqbot.store.records import LearnedPhrasing

if TYPE_CHECKING:
    from faqbot.matching.vectors import SemanticSource


@dataclass(frozen=True)
class RepliedMessage:
    """The message a member's message replies to, as the platform reports it (the replied-to
    event itself, never a quoted fallback). `text` is None where the platform withholds it."""

    message_id: str
    text: str | None = None
    author_id: str | None = None
    from_bot: bool = False


@dataclass(frozen=True)
class HelpPost:
    """A new post in a help forum (a Discord forum thread, a top-level message in a Matrix help
    room): a question by construction, asked by one member, about one thing.

    `post_id` is the post (its thread, or its first message) and names it in the store;
    `text` is its title and, where the platform gives it, its first message; `tags` the
    forum tags applied; `moderator_replied` whether a moderator answered before the bot."""

    conversation_id: str
    post_id: str
    author_id: str
    text: str
    tags: tuple[str, ...] = ()
    conversation_names: tuple[str, ...] = ()
    parent_id: str | None = None
    moderator_replied: bool = False

    def where(self) -> tuple[str, ...]:
        """Every id and name the post's conversation is known by (its forum's too)."""
        return (self.conversation_id, *((self.parent_id,) if self.parent_id else ()), *self.conversation_names)


@dataclass(frozen=True)
class IncomingMessage:
    """A chat message as the core sees it.

    `text` has the bot's own mention already removed by the adapter; `addressed`
    is true when the member spoke to the bot directly (a mention, a direct
    message), which earns the explicit treatment without `!faq`; `to_someone_else`
    when they spoke to another member (replied to them, mentioned them, or opened
    with their name: see `text.addressee`), which keeps passive answers out of it.
    `parent_id` is the channel a thread belongs to: a thread of a channel where passive
    answers are off is quiet too. `sender_id` is only held in memory, for flood control.
    `moderator` says the platform counts the sender as a moderator; `replying_to` is the
    message this one replies to: `!faq ...` sent as a reply points the bot at it.
    """

    text: str
    conversation_id: str
    sender_id: str
    addressed: bool = False
    to_someone_else: bool = False
    parent_id: str | None = None
    message_id: str | None = None
    moderator: bool = False
    replying_to: RepliedMessage | None = None
    conversation_names: tuple[str, ...] = ()  # channel or room names and aliases, for entries' scope
    help_post_author: str | None = None  # in a help post: who opened it (only their asks get answers)

    def where(self) -> tuple[str, ...]:
        """Every id and name the conversation is known by (its channel's too, for a thread)."""
        return (self.conversation_id, *((self.parent_id,) if self.parent_id else ()), *self.conversation_names)


class ReplyKind(Enum):
    ANSWER = "answer"
    SUGGESTIONS = "suggestions"
    NO_ANSWER = "no_answer"
    LIST = "list"
    HELP = "help"
    SLOW_DOWN = "slow_down"  # flood control: said once, then silence until the member may ask again
    MODERATORS_ONLY = "moderators_only"  # a moderator's command from someone else
    PASSIVE_SET = "passive_set"  # `!faq passive on|off` took effect here
    RELOADED = "reloaded"  # `!faq reload`: how many entries, how many files with errors
    GAPS = "gaps"  # `!faq gaps`: what members here asked and did not get
    HANDOFF = "handoff"  # to the helpers' role or room: a member asked for a human in a help post


class Action(Enum):
    """Work a verdict asks of whoever runs the responder: it needs files or the store."""

    RELOAD = "reload"
    SHOW_GAPS = "show_gaps"


@dataclass(frozen=True)
class Lesson:
    """A labelled example from a moderator: these words of a member's (message `message_id`)
    ask for entry `entry_id`. It becomes a learned phrasing of that entry."""

    text: str
    entry_id: str
    message_id: str | None = None


@dataclass(frozen=True)
class GapLine:
    """One line of `!faq gaps`: how many questions, one member's wording, what to do about it."""

    count: int
    example: str
    advice: str


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
    help_post: bool = False  # the answer to a help post: it offers "that solved it" / "I need a human"
    link: str | None = None  # HANDOFF: the post that needs a human
    reloaded: tuple[int, int] = (0, 0)  # RELOADED: entries now, knowledge errors
    gaps: tuple[GapLine, ...] = ()  # GAPS; their examples are members' words: rendering defuses them


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
    passive_off: frozenset[str] = frozenset()  # conversations (and their threads) where chat gets no answer
    # A help post with one of these tags is left to humans (compared as `channel_key` does: case, "#").
    help_silent_tags: frozenset[str] = frozenset({"solved", "needs human"})


@dataclass(frozen=True)
class Verdict:
    """What the bot says to a message (or None: silence), and why: `faqbot ask --json` shows it.

    `decision` is the matcher's, when the message got that far (commands and messages
    settled before ranking have none, unless the caller asked for an explanation)."""

    reply: Reply | None
    why: Why
    decision: Decision | None = None
    action: Action | None = None  # to be done by the caller (`faqbot.bot.Bot`), then the reply made
    lesson: Lesson | None = None  # a moderator's correction, already learned by this responder
    reply_to: str | None = None  # answer this message instead of the one handled (a pointed-at member's)
    passive_change: bool | None = None  # `!faq passive on|off` set this, for the caller to keep


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
    allowed: Callable[[Entry], bool] | None = None,
) -> Decision:
    """The one path from a text to a decision: every caller (the responder, `faqbot ask`,
    `faqbot eval`, the benchmarks) goes through here, so they cannot disagree.

    Chat that cannot get a passive answer whatever the ranking (not a question, said to
    someone else) is settled before ranking, so it costs no model run; `explain` ranks it
    anyway, for a caller that shows the best candidate. `ranked` reuses a ranking (tuning
    tries many bars on one; `index` may then be None); `thresholds` default to the index's.
    `allowed` says which entries apply here (their scope): the others are not candidates."""
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
    if allowed is not None:
        ranked = [candidate for candidate in ranked if allowed(candidate.entry)]
    decision = decide(ranked, mode, text, bars, suggestion_count=suggestion_count, to_someone_else=to_someone_else)
    if settled is not None:  # explained: the ranking is shown, the reason stays the one that settled it
        decision = replace(decision, outcome=Outcome.SILENT, why=settled)
    return decision


_LIST_WORDS = {"list", "ls", "all", "topics", "index"}
_HELP_WORDS = {"help", "?", "commands", "usage"}
_ON_OFF = {"on": True, "off": False}
_MODERATOR_WORDS = {"reload", "passive", "gaps"}
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
        self._learned: list[LearnedPhrasing] = []
        self._index = self._build_index(self.knowledge)
        self._triggers = TriggerIndex(self.knowledge.entries)
        self._passive_overrides: dict[str, bool] = {}
        self._last_answered: dict[tuple[str, str], float] = {}
        self._flood = FloodControl(self.settings.asks_per_member, self.settings.asks_per_room)

    # -- knowledge -----------------------------------------------------------

    def _build_index(self, knowledge: Knowledge) -> MatchIndex:
        """The index over the files' entries, with learned phrasings added (the files win)."""
        entries = apply_learned(knowledge, self._learned).knowledge.entries if self._learned else knowledge.entries
        return MatchIndex(entries, vectors=self.vectors)

    def replace_knowledge(self, knowledge: Knowledge) -> None:
        """Swap in freshly loaded knowledge (live reloads); the indexes are built before the swap."""
        index, triggers = self._build_index(knowledge), TriggerIndex(knowledge.entries)
        self._index, self._triggers, self.knowledge = index, triggers, knowledge

    def set_learned(self, learned: Sequence[LearnedPhrasing]) -> None:
        """Use these learned phrasings (from the store) from now on."""
        if not learned and not self._learned:
            return  # the index already has none: building it again would only cost time
        self._learned = list(learned)
        self._index = self._build_index(self.knowledge)

    def learn(self, lesson: Lesson) -> bool:
        """Learn a member's words as a phrasing of an entry, at once; False when there is no such
        entry, or the words say nothing matching can use."""
        if self.knowledge.by_id(lesson.entry_id) is None or not lesson.text.strip():
            return False
        at = self.clock()
        self._learned.append(LearnedPhrasing(-len(self._learned) - 1, lesson.text.strip(), lesson.entry_id, at))
        self._index = self._build_index(self.knowledge)
        return True

    @property
    def learned(self) -> tuple[LearnedPhrasing, ...]:
        return tuple(self._learned)

    @property
    def index(self) -> MatchIndex:
        return self._index

    # -- per-conversation settings --------------------------------------------

    def set_passive(self, conversation_id: str, enabled: bool) -> None:
        """Turn passive answers on or off in one conversation, over the settings."""
        self._passive_overrides[conversation_id] = enabled

    def passive_enabled(self, conversation_id: str, parent_id: str | None = None) -> bool:
        for conversation in (conversation_id, parent_id):
            if conversation is None:
                continue
            if conversation in self._passive_overrides:
                return self._passive_overrides[conversation]
            if conversation in self.settings.passive_off:
                return False
        return self.settings.passive_by_default

    # -- the conversation ----------------------------------------------------

    def respond(self, message: IncomingMessage) -> Reply | None:
        """The reply to `message`, or None to stay silent."""
        return self.consider(message).reply

    def consider(self, message: IncomingMessage, explain: bool = False) -> Verdict:
        """The reply to `message` and why. `explain` ranks even chat that is settled without
        a ranking, so the verdict can show the best candidate (`faqbot ask --json`)."""
        text = message.text.strip()
        command = self._command_argument(text)
        poster = message.help_post_author
        if poster is not None and poster != message.sender_id and not message.moderator:
            return Verdict(None, Why.NOT_THE_POSTER)  # the post had its answer; the rest is the humans'

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
                return Verdict(self.help_reply(message.conversation_id, message.parent_id), Why.COMMAND)
            return self._explicit_answer(text, message, explain)
        return self._passive_answer(text, message, explain)

    def is_command(self, text: str) -> bool:
        """Whether `text` is a command (`!faq ...`): an adapter that treats chat and posts
        apart (a help room's new message is a post, unless it is a command) asks here."""
        return self._command_argument(text.strip()) is not None

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

    def consider_help_post(self, post: HelpPost) -> Verdict:
        """The one answer a new help post gets, if the bot is sure enough (the help-post bar),
        or silence: it never says "did you mean" to a post, and leaves tagged posts (solved, needs
        a human) and posts a moderator already answered to the humans."""
        silent_tags = {channel_key(tag) for tag in self.settings.help_silent_tags}
        if any(channel_key(tag) in silent_tags for tag in post.tags):
            return Verdict(None, Why.TAGGED)
        if post.moderator_replied:
            return Verdict(None, Why.HUMAN_REPLIED)
        where = post.where()
        triggered = self._triggers.fire(post.text, lambda entry: entry.scope.applies_in(where))
        if triggered is not None:
            verdict = self.chosen_entry(triggered, post.conversation_id)
            return replace(verdict, reply=replace(verdict.reply, help_post=True), why=Why.TRIGGERED)
        decision = judge(
            self._index,
            post.text[: self.settings.max_question_chars],
            Mode.HELP_POST,
            suggestion_count=self.settings.suggestion_count,
            allowed=lambda entry: entry.scope.applies_in(where),
        )
        if decision.outcome is not Outcome.ANSWER or decision.best is None:
            return Verdict(None, decision.why, decision)
        self._remember(post.conversation_id, decision.best.entry)
        reply = Reply(
            ReplyKind.ANSWER,
            entry=decision.best.entry,
            score=decision.best.score,
            command_prefix=self.settings.command_prefix,
            help_post=True,
        )
        return Verdict(reply, decision.why, decision)

    def listing_reply(self, page: int = 1) -> Reply:
        return Reply(ReplyKind.LIST, listing=self.list_page(page), command_prefix=self.settings.command_prefix)

    def help_reply(self, conversation_id: str, parent_id: str | None = None) -> Reply:
        return Reply(
            ReplyKind.HELP,
            command_prefix=self.settings.command_prefix,
            passive_enabled=self.passive_enabled(conversation_id, parent_id),
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
        pointed = self._pointed_at(message)
        if pointed is not None and (not words or first not in _HELP_WORDS | _LIST_WORDS | _MODERATOR_WORDS):
            return self._answer_pointed(argument, message, pointed, explain)
        if not words or first in _HELP_WORDS:
            return Verdict(self.help_reply(message.conversation_id, message.parent_id), Why.COMMAND)
        if first in _LIST_WORDS and len(words) <= 3:
            rest = " ".join(words[1:]).lower()
            page_match = _PAGE_PATTERN.match(rest) if rest else None
            if not rest or page_match:
                return Verdict(self.listing_reply(int(page_match.group(1)) if page_match else 1), Why.COMMAND)
        if first in _MODERATOR_WORDS and len(words) <= 2:
            moderated = self._moderator_command(words, message)
            if moderated is not None:
                return moderated
        by_id = self.knowledge.by_id(argument)
        if by_id is not None:  # `!faq funding`: an entry asked for by its id
            return self.chosen_entry(by_id, message.conversation_id)
        return self._explicit_answer(argument, message, explain)

    def chosen_entry(self, entry: Entry, conversation_id: str) -> Verdict:
        """The answer of an entry a member or moderator chose (by id, from a menu): certain."""
        reply = self.answer_entry(entry.id, conversation_id)
        chosen = Candidate(entry, 1.0, 1.0, 0.0, entry.title, coverage=1.0, known=1.0, confidence=1.0)
        return Verdict(reply, Why.CLEARED_BAR, Decision(Outcome.ANSWER, chosen, (chosen,), Why.CLEARED_BAR, 1.0))

    def _moderator_command(self, words: list[str], message: IncomingMessage) -> Verdict | None:
        """`!faq reload`, `!faq passive on|off`, `!faq gaps`; None when the words are not one."""
        first = words[0].lower()
        setting = _ON_OFF.get(words[1].lower()) if len(words) == 2 else None
        if first == "passive" and setting is None:
            return None  # "!faq passive answers?" is a question
        if first != "passive" and len(words) != 1:
            return None
        prefix = self.settings.command_prefix
        if not message.moderator:
            return Verdict(Reply(ReplyKind.MODERATORS_ONLY, command_prefix=prefix), Why.COMMAND)
        if first == "passive":
            assert setting is not None
            self.set_passive(message.conversation_id, setting)
            reply = Reply(ReplyKind.PASSIVE_SET, passive_enabled=setting, command_prefix=prefix)
            return Verdict(reply, Why.COMMAND, passive_change=setting)
        action = Action.RELOAD if first == "reload" else Action.SHOW_GAPS
        return Verdict(None, Why.COMMAND, action=action)

    @staticmethod
    def _pointed_at(message: IncomingMessage) -> RepliedMessage | None:
        """The member's message a `!faq ...` reply points the bot at (not the bot's own, not oneself)."""
        replied = message.replying_to
        if replied is None or replied.from_bot or replied.author_id == message.sender_id:
            return None
        return replied

    def _answer_pointed(
        self, argument: str, message: IncomingMessage, pointed: RepliedMessage, explain: bool
    ) -> Verdict:
        """`!faq [entry id or question]` as a reply to a member's message: the answer goes to that
        member's message. A moderator naming the entry (by id, or by a question the bot answers)
        labels the member's words: the bot learns them as a phrasing of that entry."""
        entry = self.knowledge.by_id(argument) if argument else None
        if entry is not None:
            verdict = self.chosen_entry(entry, message.conversation_id)
        else:
            question = argument or (pointed.text or "")
            if not question.strip():
                return Verdict(self.help_reply(message.conversation_id, message.parent_id), Why.COMMAND)
            verdict = self._explicit_answer(question, message, explain)
        reply = verdict.reply
        if reply is None or reply.kind is not ReplyKind.ANSWER or reply.entry is None:
            return verdict  # a "did you mean" or "no answer" is for the one who asked
        lesson = None
        if message.moderator and argument and pointed.text and pointed.text.strip():
            lesson = Lesson(pointed.text.strip(), reply.entry.id, pointed.message_id)
            self.learn(lesson)
        return replace(verdict, reply_to=pointed.message_id, lesson=lesson)

    def _judge(self, text: str, message: IncomingMessage, mode: Mode, explain: bool) -> Decision:
        where = message.where()
        return judge(
            self._index,
            text,
            mode,
            to_someone_else=message.to_someone_else and mode is Mode.PASSIVE,
            suggestion_count=self.settings.suggestion_count,
            explain=explain,
            allowed=lambda entry: entry.scope.applies_in(where),
        )

    def _triggered(self, text: str, message: IncomingMessage, passive: bool) -> Entry | None:
        """An entry whose trigger the message matches, among those that apply here (and, in plain
        chat, may answer passively and are not on cooldown)."""
        where = message.where()

        def allowed(entry: Entry) -> bool:
            if not entry.scope.applies_in(where):
                return False
            return not passive or (entry.scope.passive and not self._on_cooldown(message.conversation_id, entry))

        return self._triggers.fire(text, allowed)

    def _explicit_answer(self, question: str, message: IncomingMessage, explain: bool) -> Verdict:
        triggered = self._triggered(question, message, passive=False)
        if triggered is not None:
            return replace(self.chosen_entry(triggered, message.conversation_id), why=Why.TRIGGERED)
        # Asked, a long message still gets a reply: read as far as a question could go.
        decision = self._judge(question[: self.settings.max_question_chars], message, Mode.EXPLICIT, explain)
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
        if message.help_post_author is not None or not self.passive_enabled(message.conversation_id, message.parent_id):
            if not explain:
                return Verdict(None, Why.PASSIVE_OFF)
            return Verdict(
                None,
                Why.PASSIVE_OFF,
                self._judge(text[: self.settings.max_question_chars], message, Mode.PASSIVE, True),
            )
        if not message.to_someone_else:
            triggered = self._triggered(text, message, passive=True)
            if triggered is not None:  # a pasted error message, say: the entry moderators tied to it
                verdict = self.chosen_entry(triggered, message.conversation_id)
                return replace(verdict, reply=replace(verdict.reply, passive=True), why=Why.TRIGGERED)
        if len(text) > self.settings.max_question_chars:
            return Verdict(None, Why.TOO_LONG)
        decision = self._judge(text, message, Mode.PASSIVE, explain)
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
