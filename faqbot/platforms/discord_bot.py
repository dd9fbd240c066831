"""The Discord adapter: Discord events in, the core's replies out.

Everything the bot decides (is this a command, which entry, is it on cooldown, what
the reply says) lives in `faqbot.responder` and `faqbot.render`. This module only
translates: a Discord message or interaction becomes an `IncomingMessage`, and the
`Reply` the core returns is sent as a Discord reply with its embed, never pinging
anyone. It also owns the Discord-only parts: configuration from the environment,
the `/faq` and `/faq-list` slash commands, the 🗑️ reaction that lets an asker remove
an answer they did not want, and staying alive through odd gateway payloads.

`faqbot run discord` calls `main(responder, os.environ)`; tests build a `DiscordBot`
from a `DiscordConfig` and run it in their own event loop against a fake server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable
from typing import Any

import discord
import discord.gateway
import discord.http
import yarl
from discord import app_commands

from faqbot.bounded import BoundedDict
from faqbot.health import Health, Heartbeat
from faqbot.matching.text import addressee
from faqbot.platforms.lifecycle import FatalPlatformError, run_adapter
from faqbot.render import render_discord
from faqbot.responder import IncomingMessage, Reply, Responder
from faqbot.settings import DiscordSettings, Settings
from faqbot.state_folder import StateFolder

log = logging.getLogger(__name__)

REMOVE_EMOJI = "🗑️"
CHOICE_LIMIT = 25  # Discord: at most 25 autocomplete choices
CHOICE_TEXT_LIMIT = 100  # Discord: choice names and string values at most 100 characters
# Our latest answers, whose asker may still remove them with 🗑️ (older ones stay).
REMEMBERED_REPLIES = 4096
# (channel, name) pairs of recent speakers; names are at most 32 characters, so about 200 bytes each.
REMEMBERED_SPEAKERS = 20_000
_SPEAKER_BYTES = 200
_VARIATION_SELECTOR = "\ufe0f"
_ANSWERED_MESSAGE_TYPES = (discord.MessageType.default, discord.MessageType.reply)
_NO_PINGS = discord.AllowedMentions.none()
_OPENING_NAME = re.compile(r"\A[^:,]*[:,]")  # what `addressee` read as a name, up to its colon or comma


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


def _same_emoji(a: str, b: str) -> bool:
    """Discord sends 🗑️ with or without the emoji variation selector."""
    return a.replace(_VARIATION_SELECTOR, "") == b.replace(_VARIATION_SELECTOR, "")


def _names_of(user: discord.abc.User) -> set[str]:
    """What chat may call a member: user name, display name and server nickname, casefolded."""
    names = {user.name, getattr(user, "global_name", None), getattr(user, "nick", None)}
    return {name.casefold() for name in names if name}


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


def _embeds(rendered_embeds: list[dict[str, Any]]) -> list[discord.Embed]:
    return [discord.Embed.from_dict(embed) for embed in rendered_embeds]


def _choice(entry_id: str, title: str) -> app_commands.Choice[str]:
    """One autocomplete choice: the entry's title, its id as value so picking it answers exactly it.

    An id too long for Discord falls back to the title, which `/faq` then treats as a question.
    """
    name = (title.strip() or entry_id)[:CHOICE_TEXT_LIMIT]
    value = entry_id if len(entry_id) <= CHOICE_TEXT_LIMIT else name
    return app_commands.Choice(name=name, value=value)


class DiscordBot(discord.Client):
    """A discord.py client wired to a `Responder`."""

    def __init__(
        self,
        responder: Responder,
        config: DiscordSettings,
        *,
        remembered_speakers: int = REMEMBERED_SPEAKERS,
        **client_options: Any,
    ) -> None:
        intents = discord.Intents.default()  # guilds, messages, reactions, DMs; nothing privileged
        intents.message_content = config.message_content
        client_options.setdefault("allowed_mentions", _NO_PINGS)
        super().__init__(intents=intents, **client_options)
        self.responder = responder
        self.config = config
        self.tree = app_commands.CommandTree(self)
        self.tree.error(self._on_app_command_error)
        for command in _slash_commands(self):
            self.tree.add_command(command)
        self._asker_of_reply: BoundedDict[int, int] = BoundedDict(REMEMBERED_REPLIES)
        self.speakers = RecentSpeakers(remembered_speakers)
        self._guard_gateway_parsers()

    # -- start-up -------------------------------------------------------------------

    async def setup_hook(self) -> None:
        """Say what works and what does not, then register the slash commands."""
        if not self.config.message_content:
            log.warning(
                "Message content intent is off (FAQBOT_DISCORD_MESSAGE_CONTENT=0): prefix commands (%s ...) "
                "and passive answers are disabled; /faq, /faq-list, mentions of the bot and direct messages "
                "still work.",
                self.responder.settings.command_prefix,
            )
        if not self.config.sync_commands:
            return
        try:
            if self.config.guild_id is not None:
                guild = discord.Object(id=self.config.guild_id)
                self.tree.copy_global_to(guild=guild)
                commands = await self.tree.sync(guild=guild)
            else:
                commands = await self.tree.sync()
            log.info("Registered slash commands: %s", ", ".join("/" + c.name for c in commands))
        except discord.HTTPException as error:
            log.error("Could not register slash commands (status %s); /faq may be missing", error.status)

    async def on_ready(self) -> None:
        if self.user is not None:
            log.info("Connected to Discord as %s (id %s) in %d guild(s)", self.user, self.user.id, len(self.guilds))

    async def connect(self, *, reconnect: bool = True) -> None:
        """discord.py's gateway loop, restarted if an unexpected frame breaks it.

        discord.py lets a frame it cannot decode (not JSON, not an object) end
        `Client.start`; a FAQ bot should log it and reconnect instead.
        """
        delay = 1.0
        while not self.is_closed():
            try:
                await super().connect(reconnect=reconnect)
                return
            except (discord.LoginFailure, discord.PrivilegedIntentsRequired, discord.ConnectionClosed):
                raise
            except Exception:
                if not reconnect or self.is_closed():
                    raise
                log.exception("Gateway connection broke on an unexpected payload; reconnecting in %.0f s", delay)
                if self.ws is not None:
                    with contextlib.suppress(Exception):
                        await self.ws.close(code=4000)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60.0)

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

    # -- messages -------------------------------------------------------------------

    async def on_message(self, message: discord.Message) -> None:
        """A member's message: maybe a command, a mention, or a question to answer passively."""
        self._remember_speakers(message)
        if not self._from_a_member(message):
            return
        text, addressed = self._strip_own_mention(message.content)
        text, by_name = self._strip_own_name(text, message)
        addressed = addressed or by_name or isinstance(message.channel, discord.DMChannel)
        conversation = str(message.channel.id)
        parent = getattr(message.channel, "parent_id", None)
        asked = IncomingMessage(
            text,
            conversation,
            str(message.author.id),
            addressed,
            self._said_to_someone_else(message, text),
            parent_id=str(parent) if isinstance(message.channel, discord.Thread) and parent else None,
        )
        reply = self.responder.respond(asked)
        if reply is None:
            return
        rendered = render_discord(reply)
        sent = await message.channel.send(
            content=rendered.content or None,
            embeds=_embeds(rendered.embeds),
            reference=message.to_reference(fail_if_not_exists=False),
            mention_author=False,
            allowed_mentions=_NO_PINGS,
        )
        self._remember_reply(sent.id, message.author.id)
        if reply.passive:
            await self._offer_removal(sent)

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
        """ "faqbot: how do I ..." speaks to the bot by name, as a mention would."""
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

    # -- removing an unwanted answer ------------------------------------------------------

    def _remember_reply(self, reply_id: int, asker_id: int) -> None:
        self._asker_of_reply[reply_id] = asker_id

    async def _offer_removal(self, reply: discord.Message) -> None:
        """Put a 🗑️ under a passive answer, so the asker sees how to remove it."""
        try:
            await reply.add_reaction(REMOVE_EMOJI)
        except discord.HTTPException as error:
            log.info("Could not add the %s reaction (status %s); removal still works", REMOVE_EMOJI, error.status)

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        """🗑️ on one of our replies, by its asker or a moderator, deletes the reply."""
        if self.user is None or payload.user_id == self.user.id:
            return
        if payload.emoji.id is not None or not _same_emoji(payload.emoji.name or "", REMOVE_EMOJI):
            return
        asker = self._asker_of_reply.get(payload.message_id)
        if asker is None:
            return
        if payload.user_id != asker and not self._can_manage_messages(payload):
            return
        with contextlib.suppress(discord.NotFound):
            await self.get_partial_messageable(payload.channel_id).get_partial_message(payload.message_id).delete()
        self._asker_of_reply.pop(payload.message_id, None)

    def _can_manage_messages(self, payload: discord.RawReactionActionEvent) -> bool:
        channel = self.get_channel(payload.channel_id)
        if payload.member is None or not isinstance(channel, discord.abc.GuildChannel | discord.Thread):
            return False
        return channel.permissions_for(payload.member).manage_messages

    # -- slash commands -------------------------------------------------------------------

    async def answer_slash(self, interaction: discord.Interaction, question: str) -> None:
        """`/faq question`: an autocomplete pick is an entry id and answers exactly it; else ask."""
        conversation = str(interaction.channel_id)
        reply = self.responder.answer_entry(question, conversation)
        if reply is None:
            asked = IncomingMessage(question, conversation, str(interaction.user.id), addressed=True)
            reply = self.responder.respond(asked) or self.responder.help_reply(conversation)
        await self._send_interaction_reply(interaction, reply)

    async def list_slash(self, interaction: discord.Interaction, page: int) -> None:
        """`/faq-list [page]`: one page of what the bot knows, shown only to whoever asked."""
        await self._send_interaction_reply(interaction, self.responder.listing_reply(page), ephemeral=True)

    def autocomplete_choices(self, partial: str) -> list[app_commands.Choice[str]]:
        """Entries matching what the member has typed so far, as Discord choices."""
        entries = self.responder.autocomplete(partial, limit=CHOICE_LIMIT)
        return [_choice(entry.id, entry.title) for entry in entries]

    async def _send_interaction_reply(
        self, interaction: discord.Interaction, reply: Reply, *, ephemeral: bool = False
    ) -> None:
        rendered = render_discord(reply, slash=True)
        await interaction.response.send_message(
            content=rendered.content or None,
            embeds=_embeds(rendered.embeds),
            allowed_mentions=_NO_PINGS,
            ephemeral=ephemeral,
        )

    # -- errors -----------------------------------------------------------------------------

    async def on_error(self, event_method: str, /, *args: Any, **kwargs: Any) -> None:
        """A failing event handler is logged; the bot carries on."""
        log.exception("Error while handling Discord event %s", event_method)

    async def _on_app_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        command = interaction.command.name if interaction.command else "?"
        log.error("Error in slash command /%s", command, exc_info=error)


def _slash_commands(bot: DiscordBot) -> list[app_commands.Command[Any, ..., None]]:
    """`/faq` (with autocomplete) and `/faq-list`, bound to one bot."""

    @app_commands.command(name="faq", description="Ask the FAQ a question")
    @app_commands.describe(question="Your question; pick a topic as you type, or write your own")
    async def faq(interaction: discord.Interaction, question: app_commands.Range[str, 1, 200]) -> None:
        await bot.answer_slash(interaction, question)

    @faq.autocomplete("question")
    async def faq_autocomplete(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return bot.autocomplete_choices(current)

    @app_commands.command(name="faq-list", description="List what the FAQ can answer")
    @app_commands.describe(page="Page number, from 1")
    async def faq_list(interaction: discord.Interaction, page: app_commands.Range[int, 1, 1000] = 1) -> None:
        await bot.list_slash(interaction, page)

    return [faq, faq_list]


class _DiscordAdapter:
    """Runs one `DiscordBot` until the lifecycle's stop event."""

    def __init__(self, bot: DiscordBot, health: Health) -> None:
        self.bot = bot
        self.health = health

    async def run(self, stop: asyncio.Event) -> None:
        bot = self.bot
        token = bot.config.token
        assert token is not None
        async with bot:
            running = asyncio.create_task(bot.start(token), name="faqbot-discord")
            ready = asyncio.create_task(bot.wait_until_ready())
            stopping = asyncio.create_task(stop.wait())
            try:
                await asyncio.wait({running, ready, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if ready.done() and not running.done():
                    self.health.ready()
                    await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                ready.cancel()
                stopping.cancel()
                await bot.close()
            try:
                await running
            except discord.LoginFailure:
                raise FatalPlatformError(
                    "Discord rejected the token in FAQBOT_DISCORD_TOKEN; check it in the developer portal"
                ) from None
            except discord.PrivilegedIntentsRequired:
                raise FatalPlatformError(
                    "Discord refused the message content intent: enable it for the bot in the developer portal, "
                    "or set FAQBOT_DISCORD_MESSAGE_CONTENT=0 to run with /faq only"
                ) from None


def main(responder: Responder, settings: Settings, state: StateFolder, health: Health, heartbeat: Heartbeat) -> int:
    """`faqbot run discord`: blocks until shutdown; returns the process exit status."""
    config = settings.require_discord()
    point_at_server(config.api_base, config.gateway)
    return run_adapter(
        lambda: _DiscordAdapter(DiscordBot(responder, config), health), health, heartbeat, settings.heartbeat_seconds
    )
