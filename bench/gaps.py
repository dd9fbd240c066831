"""How well `faqbot gaps` groups questions: one group per thing members keep asking.

    python bench/gaps.py [--shared ../shared] [--encoder]

Labelled questions stand in for a store full of gaps: each label (intent, FAQ,
entry) is one "thing members keep asking", and a perfect grouping puts each label's
questions in one group of their own. Measured with B-cubed precision (how much of
an item's group shares its label), recall (how much of its label is in its group)
and F1, and the number of groups against the number of labels.

The `same_thing` bars were chosen on CLINC150's validation utterances (dev) only;
CLINC150 test, StackFAQ and our vmst.io test questions are reported, not tuned on.
Each row is measured beside the baseline "same wording only" (questions group only
when their distinctive words are identical), in the same run.

Last, the time of a whole report at the store's read limit (`MAX_GAP_RECORDS`, the
newest gap records): CLINC150's full-size utterances grouped, each group's nearest
entry ranked in CLINC150 framed as knowledge.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from datasets import DEFAULT_SHARED, clinc150, stackfaq, vmstio

from faqbot.evaluation import LabelledQuestion
from faqbot.gaps import LEXICAL_SAME_THING, SEMANTIC_SAME_THING, LexicalSimilarity, SemanticSimilarity, group_gaps
from faqbot.matching.index import MatchIndex
from faqbot.store.records import GapReason, GapRecord
from faqbot.store.sql_store import MAX_GAP_RECORDS

EXACT = 2.0  # a bar no similarity reaches: only identical wordings group (the baseline)
MIN_PRECISION = 0.9  # a mixed group misleads; a split one only repeats itself


def records(questions: list[LabelledQuestion]) -> tuple[list[GapRecord], dict[str, str]]:
    items = [q for q in questions if q.in_scope]
    gap_records = [
        GapRecord(n, float(len(items) - n), q.question, GapReason.UNANSWERED, None, None) for n, q in enumerate(items)
    ]
    return gap_records, {q.question.strip(): q.expected[0] for q in items}


def b_cubed(groups: list[list[str]], label_of: dict[str, str], total_of: Counter[str]) -> tuple[float, float, float]:
    """B-cubed precision, recall and F1 over questions (a repeated text counts once per group)."""
    precision, recall, items = 0.0, 0.0, 0
    for group in groups:
        labels = Counter(label_of[text] for text in group)
        for text in group:
            same = labels[label_of[text]]
            precision += same / len(group)
            recall += same / total_of[label_of[text]]
            items += 1
    precision, recall = precision / items, recall / items
    return precision, recall, 2 * precision * recall / (precision + recall)


def measure(questions: list[LabelledQuestion], similarity, repeats: int = 3) -> tuple[float, ...]:
    gap_records, label_of = records(questions)
    timings, groups = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        found = group_gaps(gap_records, similarity=similarity, examples=10**6)
        timings.append(time.perf_counter() - started)
        groups = [list(group.examples) for group in found]
    total_of = Counter(label_of[text] for group in groups for text in group)
    precision, recall, f1 = b_cubed(groups, label_of, total_of)
    return precision, recall, f1, len(groups), len(set(label_of.values())), statistics.median(timings)


def row(name: str, questions: list[LabelledQuestion], similarity, bar: float) -> tuple[str, float, float]:
    """A table row, with its precision and F1."""
    similarity.same_thing = bar
    p, r, f1, found, labels, seconds = measure(questions, similarity)
    line = f"| {name} | {bar:g} | {p:.3f} | {r:.3f} | **{f1:.3f}** | {found} / {labels} | {seconds * 1000:.0f} ms |"
    return line, p, f1


def at_the_limit(shared: Path, knowledge: MatchIndex, similarity, forget=None, repeats: int = 3) -> str:
    """Seconds for one whole report over `MAX_GAP_RECORDS` records (median of `repeats`)."""
    data = json.loads((shared / "benchmarks" / "clinc150" / "data_full.json").read_text(encoding="utf-8"))
    texts = [text for text, _ in data["train"] + data["val"] + data["test"]][:MAX_GAP_RECORDS]
    gap_records = [GapRecord(n, float(n), t, GapReason.UNANSWERED, None, None) for n, t in enumerate(texts)]
    timings, groups = [], []
    for _ in range(repeats):
        if forget is not None:
            forget()  # time the model, not its cache
        started = time.perf_counter()
        groups = group_gaps(gap_records, index=knowledge, similarity=similarity)
        timings.append(time.perf_counter() - started)
    return f"{len(texts):,} records -> {len(groups):,} groups in {statistics.median(timings):.1f} s"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    parser.add_argument("--encoder", action="store_true", help="also group with the bundled sentence encoder")
    args = parser.parse_args()
    clinc = clinc150(args.shared)
    sets = {
        "CLINC150 val (dev)": clinc.dev,
        "CLINC150 test": clinc.test,
        "StackFAQ": stackfaq(args.shared).test,
        "vmst.io test": [q for q in vmstio(args.shared).test if q.in_scope],
    }
    configurations: dict[str, tuple[object, float, list[float]]] = {
        "lexical": (LexicalSimilarity(), LEXICAL_SAME_THING, [0.3, 0.4, 0.5, 0.55, 0.6]),
    }
    if args.encoder:
        from faqbot.matching.encoder import load_bundled

        sweep = [0.5, 0.55, 0.6, 0.65, 0.7]
        configurations["encoder"] = (SemanticSimilarity(load_bundled()), SEMANTIC_SAME_THING, sweep)
    print("| set | same_thing | B³ precision | B³ recall | B³ F1 | groups / labels | time |")
    print("|---|---|---|---|---|---|---|")
    choices = []
    for name, (similarity, in_code, sweep) in configurations.items():
        best = None
        for bar in sweep:
            line, precision, f1 = row(f"{name}, {next(iter(sets))}", sets["CLINC150 val (dev)"], similarity, bar)
            print(line, flush=True)
            if precision >= MIN_PRECISION and (best is None or f1 > best[1]):
                best = (bar, f1)
        choices.append(f"{name}: the rule picks {best[0] if best else 'none'}, the code uses {in_code}")
    for set_name, questions in sets.items():
        print(row(f"same wording only, {set_name}", questions, LexicalSimilarity(), EXACT)[0], flush=True)
        for name, (similarity, in_code, _) in configurations.items():
            print(row(f"{name}, {set_name}", questions, similarity, in_code)[0], flush=True)
    print()
    print(f"Rule: best dev F1 among bars with dev precision >= {MIN_PRECISION}. " + "; ".join(choices))
    print()
    lexical_index = MatchIndex(clinc.entries)
    print("Whole report at the read limit, lexical:", at_the_limit(args.shared, lexical_index, LexicalSimilarity()))
    if args.encoder:
        from faqbot.matching.encoder import load_bundled

        encoder = load_bundled()
        encoder_index = MatchIndex(clinc.entries, vectors=encoder)
        timing = at_the_limit(args.shared, encoder_index, SemanticSimilarity(encoder), encoder.forget, repeats=1)
        print("Whole report at the read limit, encoder:", timing)
    return 0


if __name__ == "__main__":
    sys.exit(main())
