"""One `Reply`, three ways: plain text (console), Discord message+embed, Matrix HTML.

The wording of every reply is decided here, once; adapters only send it. Text
that came from knowledge files is defused so that it cannot ping a crowd
(`@everyone`, `@here`, `@room`) or a role, whatever a moderator typed; URLs are
left whole, so links to `.../@channel` still work. Only http, https and mailto
URLs become links (`is_safe_url`), and no output holds a lone surrogate, which
no UTF-8 encoder accepts (Synapse answered 500 to every send of one).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore

from faqbot.responder import Listing, Reply, ReplyKind
from faqbot.sources.markdown_clean import LINK, link_target
from faqbot.sources.model import Entry
from faqbot.sources.routes import is_safe_url
from faqbot.sources.text_safety import repair_surrogates

DISCORD_CONTENT_LIMIT = 2000
DISCORD_TITLE_LIMIT = 256
DISCORD_DESCRIPTION_LIMIT = 4096
DISCORD_FIELD_LIMIT = 25
DISCORD_FIELD_NAME_LIMIT = 256
DISCORD_FIELD_VALUE_LIMIT = 1024
# Title, description, field names and values, footer and author name, summed over a message's embeds.
DISCORD_EMBEDS_TOTAL_LIMIT = 6000
CHAT_ANSWER_LIMIT = 700  # an answer in chat is a summary; the link has the rest

_ZERO_WIDTH_SPACE = "\u200b"
_CROWD_MENTION = re.compile(r"@(everyone|here|room|channel)\b", re.IGNORECASE)
_DISCORD_MENTION = re.compile(r"<(@[!&]?|#)(\d+)>")
# A URL in plain text, Markdown or HTML: it ends where a space, quote, bracket or tag does.
_URL = re.compile(r"\b(?:https?://|mailto:)[^\s<>\"'()\[\]]*+", re.IGNORECASE)
_STRONG = re.compile(r"\*\*(.+?)\*\*|__(.+?)__")
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
_markdown.validateLink = is_safe_url  # reference links and autolinks too; markdown-it allowed data:image/...


def _unlink_empty_targets(state: StateCore) -> None:
    """A link whose target markdown-it emptied (unsafe, or none: `[a]()`) becomes its text:
    `<a href="">` leads nowhere."""
    for block in state.tokens:
        if block.type != "inline" or not block.children:
            continue
        kept, open_links = [], []
        for token in block.children:
            if token.type == "link_open":
                empty = not token.attrGet("href")
                open_links.append(empty)
                if empty:
                    continue
            elif token.type == "link_close" and open_links and open_links.pop():
                continue
            kept.append(token)
        block.children = kept


_markdown.core.ruler.push("unlink_empty_targets", _unlink_empty_targets)


def _defuse_text(text: str) -> str:
    text = _CROWD_MENTION.sub(lambda m: "@" + _ZERO_WIDTH_SPACE + m.group(1), text)
    return _DISCORD_MENTION.sub(lambda m: "<" + m.group(1) + _ZERO_WIDTH_SPACE + m.group(2) + ">", text)


def defuse_mentions(text: str) -> str:
    """Break crowd and role mentions so no platform treats them as pings, outside URLs.

    A zero-width space inside `https://vmst.io/@channel` broke the link; a mention
    inside a URL pings nobody, since replies carry `allowed_mentions` (Discord) and
    `m.mentions` (Matrix) that name no crowd."""
    pieces: list[str] = []
    position = 0
    for url in _URL.finditer(text):
        pieces += [_defuse_text(text[position : url.start()]), url.group()]
        position = url.end()
    pieces.append(_defuse_text(text[position:]))
    return "".join(pieces)


def safe_url(url: str | None) -> str | None:
    """`url` if the bot may link to it (http, https, mailto), else None."""
    return url if url is not None and is_safe_url(url) else None


def _discord_url(url: str | None) -> str | None:
    """Discord takes only http and https in embed URLs and masked links (it refuses the message otherwise)."""
    url = safe_url(url)
    return url if url is not None and url.lower().startswith(("http://", "https://")) else None


def _discord_markdown(markdown: str) -> str:
    """Markdown whose masked links are all http(s); a mail link shows its address, any other its label."""

    def link(match: re.Match[str]) -> str:
        label, url = match.group(1), safe_url(link_target(match.group(2)))
        if url is not None and _discord_url(url):
            return match.group()
        if url is not None and url.lower().startswith("mailto:"):
            return f"{label} ({url[len('mailto:') :]})"
        return label

    return LINK.sub(link, markdown)


def markdown_as_plain_text(markdown: str) -> str:
    """Markdown a terminal or a plain-text client shows well: links as `label <url>`, no bold marks.

    A link to anything but http, https or mailto shows its label only."""

    def link(match: re.Match[str]) -> str:
        label, url = match.group(1), safe_url(link_target(match.group(2)))
        if url is None or label == url:
            return label
        return f"{label} <{url}>"

    return _STRONG.sub(lambda m: m.group(1) or m.group(2), LINK.sub(link, markdown))


def shorten(text: str, limit: int) -> str:
    """Cut `text` to `limit` characters at a paragraph, line or word boundary."""
    if len(text) <= limit:
        return text
    if limit < 3:
        return text[:limit]
    cut = text[: limit - 2]  # room for " …"
    for boundary in ("\n\n", "\n", ". ", " "):
        position = cut.rfind(boundary)
        if position > limit // 2:
            cut = cut[: position + (1 if boundary == ". " else 0)]
            break
    return cut.rstrip() + " …"


def help_lines(prefix: str, passive: bool = True, slash: bool = False) -> list[str]:
    """What the bot can do here; `slash` for platforms where members use slash commands."""
    if slash:
        lines = [
            "/faq <question> — ask me anything covered by the community's docs",
            "/faq-list [page] — what I know about",
        ]
    else:
        lines = [
            f"{prefix} <question> — ask me anything covered by the community's docs",
            f"{prefix} list — what I know about (add a page number: {prefix} list 2)",
            f"{prefix} help — this message",
        ]
    if passive:
        lines.append("I also answer plain questions in chat when I am confident, and stay quiet otherwise.")
    return lines


def next_page_hint(prefix: str, page: int, slash: bool = False) -> str:
    return f"/faq-list page:{page}" if slash else f"{prefix} list {page}"


def _entry_label(entry: Entry) -> str:
    url = safe_url(entry.url)
    return entry.title if url is None else f"{entry.title} <{url}>"


# -- plain text ---------------------------------------------------------------


def render_plain(reply: Reply) -> str:
    """Reply as plain text: the console, and Matrix's fallback `body`."""
    return repair_surrogates(_plain(reply))


HELP_POST_REACTIONS = "React ✅ if this solved it, or 🙋 if you'd like a human to help."


def _plain(reply: Reply) -> str:
    prefix = reply.command_prefix
    if reply.kind is ReplyKind.ANSWER and reply.entry is not None:
        entry = reply.entry
        lines = [entry.title, "", markdown_as_plain_text(shorten(entry.answer, CHAT_ANSWER_LIMIT))]
        url = safe_url(entry.url)
        if url:
            lines += ["", f"More: {url}"]
        if reply.help_post:
            lines += ["", HELP_POST_REACTIONS]
        return defuse_mentions("\n".join(lines))
    if reply.kind is ReplyKind.HANDOFF:
        link = safe_url(reply.link)
        return "A member would like a human to help with their post" + (f": {link}" if link else ".")
    if reply.kind is ReplyKind.SUGGESTIONS:
        lines = ["I'm not sure. Did you mean:"]
        lines += [f"- {_entry_label(e)}" for e in reply.suggestions]
        lines.append(f"Ask again with {prefix} and the topic you want.")
        return defuse_mentions("\n".join(lines))
    if reply.kind is ReplyKind.NO_ANSWER:
        return f"Sorry, I don't have an answer for that. Try {prefix} list to see what I know."
    if reply.kind is ReplyKind.SLOW_DOWN:
        return "That's a lot of questions at once: I'll answer again in a minute."
    if reply.kind is ReplyKind.MODERATORS_ONLY:
        return "Only moderators can do that."
    if reply.kind is ReplyKind.PASSIVE_SET:
        if reply.passive_enabled:
            return "I'll answer plain questions here again when I'm confident."
        return f"I won't answer plain questions here any more; {prefix} <question> still works."
    if reply.kind is ReplyKind.RELOADED:
        entries, errors = reply.reloaded
        problems = f"; {errors} problems, see `faqbot check`" if errors else ""
        return f"Reloaded the knowledge: {entries} entries{problems}."
    if reply.kind is ReplyKind.GAPS:
        if not reply.gaps:
            return "Nothing asked here in the last 30 days went unanswered."
        lines = ["Asked here in the last 30 days and not answered well (faqbot gaps has all rooms):"]
        lines += [f"- {gap.count}× “{gap.example}”: {gap.advice}" for gap in reply.gaps]
        return defuse_mentions("\n".join(lines))
    if reply.kind is ReplyKind.LIST and reply.listing is not None:
        listing = reply.listing
        lines = [f"What I can answer (page {listing.page} of {listing.page_count}, {listing.total} topics):"]
        for group in listing.groups:
            lines.append(f"{group.title}:")
            lines += [f"  - {_entry_label(e)}" for e in group.entries]
        if listing.page < listing.page_count:
            lines.append(f"More: {next_page_hint(prefix, listing.page + 1)}")
        return defuse_mentions("\n".join(lines))
    return "\n".join(help_lines(prefix, reply.passive_enabled))


# -- Matrix ---------------------------------------------------------------------


@dataclass(frozen=True)
class MatrixText:
    body: str
    formatted_body: str


def _markdown_to_html(markdown: str) -> str:
    return _markdown.render(markdown).strip()


def _link_html(entry: Entry) -> str:
    title = html.escape(entry.title)
    url = safe_url(entry.url)
    if url is None:
        return title
    return f'<a href="{html.escape(url, quote=True)}">{title}</a>'


def render_matrix(reply: Reply) -> MatrixText:
    """Reply as a Matrix `body` plus `org.matrix.custom.html` `formatted_body`."""
    body = render_plain(reply)
    prefix = html.escape(reply.command_prefix)
    if reply.kind is ReplyKind.ANSWER and reply.entry is not None:
        entry = reply.entry
        parts = [
            f"<p><strong>{_link_html(entry)}</strong></p>",
            _markdown_to_html(shorten(entry.answer, CHAT_ANSWER_LIMIT)),
        ]
        if safe_url(entry.url):
            url = html.escape(entry.url, quote=True)
            parts.append(f'<p>More: <a href="{url}">{url}</a></p>')
        if reply.help_post:
            parts.append(f"<p><em>{html.escape(HELP_POST_REACTIONS)}</em></p>")
        formatted = "\n".join(parts)
    elif reply.kind is ReplyKind.SUGGESTIONS:
        items = "".join(f"<li>{_link_html(e)}</li>" for e in reply.suggestions)
        formatted = (
            f"<p>I'm not sure. Did you mean:</p><ul>{items}</ul>"
            f"<p>Ask again with <code>{prefix}</code> and the topic you want.</p>"
        )
    elif reply.kind is ReplyKind.LIST and reply.listing is not None:
        listing = reply.listing
        parts = [f"<p>What I can answer (page {listing.page} of {listing.page_count}, {listing.total} topics):</p>"]
        for group in listing.groups:
            items = "".join(f"<li>{_link_html(e)}</li>" for e in group.entries)
            parts.append(f"<p><strong>{html.escape(group.title)}</strong></p><ul>{items}</ul>")
        if listing.page < listing.page_count:
            parts.append(f"<p>More: <code>{prefix} list {listing.page + 1}</code></p>")
        formatted = "".join(parts)
    elif reply.kind is ReplyKind.HANDOFF and safe_url(reply.link):
        url = html.escape(reply.link or "", quote=True)
        formatted = f'<p>A member would like a human to help with <a href="{url}">their post</a>.</p>'
    elif reply.kind is ReplyKind.HELP:
        formatted = (
            "<ul>"
            + "".join(
                f"<li>{html.escape(line)}</li>" for line in help_lines(reply.command_prefix, reply.passive_enabled)
            )
            + "</ul>"
        )
    else:
        formatted = "<p>" + html.escape(body).replace("\n", "<br>") + "</p>"
    return MatrixText(body=body, formatted_body=repair_surrogates(defuse_mentions(formatted)))


# -- Discord --------------------------------------------------------------------


@dataclass(frozen=True)
class DiscordText:
    """Message `content` and embeds as Discord API dicts (`discord.Embed.from_dict`)."""

    content: str
    embeds: list[dict[str, Any]] = field(default_factory=list)


def _discord_embed(entry: Entry) -> dict[str, Any]:
    answer = _discord_markdown(entry.answer)
    embed: dict[str, Any] = {
        "title": shorten(defuse_mentions(entry.title), DISCORD_TITLE_LIMIT),
        "description": shorten(defuse_mentions(answer), min(CHAT_ANSWER_LIMIT, DISCORD_DESCRIPTION_LIMIT)),
    }
    url = _discord_url(entry.url)
    if url:
        embed["url"] = url
    return embed


def _repaired(value: Any) -> Any:
    """Every string in a Discord payload with its lone surrogates replaced."""
    if isinstance(value, str):
        return repair_surrogates(value)
    if isinstance(value, dict):
        return {key: _repaired(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_repaired(item) for item in value]
    return value


def render_discord(reply: Reply, slash: bool = False) -> DiscordText:
    """Reply as Discord content and embeds, within Discord's size limits.

    `slash` words hints for a slash-command context (`/faq-list page:2`), where
    prefix commands may not work at all. Discord refuses a whole message that breaks
    any limit (HTTP 400), so every reply is laid out to fit, whatever the knowledge holds;
    the content is cut last, as it can hold the (configurable, unbounded) command prefix."""
    rendered = _discord_reply(reply, slash)
    content = repair_surrogates(shorten(rendered.content, DISCORD_CONTENT_LIMIT))
    return DiscordText(content=content, embeds=_repaired(rendered.embeds))


def _discord_reply(reply: Reply, slash: bool) -> DiscordText:
    prefix = reply.command_prefix
    if reply.kind is ReplyKind.ANSWER and reply.entry is not None:
        return DiscordText(content="", embeds=[_discord_embed(reply.entry)])
    if reply.kind is ReplyKind.SUGGESTIONS:
        lines = _entry_lines(reply.suggestions, bullet="- ")
        embed = {"title": "Did you mean…", "description": _joined_lines(lines, DISCORD_DESCRIPTION_LIMIT)}
        ask = "/faq" if slash else prefix
        return DiscordText(content=f"I'm not sure. Ask again with `{ask}` and the topic you want.", embeds=[embed])
    if reply.kind is ReplyKind.LIST and reply.listing is not None:
        return _discord_listing(reply.listing, prefix, slash)
    if reply.kind is ReplyKind.HELP:
        return DiscordText(content="\n".join(help_lines(prefix, reply.passive_enabled, slash)))
    if reply.kind is ReplyKind.NO_ANSWER and slash:
        return DiscordText(content="Sorry, I don't have an answer for that. Try /faq-list to see what I know.")
    return DiscordText(content=render_plain(reply))


# -- Discord's buttons and the short texts that answer interactions ----------------------

# The two buttons under an answer to a help post (Matrix uses the reactions of HELP_POST_REACTIONS).
DISCORD_SOLVED_LABEL = "That solved it"
DISCORD_HUMAN_LABEL = "I need a human"
DISCORD_PICK_PLACEHOLDER = "The entry that answers it"
DISCORD_OPTION_LIMIT = 100  # a select option's label


class DiscordNotice(Enum):
    """What only the member who pressed a button or ran a command sees (ephemeral messages)."""

    SOLVED = "Glad it helped: I've marked your post solved."
    HUMAN = "I've marked your post for a human; someone will be along."
    NOT_THE_POSTER = "Only the member who opened this post, or a moderator, can say that."
    POSTER_ONLY = "This post is its author's: here I answer only their questions. Try /faq in a channel."
    MODERATORS_ONLY = "Only moderators can do that."
    NOT_A_MEMBERS_MESSAGE = "Use Answer with FAQ on a member's message (not mine, not your own)."
    NO_TEXT = "That message has no text I can read."
    BUSY = "I'm behind on questions right now; try again in a minute."
    CHOOSE = "I'm not sure which entry answers it. Pick one: I'll answer them, and learn their words for it."
    GONE = "That message is gone, or that entry no longer exists."


def discord_answered_notice(entry: Entry) -> str:
    """What a moderator sees after the bot answered the member's message they pointed at."""
    return defuse_mentions(f"Answered their message with “{shorten(entry.title, DISCORD_TITLE_LIMIT)}”.")


def discord_option_label(entry: Entry) -> str:
    """An entry as one option of a select menu."""
    return shorten(entry.title.strip() or entry.id, DISCORD_OPTION_LIMIT)


# -- fitting a reply into Discord's limits ---------------------------------------------

# An entry in a list, both ways it can be shown: as a link, or (when that is too long) as its
# title alone, which may be shortened.
_Line = tuple[str, str]
# A group of the list: its name and its entries' lines.
_Group = tuple[str, list[_Line]]
_SHORTEST_LINE = 24  # a title cut shorter than this says too little to be worth showing
_CONTINUED = _ZERO_WIDTH_SPACE  # the name of a field that continues its group: Discord requires one
_MORE_NOT_SHOWN = " · {} more not shown"


def _entry_lines(entries: tuple[Entry, ...], bullet: str = "") -> list[_Line]:
    lines = []
    for entry in entries:
        title = defuse_mentions(entry.title)
        url = _discord_url(entry.url)
        lines.append((f"{bullet}[{title}]({url})" if url else bullet + title, bullet + title))
    return lines


def _fitted_line(line: _Line, cap: int) -> str:
    link, plain = line
    return link if len(link) <= cap else shorten(plain, cap)


def _largest(low: int, high: int, fits: Callable[[int], bool]) -> int:
    """The largest n in low..high for which `fits(n)`, given `fits(low)` and that a larger n
    never fits where a smaller one does not (bisection: a page takes a few dozen layouts)."""
    if fits(high):
        return high
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if fits(middle) else (low, middle)
    return low


def _longest_piece(lines: list[_Line]) -> int:
    return max((len(piece) for line in lines for piece in line), default=0)


def _joined_lines(lines: list[_Line], room: int) -> str:
    """Lines joined by newlines in at most `room` characters, each cut as little as that allows."""

    def joined(count: int, cap: int) -> str:
        return "\n".join(_fitted_line(line, cap) for line in lines[:count])

    count = _largest(0, len(lines), lambda n: len(joined(n, _SHORTEST_LINE)) <= room)
    cap = _largest(_SHORTEST_LINE, max(_SHORTEST_LINE, _longest_piece(lines)), lambda c: len(joined(count, c)) <= room)
    return joined(count, cap)


def _packed_fields(groups: list[_Group], cap: int, room: int) -> list[dict[str, Any]] | None:
    """The groups as embed fields, every name and line cut to `cap`; a group too long for one
    field goes on in the next; None when that takes more than Discord's 25 fields or `room`."""
    fields: list[tuple[str, list[str]]] = []
    for name, lines in groups:
        field_name, value = shorten(name, min(cap, DISCORD_FIELD_NAME_LIMIT)), []
        for line in lines:
            text = _fitted_line(line, cap)
            if value and sum(map(len, value)) + len(value) + len(text) > DISCORD_FIELD_VALUE_LIMIT:
                fields.append((field_name, value))
                field_name, value = _CONTINUED, []
            value.append(text)
        if value:
            fields.append((field_name, value))
    size = sum(len(name) + sum(map(len, value)) + len(value) - 1 for name, value in fields)
    if len(fields) > DISCORD_FIELD_LIMIT or size > room:
        return None
    return [{"name": name, "value": "\n".join(value), "inline": False} for name, value in fields]


def _first_lines(groups: list[_Group], count: int) -> list[_Group]:
    kept: list[_Group] = []
    for name, lines in groups:
        if count <= 0:
            break
        kept.append((name, lines[:count]))
        count -= len(lines)
    return kept


def _listing_fields(groups: list[_Group], room: int) -> tuple[list[dict[str, Any]], int]:
    """Fields for the groups within `room` characters, and how many lines did not fit at all.

    As many lines as fit when cut short (in order: the page says how many more there are),
    then every name and line gets the same cap, the largest that fits, so one long title
    cannot crowd out the others; a line is a link whenever the whole link fits its cap."""
    total = sum(len(lines) for _, lines in groups)
    count = _largest(0, total, lambda n: _packed_fields(_first_lines(groups, n), _SHORTEST_LINE, room) is not None)
    kept = _first_lines(groups, count)
    longest = min(DISCORD_FIELD_VALUE_LIMIT, max((_longest_piece(lines) for _, lines in kept), default=0))
    names = max((len(name) for name, _ in kept), default=0)
    cap = _largest(
        _SHORTEST_LINE,
        max(_SHORTEST_LINE, longest, min(names, DISCORD_FIELD_NAME_LIMIT)),
        lambda c: _packed_fields(kept, c, room) is not None,
    )
    return _packed_fields(kept, cap, room) or [], total - count


def _discord_listing(listing: Listing, prefix: str, slash: bool) -> DiscordText:
    """One page of the list: an embed with a field per group, within Discord's limits."""
    title = f"What I can answer ({listing.total} topics)"
    footer = f"Page {listing.page} of {listing.page_count}"
    room = DISCORD_EMBEDS_TOTAL_LIMIT - len(title) - len(footer) - len(_MORE_NOT_SHOWN.format(listing.total))
    groups = [(defuse_mentions(g.title) or "Topics", _entry_lines(g.entries)) for g in listing.groups]
    fields, unshown = _listing_fields(groups, room)
    if unshown:
        footer += _MORE_NOT_SHOWN.format(unshown)
    embed = {"title": title, "fields": fields, "footer": {"text": footer}}
    more = ""
    if listing.page < listing.page_count:
        more = f"Next page: `{next_page_hint(prefix, listing.page + 1, slash)}`"
    return DiscordText(content=more, embeds=[embed])
