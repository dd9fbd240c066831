"""Helpers for the hostile-knowledge tests: what a reply, a listing and `check` would show."""

from __future__ import annotations

from faqbot.render import render_discord, render_matrix, render_plain
from faqbot.responder import Reply, ReplyKind, Responder, ResponderSettings
from faqbot.sources.model import Entry, Knowledge


def rendered_everywhere(entry: Entry) -> list[str]:
    """One entry's answer as the console, Matrix and Discord would get it."""
    reply = Reply(ReplyKind.ANSWER, entry=entry)
    matrix = render_matrix(reply)
    discord = render_discord(reply)
    return [render_plain(reply), matrix.body, matrix.formatted_body, discord.content, str(discord.embeds)]


def everything_shown(knowledge: Knowledge) -> str:
    """Every entry field, every problem as `check` prints it, the whole listing and every answer, rendered."""
    shown = [str(problem) for problem in knowledge.problems]
    for entry in knowledge.entries:
        shown += [entry.id, entry.title, entry.answer, entry.body, entry.group, str(entry.url), *entry.questions]
        shown += rendered_everywhere(entry)
    listing = Responder(knowledge, ResponderSettings(list_page_size=max(1, len(knowledge.entries)))).list_page(1)
    list_reply = Reply(ReplyKind.LIST, listing=listing)
    shown += [render_plain(list_reply), render_matrix(list_reply).formatted_body, str(render_discord(list_reply))]
    return "\n".join(shown)


def messages_for(knowledge: Knowledge, name: str) -> list[str]:
    """The messages of problems reported for files whose path ends with `name`."""
    return [p.message for p in knowledge.problems if p.path.endswith(name)]
