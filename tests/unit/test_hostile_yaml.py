"""YAML built to attack the loader: alias bombs, deep nesting, values PyYAML cannot build."""

from __future__ import annotations

from pathlib import Path

import pytest

from faqbot.sources.loader import KnowledgeLoader, load_knowledge
from faqbot.sources.safe_yaml import BoundedSafeLoader, YamlRefused, _on_libyaml, load_bounded

from .conftest import write_tree
from .hostile import everything_shown, messages_for
from .test_live_knowledge import touch_later

# No links: a page beside it would make them errors (routes the knowledge does not have).
SMALL_FAQ = "- id: threads\n  question: Do you block Threads?\n  answer: No, you can block it yourself.\n"


def alias_bomb(key: str = "title", levels: int = 9) -> str:
    """The billion-laughs document: 9 ** 9 'lol's from under 500 bytes (74 s and 3 GB as a title)."""
    lines = ['a0: &a0 ["lol"]']
    lines += [f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 9) + "]" for n in range(1, levels)]
    return "\n".join([*lines, f"{key}: *a{levels - 1}"])


@pytest.mark.timeout(60)
def test_an_alias_bomb_in_front_matter_is_refused_with_its_line(tmp_path: Path) -> None:
    bomb = alias_bomb()
    assert len(bomb) < 500
    write_tree(tmp_path, {"faq.yml": SMALL_FAQ, "bomb.md": f"---\n{bomb}\n---\n# Bomb\n\nBoom.\n"})
    knowledge = load_knowledge([tmp_path])
    [error] = knowledge.errors
    assert error.path.endswith("bomb.md") and error.line == 8  # a6: where the expansion passes the limit
    assert "front matter refused: aliases expand it past the limit" in error.message
    assert knowledge.by_id("bomb").title == "Bomb" and knowledge.by_id("threads") is not None


@pytest.mark.timeout(60)
def test_an_alias_bomb_in_a_folder_title_is_refused(tmp_path: Path) -> None:
    write_tree(tmp_path, {"guides/_dir.yml": alias_bomb(), "guides/setup.md": "# Setup\n\nInstall it.\n"})
    knowledge = load_knowledge([tmp_path])
    [error] = knowledge.errors
    assert error.path.endswith("guides/_dir.yml") and "aliases expand it past the limit" in error.message
    assert knowledge.by_id("guides/setup").group == "Guides"


@pytest.mark.timeout(60)
def test_aliases_of_long_text_in_a_faq_file_are_refused(tmp_path: Path) -> None:
    """Each alias of a 100 KB answer would be matched as its own 100 KB phrasing."""
    long = "word " * 20_000
    faq = f"- question: What?\n  answer: &long {long}\n  alternates: [{', '.join(['*long'] * 200)}]\n"
    write_tree(tmp_path, {"faq.yml": faq, "ok.yml": SMALL_FAQ})
    knowledge = load_knowledge([tmp_path])
    assert any("aliases expand it past the limit" in m for m in messages_for(knowledge, "faq.yml"))
    assert knowledge.by_id("what") is None and knowledge.by_id("threads") is not None


def test_modest_aliases_still_load(tmp_path: Path) -> None:
    faq = "- question: What?\n  answer: &same It is the same.\n- question: Again?\n  answer: *same\n"
    knowledge = load_knowledge([write_tree(tmp_path, {"faq.yml": faq})])
    assert not knowledge.problems and knowledge.by_id("again").answer == "It is the same."


@pytest.mark.parametrize(
    ("name", "text", "line"),
    [
        ("deep.yml", "[" * 5000, 1),
        ("deep-block.yml", "- " * 5000 + "x\n", 1),
        ("deep.md", "---\ntitle: " + "[" * 5000 + "\n---\n# Deep\n", 2),
        ("deep-mapping.yml", "a:\n" + "".join(" " * n + "b:\n" for n in range(1, 200)), 33),
    ],
)
def test_deep_nesting_is_refused_instead_of_crashing(tmp_path: Path, name: str, text: str, line: int) -> None:
    knowledge = load_knowledge([write_tree(tmp_path, {name: text, "faq.yml": SMALL_FAQ})])
    [error] = knowledge.errors
    assert error.path.endswith(name) and "refused: nested more than 32 levels deep" in error.message
    assert error.line == line
    assert knowledge.by_id("threads") is not None


def test_an_alias_inside_its_own_anchor_is_refused() -> None:
    with pytest.raises(YamlRefused, match="refers to the value it is part of"):
        load_bounded("a: &a [1, *a]")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2024-13-45", "malformed YAML: month must be in 1..12"),
        ("9" * 5000, "malformed YAML: Exceeds the limit (4300 digits)"),
        ("0b" + "1" * 20000, "'answer' must be text"),
    ],
    ids=["impossible date", "5,000-digit int", "20,000-bit int"],
)
def test_values_python_cannot_build_are_reported_not_a_crash(tmp_path: Path, value: str, message: str) -> None:
    faq = f"- question: When?\n  answer: {value}\n"
    knowledge = load_knowledge([write_tree(tmp_path, {"faq.yml": faq, "ok.yml": SMALL_FAQ})])
    [error] = knowledge.errors
    assert error.path.endswith("faq.yml") and error.message.startswith(message)
    assert knowledge.by_id("threads") is not None


@pytest.mark.timeout(60)
def test_a_bomb_saved_over_a_good_file_keeps_its_last_good_version(tmp_path: Path) -> None:
    write_tree(tmp_path, {"faq.yml": SMALL_FAQ, "page.md": "---\ntitle: Page\n---\nText.\n"})
    loader = KnowledgeLoader([tmp_path])
    assert not loader.load().errors
    touch_later(tmp_path / "page.md", f"---\n{alias_bomb()}\n---\nText.\n")
    touch_later(tmp_path / "faq.yml", "[" * 5000)
    knowledge = loader.load()
    assert len(knowledge.errors) == 2
    assert knowledge.by_id("page").title == "Page" and knowledge.by_id("threads") is not None
    assert "lol" not in everything_shown(knowledge)


def test_front_matter_values_must_be_text(tmp_path: Path) -> None:
    page = "---\ntitle: [a, b]\ndescription: {x: 1}\n---\n# Heading\n\nText.\n"
    knowledge = load_knowledge([write_tree(tmp_path, {"page.md": page})])
    assert sorted(p.message for p in knowledge.errors) == [
        "front matter 'description' must be text",
        "front matter 'title' must be text",
    ]
    assert knowledge.by_id("page").title == "Heading"


def test_nesting_is_refused_where_it_passes_the_limit_before_the_scanner_reads_on() -> None:
    """The scanner looks 1,024 characters ahead of every unclosed `[` at a cost that grows with
    the nesting; it stops at the 33rd, before it reaches (and reports) the unclosed quote."""
    with pytest.raises(YamlRefused, match="nested more than 32 levels deep"):
        load_bounded("[" * 40 + " 'never closed")


def _python_parser(text: str, loader_class: type = BoundedSafeLoader) -> object:
    """What PyYAML's own parser makes of `text` under the same bounds: the data, or the error."""
    loader = loader_class(text)
    try:
        return loader.get_single_data()
    except Exception as error:  # compared, not raised
        return (type(error), str(error))
    finally:
        loader.dispose()


@pytest.mark.parametrize(
    "text",
    [
        "- question: Who pays?\n  alternates: [who funds this, can I donate]\n  answer: |\n    Members.\n",
        "- question: Café “quoted” 💥\r\n  answer: >-\r\n    folded\r\n    text\r\n",
        "- question: a\n  answer: &x same\n- question: b\n  answer: *x\n",
        '- question: "escaped \\u00e9 \\ud83d\\ude00 \\x41"\n  answer: ok\n',
        # Read differently by libyaml, so read by PyYAML's parser alone:
        "- question: tab\there\n  answer: ok\n",  # libyaml accepts the tab
        "- question: q\n  answer: ok\n\ufeff- question: r\n  answer: ok\n",  # libyaml skips a BOM on any line
        "- question: q\n  alternates: [do you block threads?]\n  answer: ok\n",  # libyaml accepts the `?`
        "- question: !\n  answer: ok\n",  # libyaml reads the bare tag's value as "", PyYAML as None
        "- question: |#\n    text\n  answer: ok\n",  # libyaml accepts the comment after the header
    ],
)
def test_knowledge_yaml_reads_the_same_whichever_parser_reads_it(text: str) -> None:
    """The C parser (libyaml) reads most knowledge, PyYAML's own parser the rest and every error:
    documents and their lines come out as PyYAML reads them."""
    from faqbot.sources.yaml_source import LineNumberLoader

    for loader_class in (BoundedSafeLoader, LineNumberLoader):
        expected = _python_parser(text, loader_class)
        try:
            found: object = load_bounded(text, loader_class).data
        except Exception as error:
            found = (type(error), str(error))
        assert found == expected


def test_the_c_parser_keeps_the_bounds_and_the_lines() -> None:
    from faqbot.sources.yaml_source import LineNumberLoader

    on_libyaml = _on_libyaml(LineNumberLoader)
    assert on_libyaml is not None, "PyYAML here has libyaml: knowledge should be read by it"
    loader = on_libyaml("- question: a\n  answer: b\n\n- question: c\n  answer: d\n", 32, 1 << 20)
    assert [item["__line__"] for item in loader.get_single_data()] == [1, 4]
    for hostile, refusal in (("[" * 40 + "]" * 40, "nested more than 32"), (alias_bomb(), "aliases expand it past")):
        with pytest.raises(YamlRefused, match=refusal):
            on_libyaml(hostile, 32, 1 << 20).get_single_data()
    # Deeper than libyaml's own limit (1,000) it refuses in its own words: PyYAML's parser says ours.
    with pytest.raises(YamlRefused, match="nested more than 32 levels deep"):
        load_bounded("[" * 5000)
