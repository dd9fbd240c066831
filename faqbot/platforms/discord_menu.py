"""The "Answer with FAQ" message context menu: a moderator points the bot at a member's message.

It works without the message content intent (Discord hands the command its target message
whole). The bot answers the member's message with its best match, in reply to it, pinging
nobody; when unsure, the moderator gets an ephemeral select menu of the likely entries, and
picking one answers with it and teaches the bot the member's words as a phrasing of that
entry. Both go through the core exactly as `!faq [entry id]` sent as a reply does
(`IncomingMessage.replying_to`): the core decides what to answer and what to learn.

The command is registered with `default_member_permissions` Manage Messages (server admins
may open it to other roles under Server Settings → Integrations), and the adapter checks
again that whoever runs it is a moderator (Manage Messages, or a role in
`discord.moderator_roles`). The select menu is a `DynamicItem` whose custom id names the
target message, so it needs nothing kept per menu; the target's text is remembered for
`REMEMBERED_TARGETS` menus, and fetched again (with the intent) past that.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands

from faqbot.answering import Overloaded
from faqbot.bounded import BoundedDict
from faqbot.render import (
    DISCORD_OPTION_LIMIT,
    DISCORD_PICK_PLACEHOLDER,
    DiscordNotice,
    discord_answered_notice,
    discord_option_label,
    render_discord,
)
from faqbot.responder import IncomingMessage, RepliedMessage, ReplyKind
from faqbot.sources.model import Entry

if TYPE_CHECKING:
    from faqbot.bot import Handled
    from faqbot.platforms.discord_bot import DiscordBot

log = logging.getLogger(__name__)

MENU_NAME = "Answer with FAQ"
REMEMBERED_TARGETS = 1_000
_PICKER_ID = "faqbot:pick:{}:{}"


class EntryPicker(
    discord.ui.DynamicItem[discord.ui.Select[Any]], template=r"faqbot:pick:(?P<channel>\d+):(?P<message>\d+)"
):
    """The moderator's choice of entry for the member's message `message_id` in `channel_id`."""

    def __init__(self, channel_id: int, message_id: int, entries: tuple[Entry, ...] = ()) -> None:
        options = [discord.SelectOption(label=discord_option_label(entry), value=entry.id) for entry in entries]
        super().__init__(
            discord.ui.Select(
                custom_id=_PICKER_ID.format(channel_id, message_id),
                placeholder=DISCORD_PICK_PLACEHOLDER,
                options=options,
            )
        )
        self.channel_id = channel_id
        self.message_id = message_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: Any, /
    ) -> EntryPicker:
        return cls(int(match["channel"]), int(match["message"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        menu = getattr(interaction.client, "menu", None)
        values = (interaction.data or {}).get("values") or []
        if isinstance(menu, AnswerWithFaq) and values:
            await menu.picked(interaction, self.channel_id, self.message_id, str(values[0]))


class AnswerWithFaq:
    """The context menu command of one Discord client, and the picks it offers."""

    def __init__(self, client: DiscordBot) -> None:
        self.client = client
        self._targets: BoundedDict[int, RepliedMessage] = BoundedDict(REMEMBERED_TARGETS)

    def command(self) -> app_commands.ContextMenu:
        @app_commands.context_menu(name=MENU_NAME)
        @app_commands.default_permissions(manage_messages=True)
        @app_commands.guild_only()
        async def answer_with_faq(interaction: discord.Interaction, message: discord.Message) -> None:
            await self.run(interaction, message)

        return answer_with_faq

    async def run(self, interaction: discord.Interaction, message: discord.Message) -> None:
        """The moderator ran the menu on `message`."""
        client = self.client
        with client.in_flight():
            if await self._refused(interaction):
                return
            own = client.user is not None and message.author.id == client.user.id
            if own or message.author.id == interaction.user.id:
                await client.notify(interaction, DiscordNotice.NOT_A_MEMBERS_MESSAGE)
                return
            if not message.content.strip():
                await client.notify(interaction, DiscordNotice.NO_TEXT)
                return
            target = RepliedMessage(str(message.id), message.content, str(message.author.id), from_bot=False)
            self._targets[message.id] = target
            await interaction.response.defer(ephemeral=True, thinking=True)  # sending may take longer than 3 s
            asked = await self._ask(interaction, "", target)
            if asked is None:
                return
            reply = asked[1].reply
            # An option's value must name its entry exactly: ids past Discord's limit cannot be offered.
            choices = tuple(e for e in reply.suggestions if len(e.id) <= DISCORD_OPTION_LIMIT) if reply else ()
            if reply is not None and reply.kind is ReplyKind.SUGGESTIONS and choices:
                picker = discord.ui.View(timeout=None)
                picker.add_item(EntryPicker(message.channel.id, message.id, choices))
                await interaction.edit_original_response(content=DiscordNotice.CHOOSE.value, view=picker)
                return
            await self._answered(interaction, *asked)

    async def picked(self, interaction: discord.Interaction, channel_id: int, message_id: int, entry_id: str) -> None:
        """The moderator picked `entry_id` for the member's message: answer with it, and learn."""
        client = self.client
        with client.in_flight():
            if await self._refused(interaction):
                return
            await interaction.response.defer()  # updates the menu's message once answered
            target = self._targets.get(message_id) or await self._fetched(channel_id, message_id)
            if target is None or client.core.responder.knowledge.by_id(entry_id) is None:
                await interaction.edit_original_response(content=DiscordNotice.GONE.value, view=None)
                return
            asked = await self._ask(interaction, entry_id, target)
            if asked is not None:
                await self._answered(interaction, *asked)

    async def _refused(self, interaction: discord.Interaction) -> bool:
        """Whether to leave this use of the menu alone: the bot is shutting down, or whoever used
        it is no moderator (then told so: Discord shows the menu to members with Manage Messages,
        but a server's admins may show it to anyone)."""
        if self.client.stopping:
            return True
        if self.client.interaction_by_moderator(interaction):
            return False
        await self.client.notify(interaction, DiscordNotice.MODERATORS_ONLY)
        return True

    async def _ask(
        self, interaction: discord.Interaction, argument: str, target: RepliedMessage
    ) -> tuple[IncomingMessage, Handled] | None:
        """`!faq [argument]` from the moderator, as a reply to the member's message."""
        client = self.client
        prefix = client.core.responder.settings.command_prefix
        asked = client.interaction_message(interaction, f"{prefix} {argument}".strip(), replying_to=target)
        try:
            return asked, await client.core.ahandle(asked)
        except Overloaded:
            await interaction.edit_original_response(content=DiscordNotice.BUSY.value, view=None)
            return None

    async def _answered(self, interaction: discord.Interaction, asked: IncomingMessage, handled: Handled) -> None:
        """Send the answer in reply to the member's message; tell the moderator what happened."""
        client = self.client
        reply, target = handled.reply, handled.reply_to
        channel = interaction.channel
        if reply is None or reply.entry is None or target is None or not isinstance(channel, discord.abc.Messageable):
            rendered = render_discord(reply, slash=True) if reply is not None else None
            content = rendered.content if rendered is not None and rendered.content else DiscordNotice.GONE.value
            embeds = [discord.Embed.from_dict(embed) for embed in rendered.embeds] if rendered is not None else []
            await interaction.edit_original_response(content=content, embeds=embeds, view=None)
            return
        sent = await client.send_reply(channel, render_discord(reply), reply_to=int(target))
        client.core.sent(asked, handled, str(sent.id))
        await interaction.edit_original_response(content=discord_answered_notice(reply.entry), view=None)

    async def _fetched(self, channel_id: int, message_id: int) -> RepliedMessage | None:
        """The member's message, read again from Discord (its text is empty without the intent)."""
        channel = self.client.get_partial_messageable(channel_id)
        try:
            message = await channel.fetch_message(message_id)
        except discord.HTTPException:
            return None
        return RepliedMessage(str(message.id), message.content or None, str(message.author.id))
