"""Optional sentence encoder: all-MiniLM-L6-v2 run with onnxruntime, for `faqbot[encoder]`.

Word vectors (`vectors.py`) average words; a sentence encoder reads the whole
question, so "who keeps the lights on" can find "Funding". The model is the
sentence-transformers all-MiniLM-L6-v2 exported to ONNX with mean pooling and
normalisation inside the graph, weights quantised to int8 per channel (23 MB), by
`tools/build_encoder.py`. Nothing is downloaded at run time: the model file is read
from `FAQBOT_ENCODER_DIR` or the package's `data/` folder. It plugs into the match
index exactly like word vectors (`embed`, `dims`, `entry_index`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
import onnxruntime
from tokenizers import Tokenizer

from faqbot.matching.calibration import ENCODER
from faqbot.matching.vectors import SemanticIndex

DATA = Path(__file__).resolve().parent / "data"
MODEL_FILE = "minilm-int8.onnx"
TOKENIZER_FILE = "minilm-tokenizer.json"
MAX_TOKENS = 128
CACHE_SIZE = 50_000  # texts whose vectors are kept (384 floats each: about 75 MB at most)


class SentenceEncoder:
    """all-MiniLM-L6-v2 sentence embeddings (384 dimensions, unit length)."""

    dims = 384
    calibration = ENCODER  # fitted by bench/tune.py --encoder
    # score = (lexical + w * semantic) / (1 + w). With 0.5, 1 and 2 the mean dev explicit measure
    # is 0.784 each, dev passive 0.485 / 0.510 / 0.520 (bench/tune.py --encoder): no reason to move.
    semantic_weight = 1.0
    reads_sentences = True  # vmst.io dev (196): passive 0.510 vs 0.413 reading each text whole

    def __init__(self, folder: Path) -> None:
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
        self._cache: dict[str, np.ndarray] = {}

    def embed(self, text: str) -> np.ndarray | None:
        if not text.strip():
            return None
        return self.embed_many([text])[0]

    def embed_many(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors, one row per text. Texts seen before come from a cache, so a live
        reload only runs the model over phrasings that changed."""
        rows = np.zeros((len(texts), self.dims), dtype=np.float32)
        missing = [i for i, text in enumerate(texts) if text not in self._cache]
        if missing:
            fresh = self._run_model([texts[i] for i in missing])
            if len(self._cache) + len(missing) > CACHE_SIZE:
                self._cache.clear()
            for i, row in zip(missing, fresh, strict=True):
                self._cache[texts[i]] = row
        for i, text in enumerate(texts):
            rows[i] = self._cache[text]
        return rows

    def forget(self) -> None:
        """Drop every cached vector (benchmarks time the model, not the cache)."""
        self._cache.clear()

    def _run_model(self, texts: Sequence[str]) -> np.ndarray:
        """One text per model run. The int8 model picks its activation ranges per run, so a text
        run beside others (or padded to a longer neighbour) came out slightly different: the same
        words asked as a question did not get their phrasing's vector, and a benchmark's numbers
        depended on what had been encoded before. Alone, a text always gets the same vector; it
        costs 2.2 instead of 1.4 ms for a short phrasing and 4.0 instead of 3.7 ms for a sentence."""
        rows = np.zeros((len(texts), self.dims), dtype=np.float32)
        for row, encoding in enumerate(self._tokenizer.encode_batch(list(texts))):
            ids = np.array([encoding.ids], dtype=np.int64)
            feed = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
            rows[row] = self._session.run(None, feed)[0][0]
        return rows

    def entry_index(self, phrasings: Sequence[Sequence[str]], bodies: Sequence[str]) -> SemanticIndex:
        return SemanticIndex(self, phrasings, bodies)


@lru_cache(maxsize=1)
def load_bundled() -> SentenceEncoder:
    return SentenceEncoder(Path(os.environ.get("FAQBOT_ENCODER_DIR") or DATA))
