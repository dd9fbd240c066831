from pathlib import Path

from faqbot.sources.loader import load_knowledge
from faqbot.sources.model import Severity

from .conftest import SMALL_FAQ, write_tree


def test_entries_load_with_ids_links_and_phrasings(tmp_path: Path) -> None:
    write_tree(tmp_path, {"faq.yml": SMALL_FAQ})
    knowledge = load_knowledge([tmp_path], base_url="https://docs.example.org/")
    threads = knowledge.by_id("threads")
    assert threads is not None
    assert threads.url == "https://docs.example.org/about/threads"
    assert threads.questions[:2] == ("Do you block Threads?", "are we federated with threads")
    assert threads.group == "FAQ"
    assert threads.line == 1
    emoji = knowledge.by_id("emoji")
    assert emoji is not None and emoji.url is None and emoji.route is None


def test_id_defaults_to_a_slug_of_the_question(tmp_path: Path) -> None:
    write_tree(tmp_path, {"more.yaml": "- question: Where are you hosted?\n  answer: DigitalOcean.\n"})
    [entry] = load_knowledge([tmp_path]).entries
    assert entry.id == "where-are-you-hosted"
    assert entry.group == "More"


def test_missing_question_or_answer_are_errors_with_lines_and_other_entries_survive(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "faq.yml": """\
            - question: Good one?
              answer: Yes.
            - question: No answer here?
            - answer: An answer without a question.
            - question: Also good?
              answer: Yes.
              colour: blue
            """
        },
    )
    knowledge = load_knowledge([tmp_path])
    assert [e.title for e in knowledge.entries] == ["Good one?", "Also good?"]
    messages = sorted((p.line, p.message, p.severity) for p in knowledge.problems)
    assert messages[0][:2] == (3, "entry 'No answer here?' is missing an 'answer'")
    assert messages[1][:2] == (4, "entry is missing a 'question'")
    assert messages[2] == (7, "unknown key 'colour' (ignored)", Severity.WARNING)


def test_malformed_yaml_reports_file_and_line_and_other_files_still_load(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {"broken.yml": "- question: Fine?\n  answer: yes\n- question: [unclosed\n  answer: no\n", "faq.yml": SMALL_FAQ},
    )
    knowledge = load_knowledge([tmp_path])
    [error] = knowledge.errors
    assert error.path.endswith("broken.yml")
    assert error.line in (3, 4, 5)
    assert str(error).startswith(f"{error.path}:{error.line}: malformed YAML")
    assert knowledge.by_id("threads") is not None


def test_a_file_that_is_not_a_list_is_an_error(tmp_path: Path) -> None:
    write_tree(tmp_path, {"faq.yml": "question: Hi?\nanswer: Hello.\n"})
    [error] = load_knowledge([tmp_path]).errors
    assert "must be a list of entries" in error.message


def test_duplicate_ids_and_phrasings_are_errors(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "a.yml": "- id: same\n  question: Who pays?\n  answer: Members.\n",
            "b.yml": "- id: same\n  question: Where is it hosted?\n  answer: Canada.\n"
            "- question: who PAYS\n  answer: Members again.\n",
        },
    )
    knowledge = load_knowledge([tmp_path])
    messages = [str(p) for p in knowledge.errors]
    assert any("b.yml:1: duplicate id 'same'" in m for m in messages)
    assert any("phrasing 'who PAYS' is also on entry 'same'" in m for m in messages)
    assert [e.id for e in knowledge.entries] == ["same", "who-pays"]


def test_relative_links_must_point_at_routes_the_knowledge_has(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "faq.yml": "- question: Threads?\n  answer: See [it](/about/threads#nope).\n  link: /about/threads\n"
            "- question: Gone?\n  answer: x\n  link: /about/gone\n",
            "about/threads.md": "# Threads\n\nText. See [missing](/nowhere) and [ok](/about/threads#known-issues).\n"
            "\n## Known Issues\n\nSome.\n",
        },
    )
    messages = sorted(str(p) for p in load_knowledge([tmp_path]).errors)
    assert len(messages) == 3, messages
    assert "faq.yml:2: link to '/about/threads#nope': page '/about/threads' has no section '#nope'" in messages[1]
    assert "faq.yml:6: link to '/about/gone', a page the knowledge does not have" in messages[2]
    assert "threads.md:3: link to '/nowhere'" in messages[0]


def test_extends_adds_alternates_to_an_entry_defined_elsewhere(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "faq.yml": "- id: funding\n  question: Who pays for this server?\n  answer: Members do.\n",
            "about/threads.md": "# Threads\n\nWe federate.\n\n## Blocking\n\nBlock it yourself.\n",
            "learned.yml": (
                "- extends: funding\n  alternates: [who keeps the lights on]\n"
                "- extends: /about/threads#blocking\n  alternates:\n    - can i hide meta posts\n"
            ),
        },
    )
    knowledge = load_knowledge([tmp_path])
    assert not knowledge.errors, knowledge.errors
    assert "who keeps the lights on" in knowledge.by_id("funding").questions
    assert "can i hide meta posts" in knowledge.by_id("about/threads#blocking").questions
    assert len(knowledge.entries) == 3  # extensions are no entries of their own


def test_a_broken_extends_item_is_reported_at_its_line(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "faq.yml": "- id: funding\n  question: Who pays?\n  answer: Members do.\n",
            "learned.yml": (
                "- extends: fundng\n  alternates: [who keeps the lights on]\n"
                "- extends: funding\n  answer: not allowed here\n"
                "- extends: funding\n"
            ),
        },
    )
    messages = {(p.line, p.message) for p in load_knowledge([tmp_path]).errors}
    assert (1, "extends 'fundng', which is no entry id or page route of the knowledge") in messages
    assert (4, "'answer' does not belong in an 'extends' item (only 'alternates' does)") in messages
    assert (5, "an 'extends' item needs 'alternates': the ways of asking to add") in messages
