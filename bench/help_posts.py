"""The help-post bar: how the bot answers new help-forum posts, on the vmst.io member questions.

    python bench/help_posts.py [--shared ../shared] [--matchers encoder,lexical] [--grid]

A new post in a help forum is a question by construction, asked of whoever helps, so it
gets its own bar (`Thresholds.help_post_bar`, by default midway between the explicit and
the passive bars) and never a "did you mean". Here each of our hand-written vmst.io member
questions (bench/vmstio/questions-{dev,test}.yaml) is a post's title, asked against the
real docs tree through the bot's own decision (`judge`, `Mode.HELP_POST`). Posts about
things the docs do not cover are IRC chat lines that read as questions
(`looks_like_question`), as many as there are member questions in the split: any answer to
one of them is wrong.

For each matcher (the default encoder, and lexical) and
split, three bars measured in the same run on the same rankings: the default help-post
bar, and the explicit and passive bars used as help-post bars. Columns: the share of
member questions answered with a right entry, answered with a wrong one, the precision of
those answers, and the share of off-topic posts answered.

Fitting (dev only): the bar with the most right answers minus wrong ones (a wrong answer
costs a member as much as a right one helps: they must press "I need a human" and wait),
off-topic answers counting as wrong, the higher bar winning a tie; once between the
explicit and the passive bars (where the issue puts it: a post is surely a question), once
anywhere. The test split is then reported at those bars. `--grid` prints every bar tried
on dev. A bar below the explicit one changes nothing: an answer needs that confidence too.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from datasets import DEFAULT_SHARED, irc_lines, vmstio
from quality import configurations

from faqbot.evaluation import LabelledQuestion, entry_matches
from faqbot.matching.calibration import Thresholds
from faqbot.matching.decision import Mode, Outcome
from faqbot.matching.index import Candidate, MatchIndex
from faqbot.matching.text import looks_like_question
from faqbot.responder import judge

GRID = [round(0.05 + 0.01 * n, 2) for n in range(91)]  # confidence bars 0.05 .. 0.95
TITLE_CHARS = 100  # Discord: a thread's name is at most 100 characters


@dataclass(frozen=True)
class Post:
    """A post's title, the entries that answer it (none: off-topic), and the bot's ranking."""

    title: str
    expected: tuple[str, ...]
    ranked: tuple[Candidate, ...]


@dataclass(frozen=True)
class Counts:
    right: int
    wrong: int
    questions: int
    off_topic_answered: int
    off_topic: int

    @property
    def score(self) -> int:
        """What fitting maximises: right answers minus wrong ones, off-topic answers being wrong."""
        return self.right - self.wrong - self.off_topic_answered

    def row(self, label: str) -> str:
        answered = self.right + self.wrong
        precision = self.right / answered if answered else 0.0
        return (
            f"| {label} | {self.right / self.questions:.3f} | {self.wrong / self.questions:.3f} | {precision:.3f} "
            f"| {self.off_topic_answered / max(1, self.off_topic):.3f} |"
        )


def posts(index: MatchIndex, member_questions: list[LabelledQuestion], chat: list[LabelledQuestion]) -> list[Post]:
    """Member questions as post titles, and as many question-like chat lines as off-topic posts."""
    off_topic = [line for line in chat if looks_like_question(line.question)][: len(member_questions)]
    made = []
    for item in member_questions + off_topic:
        title = item.question[:TITLE_CHARS]
        made.append(Post(title, item.expected, tuple(index.rank(title, limit=10))))
    return made


def count(made: list[Post], thresholds: Thresholds) -> Counts:
    right = wrong = off_topic_answered = 0
    for post in made:
        decision = judge(None, post.title, Mode.HELP_POST, thresholds=thresholds, ranked=list(post.ranked))
        if decision.outcome is not Outcome.ANSWER or decision.best is None:
            continue
        if not post.expected:
            off_topic_answered += 1
        elif any(entry_matches(decision.best.entry, expected) for expected in post.expected):
            right += 1
        else:
            wrong += 1
    questions = sum(1 for post in made if post.expected)
    return Counts(right, wrong, questions, off_topic_answered, len(made) - questions)


def with_bar(thresholds: Thresholds, bar: float) -> Thresholds:
    return replace(thresholds, help_post_answer=bar)


def fit(dev: list[Post], thresholds: Thresholds, low: float, high: float) -> float:
    """The bar in [low, high] of `GRID` with the best dev score (the higher bar on a tie)."""
    tried = [bar for bar in GRID if low - 1e-9 <= bar <= high + 1e-9] or [low]
    return max(tried, key=lambda bar: (count(dev, with_bar(thresholds, bar)).score, bar))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    parser.add_argument("--matchers", default="encoder,lexical", help="matchers to measure, comma-separated")
    parser.add_argument("--grid", action="store_true", help="print every bar tried on dev")
    args = parser.parse_args()
    benchmark = vmstio(args.shared)
    member = {"dev": [q for q in benchmark.dev if q.in_scope], "test": [q for q in benchmark.test if q.in_scope]}
    chat = {"dev": irc_lines(args.shared, "dev", 3000), "test": irc_lines(args.shared, "test", 3000)}
    for name, source in configurations([w.strip() for w in args.matchers.split(",") if w.strip()]).items():
        index = MatchIndex(benchmark.entries, vectors=source)
        bars = index.thresholds
        made = {split: posts(index, member[split], chat[split]) for split in ("dev", "test")}
        passive = max(bars.passive_answer, bars.explicit_answer)
        between, anywhere = fit(made["dev"], bars, bars.explicit_answer, passive), fit(made["dev"], bars, 0, 1)
        print(
            f"\n## {name}: {len(made['test'])} test posts ({len(member['test'])} member questions), "
            f"{len(made['dev'])} dev posts"
        )
        print("| bar | answered right | answered wrong | precision | off-topic answered |")
        print("|---|---|---|---|---|")
        for split in ("dev", "test"):
            for label, bar in (
                (f"help-post bar {bars.help_post_bar:.3f} (default)", bars.help_post_bar),
                (f"explicit bar {bars.explicit_answer:.3f}", bars.explicit_answer),
                (f"passive bar {passive:.3f}", passive),
                (f"fitted on dev, between those: {between:.2f}", between),
                (f"fitted on dev, anywhere: {anywhere:.2f}", anywhere),
            ):
                print(count(made[split], with_bar(bars, bar)).row(f"{split}: {label}"))
        if args.grid:
            print("\ndev grid: bar, right - wrong - off-topic answered")
            print(", ".join(f"{bar:.2f}: {count(made['dev'], with_bar(bars, bar)).score}" for bar in GRID))
    return 0


if __name__ == "__main__":
    sys.exit(main())
