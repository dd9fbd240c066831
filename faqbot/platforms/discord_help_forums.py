"""Help forums on Discord: each new post in a configured forum gets at most one answer.

A forum post (a thread in a forum channel, type 15) is a question by construction. When
a member opens one in a forum named in `discord.help_forums`, the bot waits
`help_grace_seconds` (the member may still be editing, a helper may be quicker), then
reads the post as it is by then: its title (the thread's name, which Discord shows
without the message content intent), its first message where the intent allows, its
tags (names from the forum's `available_tags`), and whether a moderator replied
meanwhile. The core decides (`Bot.help_post`); an answer goes into the post, in reply
to its first message, with two buttons: "That solved it" applies `discord.solved_tag`,
"I need a human" applies `discord.human_tag` and, when the core says to notify, posts
one notice that mentions `discord.human_role` and nobody else.

The buttons are `DynamicItem`s: their custom ids say everything needed, so presses on
answers sent before a restart still work, and discord.py keeps nothing per message.
Posts waiting out their grace at once are capped, in all and per poster
(`flood_control.why_a_help_post_cannot_wait`): past that (a raid of new posts, one member's
flood), new ones are left to humans and logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import discord

from faqbot.answering import Overloaded
from faqbot.flood_control import why_a_help_post_cannot_wait
from faqbot.render import DISCORD_HUMAN_LABEL, DISCORD_SOLVED_LABEL, DiscordNotice, render_discord
from faqbot.responder import HelpPost, Reply, ReplyKind
from faqbot.settings import DiscordSettings
from faqbot.sources.model import channel_key

if TYPE_CHECKING:
    from faqbot.platforms.discord_bot import DiscordBot

log = logging.getLogger(__name__)

POST_TAG_LIMIT = 5  # Discord: a forum post carries at most five tags (it refuses a sixth with 400)
SOLVED, HUMAN = "solved", "human"
_BUTTON_ID = "faqbot:help:{}"


class HelpOutcomeButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"faqbot:help:(?P<outcome>solved|human)"
):
    """ "That solved it" or "I need a human" under the answer to a help post."""

    def __init__(self, outcome: str) -> None:
        solved = outcome == SOLVED
        super().__init__(
            discord.ui.Button(
                label=DISCORD_SOLVED_LABEL if solved else DISCORD_HUMAN_LABEL,
                style=discord.ButtonStyle.success if solved else discord.ButtonStyle.secondary,
                custom_id=_BUTTON_ID.format(outcome),
            )
        )
        self.solved = solved

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: Any, /
    ) -> HelpOutcomeButton:
        return cls(match["outcome"])

    async def callback(self, interaction: discord.Interaction) -> None:
        client = interaction.client
        forums = getattr(client, "help_forums", None)
        if isinstance(forums, HelpForums):
            await forums.pressed(interaction, solved=self.solved)


def help_post_buttons() -> discord.ui.View:
    """The two buttons of an answer to a help post."""
    view = discord.ui.View(timeout=None)
    view.add_item(HelpOutcomeButton(SOLVED))
    view.add_item(HelpOutcomeButton(HUMAN))
    return view


@dataclass
class _Waiting:
    """A new post in its grace period: what happened in it meanwhile."""

    poster: str | None
    moderator_replied: bool = False


class HelpForums:
    """The help forums of one Discord client: new posts, their one answer, and the buttons."""

    def __init__(self, client: DiscordBot, config: DiscordSettings, grace_seconds: float) -> None:
        self.client = client
        self.config = config
        self.grace_seconds = grace_seconds
        self._forums = {channel_key(forum) for forum in config.help_forums}
        self._waiting: dict[int, _Waiting] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    # -- which channels ------------------------------------------------------------------

    @property
    def configured(self) -> bool:
        return bool(self._forums)

    def is_help_forum(self, channel: object) -> bool:
        """A forum channel named (by id or name) in `discord.help_forums`."""
        if not self._forums or not isinstance(channel, discord.ForumChannel):
            return False
        return str(channel.id) in self._forums or channel_key(channel.name) in self._forums

    def post_of(self, channel: object) -> discord.Thread | None:
        """`channel` itself, when it is a post in a help forum."""
        if isinstance(channel, discord.Thread) and self.is_help_forum(channel.parent):
            return channel
        return None

    def poster_of(self, channel: object) -> str | None:
        """Who opened the help post `channel` is (None: not a help post): only their asks get answers there."""
        post = self.post_of(channel)
        return str(post.owner_id) if post is not None and post.owner_id is not None else None

    def describe(self, guilds: list[discord.Guild]) -> None:
        """Log which configured help forums this process sees, and tags they lack."""
        if not self._forums:
            return
        found = [forum for guild in guilds for forum in guild.forums if self.is_help_forum(forum)]
        named = {str(forum.id) for forum in found} | {channel_key(forum.name) for forum in found}
        missing = sorted(self._forums - named)
        if found:
            log.info("Help forums: %s", ", ".join(f"#{forum.name} ({forum.guild.name})" for forum in found))
        if missing:
            log.warning(
                "FAQBOT_DISCORD_HELP_FORUMS names %s, which is no forum channel in this process's guilds",
                ", ".join(repr(name) for name in missing),
            )
        for forum in found:
            tags = {channel_key(tag.name) for tag in forum.available_tags}
            for setting, tag in (("solved_tag", self.config.solved_tag), ("human_tag", self.config.human_tag)):
                if tag and channel_key(tag) not in tags:
                    log.warning(
                        "Help forum #%s has no tag %r (discord.%s): it will not be applied", forum.name, tag, setting
                    )

    # -- new posts --------------------------------------------------------------------

    def post_opened(self, thread: discord.Thread) -> None:
        """THREAD_CREATE of a new post: answer it once its grace period is over."""
        if not self.is_help_forum(thread.parent) or self.client.stopping:
            return
        if self.client.user is not None and thread.owner_id == self.client.user.id:
            return
        poster = str(thread.owner_id) if thread.owner_id is not None else None
        why = why_a_help_post_cannot_wait([waiting.poster for waiting in self._waiting.values()], poster)
        if why is not None:
            log.warning("post %s is left to humans: %s", thread.id, why)
            return
        self._waiting[thread.id] = _Waiting(poster)
        task = asyncio.create_task(self._answer_after_grace(thread.id), name=f"faqbot-help-post-{thread.id}")
        self._tasks.add(task)  # the posts in their grace period, which shutdown cancels
        task.add_done_callback(self._tasks.discard)

    def saw(self, message: discord.Message, moderator: bool) -> None:
        """A member's message: a moderator's reply in a waiting post means the humans have it."""
        waiting = self._waiting.get(message.channel.id)
        owner = getattr(message.channel, "owner_id", None)
        if waiting is not None and moderator and message.author.id != owner:
            waiting.moderator_replied = True

    async def _answer_after_grace(self, thread_id: int) -> None:
        try:
            await asyncio.sleep(self.grace_seconds)
        finally:
            waiting = self._waiting.pop(thread_id, _Waiting(None))
            task = asyncio.current_task()
            if task is not None:
                self._tasks.discard(task)  # from here on it is a reply in flight: shutdown lets it finish
        if self.client.stopping:
            return
        with self.client.in_flight():
            try:
                await self._answer_post(thread_id, waiting)
            except Exception:  # nobody awaits this task: say what went wrong, as on_error does for events
                log.exception("Error while answering help post %s", thread_id)

    async def _answer_post(self, thread_id: int, waiting: _Waiting) -> None:
        client = self.client
        thread = client.get_channel(thread_id)
        if not isinstance(thread, discord.Thread) or self.post_of(thread) is None:
            return  # deleted, or moved out of the help forum meanwhile
        starter = await self._starter_message(thread)
        if starter is not None and (starter.author.bot or starter.webhook_id is not None):
            return
        post = self._help_post(thread, starter, waiting)
        try:
            handled = await client.core.ahelp_post(post)
        except Overloaded:
            return
        sent = None
        if handled.reply is not None:
            rendered = render_discord(handled.reply)
            sent = await client.send_reply(thread, rendered, reply_to=thread.id, view=help_post_buttons())
        client.core.help_post_sent(post, handled, str(sent.id) if sent is not None else None)

    async def _starter_message(self, thread: discord.Thread) -> discord.Message | None:
        """The post's first message (its id is the post's), from the cache or, with the message
        content intent, from Discord; without the intent its text would be empty anyway."""
        if thread.starter_message is not None or not self.client.intents.message_content:
            return thread.starter_message
        try:
            return await thread.fetch_message(thread.id)
        except discord.HTTPException:
            return None

    def _help_post(self, thread: discord.Thread, starter: discord.Message | None, waiting: _Waiting) -> HelpPost:
        parts = [thread.name]
        if starter is not None and starter.content.strip() and starter.content.strip() != thread.name.strip():
            parts.append(starter.content)
        forum = thread.parent
        return HelpPost(
            conversation_id=str(thread.id),
            post_id=str(thread.id),
            author_id=str(thread.owner_id),
            text="\n".join(parts),
            tags=tuple(tag.name for tag in thread.applied_tags),
            conversation_names=(forum.name,) if forum is not None else (),
            parent_id=str(thread.parent_id),
            moderator_replied=waiting.moderator_replied,
        )

    def close(self) -> None:
        """Posts still in their grace period are left unanswered (a restart does not bring them
        back); answers already being sent finish, as other replies in flight do."""
        for task in list(self._tasks):
            task.cancel()

    # -- the buttons --------------------------------------------------------------------

    async def pressed(self, interaction: discord.Interaction, solved: bool) -> None:
        """ "That solved it" / "I need a human" on an answer: the core says whether the presser may
        decide (the poster, or a moderator) and whether to notify the helpers."""
        client = self.client
        message = interaction.message
        if client.stopping or message is None:
            return
        with client.in_flight():
            moderator = client.interaction_by_moderator(interaction)
            try:
                outcome = await client.core.in_worker(
                    client.core.help_outcome, str(message.id), str(interaction.user.id), solved, moderator
                )
            except Overloaded:
                await client.notify(interaction, DiscordNotice.BUSY)
                return
            if not outcome.accepted:
                await client.notify(interaction, DiscordNotice.NOT_THE_POSTER)
                return
            try:
                await client.notify(interaction, DiscordNotice.SOLVED if solved else DiscordNotice.HUMAN)
            except discord.HTTPException as error:  # e.g. past Discord's 3 s: the outcome still stands
                log.warning(
                    "Could not acknowledge a press in help post %s (status %s)", message.channel.id, error.status
                )
            thread = interaction.channel
            if not isinstance(thread, discord.Thread):
                return
            # Each outcome replaces the other: a post is not "Solved" and "Needs human" at once.
            if solved:
                await self._retag(thread, add=self.config.solved_tag, remove=self.config.human_tag)
            else:
                await self._retag(thread, add=self.config.human_tag, remove=self.config.solved_tag)
                if outcome.notify:
                    await self._ask_for_a_human(thread)

    async def _retag(self, thread: discord.Thread, add: str | None, remove: str | None) -> None:
        """Apply the forum's tag named `add` (and take off the one named `remove`), as far as the
        forum has them and the post has room (Discord's five tags); a refusal (no Manage Threads,
        the post deleted) is logged."""
        forum = thread.parent
        if add is None or not isinstance(forum, discord.ForumChannel):
            return
        by_name = {channel_key(tag.name): tag for tag in forum.available_tags}
        wanted = by_name.get(channel_key(add))
        if wanted is None:
            log.warning("Help forum #%s has no tag %r to apply", forum.name, add)
            return
        unwanted = by_name.get(channel_key(remove)) if remove else None
        tags = [tag for tag in thread.applied_tags if tag.id != getattr(unwanted, "id", None)]
        if all(tag.id != wanted.id for tag in tags):
            tags.append(wanted)
        if [tag.id for tag in tags] == [tag.id for tag in thread.applied_tags]:
            return
        if len(tags) > POST_TAG_LIMIT:
            log.warning("Help post %s already carries %d tags: %r not applied", thread.id, POST_TAG_LIMIT, add)
            return
        try:
            await thread.edit(applied_tags=tags)
        except discord.HTTPException as error:
            hint = ": the bot needs Manage Threads" if error.status == 403 else ""
            log.warning("Could not tag help post %s %r (status %s)%s", thread.id, add, error.status, hint)

    async def _ask_for_a_human(self, thread: discord.Thread) -> None:
        """One notice in the post, mentioning `discord.human_role` and nobody else."""
        role = self.config.human_role
        if role is None:
            return
        rendered = render_discord(Reply(ReplyKind.HANDOFF, link=thread.jump_url))
        only_the_role = discord.AllowedMentions(
            everyone=False, users=False, roles=[discord.Object(id=role)], replied_user=False
        )
        with contextlib.suppress(discord.NotFound):
            await thread.send(content=f"<@&{role}> {rendered.content}", allowed_mentions=only_the_role)
