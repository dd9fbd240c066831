"""What the moderators' loop is worth: the vmst.io test questions before and after learning.

    python bench/learning.py [--shared ../shared] [--matcher encoder|lexical]

Every vmst.io dev question the bot answers wrongly or leaves silent in plain chat is
treated as a correction a moderator made (`!faq <the right entry>` in reply to the
member): the member's words become a learned phrasing of the right entry, exactly as
`Responder.learn` takes it in chat. Then the test questions (none of which is ever
taught), the IRC test lines and the off-topic test lines are asked (explicitly and in plain
chat), before and after, through the same decision path the bot uses. A correction teaches the bot
one member's wording; what this measures is how far that carries to other members'.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from datasets import DEFAULT_SHARED, is_offtopic, vmstio

from faqbot.evaluation import EvaluationReport, entry_matches, evaluate
from faqbot.matching.decision import Mode, Outcome
from faqbot.matching.matchers import DEFAULT_MATCHER, MATCHERS, load_matcher
from faqbot.responder import Lesson, Responder, judge
from faqbot.sources.model import Knowledge
from faqbot.store.records import LearnedPhrasing


def corrections(responder: Responder, questions) -> list[Lesson]:
    """A moderator's correction for each dev member question the bot gets wrong or leaves silent."""
    lessons = []
    for item in questions:
        if not item.in_scope:
            continue
        decision = judge(responder.index, item.question, Mode.PASSIVE)
        best = decision.best
        right = [e for e in responder.knowledge.entries if any(entry_matches(e, label) for label in item.expected)]
        if not right:
            continue
        answered_right = decision.outcome is Outcome.ANSWER and best is not None and best.entry.id == right[0].id
        if not answered_right:
            lessons.append(Lesson(item.question, right[0].id))
    return lessons


def rows(report: EvaluationReport) -> str:
    members = [r for r in report.results if r.item.in_scope]
    offtopic = [r for r in report.results if not r.item.in_scope and is_offtopic(r.item)]
    irc = [r for r in report.results if not r.item.in_scope and not is_offtopic(r.item)]
    right = sum(r.passive_correct for r in members) / len(members)
    wrong = sum(r.passive is Outcome.ANSWER and not r.top1_correct for r in members) / len(members)
    answered_offtopic = sum(r.passive is Outcome.ANSWER for r in offtopic) / max(1, len(offtopic))
    answered_irc = sum(r.passive is Outcome.ANSWER for r in irc) / max(1, len(irc))
    return (
        f"top-1 {report.top1_accuracy():.3f}, explicit correct {report.explicit_accuracy():.3f}, "
        f"passive correct {right:.3f}, wrong {wrong:.3f} (of {len(members)} member questions); "
        f"off-topic answered {answered_offtopic:.3f} (of {len(offtopic)}); IRC answered {answered_irc:.2%} "
        f"(of {len(irc)})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    parser.add_argument("--matcher", choices=MATCHERS, default=DEFAULT_MATCHER)
    args = parser.parse_args()
    benchmark = vmstio(args.shared)
    knowledge = Knowledge(entries=list(benchmark.entries))
    responder = Responder(knowledge, vectors=load_matcher(args.matcher))
    before = evaluate(responder.index, benchmark.test)
    started = time.perf_counter()
    lessons = corrections(responder, benchmark.dev)
    # All at once, as a restart with these in the store would (`Bot.restore`); in chat each
    # correction is learned the moment it is made (`Responder.learn`), with the same result.
    responder.set_learned([LearnedPhrasing(n, x.text, x.entry_id, 0.0) for n, x in enumerate(lessons, 1)])
    learning = time.perf_counter() - started
    after = evaluate(responder.index, benchmark.test)
    print(f"matcher: {args.matcher}; {len(knowledge.entries)} entries (the vmst.io docs tree)")
    print(f"dev member questions taught as corrections: {len(lessons)} (learned in {learning:.1f} s)")
    print(f"before: {rows(before)}")
    print(f"after:  {rows(after)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
