"""Which matcher a bot runs: the sentence encoder (default) or the light lexical one.

- "encoder": words *and* meaning (the bundled all-MiniLM-L6-v2); about twice as many
  correct passive answers as lexical on our vmst.io member questions, for about
  125 MB of memory and a few ms a question;
- "lexical": words only (IDF-weighted, typo-tolerant); about 30 MB and well under
  1 ms a question, for small machines.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from faqbot.matching.vectors import SemanticSource

MATCHERS = ("encoder", "lexical")
DEFAULT_MATCHER = "encoder"


class MatcherUnavailable(Exception):
    """The matcher asked for cannot run here; the message says what to do."""


def load_matcher(name: str, cache_dir: Path | None = None) -> SemanticSource | None:
    """The semantic source for matcher `name` (None: lexical only). `cache_dir` keeps the
    encoder's vectors across restarts (None: in memory only)."""
    if name == "lexical":
        return None
    if name != "encoder":
        raise MatcherUnavailable(f"unknown matcher {name!r}: choose one of {', '.join(MATCHERS)}")
    try:
        from faqbot.matching.encoder import load_encoder
    except ImportError as error:  # a broken install: the encoder's packages are dependencies
        raise MatcherUnavailable(
            f"the encoder matcher needs numpy, onnxruntime and tokenizers ({error}); "
            "reinstall faqbot, or use --matcher lexical"
        ) from None
    return load_encoder(cache_dir)
