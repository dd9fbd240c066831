"""The sentence encoder: all-MiniLM-L6-v2 run with onnxruntime, the default matcher.

A sentence encoder reads the whole question, so "who keeps the lights on" can find
"Funding" with no word in common. The model is the sentence-transformers
all-MiniLM-L6-v2 exported to ONNX with mean pooling and normalisation inside the
graph, weights quantised to int8 per channel (23 MB), by `tools/build_encoder.py`.
Nothing is downloaded at run time: the model file is read from the package's `data/`
folder. It plugs into the match index as a `SemanticSource`.

The knowledge's vectors go through a `VectorCache` (kept on disk when given a
folder, so a restart with unchanged knowledge encodes nothing); questions from chat
are encoded and forgotten, so no message can grow memory.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
import onnxruntime
import tokenizers
from tokenizers import Tokenizer

from faqbot.matching.background import bundled_background
from faqbot.matching.calibration import ENCODER
from faqbot.matching.vector_cache import VectorCache
from faqbot.matching.vectors import SemanticIndex

DATA = Path(__file__).resolve().parent / "data"
MODEL_FILE = "minilm-int8.onnx"
TOKENIZER_FILE = "minilm-tokenizer.json"
MAX_TOKENS = 128
# Bump when what a text's vector is changes without the files changing (pooling, truncation,
# one-text-per-run): a cache written before then must not be trusted.
RECIPE = f"mean-pooled, unit length, one text per run, at most {MAX_TOKENS} tokens"


def model_identity(folder: Path) -> str:
    """What a vector depends on: the model and tokenizer files, the runtimes and our recipe."""
    digest = hashlib.sha256()
    for name in (MODEL_FILE, TOKENIZER_FILE):
        with (folder / name).open("rb") as source:
            for block in iter(lambda source=source: source.read(1 << 20), b""):
                digest.update(block)
    digest.update(f"onnxruntime {onnxruntime.__version__}; tokenizers {tokenizers.__version__}; {RECIPE}".encode())
    return digest.hexdigest()


class SentenceEncoder:
    """all-MiniLM-L6-v2 sentence embeddings (384 dimensions, unit length)."""

    dims = 384
    calibration = ENCODER  # fitted by bench/tune.py
    # score = (lexical + w * semantic) / (1 + w). With 0.5, 1 and 2 the mean dev explicit measure
    # is 0.784 each, dev passive 0.485 / 0.510 / 0.520 (bench/tune.py): no reason to move.
    semantic_weight = 3.0
    reads_sentences = True  # vmst.io dev (196): passive 0.510 vs 0.413 reading each text whole

    def __init__(self, folder: Path, cache_dir: Path | None = None) -> None:
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1  # one question at a time; leave the other core to the chat client
        options.inter_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(
            str(folder / MODEL_FILE), options, providers=["CPUExecutionProvider"]
        )
        self._tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
        # The model's own tokenizer file pads every text to 128 tokens, and the mean pooling
        # would count the padding: texts are run one at a time, unpadded.
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self.cache = VectorCache(model_identity(folder), self.dims, cache_dir)
        self.background = bundled_background()  # everyday questions, encoded by this model
        self._last_index: tuple[tuple, SemanticIndex] | None = None

    def embed(self, text: str) -> np.ndarray | None:
        """A question's unit vector (not cached: chat must not grow memory), or None for blank text."""
        if not text.strip():
            return None
        return self._run_model([text])[0]

    def embed_many(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors of knowledge texts, one row per text; texts in the cache are not encoded again."""
        rows = np.zeros((len(texts), self.dims), dtype=np.float32)
        missing: dict[str, list[int]] = {}
        for i, text in enumerate(texts):
            cached = self.cache.get(text)
            if cached is None:
                missing.setdefault(text, []).append(i)
            else:
                rows[i] = cached
        if missing:
            fresh = self._run_model(list(missing))
            for (text, places), row in zip(missing.items(), fresh, strict=True):
                self.cache.put(text, row)
                rows[places] = row
        return rows

    def forget(self) -> None:
        """Drop every cached vector (benchmarks time the model, not the cache)."""
        self.cache.clear()

    def _run_model(self, texts: Sequence[str]) -> np.ndarray:
        """One text per model run. The int8 model picks its activation ranges per run, so a text
        run beside others (or padded to a longer neighbour) came out slightly different: the same
        words asked as a question did not get their phrasing's vector, and a benchmark's numbers
        depended on what had been encoded before. Alone, a text always gets the same vector; it
        costs 2.2 instead of 1.4 ms for a short phrasing and 4.0 instead of 3.7 ms for a sentence."""
        rows = np.zeros((len(texts), self.dims), dtype=np.float32)
        # Chat can carry lone surrogates (a broken client, JSON "\ud800"), which the tokenizer
        # refuses with a TypeError: they become U+FFFD, as any UTF-8 decoder would make them.
        valid = [t.encode("utf-8", "replace").decode("utf-8") for t in texts]
        # A question comes alone, and a batch of one costs the tokenizer's thread pool (0.19 vs 0.06 ms).
        encodings = [self._tokenizer.encode(valid[0])] if len(valid) == 1 else self._tokenizer.encode_batch(valid)
        for row, encoding in enumerate(encodings):
            ids = np.array([encoding.ids], dtype=np.int64)
            feed = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
            rows[row] = self._session.run(None, feed)[0][0]
        return rows

    def entry_index(self, phrasings: Sequence[Sequence[str]], bodies: Sequence[str]) -> SemanticIndex:
        """The knowledge's semantic index. The last one is kept (it is immutable): an index built
        again for the same texts (learned phrasings restored, a reload that changed nothing) is it."""
        texts = (tuple(tuple(p) for p in phrasings), tuple(bodies))
        last = self._last_index
        if last is not None and last[0] == texts:
            return last[1]
        index = SemanticIndex(self, phrasings, bodies)
        self.cache.keep_only(index.texts)  # the knowledge just indexed is what a restart will need
        self._last_index = (texts, index)
        return index


def load_encoder(cache_dir: Path | None = None) -> SentenceEncoder:
    """The bundled encoder, its vectors kept in `cache_dir`."""
    return SentenceEncoder(DATA, cache_dir)


@lru_cache(maxsize=1)
def load_bundled() -> SentenceEncoder:
    """One shared encoder without persistence, for tests and benchmarks (loading takes about 0.3 s)."""
    return load_encoder(None)
