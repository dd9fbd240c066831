"""Build `faqbot/matching/data/background.npz`: what everyday chat and questions look like.

    python tools/build_background.py [--shared ../shared]

A passive answer should go to a question the knowledge explains better than everyday
chat does ("how many threads should my minecraft server get" shares a word with a
page about Meta's Threads, and is nothing like it). This is that everyday chat, from
public data with licences that allow shipping it, attributed in `data/README.md`:

- CLINC150 `data_full` (CC BY 3.0): crowd-sourced requests to a personal assistant,
  its train, val and out-of-scope train/val utterances (not its test splits);
- IRC logs of tech help channels (CC BY 4.0, Kummerfeld et al. 2019; Gouravajhala et
  al. 2023): #linux ("channel two") and the mediawiki, rust, stripe and ubuntu-meeting
  logs. Not the #ubuntu `dev/` and `test/` logs: the benchmarks tune and report on those.

It stores (1) how often each stemmed word occurs in those texts (faqbot's own
`words` and `stem`), for the word-level contrast, and (2) the sentence vectors of
the texts that read as questions (and of a third of the CLINC150 utterances), each
encoded alone by the bundled encoder, as int8 rows with a per-row scale.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from faqbot.matching.encoder import load_bundled  # noqa: E402
from faqbot.matching.text import STOP_WORDS, looks_like_question, stem, words  # noqa: E402

OUT = ROOT / "faqbot" / "matching" / "data" / "background.npz"
CLINC_EVERY = 3  # a third of CLINC150's utterances are encoded: 150 intents x ~40 is plenty of each
MIN_COUNT = 2  # a word seen once in the background says little, and would only grow the file


def clinc_texts(shared: Path) -> list[str]:
    data = json.loads((shared / "benchmarks" / "clinc150" / "data_full.json").read_text(encoding="utf-8"))
    return [text for split in ("train", "val", "oos_train", "oos_val") for text, _ in data[split]]


def irc_texts(shared: Path) -> list[str]:
    with (shared / "benchmarks" / "irc" / "messages.tsv").open(encoding="utf-8", newline="") as handle:
        return [
            row["text"].strip()
            for row in csv.DictReader(handle, delimiter="\t")
            if row["channel_file"].split("/")[0] in ("channel-two", "new-domains") and row["text"].strip()
        ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    args = parser.parse_args()
    clinc, irc = clinc_texts(args.shared), irc_texts(args.shared)
    counts: Counter[str] = Counter()
    for text in clinc + irc:
        counts.update(stem(w) for w in words(text) if w not in STOP_WORDS and len(w) <= 32)
    kept = sorted((t for t, c in counts.items() if c >= MIN_COUNT), key=lambda t: (-counts[t], t))
    questions = sorted(set(clinc[::CLINC_EVERY] + [t for t in irc if looks_like_question(t) and len(t) <= 300]))
    encoder = load_bundled()
    vectors = encoder.embed_many(questions)
    scales = np.abs(vectors).max(axis=1, keepdims=True) / 127
    quantised = np.round(vectors / scales).astype(np.int8)
    np.savez_compressed(
        OUT,
        terms=np.array("\n".join(kept)),
        counts=np.array([counts[t] for t in kept], dtype=np.int32),
        total=np.array(sum(counts.values()), dtype=np.int64),
        vectors=quantised,
        scales=scales.astype(np.float32)[:, 0],
    )
    print(
        f"{OUT}: {len(kept):,} terms ({sum(counts.values()):,} words) from {len(clinc):,} CLINC150 and "
        f"{len(irc):,} IRC lines; {len(questions):,} question vectors; {OUT.stat().st_size / 1e6:.1f} MB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
