from typing import Any

from faqbot.render import (
    DISCORD_FIELD_LIMIT,
    DiscordText,
    defuse_mentions,
    render_discord,
    render_matrix,
    render_plain,
)
from faqbot.responder import Listing, ListingGroup, Reply, ReplyKind
from faqbot.sources.model import Entry
from tests.discord.discord_limits import message_refusal


def entry(answer: str = "Members pay. See **Ko-Fi**.", title: str = "Funding", n: int = 0) -> Entry:
    return Entry(
        id=f"e{n}",
        title=title,
        answer=answer,
        route="/funding",
        url="https://docs.example.org/funding",
        group="FAQ",
        path="faq.yml",
        line=1,
    )


def test_crowd_and_role_mentions_are_defused() -> None:
    text = defuse_mentions("hey @everyone and @here and @room, <@&123> <@456>")
    assert "@everyone" not in text and "@here" not in text and "@room" not in text
    assert "<@&123>" not in text and "<@456>" not in text
    assert "everyone" in text  # still readable


def test_answer_rendered_three_ways_with_link() -> None:
    reply = Reply(ReplyKind.ANSWER, entry=entry())
    plain = render_plain(reply)
    assert plain.startswith("Funding") and "More: https://docs.example.org/funding" in plain
    matrix = render_matrix(reply)
    assert matrix.body == plain
    assert '<a href="https://docs.example.org/funding">Funding</a>' in matrix.formatted_body
    assert "<strong>Ko-Fi</strong>" in matrix.formatted_body
    discord = render_discord(reply)
    [embed] = discord.embeds
    assert embed["title"] == "Funding" and embed["url"] == "https://docs.example.org/funding"
    assert embed["description"].startswith("Members pay.")


def test_knowledge_cannot_ping_the_crowd_or_inject_html() -> None:
    reply = Reply(ReplyKind.ANSWER, entry=entry(answer="Ask @everyone <script>x</script> @here", title="@room hi"))
    for text in (render_plain(reply), render_matrix(reply).formatted_body, str(render_discord(reply).embeds)):
        assert "@everyone" not in text and "@here" not in text and "@room" not in text
    assert "<script>" not in render_matrix(reply).formatted_body


def test_long_answers_and_lists_stay_within_platform_limits() -> None:
    long_reply = Reply(ReplyKind.ANSWER, entry=entry(answer="word " * 3000))
    assert len(render_plain(long_reply)) < 1000
    long_title = Reply(ReplyKind.ANSWER, entry=entry(answer="word " * 3000, title="x" * 300))
    assert discord_refusal(render_discord(long_title)) is None
    groups = tuple(ListingGroup(f"Group {g}", tuple(entry(n=n, title="x" * 90) for n in range(30))) for g in range(40))
    listing = Reply(ReplyKind.LIST, listing=Listing(groups, 1, 5, 6000))
    rendered = render_discord(listing)
    assert discord_refusal(rendered) is None  # Discord checks the sum over the embed too (6,000)
    [embed] = rendered.embeds
    assert len(embed["fields"]) <= DISCORD_FIELD_LIMIT
    assert embed["footer"]["text"].endswith("more not shown")  # what does not fit is counted, not lost silently
    assert "!faq list 2" in render_plain(listing)


def discord_refusal(rendered: DiscordText) -> dict[str, Any] | None:
    """What Discord would answer (400) to a message with this content and these embeds, or None."""
    return message_refusal({"content": rendered.content, "embeds": rendered.embeds})


def test_no_answer_and_suggestions_never_echo_the_question() -> None:
    suggestions = Reply(ReplyKind.SUGGESTIONS, suggestions=(entry(), entry(n=1, title="Hosting")))
    assert "Did you mean" in render_plain(suggestions) and "Hosting" in render_plain(suggestions)
    assert "<li>" in render_matrix(suggestions).formatted_body
    assert "!faq list" in render_plain(Reply(ReplyKind.NO_ANSWER))


def test_help_and_hints_follow_the_context() -> None:
    assert "plain questions" in render_plain(Reply(ReplyKind.HELP))
    assert "plain questions" not in render_plain(Reply(ReplyKind.HELP, passive_enabled=False))
    slash_help = render_discord(Reply(ReplyKind.HELP), slash=True).content
    assert "/faq-list" in slash_help and "!faq" not in slash_help
    groups = (ListingGroup("FAQ", (entry(),)),)
    listing = Reply(ReplyKind.LIST, listing=Listing(groups, 1, 2, 20))
    assert "`!faq list 2`" in render_discord(listing).content
    assert "`/faq-list page:2`" in render_discord(listing, slash=True).content
    assert "/faq-list" in render_discord(Reply(ReplyKind.NO_ANSWER), slash=True).content


def test_plain_text_shows_links_as_label_and_url() -> None:
    reply = Reply(
        ReplyKind.ANSWER, entry=entry(answer="Ask **[@vmstan](https://vmst.io/@vmstan)** or see <https://x.org>.")
    )
    assert "Ask @vmstan <https://vmst.io/@vmstan> or see <https://x.org>." in render_plain(reply)


def test_a_link_without_a_target_renders_as_its_text() -> None:
    """Found by the hostile-knowledge property test: `[a]()` gave `<a href="">a</a>`."""
    from faqbot.render import _markdown_to_html

    html = _markdown_to_html("see [the docs]() or [this](https://docs.example.org)")
    assert 'href=""' not in html and "see the docs or" in html and 'href="https://docs.example.org"' in html
