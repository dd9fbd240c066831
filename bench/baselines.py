"""The issue's two reference matchers, measured on our data in the same run as faqbot.

    python bench/baselines.py [--shared ../shared]

- BM25 (Okapi, k1 1.5, b 0.75, lower-cased words): intent sets score each training
  utterance and take the best (nearest neighbour); document sets (StackFAQ, vmst.io)
  score each entry's whole text (title, questions, body).
- MiniLM kNN: all-MiniLM-L6-v2 (the bundled int8 ONNX, `faqbot[encoder]`), cosine to
  each utterance, or to each of an entry's title, questions and body; the best wins.

Like the issue's baselines, the answer/silence threshold is chosen on the *test* data
(best case), which flatters them: HINT3 the threshold with the best accuracy counting
correct silence; CLINC150 the best in-scope accuracy with out-of-scope recall >= 0.80;
vmst.io the lowest threshold at which at most 1% of the IRC lines get a reply (lines
said to someone else get none, as with faqbot's own decisions).
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from datasets import DEFAULT_SHARED, HINT3_SETS, Benchmark, clinc150, hint3, stackfaq, vmstio

from faqbot.evaluation import LabelledQuestion, entry_matches
from faqbot.sources.model import Entry

_WORD = re.compile(r"[a-z0-9]+")
PASSIVE_BUDGET = 0.01
CLINC_RECALL = 0.80  # the out-of-scope recall target

# Scores one question: (the entry it picks, a score the threshold applies to).
Picker = Callable[[str], tuple[Entry | None, float]]


def _documents(benchmark: Benchmark) -> tuple[list[str], list[Entry]]:
    """Texts to match and the entry each belongs to: utterances for intent sets, else whole entries."""
    texts, owners = [], []
    for entry in benchmark.entries:
        if entry.body:
            texts.append(" ".join((entry.title, *entry.questions, entry.body)))
            owners.append(entry)
        else:
            for phrasing in entry.questions or (entry.title,):
                texts.append(phrasing)
                owners.append(entry)
    return texts, owners


def bm25(benchmark: Benchmark, k1: float = 1.5, b: float = 0.75) -> Picker:
    texts, owners = _documents(benchmark)
    counts = [Counter(_WORD.findall(t.lower())) for t in texts]
    lengths = [sum(c.values()) for c in counts]
    average = sum(lengths) / len(lengths)
    frequency: Counter[str] = Counter(w for c in counts for w in c)
    n = len(texts)
    idf = {w: math.log(1 + (n - f + 0.5) / (f + 0.5)) for w, f in frequency.items()}
    postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for number, (c, length) in enumerate(zip(counts, lengths, strict=True)):
        for word, tf in c.items():
            postings[word].append((number, idf[word] * tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / average))))

    def pick(question: str) -> tuple[Entry | None, float]:
        scores: dict[int, float] = defaultdict(float)
        for word in set(_WORD.findall(question.lower())):
            for number, weight in postings.get(word, ()):
                scores[number] += weight
        if not scores:
            return None, 0.0
        best = max(scores, key=scores.__getitem__)
        return owners[best], scores[best]

    return pick


def minilm_knn(benchmark: Benchmark, encoder) -> Picker:
    texts, owners = [], []
    for entry in benchmark.entries:
        for text in (entry.title, *entry.questions, entry.body):
            if text and text.strip():
                texts.append(text)
                owners.append(entry)
    matrix = encoder.embed_many(texts)

    def pick(question: str) -> tuple[Entry | None, float]:
        similarities = matrix @ encoder.embed_many([question])[0]
        best = int(similarities.argmax())
        return owners[best], float(similarities[best])

    return pick


def headline(name: str, picked: Sequence[tuple[LabelledQuestion, Entry | None, float]]) -> str:
    """The issue's measure for set `name`, with the best-case threshold on these questions."""
    correct = [(q.in_scope and e is not None and any(entry_matches(e, x) for x in q.expected)) for q, e, _ in picked]
    if name == "StackFAQ":
        return f"{sum(correct) / len(correct):.3f}"
    inside = [(s, ok) for (q, _, s), ok in zip(picked, correct, strict=True) if q.in_scope]
    # Like faqbot, a baseline never joins in when a line is said to someone else.
    outside = sorted((-math.inf if q.to_someone_else else s for q, _, s in picked if not q.in_scope), reverse=True)
    bars = [*sorted({s for _, _, s in picked}), math.inf]

    def at(bar: float) -> tuple[float, float]:
        answered_right = sum(ok and s >= bar for s, ok in inside) / len(inside)
        silent = sum(s < bar for s in outside) / len(outside)
        return answered_right, silent

    if name.startswith("HINT3"):
        best = max(
            (sum(ok and s >= bar for s, ok in inside) + sum(s < bar for s in outside)) / len(picked) for bar in bars
        )
        return f"{best:.3f}"
    if name.startswith("CLINC"):
        accuracy, recall = max((pair for pair in map(at, bars) if pair[1] >= CLINC_RECALL), default=(0.0, 0.0))
        return f"{accuracy:.3f} / {recall:.3f}"
    allowed = math.floor(PASSIVE_BUDGET * len(outside))
    bar = math.nextafter(outside[allowed], math.inf) if len(outside) > allowed else -math.inf
    answered_right, silent = at(bar)
    return f"{answered_right:.3f} at {1 - silent:.2%}"


def measure(benchmark: Benchmark, pick: Picker) -> str:
    """The issue's measure for `benchmark` with matcher `pick`."""
    return headline(benchmark.name, [(q, *pick(q.question)) for q in benchmark.test])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    args = parser.parse_args()
    try:
        from faqbot.matching.encoder import load_bundled
    except ImportError:
        encoder = None
        print("MiniLM kNN needs faqbot[encoder]; only BM25 is measured", file=sys.stderr)
    else:
        encoder = load_bundled()
    benchmarks = [hint3(args.shared, name) for name in HINT3_SETS]
    benchmarks += [clinc150(args.shared), stackfaq(args.shared), vmstio(args.shared)]
    print("| set | BM25 | MiniLM kNN |")
    print("|---|---|---|")
    for benchmark in benchmarks:
        cells = []
        for make in (bm25, lambda b: minilm_knn(b, encoder) if encoder else None):
            pick = make(benchmark)
            cells.append(measure(benchmark, pick) if pick is not None else "-")
        print(f"| {benchmark.name} | {' | '.join(cells)} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
