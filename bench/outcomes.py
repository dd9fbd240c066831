"""Every decision the bot takes on the vmst.io rows, to show a speed-up changes none.

    python bench/outcomes.py [--shared ../shared] [--matcher encoder|lexical] [--out FILE] [--against FILE]

Asks each vmst.io row (the dev and test member questions, IRC lines and off-topic lines)
through `faqbot.responder.judge` the way the bot does (no ranking handed in, so whatever
is settled before the model is settled here too), in plain chat and asked explicitly,
and writes one line per row and mode: split, source, row, outcome, why, entry. Run it on
two versions of the code (`PYTHONPATH=other/checkout python bench/outcomes.py`) and
compare with `--against`: it prints every row whose outcome or entry differs and the
passive counts of both, per split.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as the bot runs it: one question at a time

import argparse
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from datasets import DEFAULT_SHARED, is_offtopic, vmstio

import faqbot
from faqbot.evaluation import entry_matches
from faqbot.matching.decision import Mode, Outcome
from faqbot.matching.index import MatchIndex
from faqbot.matching.matchers import DEFAULT_MATCHER, MATCHERS, load_matcher
from faqbot.responder import judge


def decisions(shared: Path, matcher: str) -> list[tuple[str, ...]]:
    """(split, source, row, mode, outcome, why, entry id, correct) for every vmst.io row and mode."""
    benchmark = vmstio(shared)
    index = MatchIndex(benchmark.entries, vectors=load_matcher(matcher))
    lines = []
    for split, questions in (("dev", benchmark.dev), ("test", benchmark.test)):
        for number, item in enumerate(questions):
            source = "member" if item.in_scope else "offtopic" if is_offtopic(item) else "irc"
            for mode in (Mode.PASSIVE, Mode.EXPLICIT):
                decision = judge(index, item.question, mode, to_someone_else=item.to_someone_else)
                answered = decision.outcome is Outcome.ANSWER and decision.best is not None
                entry = decision.best.entry if answered else None
                correct = entry is not None and any(entry_matches(entry, e) for e in item.expected)
                lines.append(
                    (
                        split,
                        source,
                        str(number),
                        mode.value,
                        decision.outcome.value,
                        decision.why.value,
                        entry.id if entry else "-",
                        "right" if correct else "wrong" if entry and source == "member" else "-",
                    )
                )
    return lines


def passive_counts(lines: list[tuple[str, ...]]) -> dict[tuple[str, str], Counter]:
    """Per (split, source): passive answers, right and wrong."""
    counts: dict[tuple[str, str], Counter] = {}
    for split, source, _, mode, outcome, _, _, correct in lines:
        counter = counts.setdefault((split, source), Counter())
        counter["rows"] += mode == Mode.PASSIVE.value
        if mode == Mode.PASSIVE.value and outcome == Outcome.ANSWER.value:
            counter["answered"] += 1
            if correct != "-":
                counter[correct] += 1
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    parser.add_argument("--matcher", choices=MATCHERS, default=DEFAULT_MATCHER)
    parser.add_argument("--out", type=Path, help="write the decisions here (tab-separated)")
    parser.add_argument("--against", type=Path, help="decisions written by another version, to compare")
    args = parser.parse_args()
    print(f"faqbot from {Path(faqbot.__file__).parent}", file=sys.stderr)
    lines = decisions(args.shared, args.matcher)
    if args.out:
        args.out.write_text("".join("\t".join(line) + "\n" for line in lines), encoding="utf-8")
    for (split, source), counter in sorted(passive_counts(lines).items()):
        print(f"{split} {source}: {dict(counter)}")
    if args.against:
        theirs = [tuple(line.split("\t")) for line in args.against.read_text(encoding="utf-8").splitlines()]
        if len(theirs) != len(lines):
            print(f"different rows: {len(theirs)} there, {len(lines)} here")
            return 1
        changed = [(a, b) for a, b in zip(theirs, lines, strict=True) if (a[4], a[6]) != (b[4], b[6])]
        for there, here in changed:
            before, after = f"{there[4]} {there[6]} ({there[5]})", f"{here[4]} {here[6]} ({here[5]})"
            print(f"changed: {' '.join(there[:4])}: {before} -> {after}")
        print(f"{len(changed)} of {len(lines)} decisions changed (outcome or entry)")
        return 1 if changed else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
