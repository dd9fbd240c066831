"""Discord refuses a whole message that breaks one of its limits: the fake refuses what Discord
refuses (checked here through discord.py, which must understand the answer), and the bot's
replies fit whatever the knowledge holds (the `fake` fixture fails any test whose bot sent
something Discord would refuse)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import discord
import pytest
import yaml

from faqbot.platforms.discord_bot import DiscordBot
from faqbot.render import render_discord
from faqbot.responder import Listing, ListingGroup, Reply, ReplyKind, Responder, ResponderSettings
from faqbot.sources.bundled import bundled_knowledge
from faqbot.sources.loader import load_knowledge
from faqbot.sources.model import Entry
from tests.discord import discord_limits
from tests.discord.conftest import TOKEN, StartBot
from tests.discord.fake_discord import APPLICATION_ID, CHANNEL_ID, SOLVED_TAG_ID, FakeDiscord
from tests.discord.test_discord_bot import barrier, callback_for, reply_to

# -- the fake refuses what Discord refuses ------------------------------------------------------


def _embed(**fields: Any) -> discord.Embed:
    return discord.Embed.from_dict(fields)


def _many_fields(count: int) -> discord.Embed:
    embed = discord.Embed(title="fields")
    for n in range(count):
        embed.add_field(name=f"f{n}", value="v")
    return embed


REFUSED: dict[str, tuple[dict[str, Any], int, str]] = {
    "content over 2,000": ({"content": "x" * 2001}, 50035, "In content: Must be 2000 or fewer in length."),
    "title over 256": ({"embed": _embed(title="t" * 257)}, 50035, "In embeds.0.title: Must be 256 or fewer"),
    "description over 4,096": (
        {"embed": _embed(description="d" * 4097)},
        50035,
        "In embeds.0.description: Must be 4096 or fewer",
    ),
    "26 fields": ({"embed": _many_fields(26)}, 50035, "In embeds.0.fields: Must be 25 or fewer"),
    "a field without a value": (
        {"embed": _embed(fields=[{"name": "n", "value": ""}])},
        50035,
        "In embeds.0.fields.0.value: This field is required",
    ),
    "6,001 across the embeds": (
        {"embeds": [_embed(description="d" * 3000), _embed(title="t", description="d" * 3000)]},
        50035,
        "Embed size exceeds maximum size of 6000",
    ),
    "a javascript: URL": (
        {"embed": _embed(title="t", url="javascript:alert(1)")},
        50035,
        "In embeds.0.url: Not a well formed URL.",
    ),
    "a data: URL": ({"embed": _embed(title="t", url="data:text/html,hi")}, 50035, "Not a well formed URL."),
    "a lone surrogate": ({"content": "x \ud800"}, 50109, "invalid JSON"),
}


@pytest.mark.parametrize("case", list(REFUSED))
async def test_the_fake_refuses_what_discord_refuses(fake: FakeDiscord, bot: DiscordBot, case: str) -> None:
    send, code, text = REFUSED[case]
    channel = bot.get_channel(CHANNEL_ID)
    assert isinstance(channel, discord.TextChannel)
    with pytest.raises(discord.HTTPException) as refused:
        await channel.send(**send)
    assert (refused.value.status, refused.value.code) == (400, code)
    assert text in refused.value.text
    assert len(fake.refusals) == 1
    fake.refusals.clear()


async def test_the_fake_posts_what_is_just_within_the_limits(fake: FakeDiscord, bot: DiscordBot) -> None:
    channel = bot.get_channel(CHANNEL_ID)
    assert isinstance(channel, discord.TextChannel)
    full = _embed(title="t" * 256, description="d" * 4096, footer={"text": "f" * 1648})  # 6,000 exactly
    await channel.send(content="x" * 2000, embed=full)
    listing = _many_fields(25)
    await channel.send(embed=listing)
    await channel.send(embed=_embed(title="t", url="https://docs.example.org/a?b=c#d"))
    assert len(fake.requests_to("POST", r"/channels/\d+/messages", status=200)) == 3


async def test_interaction_callbacks_are_checked_too(fake: FakeDiscord, bot: DiscordBot) -> None:
    slash = await fake.slash("faq", [{"name": "question", "type": 3, "value": "x"}])
    await callback_for(fake, slash)  # answered by the bot; now the same callback, too long, by hand
    url = f"{fake.api_base}/interactions/{slash['id']}/{slash['token']}/callback"
    too_long = {"type": 4, "data": {"content": "x" * 2001}}
    too_many = {"type": 8, "data": {"choices": [{"name": f"c{n}", "value": str(n)} for n in range(26)]}}
    async with aiohttp.ClientSession() as session:
        for body, where in ((too_long, "content"), (too_many, "choices")):
            async with session.post(url, json=body) as response:
                answer = await response.json(content_type=None)
            assert response.status == 400 and answer["code"] == 50035
            assert where in answer["errors"]["data"]
    assert len(fake.refusals) == 2
    fake.refusals.clear()


def _row(*items: dict[str, Any]) -> dict[str, Any]:
    return {"type": 1, "components": list(items)}


def _button(custom_id: str, label: str = "ok") -> dict[str, Any]:
    return {"type": 2, "style": 1, "label": label, "custom_id": custom_id}


def _select(custom_id: str, options: int) -> dict[str, Any]:
    return {"type": 3, "custom_id": custom_id, "options": [{"label": f"o{n}", "value": str(n)} for n in range(options)]}


# (method, path, body) Discord refuses with 400, and what its errors name
REFUSED_RAW: dict[str, tuple[str, str, Any, str]] = {
    "a button label over 80": (
        "POST",
        f"/channels/{CHANNEL_ID}/messages",
        {"content": "x", "components": [_row(_button("a", "l" * 81))]},
        "components.0.components.0.label: BASE_TYPE_MAX_LENGTH",
    ),
    "a custom id twice": (
        "POST",
        f"/channels/{CHANNEL_ID}/messages",
        {"content": "x", "components": [_row(_button("a"), _button("a"))]},
        "COMPONENT_CUSTOM_ID_DUPLICATED",
    ),
    "six buttons in a row": (
        "POST",
        f"/channels/{CHANNEL_ID}/messages",
        {"content": "x", "components": [_row(*(_button(str(n)) for n in range(6)))]},
        "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
    ),
    "a select without options": (
        "POST",
        f"/channels/{CHANNEL_ID}/messages",
        {"content": "x", "components": [_row(_select("s", 0))]},
        "components.0.components.0.options: BASE_TYPE_BAD_LENGTH",
    ),
    "parsing roles and listing them": (
        "POST",
        f"/channels/{CHANNEL_ID}/messages",
        {"content": "x", "allowed_mentions": {"parse": ["roles"], "roles": ["1"]}},
        "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
    ),
    "a slash command name in capitals": (
        "PUT",
        f"/applications/{APPLICATION_ID}/commands",
        [{"name": "FAQ", "description": "d", "type": 1}],
        "APPLICATION_COMMAND_INVALID_NAME",
    ),
    "a context menu with a description": (
        "PUT",
        f"/applications/{APPLICATION_ID}/commands",
        [{"name": "Answer with FAQ", "description": "d", "type": 3}],
        "APPLICATION_COMMAND_DESCRIPTION_NOT_ALLOWED",
    ),
}


def _errors(tree: dict[str, Any], at: str = "") -> list[str]:
    """Discord's nested `errors` as lines `path.to.field: CODE`."""
    lines = [f"{at}: {error['code']}" for error in tree.get("_errors", [])]
    for key, inner in tree.items():
        if key != "_errors":
            lines += _errors(inner, f"{at}.{key}" if at else key)
    return lines


@pytest.mark.parametrize("case", list(REFUSED_RAW))
async def test_the_fake_refuses_components_mentions_and_commands_as_discord_does(
    fake: FakeDiscord, bot: DiscordBot, case: str
) -> None:
    method, path, body, named = REFUSED_RAW[case]
    headers = {"Authorization": f"Bot {TOKEN}"}
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, fake.api_base + path, json=body, headers=headers) as response,
    ):
        answer = await response.json(content_type=None)
    assert response.status == 400 and answer["code"] == 50035
    assert any(named in error for error in _errors(answer["errors"])), answer["errors"]
    assert len(fake.refusals) == 1
    fake.refusals.clear()


async def test_the_fake_takes_components_just_within_the_limits(fake: FakeDiscord, bot: DiscordBot) -> None:
    full_row = _row(*(_button(f"b{n}", "l" * 80) for n in range(5)))
    body = {"content": "x", "components": [full_row, _row(_select("s", 25))]}
    only_the_role = {"content": "x", "allowed_mentions": {"parse": [], "roles": ["1"]}}
    headers = {"Authorization": f"Bot {TOKEN}"}
    async with aiohttp.ClientSession() as session:
        for sent in (body, only_the_role):
            url = f"{fake.api_base}/channels/{CHANNEL_ID}/messages"
            async with session.post(url, json=sent, headers=headers) as response:
                assert response.status == 200


async def test_the_fake_tags_posts_only_with_their_forums_tags(fake: FakeDiscord, bot: DiscordBot) -> None:
    post = await fake.open_post("a question")
    await barrier(fake)  # the post reached the bot
    thread = bot.get_channel(post.thread_id)
    assert isinstance(thread, discord.Thread) and isinstance(thread.parent, discord.ForumChannel)
    await thread.edit(applied_tags=[tag for tag in thread.parent.available_tags if tag.id == SOLVED_TAG_ID])
    assert fake.threads[str(post.thread_id)]["applied_tags"] == [str(SOLVED_TAG_ID)]
    with pytest.raises(discord.HTTPException) as refused:
        await thread.edit(applied_tags=[discord.Object(id=123)])  # type: ignore[list-item]
    assert refused.value.status == 400
    fake.refusals.clear()
    fake.bot_manages_threads = False
    with pytest.raises(discord.Forbidden):
        await thread.edit(applied_tags=[])


# -- the bot's replies fit, whatever the knowledge holds ------------------------------------------------


def _hostile_knowledge(folder: Path) -> Path:
    """Titles, answers, links and group names (file names) far past anything Discord shows:
    15 entries in one file, and 15 files of one entry each."""
    words = "federation moderation account " * 30

    def entry(n: int) -> dict[str, str]:
        return {
            "id": f"long-{n}",
            "question": f"How do I handle long topic {n} of {words}?"[:400],
            "answer": ("A very long answer. " * 600) + f"Topic {n}.",
            "link": f"https://docs.example.org/{'deep/' * 60}page-{n}#section-{n}",
        }

    folder.mkdir()
    files = {"a-" + "group-name-that-goes-on-" * 8: [entry(n) for n in range(15)]}
    files.update({f"b{n}-" + "another-long-group-name-" * 8: [entry(n)] for n in range(15, 30)})
    for stem, entries in files.items():
        (folder / f"{stem}.yml").write_text(yaml.safe_dump(entries, sort_keys=False), encoding="utf-8")
    return folder


async def test_replies_from_hostile_knowledge_are_posted(
    fake: FakeDiscord, start_bot: StartBot, tmp_path: Path
) -> None:
    knowledge = load_knowledge([_hostile_knowledge(tmp_path / "hostile")])
    assert not knowledge.errors and len(knowledge.entries) == 30
    await start_bot(knowledge, FAQBOT_CHAT_LIST_PAGE_SIZE="25")

    listing = (await reply_to(fake, await fake.member_says("!faq list"))).json
    answer = (await reply_to(fake, await fake.member_says("!faq how do I handle long topic 7"))).json
    slash_list = await callback_for(fake, await fake.slash("faq-list", []))
    slash = await callback_for(fake, await fake.slash("faq", [{"name": "question", "type": 3, "value": "long-3"}]))
    typing = await callback_for(fake, await fake.autocomplete("faq", "question", "long topic"))

    assert not fake.refusals  # every one of them was posted
    for embed in (listing["embeds"][0], slash_list["data"]["embeds"][0]):
        shown = sum(len(field["value"].splitlines()) for field in embed["fields"])
        assert shown == 25 and "not shown" not in embed["footer"]["text"]  # a full page, every entry on it
    assert answer["embeds"][0]["url"].endswith("page-7#section-7")
    assert slash["data"]["embeds"][0]["title"].startswith("How do I handle long topic 3")
    assert len(typing["data"]["choices"]) == 25


def test_every_page_of_the_bundled_list_links_every_entry() -> None:
    # A page of 15 vmst.io topics is about 1,500 characters of links: more than one field holds
    # (1,024), well within an embed (6,000). No entry loses its link, none is cut off.
    responder = Responder(load_knowledge([bundled_knowledge()]), ResponderSettings())
    pages = responder.list_page(1).page_count
    assert pages > 1
    for page in range(1, pages + 1):
        listing = responder.list_page(page)
        rendered = render_discord(responder.listing_reply(page))
        assert discord_limits.message_refusal({"content": rendered.content, "embeds": rendered.embeds}) is None
        values = "\n".join(field["value"] for field in rendered.embeds[0]["fields"])
        for group in listing.groups:
            for entry in group.entries:
                assert f"[{entry.title}]({entry.url})" in values


def _entry(n: int, title: str, url: str | None = "https://docs.example.org/page") -> Entry:
    return Entry(id=f"e{n}", title=title, answer="An answer.", route=None, url=url, group="G", path="f.yml", line=1)


LONG_PREFIX = "!" + "faq" * 1000  # the command prefix is a setting, with no length limit
HOSTILE_REPLIES = {
    "help with a very long prefix": Reply(ReplyKind.HELP, command_prefix=LONG_PREFIX),
    "no answer with a very long prefix": Reply(ReplyKind.NO_ANSWER, command_prefix=LONG_PREFIX),
    "suggestions with very long titles and links": Reply(
        ReplyKind.SUGGESTIONS,
        suggestions=tuple(_entry(n, "t" * 5000, "https://x.org/" + "u" * 3000) for n in range(10)),
        command_prefix=LONG_PREFIX,
    ),
    "a list page with a very long prefix": Reply(
        ReplyKind.LIST,
        listing=Listing((ListingGroup("G", (_entry(1, "One"),)),), 1, 3, 40),
        command_prefix=LONG_PREFIX,
    ),
    "a list of 25 groups with long names": Reply(
        ReplyKind.LIST,
        listing=Listing(tuple(ListingGroup("g" * 300, (_entry(n, "x" * 300),)) for n in range(25)), 1, 1, 25),
    ),
}


@pytest.mark.parametrize("case", list(HOSTILE_REPLIES))
@pytest.mark.parametrize("slash", [False, True])
def test_every_reply_fits(case: str, slash: bool) -> None:
    rendered = render_discord(HOSTILE_REPLIES[case], slash=slash)
    assert discord_limits.message_refusal({"content": rendered.content, "embeds": rendered.embeds}) is None


async def test_the_fake_notes_who_a_message_would_notify(fake: FakeDiscord, bot: DiscordBot) -> None:
    """The fixture fails a test whose bot pinged anyone but the helpers' role: this is what it sees."""
    text = "@everyone <@500000000000000002> <@&400000000000000003>"
    reply = {"message_reference": {"message_id": "1"}}
    headers = {"Authorization": f"Bot {TOKEN}"}
    async with aiohttp.ClientSession() as session:
        for sent in (
            {"content": text, **reply},  # no allowed_mentions: Discord pings all of it, and the replied-to author
            {"content": text, "allowed_mentions": {"parse": []}, **reply},
            {"content": text, "allowed_mentions": {"parse": [], "roles": ["400000000000000003"]}},
        ):
            async with session.post(f"{fake.api_base}/channels/{CHANNEL_ID}/messages", json=sent, headers=headers):
                pass
    assert [mention for _, mention in fake.pings] == [
        "@everyone",
        "<@500000000000000002>",
        "<@&400000000000000003>",
        "the replied-to author",
        "<@&400000000000000003>",
    ]
    fake.pings.clear()
