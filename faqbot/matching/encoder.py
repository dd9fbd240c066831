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
BATCH = 16  # as fast as 64 here (1.3 ms a phrasing), and the peak memory is 150 MB, not 217 MB
CACHE_SIZE = 50_000  # texts whose vectors are kept (384 floats each: about 75 MB at most)


class SentenceEncoder:
    """all-MiniLM-L6-v2 sentence embeddings (384 dimensions, unit length)."""

    dims = 384
    calibration = ENCODER  # fitted by bench/tune.py --encoder
    # score = (lexical + w * semantic) / (1 + w); of 0.5, 1 and 2 the best mean dev explicit
    # measure (bench/tune.py --encoder: 0.769 / 0.779 / 0.772)
    semantic_weight = 1.0
    reads_sentences = True  # vmst.io dev (196): passive 0.485 vs 0.393 reading each text whole

    def __init__(self, folder: Path) -> None:
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1  # one question at a time; leave the other core to the chat client
        options.inter_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(
            str(folder / MODEL_FILE), options, providers=["CPUExecutionProvider"]
        )
        self._tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
        # The model's own tokenizer file pads every text to 128 tokens; padding here is ours
        # (to the batch's longest text), and only real tokens may count in the mean pooling.
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
        """Batches of texts of similar length run together."""
        rows = np.zeros((len(texts), self.dims), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), BATCH):
            chunk = order[start : start + BATCH]
            encodings = self._tokenizer.encode_batch([texts[i] for i in chunk])
            width = max(len(e.ids) for e in encodings)
            ids = np.zeros((len(chunk), width), dtype=np.int64)
            mask = np.zeros((len(chunk), width), dtype=np.int64)
            for row, encoding in enumerate(encodings):
                ids[row, : len(encoding.ids)] = encoding.ids
                mask[row, : len(encoding.ids)] = encoding.attention_mask
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            rows[chunk] = self._session.run(None, feed)[0]
        return rows

    def entry_index(self, phrasings: Sequence[Sequence[str]], bodies: Sequence[str]) -> SemanticIndex:
        return SemanticIndex(self, phrasings, bodies)


@lru_cache(maxsize=1)
def load_bundled() -> SentenceEncoder:
    return SentenceEncoder(Path(os.environ.get("FAQBOT_ENCODER_DIR") or DATA))
