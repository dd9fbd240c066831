"""How fast faqbot loads knowledge and answers, next to plain rapidfuzz in the same run.

    python bench/speed.py [--shared ../shared] [--queries 1000]

Prints:
- load time (median of several runs) for the real vmst.io docs tree;
- median and p95 time per question for knowledge of 100, 1,000 and 10,000 entries,
  next to `rapidfuzz.process.extractOne` (WRatio) over the same phrasings, and the ratio.
Entries are built from real crowd-sourced questions (CLINC150 `data_full`): each entry
gets one question and one alternate; queries are CLINC150 test utterances not used in entries. Machines
here are noisy: compare the two columns of one run, not numbers across runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from rapidfuzz import fuzz, process

from faqbot.matching.decision import Mode
from faqbot.matching.index import MatchIndex
from faqbot.responder import judge
from faqbot.sources.loader import load_knowledge
from faqbot.sources.model import Entry, Phrasing

DEFAULT_SHARED = Path(__file__).resolve().parents[2] / "shared"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def synthetic_entries(utterances: list[str], count: int) -> list[Entry]:
    entries = []
    for number in range(count):
        question, alternate = utterances[2 * number], utterances[2 * number + 1]
        entries.append(
            Entry(
                id=f"e{number}",
                title=question,
                answer=f"Answer number {number}: {alternate}.",
                route=None,
                url=None,
                group="Bench",
                path="bench",
                line=number + 1,
                phrasings=(Phrasing(question, "bench", number + 1), Phrasing(alternate, "bench", number + 1)),
                body=f"Answer number {number}: {alternate}.",
            )
        )
    return entries


def time_per_question(function, queries: list[str]) -> list[float]:
    timings = []
    for query in queries:
        start = time.perf_counter()
        function(query)
        timings.append(time.perf_counter() - start)
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    parser.add_argument("--queries", type=int, default=1000)
    args = parser.parse_args()

    docs = args.shared / "corpora" / "vmstio-docs" / "content"
    if docs.is_dir():
        loads = []
        for _ in range(7):
            start = time.perf_counter()
            knowledge = load_knowledge([docs], base_url="https://docs.vmst.io")
            MatchIndex(knowledge.entries)
            loads.append(time.perf_counter() - start)
        print(
            f"load vmst.io docs tree ({len(knowledge.entries)} entries from {len(list(docs.rglob('*.md')))} pages), "
            f"parse + index: median {statistics.median(loads) * 1000:.1f} ms over {len(loads)} runs"
        )
    else:
        print(f"docs tree not found under {args.shared}; skipping the load benchmark")

    clinc = json.loads((args.shared / "benchmarks" / "clinc150" / "data_full.json").read_text())
    held_out = [u for split in ("test", "oos_test") for u, _ in clinc[split]]
    queries = held_out[:: max(1, len(held_out) // args.queries)][: args.queries]
    asked = set(queries)
    utterances = [u for split in ("train", "val", "oos_train", "oos_val") for u, _ in clinc[split]]
    utterances += [u for u in held_out if u not in asked]
    print(f"\n{len(queries)} queries per size; times per question, one core")
    header = f"{'entries':>8} {'phrasings':>9} | {'faqbot median':>13} {'p95':>8}"
    print(f"{header} | {'extractOne median':>17} {'p95':>8} | ratio")
    for size in (100, 1000, 10000):
        entries = synthetic_entries(utterances, size)
        index = MatchIndex(entries)
        phrasings = [p.text for e in entries for p in e.phrasings]
        for query in queries[:20]:  # warm caches the same way for both
            index.rank(query)
            process.extractOne(query, phrasings, scorer=fuzz.WRatio)
        ours = time_per_question(lambda q, index=index: judge(index, q, Mode.EXPLICIT), queries)
        baseline = time_per_question(
            lambda q, phrasings=phrasings: process.extractOne(q, phrasings, scorer=fuzz.WRatio), queries
        )
        our_median, base_median = statistics.median(ours), statistics.median(baseline)
        print(
            f"{size:>8} {len(phrasings):>9} | {our_median * 1000:>10.3f} ms {percentile(ours, 0.95) * 1000:>5.2f} ms"
            f" | {base_median * 1000:>14.3f} ms {percentile(baseline, 0.95) * 1000:>5.2f} ms"
            f" | {our_median / base_median:.2f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
