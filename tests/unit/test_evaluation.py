from pathlib import Path

import pytest

from faqbot.cli import main
from faqbot.evaluation import LabelledQuestion, evaluate, load_labelled_questions
from faqbot.matching.index import MatchIndex
from faqbot.sources.model import Knowledge

from .conftest import SMALL_FAQ, write_tree

LABELS = """\
- question: do you block threads?
  expect: threads
- question: is bluesky blocked?
  expect: [/about/bridges#bluesky]
- question: who pays for the server?
  expect: https://docs.example.org/funding
- question: do you block threads?
  expect: bluesky        # wrong on purpose: a failure to report
- question: my cat is asleep on my keyboard
  expect: none
- question: do you block bluesky?
  expect: null           # must stay silent, but will not
"""


def test_labels_load_with_lines_and_none_means_silence(tmp_path: Path) -> None:
    questions, problems = load_labelled_questions(write_tree(tmp_path, {"q.yaml": LABELS}) / "q.yaml")
    assert not problems
    assert [q.line for q in questions] == [1, 3, 5, 7, 9, 11]
    assert questions[1].expected == ("/about/bridges#bluesky",)
    assert not questions[4].in_scope and not questions[5].in_scope


def test_bad_items_are_reported(tmp_path: Path) -> None:
    questions, problems = load_labelled_questions(
        write_tree(tmp_path, {"q.yaml": "- question: hi\n- expect: x\n"}) / "q.yaml"
    )
    assert questions == [] and len(problems) == 2 and problems[1].line == 2


def test_metrics_count_correct_answers_silence_and_false_triggers(tmp_path: Path, small_knowledge: Knowledge) -> None:
    questions, _ = load_labelled_questions(write_tree(tmp_path, {"q.yaml": LABELS}) / "q.yaml")
    report = evaluate(MatchIndex(small_knowledge.entries), questions)
    assert report.top1_accuracy() == pytest.approx(3 / 4)
    assert report.explicit_accuracy() == pytest.approx(3 / 4)
    assert report.passive_answer_rate() == pytest.approx(3 / 4)
    assert report.passive_wrong_answers() == 1
    assert report.false_triggers() == pytest.approx(1 / 2)
    assert report.explicit_silence() == pytest.approx(1 / 2)
    assert report.explicit_overall() == pytest.approx(4 / 6)
    assert [r.item.line for r in report.failures()] == [7, 11]


def test_an_entry_matches_by_id_route_url_or_url_path(small_knowledge: Knowledge) -> None:
    index = MatchIndex(small_knowledge.entries)
    for label in ("bluesky", "/about/bridges#bluesky", "https://docs.example.org/about/bridges#bluesky"):
        report = evaluate(index, [LabelledQuestion("do you block bluesky", (label,))])
        assert report.top1_accuracy() == 1.0, label


def test_eval_command_prints_the_summary_and_failures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = write_tree(tmp_path / "k", {"faq.yml": SMALL_FAQ})
    labels = write_tree(tmp_path, {"q.yaml": LABELS}) / "q.yaml"
    assert main(["eval", str(labels), "--knowledge", str(folder), "--base-url", "https://docs.example.org"]) == 0
    out = capsys.readouterr().out
    assert "4 questions with an expected answer" in out
    assert "passive false triggers: 50.0% (1 lines)" in out
    assert "q.yaml:7: 'do you block threads?': expected bluesky; best threads (1.00)" in out


def test_eval_can_gate_a_communitys_ci(tmp_path: Path, capsys) -> None:
    folder = write_tree(tmp_path / "kb", {"faq.yml": SMALL_FAQ})
    labels = tmp_path / "labels.yaml"
    labels.write_text(
        "- question: do you block threads?\n  expect: threads\n"
        "- question: quantum chromodynamics lecture notes\n  expect: funding\n"
        "- question: my build broke again lol\n  expect: none\n",
        encoding="utf-8",
    )
    base = ["eval", str(labels), "--knowledge", str(folder)]
    assert main([*base, "--fail-under", "0.5", "--max-false-triggers", "0"]) == 0
    assert main([*base, "--fail-under", "0.9"]) == 1
    assert "explicit accuracy 50.0% is below 90.0%" in capsys.readouterr().err
