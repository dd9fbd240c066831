"""The screens by words alone, on dev: what each bar costs in passive answers and saves in model runs.

    python bench/screens.py [--shared ../shared] [--matcher encoder|lexical] [--test]

Before any model runs, a passive question is settled when its words rule out an answer
(`decision.settled_without_ranking`): everyday chat explains them better than the
knowledge does (word contrast under `passive_words`, unless a moderator's phrasing is
close), or no entry holds enough of them (best coverage under `passive_coverage`). Each
bar pair is tried on the vmst.io dev rows (member questions, IRC lines, off-topic lines)
with the matcher's other bars, and printed with: dev member questions answered right and
wrong, dev IRC and off-topic lines answered, and how many dev lines reach the model.
`--test` prints the test rows too, for the record once the bars are chosen on dev.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from datasets import DEFAULT_SHARED, is_offtopic, vmstio

from faqbot.evaluation import entry_matches
from faqbot.matching.decision import Mode, Outcome, settled_without_ranking
from faqbot.matching.index import MatchIndex
from faqbot.matching.matchers import DEFAULT_MATCHER, MATCHERS, load_matcher
from faqbot.responder import judge

WORD_BARS = (-100.0, -0.5, -0.25, 0.0, 0.25)
COVERAGE_BARS = (0.0, 0.1, 0.15, 0.2, 0.25, 0.3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    parser.add_argument("--matcher", choices=MATCHERS, default=DEFAULT_MATCHER)
    parser.add_argument("--test", action="store_true", help="also print the test rows (report only)")
    args = parser.parse_args()
    benchmark = vmstio(args.shared)
    index = MatchIndex(benchmark.entries, vectors=load_matcher(args.matcher))
    splits = {"dev": benchmark.dev, **({"test": benchmark.test} if args.test else {})}
    for split, questions in splits.items():
        rows = []
        for item in questions:
            # Ranked once, with the background contrast: every bar below is judged on the same ranking.
            ranked = index.rank(item.question)
            source = "member" if item.in_scope else "offtopic" if is_offtopic(item) else "irc"
            right = bool(ranked) and any(entry_matches(ranked[0].entry, e) for e in item.expected)
            rows.append((item, ranked, source, right))
        print(f"{split}: {sum(r[2] == 'member' for r in rows)} member questions, {len(rows)} rows")
        print("| words bar | coverage bar | right | wrong | IRC lines | off-topic | members to the model | others |")
        print("|---|---|---|---|---|---|---|---|")
        for words_bar in WORD_BARS:
            for coverage_bar in COVERAGE_BARS:
                bars = replace(index.thresholds, passive_words=words_bar, passive_coverage=coverage_bar)
                counts = {"right": 0, "wrong": 0, "irc": 0, "offtopic": 0, "member model": 0, "other model": 0}
                for item, ranked, source, right in rows:
                    settled = settled_without_ranking(Mode.PASSIVE, item.question, item.to_someone_else, index, bars)
                    if settled is None:
                        counts["member model" if source == "member" else "other model"] += 1
                    decision = judge(
                        index, item.question, Mode.PASSIVE, to_someone_else=item.to_someone_else, thresholds=bars,
                        ranked=ranked,
                    )  # fmt: skip
                    if decision.outcome is Outcome.ANSWER:
                        counts[("right" if right else "wrong") if source == "member" else source] += 1
                members = sum(r[2] == "member" for r in rows)
                others = len(rows) - members
                print(
                    f"| {words_bar:g} | {coverage_bar:g} | {counts['right']} | {counts['wrong']} | {counts['irc']} "
                    f"| {counts['offtopic']} | {counts['member model']} of {members} "
                    f"| {counts['other model']} of {others} ({counts['other model'] / others:.1%}) |",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
