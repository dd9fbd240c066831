"""The platform-free bot: the responder's decisions, and what they cause.

Adapters hand every member's message to `Bot.handle` (from async code, `Bot.ahandle`,
which runs it on the bot's one answering thread, `faqbot.answering`, so matching never
holds up the event loop, short questions go before long ones, and the responder's state
is only ever touched by one thread). What the responder decided may need more than a
reply: a moderator's correction is learned and kept, `!faq passive on|off` is kept,
`!faq reload` reads the files again, `!faq gaps` reads the store. After sending, the adapter calls `Bot.sent` so the
exchange is recorded, and reports ratings and removals the same way. Recording goes
through the store's background writer: it never delays or breaks an answer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from faqbot.answering import AnsweringThread
from faqbot.bounded import BoundedDict
from faqbot.flood_control import Admission, FloodControl, Rate
from faqbot.gaps import LexicalSimilarity, gaps_report
from faqbot.matching.decision import Mode, Why
from faqbot.responder import (
    Action,
    GapLine,
    HelpPost,
    IncomingMessage,
    Lesson,
    Reply,
    ReplyKind,
    Responder,
    Verdict,
)
from faqbot.sources.model import Knowledge
from faqbot.store.interface import Store, StoreError
from faqbot.store.recorder import BackgroundRecorder
from faqbot.store.records import interaction_for

log = logging.getLogger("faqbot")

T = TypeVar("T")

HELP_POSTS_REMEMBERED = 10_000
RESTORE_WAIT_SECONDS = 5.0  # a store slower than this to open: start without what it would restore
HANDOFFS = Rate(10, 3_600.0)  # "I need a human" notices per hour, at most: helpers are people
CHAT_GAPS_DAYS = 30  # `!faq gaps` in chat: this room's last month
CHAT_GAPS_LINES = 5
CHAT_GAP_EXAMPLE_CHARS = 120


@dataclass(frozen=True)
class HelpOutcome:
    """What a poster's "that solved it" / "I need a human" asks of the adapter: apply the
    forum's solved or human tag, and for a human, notify the helpers (`notify`, once per
    post and within the hand-off rate). `accepted` is False when the presser may not decide."""

    accepted: bool
    solved: bool
    notify: bool = False


@dataclass(frozen=True)
class Handled:
    """What to send for one message (`reply`, None for silence) and where: `reply_to` is the
    message to answer (the member's a moderator pointed at), None for the handled one."""

    reply: Reply | None
    verdict: Verdict
    reply_to: str | None = None


class Bot:
    """One platform's bot: a responder, the store's writer (optional), and reloading."""

    def __init__(
        self,
        responder: Responder,
        platform: str,
        *,
        recorder: BackgroundRecorder | None = None,
        reload: Callable[[], Knowledge] | None = None,
    ) -> None:
        self.responder = responder
        self.platform = platform
        self.recorder = recorder
        self._reload = reload
        self._worker = AnsweringThread()
        # Which help posts got their one answer (and who opened each), and which asked for a human.
        self._help_posts: BoundedDict[str, str] = BoundedDict(HELP_POSTS_REMEMBERED)
        self._reply_posts: BoundedDict[str, tuple[str, str]] = BoundedDict(HELP_POSTS_REMEMBERED)
        self._handed_off: BoundedDict[str, bool] = BoundedDict(HELP_POSTS_REMEMBERED)
        self._handoffs = FloodControl(HANDOFFS, HANDOFFS)

    # -- start and stop ------------------------------------------------------------

    def restore(self, wait: float = RESTORE_WAIT_SECONDS) -> None:
        """Bring back what moderators taught and set (learned phrasings, passive on/off per room).
        A store that is not open within `wait` seconds costs only this: the bot starts without them."""
        if self.recorder is None:
            return
        self.recorder.wait_open(wait)
        try:
            store = self.recorder.store
            self.responder.set_learned(store.learned_phrasings())
            for conversation, enabled in store.passive_settings(self.platform).items():
                self.responder.set_passive(conversation, enabled)
        except StoreError as error:
            log.warning("starting without learned phrasings and room settings: %s", error)
            return
        log.info("restored %d learned phrasings", len(self.responder.learned))

    def close(self) -> None:
        """Take no more work; what waits is still done (the thread ends by itself)."""
        self._worker.close()

    # -- messages ------------------------------------------------------------------------

    def handle(self, message: IncomingMessage) -> Handled:
        """Decide, then do what the decision asks (learn, keep a setting, reload, read gaps)."""
        verdict = self.responder.consider(message)
        reply = verdict.reply
        if verdict.action is Action.RELOAD:
            reply = self._reloaded()
        elif verdict.action is Action.SHOW_GAPS:
            reply = self._gaps(message.conversation_id)
        if verdict.lesson is not None:
            self._keep_lesson(verdict.lesson, message)
        if verdict.passive_change is not None and self.recorder is not None:
            self.recorder.set_passive(self.platform, message.conversation_id, verdict.passive_change)
        return Handled(reply, verdict, verdict.reply_to)

    async def ahandle(self, message: IncomingMessage) -> Handled:
        """`handle` on the bot's answering thread; a long message may let shorter ones go first.
        Raises `answering.Overloaded` when the bot is far behind: drop the message (silence)."""
        return await self._worker.run(self.handle, message, cost=len(message.text))

    async def in_worker(self, work: Callable[..., T], *args: object) -> T:
        """Run `work` on the bot's answering thread (responder state, store reads)."""
        return await self._worker.run(work, *args)

    def sent(self, message: IncomingMessage, handled: Handled, reply_id: str | None) -> None:
        """Record what the bot did with a member's question, now that the reply (if any) is out.

        Commands, ordinary chat, chat said to someone else and repeats on cooldown are not
        recorded (see `store.records.outcome_to_record`). A reply that answers a member's message
        a moderator pointed at is recorded against that message and that member's words."""
        verdict = handled.verdict
        decision = verdict.decision
        if self.recorder is None or decision is None or verdict.why is Why.ON_COOLDOWN:
            return
        reply = handled.reply
        mode = Mode.PASSIVE if reply is None or reply.passive else Mode.EXPLICIT
        pointed = message.replying_to if handled.reply_to is not None else None
        question = pointed.text if pointed is not None and pointed.text else message.text
        interaction = interaction_for(
            decision,
            mode,
            platform=self.platform,
            conversation_id=message.conversation_id,
            question=question,
            question_id=handled.reply_to or message.message_id,
            reply_id=reply_id,
            user_id=(pointed.author_id if pointed is not None else None) or message.sender_id,
            to_someone_else=message.to_someone_else and mode is Mode.PASSIVE,
        )
        if interaction is not None:
            self.recorder.record(interaction)

    # -- help posts ------------------------------------------------------------------------

    def help_post(self, post: HelpPost) -> Handled:
        """A new help post, after the adapter's grace period: its one answer, or silence."""
        if post.post_id in self._help_posts:
            return Handled(None, Verdict(None, Why.ANSWERED_BEFORE))
        verdict = self.responder.consider_help_post(post)
        self._help_posts[post.post_id] = post.author_id
        return Handled(verdict.reply, verdict, post.post_id)

    async def ahelp_post(self, post: HelpPost) -> Handled:
        return await self._worker.run(self.help_post, post, cost=len(post.text))

    def help_post_sent(self, post: HelpPost, handled: Handled, reply_id: str | None) -> None:
        """Record a help post and what the bot did with it, as any other question."""
        decision = handled.verdict.decision
        if reply_id is not None:
            self._reply_posts[reply_id] = (post.post_id, post.author_id)
        if self.recorder is None or decision is None:
            return
        interaction = interaction_for(
            decision,
            Mode.HELP_POST,
            platform=self.platform,
            conversation_id=post.conversation_id,
            question=post.text,
            question_id=post.post_id,
            reply_id=reply_id,
            user_id=post.author_id,
        )
        if interaction is not None:
            self.recorder.record(interaction)

    def help_outcome(
        self, reply_id: str, user_id: str, solved: bool, moderator: bool = False, given_by: str | None = None
    ) -> HelpOutcome:
        """The poster (or a moderator) says the answer `reply_id` solved it, or that they need a
        human: recorded as 👍 / 👎; a human is asked for once per post, within the hand-off rate.
        Reads the store after a restart (call it from `in_worker`)."""
        known = self._reply_posts.get(reply_id)
        post_id = known[0] if known is not None else reply_id
        is_poster = known[1] == user_id if known is not None else self.is_asker(reply_id, user_id)
        if not (is_poster or moderator):
            return HelpOutcome(accepted=False, solved=solved)
        self.rated(reply_id, user_id, solved, given_by)
        if solved or post_id in self._handed_off:
            return HelpOutcome(accepted=True, solved=solved)
        self._handed_off[post_id] = True
        if known is None and self._handed_off_before(reply_id):  # before a restart
            return HelpOutcome(accepted=True, solved=False)
        if self.recorder is not None:
            self.recorder.mark_handed_off(self.platform, reply_id)
        admitted = self._handoffs.admit(self.platform, "handoff", time.monotonic()) is Admission.ALLOWED
        if not admitted:
            log.warning("not notifying helpers about %s: more than %d hand-offs this hour", post_id, HANDOFFS.count)
        return HelpOutcome(accepted=True, solved=False, notify=admitted)

    # -- feedback ---------------------------------------------------------------------------

    def rated(self, reply_id: str, user_id: str, helpful: bool | None, given_by: str | None = None) -> None:
        """👍 (True), 👎 (False) or a rating taken back (None) on one of the bot's replies;
        `given_by` names the reaction that gives or takes it (see `Store.rate`)."""
        if self.recorder is not None:
            self.recorder.rate(self.platform, reply_id, user_id, helpful, given_by)

    def reaction_redacted(self, reaction_id: str) -> None:
        """A reaction was redacted: the rating it gave goes, if it still stands (after a restart too)."""
        if self.recorder is not None:
            self.recorder.take_back_rating(self.platform, reaction_id)

    def removed(self, reply_id: str) -> None:
        """One of the bot's replies was removed (by its asker or a moderator)."""
        if self.recorder is not None:
            self.recorder.mark_removed(self.platform, reply_id)

    def _handed_off_before(self, reply_id: str) -> bool:
        """Whether the store says helpers were already told about the post `reply_id` answered.
        Unknown when the store is unavailable: then False (telling them twice beats never)."""

        def handed_off(store: Store) -> bool:
            record = store.find_reply(self.platform, reply_id)
            return record is not None and record.handed_off

        return self._store_says(handed_off, f"whether {reply_id} was handed off")

    def is_asker(self, reply_id: str, user_id: str) -> bool:
        """Whether `user_id` asked the question `reply_id` answered (a store read: call it from
        `in_worker`). Unknown when the store is unavailable: then False."""
        return self._store_says(lambda store: store.is_asker(self.platform, reply_id, user_id), f"who asked {reply_id}")

    def _store_says(self, read: Callable[[Store], bool], what: str) -> bool:
        """A yes-or-no read of the store; no when there is none, or it cannot be read (logged)."""
        if self.recorder is None:
            return False
        try:
            return read(self.recorder.store)
        except StoreError as error:
            log.warning("cannot tell %s: %s", what, error)
            return False

    def teach(self, text: str, entry_id: str) -> bool:
        """`faqbot teach`: the same as a moderator's correction in chat, without the chat."""
        lesson = Lesson(text, entry_id)
        if not self.responder.learn(lesson):
            return False
        self._keep_lesson(lesson, None)
        return True

    # -- what decisions ask for ---------------------------------------------------------

    def _keep_lesson(self, lesson: Lesson, message: IncomingMessage | None) -> None:
        if self.recorder is None:
            return
        self.recorder.learn(
            lesson.text,
            lesson.entry_id,
            platform=self.platform if message is not None else None,
            conversation_id=message.conversation_id if message is not None else None,
            message_id=lesson.message_id,
        )
        log.info("learned a phrasing of %s from a moderator", lesson.entry_id)

    def _reloaded(self) -> Reply:
        prefix = self.responder.settings.command_prefix
        if self._reload is None:
            knowledge = self.responder.knowledge
        else:
            knowledge = self._reload()
            self.responder.replace_knowledge(knowledge)
            self.restore()
        return Reply(
            ReplyKind.RELOADED, reloaded=(len(knowledge.entries), len(knowledge.errors)), command_prefix=prefix
        )

    def _gaps(self, conversation_id: str) -> Reply:
        """This room's recent gaps: only what was asked here, so no room sees another's questions."""
        prefix = self.responder.settings.command_prefix
        lines: tuple[GapLine, ...] = ()
        if self.recorder is not None:
            try:
                report = gaps_report(
                    self.recorder.store,
                    index=self.responder.index,
                    similarity=LexicalSimilarity(),
                    since_days=CHAT_GAPS_DAYS,
                    platform=self.platform,
                    conversation_id=conversation_id,
                )
            except StoreError as error:
                log.warning("cannot read the gaps: %s", error)
            else:
                lines = tuple(
                    GapLine(group.count, _shortened(group.examples[0]), group.advice)
                    for group in report.groups[:CHAT_GAPS_LINES]
                )
        return Reply(ReplyKind.GAPS, gaps=lines, command_prefix=prefix)


def _shortened(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= CHAT_GAP_EXAMPLE_CHARS else text[: CHAT_GAP_EXAMPLE_CHARS - 1] + "…"
