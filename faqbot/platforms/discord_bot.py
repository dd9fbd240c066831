"""The Discord adapter: Discord events in, the core's replies out.

Everything the bot decides (is this a command, which entry, is it on cooldown, who may
run a moderator's command, what a correction teaches, what the reply says) lives in the
platform-free core: `faqbot.bot.Bot` (over `faqbot.responder`) and `faqbot.render`. This
module only translates: a Discord message or interaction becomes an `IncomingMessage`
(with who is a moderator here, what it replies to, the channel's names), and the `Reply`
the core returns is sent as a Discord reply with its embed, never pinging anyone, then
reported back (`Bot.sent`) so the store records it. It also owns the Discord-only parts:
the `/faq` and `/faq-list` slash commands, 👍 / 👎 ratings and the 🗑️ removal on the bot's
answers (the store knows who asked, so both survive a restart), sharding, reaching
Discord at start-up within the connect budget, running without the message content
intent when it is off or refused, finishing replies in flight at shutdown, and staying
alive through odd gateway payloads. Help forums are `discord_help_forums`, the "Answer
with FAQ" context menu is `discord_menu`.

Who is a moderator: a member with Manage Messages in the channel, or with a role named
(by id or name) in `discord.moderator_roles`.

`faqbot run discord` calls `main(bot, settings, state, health, heartbeat)`; tests build a
`DiscordBot` from a `Bot` and `DiscordSettings` and run it in their own event loop against
a fake server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import zlib
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
import discord
import discord.gateway
import discord.http
import yarl
from discord import app_commands

from faqbot.answering import Overloaded
from faqbot.backoff import Deadline, GaveUp, retry_until
from faqbot.bot import Bot, Handled
from faqbot.bounded import BoundedDict
from faqbot.health import Health, Heartbeat
from faqbot.matching.decision import Why
from faqbot.matching.text import addressee
from faqbot.platforms.discord_help_forums import HelpForums, HelpOutcomeButton
from faqbot.platforms.discord_menu import AnswerWithFaq, EntryPicker
from faqbot.platforms.lifecycle import SHUTDOWN_GRACE_SECONDS, FatalPlatformError, run_adapter
from faqbot.platforms.network import describe_network_error
from faqbot.render import DiscordNotice, DiscordText, render_discord
from faqbot.responder import IncomingMessage, RepliedMessage, Reply, ReplyKind
from faqbot.settings import DiscordSettings, Settings
from faqbot.sources.model import channel_key
from faqbot.state_folder import StateFolder
from faqbot.store.interface import StoreError

log = logging.getLogger(__name__)

REMOVE_EMOJI = "🗑️"
HELPFUL_EMOJI, UNHELPFUL_EMOJI = "👍", "👎"
CHOICE_LIMIT = 25  # Discord: at most 25 autocomplete choices
CHOICE_TEXT_LIMIT = 100  # Discord: choice names and string values at most 100 characters
# (channel, name) pairs of recent speakers; names are at most 32 characters, so about 200 bytes each.
REMEMBERED_SPEAKERS = 20_000
_SPEAKER_BYTES = 200
# What Discord may add to an emoji's name: the variation selector, and skin tones (👍🏽).
_EMOJI_MODIFIERS = re.compile("[\ufe0f\U0001f3fb-\U0001f3ff]")
_ANSWERED_MESSAGE_TYPES = (discord.MessageType.default, discord.MessageType.reply)
_NO_PINGS = discord.AllowedMentions.none()
_OPENING_NAME = re.compile(r"\A[^:,]*[:,]")  # what `addressee` read as a name, up to its colon or comma
# One try at reaching the API or the gateway at start-up: Discord answers in well under a second.
# A try gets at most a quarter of the connect budget, so that even a short budget sees retries.
ATTEMPT_SECONDS = 10.0
# Discord allows one IDENTIFY per 5 s (per max_concurrency bucket); discord.py's own spacing.
IDENTIFY_SPACING_SECONDS = 5.0
# Discord drops an interaction not answered within 3 s: a `/faq` whose answer is not ready by then
# is deferred ("faqbot is thinking...") and the answer edited in when it is.
SLASH_DEFER_SECONDS = 2.0
# At shutdown, replies being sent get this long to finish: well within the lifecycle's grace.
DRAIN_SECONDS = SHUTDOWN_GRACE_SECONDS / 2
STORE_POLL_SECONDS = 0.05  # how often start-up looks whether the store is open, to restore what it keeps
# A frame discord.py cannot read raises one of these inside its gateway loop.
_UNREADABLE_FRAME = (ValueError, TypeError, AttributeError, KeyError, IndexError, zlib.error)
REJECTED_TOKEN = "Discord rejected the token in FAQBOT_DISCORD_TOKEN; check it in the developer portal"
# Gateway close codes that retrying cannot fix, with what the operator can do.
_FATAL_CLOSE_CODES = {
    4004: REJECTED_TOKEN,
    4010: "Discord refused the shard: check FAQBOT_DISCORD_SHARD_COUNT and FAQBOT_DISCORD_SHARD_IDS",
    4011: "Discord requires sharding for this bot (too many guilds for one connection): set "
    "FAQBOT_DISCORD_SHARD_COUNT (see the README on sharding)",
    4012: "Discord refused the gateway API version discord.py speaks: upgrade discord.py",
    4013: "Discord refused the requested intents as invalid",
}
CONTENT_INTENT_REFUSED = (
    "Discord refused the message content intent (close code 4014): reconnecting without it. Turn it on "
    "under Bot → Privileged Gateway Intents in the developer portal (past 10,000 users Discord must "
    "approve it first), or set FAQBOT_DISCORD_MESSAGE_CONTENT=0 to stop asking for it"
)
T = TypeVar("T")


def point_at_server(api_base: str | None, gateway: str | None) -> None:
    """Aim discord.py at a Discord-compatible server (Spacebar, a test fake).

    These are process-wide class attributes in discord.py, read on every request
    and connection; None leaves Discord's own endpoints in place.
    """
    if api_base:
        discord.http.Route.BASE = api_base
    if gateway:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway)


def _mention_pattern(user_id: int) -> re.Pattern[str]:
    return re.compile(rf"<@!?{user_id}>")


def _emoji(name: str | None) -> str:
    """An emoji as the bot compares them: 🗑 and 🗑️, 👍 and 👍🏽 are the same."""
    return _EMOJI_MODIFIERS.sub("", name or "")


_RATINGS = {_emoji(HELPFUL_EMOJI): True, _emoji(UNHELPFUL_EMOJI): False}


def _names_of(user: discord.abc.User) -> set[str]:
    """What chat may call a member: user name, display name and server nickname, casefolded."""
    names = {user.name, getattr(user, "global_name", None), getattr(user, "nick", None)}
    return {name.casefold() for name in names if name}


def _snowflake(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None


class RecentSpeakers:
    """Who spoke lately in each channel, by every name chat may call them.

    Without the privileged members intent Discord does not tell the bot who is in a server;
    what it sees is who writes, whom they mention and whom they reply to. That is enough to
    read "alice: try this" as said to alice when alice is part of the conversation. The memory
    is bounded by count and size; a member it forgot is one whose name-first message to them
    may get a passive answer, as before the bot knew them."""

    def __init__(self, limit: int = REMEMBERED_SPEAKERS) -> None:
        self._speakers: BoundedDict[tuple[int, str], int] = BoundedDict(limit, max_bytes=limit * _SPEAKER_BYTES)

    def saw(self, channel_id: int, user: discord.abc.User) -> None:
        for name in _names_of(user):
            self._speakers[(channel_id, name)] = user.id

    def called(self, channel_id: int, name: str) -> int | None:
        """The id of the recent speaker in the channel known by `name` (casefolded), if any."""
        return self._speakers.get((channel_id, name))

    def __len__(self) -> int:
        return len(self._speakers)


class ModeratorRoles:
    """The roles `discord.moderator_roles` names, by id or by name (case and "@" do not matter)."""

    def __init__(self, configured: tuple[str, ...]) -> None:
        self._keys = {channel_key(role).lstrip("@") for role in configured}

    def held_by(self, member: discord.Member) -> bool:
        return bool(self._keys) and any(
            str(role.id) in self._keys or channel_key(role.name).lstrip("@") in self._keys for role in member.roles
        )


def _embeds(rendered_embeds: list[dict[str, Any]]) -> list[discord.Embed]:
    return [discord.Embed.from_dict(embed) for embed in rendered_embeds]


def _choice(entry_id: str, title: str) -> app_commands.Choice[str]:
    """One autocomplete choice: the entry's title, its id as value so picking it answers exactly it.

    An id too long for Discord falls back to the title, which `/faq` then treats as a question.
    """
    name = (title.strip() or entry_id)[:CHOICE_TEXT_LIMIT]
    value = entry_id if len(entry_id) <= CHOICE_TEXT_LIMIT else name
    return app_commands.Choice(name=name, value=value)


def _where(channel: object) -> tuple[tuple[str, ...], str | None]:
    """The names a channel is known by, for entries' `channels:` scope, and a thread's channel.

    A thread counts as its channel: its own name is a member's title, so it names nothing."""
    if isinstance(channel, discord.Thread):
        parent = channel.parent
        return ((parent.name,) if parent is not None else ()), str(channel.parent_id)
    name = getattr(channel, "name", None)
    return ((name,) if isinstance(name, str) and name else ()), None


class DiscordBot(discord.AutoShardedClient):
    """A discord.py client wired to the platform-free `Bot` (`core`).

    Always the sharded client: it runs the shards `config` names (`shard_count`, `shard_ids`)
    or, when it names none, as many as Discord recommends (one, below 2,500 guilds); each
    guild's events arrive on exactly one shard, so processes that split the shards between
    them never see the same conversation.

    `content_refused`: Discord refused the message content intent to an earlier client, so
    this one does not ask for it (see `without_message_content`)."""

    def __init__(
        self,
        core: Bot,
        config: DiscordSettings,
        *,
        help_grace_seconds: float = 60.0,
        remembered_speakers: int = REMEMBERED_SPEAKERS,
        identify_spacing: float = IDENTIFY_SPACING_SECONDS,
        slash_defer_seconds: float = SLASH_DEFER_SECONDS,
        content_refused: bool = False,
        **client_options: Any,
    ) -> None:
        self._rebuild = dict(
            help_grace_seconds=help_grace_seconds,
            remembered_speakers=remembered_speakers,
            identify_spacing=identify_spacing,
            slash_defer_seconds=slash_defer_seconds,
            **client_options,
        )
        intents = discord.Intents.default()  # guilds, messages, reactions, DMs; nothing privileged
        intents.message_content = config.message_content and not content_refused
        client_options.setdefault("allowed_mentions", _NO_PINGS)
        if config.shard_count is not None:
            client_options.setdefault("shard_count", config.shard_count)
            client_options.setdefault("shard_ids", list(config.shard_ids) or None)
        super().__init__(intents=intents, **client_options)
        self.core = core
        self.config = config
        self.content_refused = content_refused
        self.moderator_roles = ModeratorRoles(config.moderator_roles)
        self.help_forums = HelpForums(self, config, help_grace_seconds)
        self.menu = AnswerWithFaq(self)
        self.tree = app_commands.CommandTree(self)
        self.tree.error(self._on_app_command_error)
        for command in _slash_commands(self):
            self.tree.add_command(command)
        self.tree.add_command(self.menu.command())
        self.add_dynamic_items(HelpOutcomeButton, EntryPicker)  # their presses work after a restart too
        self.speakers = RecentSpeakers(remembered_speakers)
        self.stopping = False  # set at shutdown: new events are left alone
        self.identify_spacing = identify_spacing
        self.slash_defer_seconds = slash_defer_seconds
        self._in_flight: set[asyncio.Task[Any]] = set()
        self._restoring: asyncio.Task[None] | None = None
        self.restored = asyncio.Event()  # set once what the store keeps is back (or could not be)
        self._guard_gateway_parsers()
        self._guard_gateway_frames()

    def without_message_content(self) -> DiscordBot:
        """A new client like this one that does not ask for the message content intent."""
        return DiscordBot(self.core, self.config, content_refused=True, **self._rebuild)

    # -- start-up -------------------------------------------------------------------

    async def setup_hook(self) -> None:
        """Say what works and what does not, restore what moderators set, register the commands."""
        self._log_what_works()
        self._restoring = asyncio.create_task(self._restore_when_the_store_opens(), name="faqbot-restore")
        if not self.config.sync_commands:
            return
        if self.shard_ids is not None and 0 not in self.shard_ids:
            log.info("Slash commands are registered by the process that runs shard 0")
            return
        try:
            if self.config.guild_id is not None:
                guild = discord.Object(id=self.config.guild_id)
                self.tree.copy_global_to(guild=guild)
                commands = await self.tree.sync(guild=guild)
            else:
                commands = await self.tree.sync()
            names = ", ".join(("/" if c.type is discord.AppCommandType.chat_input else "") + c.name for c in commands)
            log.info("Registered application commands: %s", names)
        except discord.HTTPException as error:
            log.error("Could not register slash commands (status %s); /faq may be missing", error.status)

    def _log_what_works(self) -> None:
        if self.intents.message_content:
            return
        why = "Discord refused it" if self.content_refused else "FAQBOT_DISCORD_MESSAGE_CONTENT=0"
        prefix = self.core.responder.settings.command_prefix
        forums = "help forum posts (by title and tags), " if self.help_forums.configured else ""
        log.warning(
            "Message content intent is off (%s): Discord sends the bot no text of channel messages, so "
            "prefix commands (%s ...), passive answers, moderators' %s replies and help posts' first "
            "messages are off. Still working: %s/faq, /faq-list, the Answer with FAQ menu, messages that "
            "mention the bot, direct messages, ratings, removal and the help-post buttons.",
            why,
            prefix,
            prefix,
            forums,
        )

    async def _restore_when_the_store_opens(self) -> None:
        """Learned phrasings and channels' passive settings, once the store is open: the store's
        writer opens it in its own thread, and a database may be down at start-up (the bot
        answers meanwhile, with what the files say)."""
        recorder = self.core.recorder
        try:
            while recorder is not None and recorder.running:
                try:
                    recorder.store  # noqa: B018 - raises until the writer has opened it
                    break
                except StoreError:
                    await asyncio.sleep(STORE_POLL_SECONDS)
            with contextlib.suppress(Overloaded):
                await self.core.in_worker(self.core.restore)
        finally:
            self.restored.set()

    async def on_ready(self) -> None:
        if self.user is not None:
            shards = ", ".join(str(shard) for shard in sorted(self.shards))
            log.info(
                "Connected to Discord as %s (id %s) in %d guild(s), shard(s) %s of %s",
                self.user,
                self.user.id,
                len(self.guilds),
                shards,
                self.shard_count,
            )
            self.help_forums.describe(list(self.guilds))

    async def close(self) -> None:
        self.help_forums.close()
        if self._restoring is not None:
            self._restoring.cancel()
        await super().close()

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """Space this process's IDENTIFYs as Discord requires (discord.py's rule, its spacing configurable)."""
        if not initial:
            await asyncio.sleep(self.identify_spacing)

    def _guard_gateway_parsers(self) -> None:
        """Log and skip a gateway event discord.py cannot parse, instead of dropping the connection."""
        parsers: dict[str, Callable[[Any], None]] = self._connection.parsers

        def guarded(event: str, parse: Callable[[Any], None]) -> Callable[[Any], None]:
            def parse_or_log(data: Any) -> None:
                try:
                    parse(data)
                except Exception:
                    log.exception("Ignoring a %s event discord.py could not parse", event)

            return parse_or_log

        for event, parse in list(parsers.items()):
            parsers[event] = guarded(event, parse)

    def _guard_gateway_frames(self) -> None:
        """Skip a gateway frame discord.py cannot read (not JSON, not an object, a broken HELLO).

        discord.py lets such a frame end its gateway loop, which takes the whole sharded client
        down. It has no hook for it; every new gateway websocket passes through its state's
        `_update_references`, which is where each one gets the guard."""
        connection = self._connection
        update_references = connection._update_references

        def guard(ws: discord.gateway.DiscordWebSocket) -> None:
            update_references(ws)
            receive = ws.received_message

            async def received_message(message: Any, /) -> None:
                try:
                    await receive(message)
                except _UNREADABLE_FRAME as error:
                    log.warning("Skipped a gateway frame discord.py could not read (%s)", type(error).__name__)

            ws.received_message = received_message

        connection._update_references = guard

    # -- in flight --------------------------------------------------------------------

    @contextlib.contextmanager
    def in_flight(self) -> Iterator[None]:
        """Mark the event handler running in this task as work to finish before shutting down."""
        task = asyncio.current_task()
        if task is not None:
            self._in_flight.add(task)
        try:
            yield
        finally:
            if task is not None:
                self._in_flight.discard(task)

    async def drain(self, timeout: float = DRAIN_SECONDS) -> int:
        """Stop taking new events and let replies being worked on or sent finish, for at most
        `timeout` seconds; those still unfinished are cancelled. Returns how many were dropped."""
        self.stopping = True
        self.help_forums.close()
        pending = {task for task in self._in_flight if not task.done()}
        if pending:
            log.info("Finishing %d repl%s before shutting down", len(pending), "y" if len(pending) == 1 else "ies")
            _, pending = await asyncio.wait(pending, timeout=timeout)
        for task in pending:
            task.cancel()
        if pending:
            log.warning(
                "%d repl%s could not be sent before shutting down", len(pending), "y" if len(pending) == 1 else "ies"
            )
        return len(pending)

    # -- who is who ------------------------------------------------------------------------

    def is_moderator(self, member: object, channel: object) -> bool:
        """Manage Messages in `channel` (the server-wide permission when it is unknown), or a
        moderator role. Direct messages have no moderators."""
        if not isinstance(member, discord.Member):
            return False
        if self.moderator_roles.held_by(member):
            return True
        if isinstance(channel, discord.abc.GuildChannel | discord.Thread):
            with contextlib.suppress(discord.ClientException):  # a thread whose channel is not cached
                return channel.permissions_for(member).manage_messages
        return member.guild_permissions.manage_messages

    def interaction_by_moderator(self, interaction: discord.Interaction) -> bool:
        """Whether whoever caused `interaction` is a moderator where it happened (Discord sends
        their permissions in that channel with it)."""
        member = interaction.user
        if not isinstance(member, discord.Member):
            return False
        return self.moderator_roles.held_by(member) or interaction.permissions.manage_messages

    # -- messages -------------------------------------------------------------------

    async def on_message(self, message: discord.Message) -> None:
        """A member's message: maybe a command, a mention, or a question to answer passively."""
        if self.stopping:
            return
        self._remember_speakers(message)
        if not self._from_a_member(message):
            return
        moderator = self.is_moderator(message.author, message.channel)
        self.help_forums.saw(message, moderator)
        with self.in_flight():
            await self._answer(message, moderator)

    async def _answer(self, message: discord.Message, moderator: bool) -> None:
        text, addressed = self._strip_own_mention(message.content)
        text, by_name = self._strip_own_name(text, message)
        addressed = addressed or by_name or isinstance(message.channel, discord.DMChannel)
        names, parent = _where(message.channel)
        asked = IncomingMessage(
            text,
            str(message.channel.id),
            str(message.author.id),
            addressed,
            self._said_to_someone_else(message, text),
            parent_id=parent,
            message_id=str(message.id),
            moderator=moderator,
            replying_to=self._replied(message),
            conversation_names=names,
            help_post_author=self.help_forums.poster_of(message.channel),
        )
        try:
            handled = await self.core.ahandle(asked)
        except Overloaded:
            return
        reply = handled.reply
        sent = None
        if reply is not None:
            target = _snowflake(handled.reply_to) or message.id
            sent = await self.send_reply(message.channel, render_discord(reply), reply_to=target)
        self.core.sent(asked, handled, str(sent.id) if sent is not None else None)
        if sent is not None and reply is not None and reply.passive:
            await self._offer_removal(sent)

    async def send_reply(
        self,
        channel: discord.abc.Messageable,
        rendered: DiscordText,
        *,
        reply_to: int,
        view: discord.ui.View | None = None,
    ) -> discord.Message:
        """Send a rendered reply in `channel` as a Discord reply to message `reply_to`, pinging nobody."""
        reference = discord.MessageReference(message_id=reply_to, channel_id=channel.id, fail_if_not_exists=False)
        options: dict[str, Any] = {"view": view} if view is not None else {}
        return await channel.send(
            content=rendered.content or None,
            embeds=_embeds(rendered.embeds),
            reference=reference,
            mention_author=False,
            allowed_mentions=_NO_PINGS,
            **options,
        )

    def _replied(self, message: discord.Message) -> RepliedMessage | None:
        """The message `message` is a Discord reply to, read from the replied-to message itself.
        Its text is empty without the message content intent: then None."""
        reference = message.reference
        if message.type is not discord.MessageType.reply or reference is None or reference.message_id is None:
            return None
        replied = reference.resolved
        if not isinstance(replied, discord.Message):  # deleted, or not sent along
            return RepliedMessage(str(reference.message_id))
        mine = self.user is not None and replied.author.id == self.user.id
        return RepliedMessage(str(replied.id), replied.content or None, str(replied.author.id), from_bot=mine)

    def _said_to_someone_else(self, message: discord.Message, text: str) -> bool:
        """A mention of another member, a reply to their message, or a message that opens with
        the name of someone who spoke in the channel lately ("alice: try this"): their conversation."""
        ours = (self.user.id if self.user else None, message.author.id)
        if any(user.id not in ours for user in message.mentions):
            return True
        replied = message.reference.resolved if message.reference is not None else None
        if isinstance(replied, discord.Message) and replied.author.id not in ours:
            return True
        name = addressee(text)
        return name is not None and self.speakers.called(message.channel.id, name) not in (None, *ours)

    def _remember_speakers(self, message: discord.Message) -> None:
        """Everyone this message shows to be in the conversation: its author, whom it mentions
        and whom it replies to (webhooks post under any name they like, so not them)."""
        channel = message.channel.id
        if message.webhook_id is None:
            self.speakers.saw(channel, message.author)
        for user in message.mentions:
            self.speakers.saw(channel, user)
        replied = message.reference.resolved if message.reference is not None else None
        if isinstance(replied, discord.Message) and replied.webhook_id is None:
            self.speakers.saw(channel, replied.author)

    def _strip_own_name(self, text: str, message: discord.Message) -> tuple[str, bool]:
        """A message that opens with the bot's name ("faqbot: how do I ...") asks it, as a mention does."""
        name = addressee(text)
        if name is None or self.user is None:
            return text, False
        me = message.guild.me if message.guild is not None else self.user
        if name not in _names_of(self.user) | _names_of(me):
            return text, False
        return _OPENING_NAME.sub("", text, count=1).strip(), True

    def _from_a_member(self, message: discord.Message) -> bool:
        """Only people's ordinary messages: never ourselves, other bots, webhooks or system messages."""
        if self.user is None or message.author.id == self.user.id:
            return False
        if message.author.bot or message.webhook_id is not None or message.author.system:
            return False
        return message.type in _ANSWERED_MESSAGE_TYPES

    def _strip_own_mention(self, content: str) -> tuple[str, bool]:
        """Remove `<@id>`/`<@!id>` of the bot; a mention is an explicit ask."""
        assert self.user is not None
        stripped, count = _mention_pattern(self.user.id).subn(" ", content)
        return " ".join(stripped.split()) if count else content, count > 0

    # -- help forums --------------------------------------------------------------------------

    async def on_thread_create(self, thread: discord.Thread) -> None:
        """A new thread (discord.py calls this only for `newly_created` ones): a help post, maybe."""
        self.help_forums.post_opened(thread)

    # -- ratings and removing an unwanted answer ------------------------------------------------

    async def _offer_removal(self, reply: discord.Message) -> None:
        """Put a 🗑️ under a passive answer, so the asker sees how to remove it."""
        try:
            await reply.add_reaction(REMOVE_EMOJI)
        except discord.HTTPException as error:
            log.info("Could not add the %s reaction (status %s); removal still works", REMOVE_EMOJI, error.status)

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        """On one of the bot's answers: 👍 / 👎 rate it; 🗑️ by its asker or a moderator deletes it."""
        if self.user is None or payload.user_id == self.user.id or self.stopping or payload.emoji.id is not None:
            return
        if payload.message_author_id != self.user.id:  # Discord says whose message it is: not ours
            return
        emoji = _emoji(payload.emoji.name)
        if emoji in _RATINGS:
            self.core.rated(str(payload.message_id), str(payload.user_id), _RATINGS[emoji], given_by=emoji)
        elif emoji == _emoji(REMOVE_EMOJI):
            with self.in_flight():
                await self._remove(payload)

    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        """👍 / 👎 taken back: so is the rating it gave, not one the other gave since (Discord does not
        say whose message it was; the store knows)."""
        if self.user is None or payload.user_id == self.user.id or self.stopping or payload.emoji.id is not None:
            return
        emoji = _emoji(payload.emoji.name)
        if emoji in _RATINGS:
            self.core.rated(str(payload.message_id), str(payload.user_id), None, given_by=emoji)

    async def _remove(self, payload: discord.RawReactionActionEvent) -> None:
        """Delete the answer if a moderator asks, or its asker (the store says who asked, after a restart too)."""
        guild = self.get_guild(payload.guild_id) if payload.guild_id is not None else None
        channel = guild.get_channel_or_thread(payload.channel_id) if guild is not None else None
        if not self.is_moderator(payload.member, channel):
            try:
                asker = await self.core.in_worker(self.core.is_asker, str(payload.message_id), str(payload.user_id))
            except Overloaded:
                return
            if not asker:
                return
        with contextlib.suppress(discord.NotFound):
            await self.get_partial_messageable(payload.channel_id).get_partial_message(payload.message_id).delete()
        self.core.removed(str(payload.message_id))

    # -- slash commands -------------------------------------------------------------------

    def interaction_message(
        self, interaction: discord.Interaction, text: str, *, replying_to: RepliedMessage | None = None
    ) -> IncomingMessage:
        """What a member asks through an interaction, as the core sees it: said to the bot."""
        names, parent = _where(interaction.channel)
        return IncomingMessage(
            text,
            str(interaction.channel_id),
            str(interaction.user.id),
            addressed=True,
            parent_id=parent,
            message_id=str(interaction.id),
            moderator=self.interaction_by_moderator(interaction),
            replying_to=replying_to,
            conversation_names=names,
            help_post_author=self.help_forums.poster_of(interaction.channel),
        )

    async def answer_slash(self, interaction: discord.Interaction, question: str) -> None:
        """`/faq question`: the same as `!faq question` (an autocomplete pick is an entry id)."""
        if self.stopping:
            return
        with self.in_flight():
            prefix = self.core.responder.settings.command_prefix
            asked = self.interaction_message(interaction, f"{prefix} {question}")
            try:
                handled = await self._answer_in_time(interaction, asked)
            except Overloaded:
                await self.notify(interaction, DiscordNotice.BUSY)
                return
            if handled.reply is None:  # an interaction needs an answer: say why, to the asker only
                await self._send_silence(interaction, handled.verdict.why)
                return
            message_id = await self._send_interaction_reply(interaction, handled.reply)
            self.core.sent(asked, handled, str(message_id) if message_id is not None else None)

    async def _answer_in_time(self, interaction: discord.Interaction, asked: IncomingMessage) -> Handled:
        """The core's answer to `asked`; the interaction is deferred when the answer is not ready
        within `slash_defer_seconds` (the answering thread is busy), so Discord keeps it open."""
        answering = asyncio.ensure_future(self.core.ahandle(asked))
        done, _ = await asyncio.wait([answering], timeout=self.slash_defer_seconds)
        if not done:
            with contextlib.suppress(discord.HTTPException):  # too late already: the answer is lost anyway
                await interaction.response.defer(thinking=True)
        return await answering

    async def _send_silence(self, interaction: discord.Interaction, why: Why) -> None:
        if why is Why.NOT_THE_POSTER:
            await self.notify(interaction, DiscordNotice.POSTER_ONLY)
        else:
            prefix = self.core.responder.settings.command_prefix
            await self._send_interaction_reply(
                interaction, Reply(ReplyKind.SLOW_DOWN, command_prefix=prefix), ephemeral=True
            )

    async def list_slash(self, interaction: discord.Interaction, page: int) -> None:
        """`/faq-list [page]`: one page of what the bot knows, shown only to whoever asked."""
        if self.stopping:
            return
        with self.in_flight():
            try:
                reply = await self.core.in_worker(self.core.responder.listing_reply, page)
            except Overloaded:
                return
            await self._send_interaction_reply(interaction, reply, ephemeral=True)

    async def autocomplete_choices(self, partial: str) -> list[app_commands.Choice[str]]:
        """Entries matching what the member has typed so far, as Discord choices."""
        try:
            entries = await self.core.in_worker(self.core.responder.autocomplete, partial, CHOICE_LIMIT)
        except Overloaded:
            return []
        return [_choice(entry.id, entry.title) for entry in entries]

    async def _send_interaction_reply(
        self, interaction: discord.Interaction, reply: Reply, *, ephemeral: bool = False
    ) -> int | None:
        """Answer the interaction with `reply` (into its deferred response, if it was deferred);
        the id of the message that shows it, when Discord says."""
        rendered = render_discord(reply, slash=True)
        content, embeds = rendered.content or None, _embeds(rendered.embeds)
        if interaction.response.is_done():  # deferred: the answer replaces "thinking..."
            message = await interaction.edit_original_response(
                content=content, embeds=embeds, allowed_mentions=_NO_PINGS
            )
            return message.id
        response = await interaction.response.send_message(
            content=content, embeds=embeds, allowed_mentions=_NO_PINGS, ephemeral=ephemeral
        )
        return response.message_id

    async def notify(self, interaction: discord.Interaction, notice: DiscordNotice) -> None:
        """A short answer to an interaction that only its member sees."""
        if interaction.response.is_done():
            await interaction.edit_original_response(content=notice.value, view=None)
        else:
            await interaction.response.send_message(notice.value, ephemeral=True, allowed_mentions=_NO_PINGS)

    # -- errors -----------------------------------------------------------------------------

    async def on_error(self, event_method: str, /, *args: Any, **kwargs: Any) -> None:
        """A failing event handler is logged; the bot carries on."""
        log.exception("Error while handling Discord event %s", event_method)

    async def _on_app_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        command = interaction.command.name if interaction.command else "?"
        log.error("Error in application command %s", command, exc_info=error)


def _slash_commands(bot: DiscordBot) -> list[app_commands.Command[Any, ..., None]]:
    """`/faq` (with autocomplete) and `/faq-list`, bound to one bot."""

    @app_commands.command(name="faq", description="Ask the FAQ a question")
    @app_commands.describe(question="Your question; pick a topic as you type, or write your own")
    async def faq(interaction: discord.Interaction, question: app_commands.Range[str, 1, 200]) -> None:
        await bot.answer_slash(interaction, question)

    @faq.autocomplete("question")
    async def faq_autocomplete(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return await bot.autocomplete_choices(current)

    @app_commands.command(name="faq-list", description="List what the FAQ can answer")
    @app_commands.describe(page="Page number, from 1")
    async def faq_list(interaction: discord.Interaction, page: app_commands.Range[int, 1, 1000] = 1) -> None:
        await bot.list_slash(interaction, page)

    return [faq, faq_list]


# -- start-up: reaching Discord within the connect budget ----------------------------------


class _Unavailable(Exception):
    """An answer that means "not now" (HTTP 429, 5xx, a gateway that says nothing): worth retrying."""


@dataclass(frozen=True)
class _Budget:
    """The start-up budget: when retrying stops, and how long one try may take."""

    deadline: Deadline
    attempt_limit: float

    @classmethod
    def of(cls, seconds: float) -> _Budget:
        return cls(Deadline.after(seconds), min(ATTEMPT_SECONDS, seconds / 4))

    def attempt(self) -> float:
        return max(0.1, min(self.attempt_limit, self.deadline.remaining()))

    def failure(self, url: str) -> Callable[[Exception], str | None]:
        """What `retry_until` logs for a failed try at `url`; None for what retrying cannot fix."""

        def describe(error: Exception) -> str | None:
            if isinstance(error, _Unavailable):
                return str(error)
            return describe_network_error(url, error, self.attempt_limit)

        return describe

    async def retry(self, attempt: Callable[[], Awaitable[T]], url: str) -> T:
        return await retry_until(attempt, deadline=self.deadline, failure=self.failure(url), log=log)

    async def within(self, work: Awaitable[T], what: str) -> T:
        """`work` within what is left; running out is `GaveUp` saying `what` did not finish."""
        try:
            return await asyncio.wait_for(work, max(0.1, self.deadline.remaining()))
        except TimeoutError:
            raise GaveUp(f"{what} did not finish in time") from None


async def _ask_for_the_gateway(url: str, token: str, seconds: float) -> tuple[str, int]:
    """`GET /gateway/bot`: the API answers, takes the token, and says where the gateway is and
    how many shards it recommends."""
    headers = {"Authorization": f"Bot {token}", "User-Agent": "faqbot (discord.py)"}
    timeout = aiohttp.ClientTimeout(total=seconds)
    async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url, headers=headers) as response:
        if response.status == 401:
            raise FatalPlatformError(REJECTED_TOKEN)
        if response.status == 429 or response.status >= 500:
            raise _Unavailable(f"{url} answered HTTP {response.status}")
        if response.status != 200:
            raise FatalPlatformError(f"{url} answered HTTP {response.status}: is FAQBOT_DISCORD_API_BASE right?")
        try:
            answer = await response.json(content_type=None)
            gateway, shards = answer.get("url"), answer.get("shards", 1)
        except (ValueError, AttributeError):
            gateway, shards = None, 1
        if not isinstance(gateway, str) or not gateway.startswith(("ws://", "wss://")):
            raise FatalPlatformError(f"{url} did not answer as the Discord API does: is FAQBOT_DISCORD_API_BASE right?")
        return gateway, shards if isinstance(shards, int) and shards > 0 else 1


async def _hear_the_gateway(gateway: str, seconds: float) -> None:
    """Open the gateway and wait for its HELLO: it is there and speaks Discord's protocol."""
    url = str(yarl.URL(gateway).with_query(v=discord.http.INTERNAL_API_VERSION, encoding="json"))
    async with aiohttp.ClientSession() as session:
        async with asyncio.timeout(seconds):
            ws = await session.ws_connect(url)
        async with ws:
            try:
                hello = await asyncio.wait_for(ws.receive(), seconds)
            except TimeoutError:
                raise _Unavailable(f"{gateway} accepted the connection but said nothing within {seconds:g} s") from None
    try:
        op = json.loads(hello.data).get("op") if hello.type is aiohttp.WSMsgType.TEXT else None
    except (ValueError, AttributeError):
        op = None
    if op != discord.gateway.DiscordWebSocket.HELLO:
        raise _Unavailable(f"{gateway} did not greet as the Discord gateway does")


def _fatal(error: BaseException) -> FatalPlatformError | None:
    """The operator's one line for an error that ends the bot, when retrying cannot help."""
    if isinstance(error, discord.LoginFailure):
        return FatalPlatformError(REJECTED_TOKEN)
    if isinstance(error, discord.PrivilegedIntentsRequired):
        return FatalPlatformError("Discord refused a privileged intent the bot did not ask for")
    if isinstance(error, discord.ConnectionClosed) and error.code in _FATAL_CLOSE_CODES:
        return FatalPlatformError(_FATAL_CLOSE_CODES[error.code])
    if isinstance(error, discord.GatewayNotFound):
        return FatalPlatformError(f"{discord.http.Route.BASE}/gateway/bot stopped telling where the gateway is")
    return None


class DiscordAdapter:
    """Runs one `DiscordBot` until the lifecycle's stop event.

    Start-up: the API is asked where the gateway is (which checks the token too), the gateway
    is heard saying HELLO, then discord.py logs in and connects its shards; each step is
    retried with backoff, one line per try, until `connect_timeout` runs out. When Discord
    refuses the message content intent (close code 4014, at start-up or at a later
    IDENTIFY), the bot says so and connects again without it, so that everything that does
    not need message text keeps working. Shutdown: replies in flight finish (for
    `DRAIN_SECONDS` at most), then the connection closes."""

    def __init__(self, bot: DiscordBot, health: Health, connect_timeout: float) -> None:
        self.bot = bot
        self.health = health
        self.connect_timeout = connect_timeout

    async def run(self, stop: asyncio.Event) -> None:
        while True:
            try:
                await self._run(stop)
                return
            except discord.PrivilegedIntentsRequired as error:
                if not self.bot.intents.message_content:
                    raise _fatal(error) from None
                log.warning(CONTENT_INTENT_REFUSED)
                self.bot = self.bot.without_message_content()

    async def _run(self, stop: asyncio.Event) -> None:
        bot = self.bot
        token = bot.config.token
        assert token is not None
        budget = _Budget.of(self.connect_timeout)
        api = discord.http.Route.BASE
        log.info("Connecting to Discord at %s (giving up after %g s)", api, self.connect_timeout)
        async with bot:
            asked = f"{api}/gateway/bot"
            gateway, recommended = await budget.retry(
                lambda: _ask_for_the_gateway(asked, token, budget.attempt()), asked
            )
            if bot.shard_count is None and bot.config.gateway:
                bot.shard_count = recommended  # so that discord.py connects to the configured gateway
            if bot.shard_count is not None:  # discord.py then connects to its default gateway, not the API's
                gateway = str(discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
            shards = len(bot.shard_ids) if bot.shard_ids else bot.shard_count or recommended
            await budget.retry(lambda: _hear_the_gateway(gateway, budget.attempt()), gateway)
            try:
                await budget.within(bot.login(token), f"logging in at {api}")
            except discord.LoginFailure:
                raise FatalPlatformError(REJECTED_TOKEN) from None
            except discord.HTTPException as error:
                raise GaveUp(f"{api} answered HTTP {error.status} while logging in") from None
            except (aiohttp.ClientError, OSError) as error:
                raise GaveUp(describe_network_error(api, error) or str(error)) from None
            connecting = asyncio.create_task(bot.connect(), name="faqbot-discord-gateway")
            try:
                # Each shard after the first waits its turn to IDENTIFY, on top of the budget.
                ready_by = Deadline(budget.deadline.at + bot.identify_spacing * (shards - 1))
                await self._until_ready(connecting, ready_by, gateway)
                self.health.ready()
                stopping = asyncio.create_task(stop.wait())
                await asyncio.wait({connecting, stopping}, return_when=asyncio.FIRST_COMPLETED)
                stopping.cancel()
            finally:
                # Also when a signal cancelled the start-up: events flow from the first READY on,
                # a moment before discord.py calls the bot ready, and their replies finish too.
                await bot.drain()
                await bot.close()
                if not connecting.done():  # discord.py retries a shard that cannot connect forever
                    connecting.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.wait({connecting})
            self._raise_what_ended(connecting)

    async def _until_ready(self, connecting: asyncio.Task[None], deadline: Deadline, gateway: str) -> None:
        ready = asyncio.create_task(self.bot.wait_until_ready())
        try:
            await asyncio.wait({ready, connecting}, timeout=deadline.remaining(), return_when=asyncio.FIRST_COMPLETED)
        finally:
            ready.cancel()
        if connecting.done():
            self._raise_what_ended(connecting)
            raise GaveUp(f"the Discord gateway at {gateway} closed the connection while connecting")
        if not self.bot.is_ready():
            raise GaveUp(f"the Discord gateway at {gateway} did not finish connecting in {self.connect_timeout:g} s")

    @staticmethod
    def _raise_what_ended(connecting: asyncio.Task[None]) -> None:
        if connecting.cancelled() or connecting.exception() is None:
            return
        error = connecting.exception()
        assert error is not None
        if isinstance(error, discord.PrivilegedIntentsRequired):
            raise error  # `run` connects again without the message content intent
        raise _fatal(error) or error


def main(bot: Bot, settings: Settings, state: StateFolder, health: Health, heartbeat: Heartbeat) -> int:
    """`faqbot run discord`: blocks until shutdown; returns the process exit status."""
    config = settings.require_discord()
    point_at_server(config.api_base, config.gateway)
    return run_adapter(
        lambda: DiscordAdapter(
            DiscordBot(bot, config, help_grace_seconds=settings.help_grace_seconds), health, settings.connect_timeout
        ),
        health,
        heartbeat,
        settings.heartbeat_seconds,
    )
