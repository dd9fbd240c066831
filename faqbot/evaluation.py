"""Measuring answer quality on labelled questions (`faqbot eval` and the benchmarks).

A labelled question names the entry that should answer it (by id, route or URL)
or says it must get no answer (`expect: none`, for ordinary chat). Each is run
through the same index and decisions the bot uses, in both modes:
explicit (`!faq ...`: answer outright, or not) and passive (plain chat).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from faqbot.matching.decision import Mode, Outcome, Thresholds
from faqbot.matching.index import MatchIndex
from faqbot.responder import judge
from faqbot.sources.model import Entry, Problem
from faqbot.sources.yaml_source import LineNumberLoader


@dataclass(frozen=True)
class LabelledQuestion:
    question: str
    expected: tuple[str, ...]  # empty: must stay unanswered
    path: str = ""
    line: int = 0
    to_someone_else: bool = False  # said to another member (see `IncomingMessage`)

    @property
    def in_scope(self) -> bool:
        return bool(self.expected)


@dataclass(frozen=True)
class QuestionResult:
    item: LabelledQuestion
    best: Entry | None
    best_score: float
    explicit: Outcome
    passive: Outcome
    top1_correct: bool

    @property
    def explicit_correct(self) -> bool:
        if self.item.in_scope:
            return self.explicit is Outcome.ANSWER and self.top1_correct
        return self.explicit is not Outcome.ANSWER

    @property
    def passive_correct(self) -> bool:
        if self.item.in_scope:
            return self.passive is Outcome.ANSWER and self.top1_correct
        return self.passive is not Outcome.ANSWER


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


@dataclass
class EvaluationReport:
    results: list[QuestionResult] = field(default_factory=list)

    @property
    def in_scope(self) -> list[QuestionResult]:
        return [r for r in self.results if r.item.in_scope]

    @property
    def out_of_scope(self) -> list[QuestionResult]:
        return [r for r in self.results if not r.item.in_scope]

    def top1_accuracy(self) -> float:
        return _share(sum(r.top1_correct for r in self.in_scope), len(self.in_scope))

    def explicit_accuracy(self) -> float:
        """In-scope questions `!faq` answers outright and correctly."""
        return _share(sum(r.explicit_correct for r in self.in_scope), len(self.in_scope))

    def explicit_silence(self) -> float:
        """Out-of-scope questions `!faq` does not answer outright (out-of-scope recall)."""
        return _share(sum(r.explicit_correct for r in self.out_of_scope), len(self.out_of_scope))

    def explicit_overall(self) -> float:
        """Accuracy over everything, counting correct silence on out-of-scope questions."""
        return _share(sum(r.explicit_correct for r in self.results), len(self.results))

    def passive_answer_rate(self) -> float:
        """In-scope questions answered correctly when asked as plain chat."""
        return _share(sum(r.passive_correct for r in self.in_scope), len(self.in_scope))

    def passive_wrong_answers(self) -> int:
        return sum(r.passive is Outcome.ANSWER and not r.top1_correct for r in self.in_scope)

    def false_triggers(self) -> float:
        """Share of must-stay-silent lines that would get a passive answer."""
        return _share(sum(r.passive is Outcome.ANSWER for r in self.out_of_scope), len(self.out_of_scope))

    def failures(self) -> list[QuestionResult]:
        return [r for r in self.results if not (r.explicit_correct and r.passive_correct)]


def entry_matches(entry: Entry, expected: str) -> bool:
    """Is `entry` the one a label names, by id, route, URL or the URL's path?"""
    if expected in (entry.id, entry.route, entry.url):
        return True
    if entry.url and expected.startswith("/"):
        parts = urlsplit(entry.url)
        path = (parts.path or "/") + (f"#{parts.fragment}" if parts.fragment else "")
        return path == expected
    return False


def evaluate(
    index: MatchIndex, questions: Iterable[LabelledQuestion], thresholds: Thresholds | None = None
) -> EvaluationReport:
    """Ask every labelled question through `index` and the bot's decisions (the index's own
    bars unless `thresholds` is given)."""
    report = EvaluationReport()
    thresholds = thresholds or index.thresholds
    for item in questions:
        ranked = index.rank(item.question)
        best = ranked[0] if ranked else None
        explicit = judge(index, item.question, Mode.EXPLICIT, thresholds=thresholds, ranked=ranked)
        passive = judge(
            index,
            item.question,
            Mode.PASSIVE,
            to_someone_else=item.to_someone_else,
            thresholds=thresholds,
            ranked=ranked,
        )
        report.results.append(
            QuestionResult(
                item=item,
                best=best.entry if best else None,
                best_score=best.score if best else 0.0,
                explicit=explicit.outcome,
                passive=passive.outcome,
                top1_correct=best is not None and any(entry_matches(best.entry, e) for e in item.expected),
            )
        )
    return report


_NONE_WORDS = {"", "none", "null", "silent", "nothing"}


def load_labelled_questions(path: Path) -> tuple[list[LabelledQuestion], list[Problem]]:
    """Read a labelled-questions file: a YAML list of `{question, expect}`."""
    shown = path.as_posix()
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=LineNumberLoader)
    except (OSError, UnicodeDecodeError) as error:
        return [], [Problem(shown, 0, f"cannot read file: {error}")]
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        return [], [Problem(shown, mark.line + 1 if mark else 1, f"malformed YAML: {error}")]
    if not isinstance(data, list):
        return [], [Problem(shown, 1, "expected a list of '- question: ...' items with 'expect'")]
    questions: list[LabelledQuestion] = []
    problems: list[Problem] = []
    for number, item in enumerate(data, start=1):
        line = item.get("__line__", 0) if isinstance(item, dict) else 0
        if not isinstance(item, dict) or not isinstance(item.get("question"), str) or "expect" not in item:
            problems.append(Problem(shown, line, f"item {number}: needs 'question' (text) and 'expect'"))
            continue
        expect = item["expect"]
        expected: Sequence[object] = expect if isinstance(expect, list) else [expect]
        labels = tuple(str(e) for e in expected if e is not None and str(e).strip().lower() not in _NONE_WORDS)
        questions.append(LabelledQuestion(item["question"], labels, shown, line))
    return questions, problems


def format_report(report: EvaluationReport, show_failures: int = 50) -> str:
    """The human-readable summary `faqbot eval` prints."""
    lines = []
    inside, outside = report.in_scope, report.out_of_scope
    if inside:
        lines += [
            f"{len(inside)} questions with an expected answer:",
            f"  explicit (!faq): answered correctly {report.explicit_accuracy():.1%}",
            f"  passive (plain chat): answered correctly {report.passive_answer_rate():.1%}, "
            f"wrongly {report.passive_wrong_answers()}",
            f"  best match correct (top-1): {report.top1_accuracy():.1%}",
        ]
    if outside:
        lines += [
            f"{len(outside)} lines that must get no answer:",
            f"  passive false triggers: {report.false_triggers():.1%} "
            f"({sum(r.passive is Outcome.ANSWER for r in outside)} lines)",
            f"  explicit: correctly not answered {report.explicit_silence():.1%}",
        ]
    if inside and outside:
        lines.append(f"explicit accuracy counting correct silence: {report.explicit_overall():.1%}")
    failures = report.failures()
    if failures and show_failures:
        lines.append(f"failures ({len(failures)}; first {min(show_failures, len(failures))}):")
        for result in failures[:show_failures]:
            item = result.item
            expected = " or ".join(item.expected) if item.expected else "no answer"
            picked = f"{result.best.id} ({result.best_score:.2f})" if result.best else "nothing"
            lines.append(
                f"  {item.path}:{item.line}: {item.question!r}: expected {expected}; best {picked}; "
                f"explicit {result.explicit.value}, passive {result.passive.value}"
            )
    return "\n".join(lines)
