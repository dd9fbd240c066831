"""How much knowledge the bot accepts, so that no knowledge folder can stall it or exhaust memory.

The defaults sit far above any real docs site (the vmst.io docs tree is 40 files,
216 KB, its largest file 12 KB, and loads in about 0.1 s) and were chosen by measuring
load times with `bench/hostile_knowledge.py`: a 1 MiB YAML FAQ file loads in 3 to 4 s
(PyYAML's pure-Python parser, which the bounds hook into, is most of it), a 1 MiB
Markdown page in under 0.5 s, 4,000 small pages in under 2 s, and knowledge at the
4 MiB total in about 14 s of YAML or 2 s of Markdown, during which the event loop
still runs (its longest pause stayed under 0.2 s; 16 MiB of YAML took 65 s). The
bot's configuration may lower or raise them; nothing here reads the environment.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

MIB = 1024 * 1024


@dataclass(frozen=True)
class KnowledgeLimits:
    """Limits on the files a knowledge folder may hold; past one, a file is refused and reported."""

    max_file_bytes: int = 1 * MIB
    """One file, after YAML aliases are expanded (85 times the largest real docs page)."""
    max_total_bytes: int = 4 * MIB
    """All files of all knowledge folders together, aliases expanded (19 times the real docs tree)."""
    max_files: int = 4000
    """Knowledge files (YAML, Markdown, `_dir.yml`) read per load; the real docs tree has 40."""
    max_folder_depth: int = 16
    """Folders nested inside a knowledge folder; the real docs tree nests 2."""
    max_yaml_depth: int = 32
    """Lists and mappings nested in one YAML document or front matter; FAQ entries nest 3."""

    def __post_init__(self) -> None:
        for limit in fields(self):
            value = getattr(self, limit.name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"knowledge limit {limit.name} must be a whole number of at least 1, not {value!r}")


class TextBudget:
    """Characters still allowed: what one file may add, within what all files may add."""

    def __init__(self, limits: KnowledgeLimits) -> None:
        self.limits = limits
        self.total_left = limits.max_total_bytes

    def for_next_file(self) -> int:
        """The most one more file may hold: the per-file limit, or less when the total is nearly spent."""
        return min(self.limits.max_file_bytes, self.total_left)

    def spend(self, amount: int) -> None:
        self.total_left = max(0, self.total_left - amount)
