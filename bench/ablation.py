"""What each part of the matcher buys: re-tune on dev without it, report on test.

    python bench/ablation.py [--shared ../shared] [--matcher encoder|lexical]

Each variant switches one part off, re-fits the calibration and the bars with
`bench/tune.py` on the dev data (so no variant is handicapped by weights fitted for
another), and prints the rows `bench/quality.py` prints. Slow (about 30 s a variant).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from datasets import DEFAULT_SHARED, HINT3_SETS, clinc150, hint3, stackfaq, vmstio
from quality import headline
from tune import dev_sets, tune

from faqbot.evaluation import evaluate
from faqbot.matching import index as index_module
from faqbot.matching import text as text_module
from faqbot.matching import vectors as vectors_module
from faqbot.matching.index import MatchIndex
from faqbot.matching.matchers import DEFAULT_MATCHER, MATCHERS, load_matcher


@contextmanager
def patched(module: object, name: str, value: object) -> Iterator[None]:
    old = getattr(module, name)
    setattr(module, name, value)
    try:
        yield
    finally:
        setattr(module, name, old)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    parser.add_argument("--matcher", choices=MATCHERS, default=DEFAULT_MATCHER)
    args = parser.parse_args()
    vectors = load_matcher(args.matcher)
    benchmarks = [hint3(args.shared, name) for name in HINT3_SETS]
    benchmarks += [clinc150(args.shared), stackfaq(args.shared), vmstio(args.shared)]

    no_openers = text_module._QUESTION_OPENERS - {"whats", "hows", "wheres", "whos", "whys", "whens"}
    variants: dict[str, Callable[[], object]] = {
        "final": lambda: patched(index_module, "CENTROID_WEIGHT", index_module.CENTROID_WEIGHT),
        "best phrasing only (no entry centroid)": lambda: patched(index_module, "CENTROID_WEIGHT", 0.0),
        "centroid only": lambda: patched(index_module, "CENTROID_WEIGHT", 1.0),
        "no 'whats'-style question openers": lambda: patched(text_module, "_QUESTION_OPENERS", no_openers),
    }
    if vectors is not None:
        variants["no common-direction removal"] = lambda: patched(vectors_module, "REMOVE_COMMON", False)
    print("| variant | " + " | ".join(b.name for b in benchmarks) + " |")
    print("|---|" + "---|" * len(benchmarks))
    for name, switch in variants.items():
        with switch():
            calibration = tune(dev_sets(args.shared, vectors), vectors is not None, log=lambda _: None)
            cells = [
                headline(b.name, evaluate(MatchIndex(b.entries, vectors, calibration), b.test)) for b in benchmarks
            ]
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
