from faqbot.sources.routes import AnchorSlugger, join_url, resolve_route, route_for


def test_routes_drop_order_prefixes_and_index_pages() -> None:
    assert route_for("1.funding.md") == "/funding"
    assert route_for("about/threads.md") == "/about/threads"
    assert route_for("about/0.index.md") == "/about"
    assert route_for("0.index.md") == "/"
    assert route_for("2.guides/10.setup.md") == "/guides/setup"


def test_anchors_are_github_style_and_numbered_when_repeated() -> None:
    slugger = AnchorSlugger()
    assert slugger.slug("Bluesky") == "bluesky"
    assert slugger.slug("Preserving Your Account") == "preserving-your-account"
    assert slugger.slug("X-Twitter") == "x-twitter"
    assert slugger.slug('"I don\'t like it"') == "i-dont-like-it"
    assert slugger.slug("Groups & Associations") == "groups--associations"
    assert slugger.slug("[Linked](/x) *heading*") == "linked-heading"
    assert slugger.slug("Bluesky") == "bluesky-1"


def test_links_resolve_against_the_page_and_base_url() -> None:
    assert resolve_route("/funding", "/about/threads") == "/funding"
    assert resolve_route("bridges#bluesky", "/about/threads") == "/about/bridges#bluesky"
    assert resolve_route("#known-issues", "/about/threads") == "/about/threads#known-issues"
    assert resolve_route("../rules", "/about/threads") == "/rules"
    assert join_url("https://docs.vmst.io/", "/about") == "https://docs.vmst.io/about"
    assert join_url("https://docs.vmst.io", "/") == "https://docs.vmst.io"
    assert join_url(None, "/about") is None
    assert join_url(None, "https://vmst.io/about") == "https://vmst.io/about"
