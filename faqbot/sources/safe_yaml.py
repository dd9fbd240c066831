"""YAML read from knowledge files, within bounds: no alias bomb, no deep nesting, clean text.

PyYAML's safe loader builds aliases as shared objects, so a 468-byte document of
nested aliases loads at once, and then turning it into text (a front matter
`title: *i`) took 74 s and 3 GB. `[` nested 5,000 deep raised `RecursionError`
out of `faqbot check`. Both are refused here while the document is composed, which
costs one pass over it: each alias is charged what it would expand to, and
nesting is counted on the way down.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from faqbot.sources.model import Problem, Severity
from faqbot.sources.text_safety import has_lone_surrogate, remove_controls, repair_surrogates

DEFAULT_MAX_DEPTH = 32
DEFAULT_MAX_EXPANSION = 1024 * 1024


class YamlRefused(Exception):
    """A YAML document past a bound: `line` (1-based, within the text given) says where."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


@dataclass(frozen=True)
class YamlNote:
    """Something fixed in a scalar while loading (lone surrogate, control characters)."""

    line: int
    message: str
    severity: Severity


@dataclass
class YamlDocument:
    data: Any
    expansion: int = 0
    """Characters the aliases add when the data is read as text, beyond the document itself."""
    notes: list[YamlNote] = field(default_factory=list)


class BoundedSafeLoader(yaml.SafeLoader):
    """A safe loader that refuses deep nesting and alias expansion past its bounds, and cleans scalars."""

    def __init__(
        self, stream: str, max_depth: int = DEFAULT_MAX_DEPTH, max_expansion: int = DEFAULT_MAX_EXPANSION
    ) -> None:
        super().__init__(stream)
        self.max_depth = max_depth
        self.max_expansion = max_expansion
        self.expansion = 0
        self.notes: list[YamlNote] = []
        self._depth = 0
        self._composed = 0  # characters composed so far, aliases counted at their expanded size
        self._anchored_sizes: dict[int, int] = {}  # id(node) -> expanded size, for anchored nodes once complete

    def fetch_flow_collection_start(self, token_class: type[yaml.Token]) -> None:
        # The scanner looks up to 1,024 characters ahead past every unclosed `[` or `{`, at a
        # cost that grows with the nesting: refusing here spares that (0.25 s on `[` x 5,000).
        if self.flow_level >= self.max_depth:
            raise YamlRefused(self.line + 1, f"nested more than {self.max_depth} levels deep")
        super().fetch_flow_collection_start(token_class)

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            target = self.anchors.get(event.anchor)
            if target is not None:  # an unknown alias is PyYAML's error to report
                self._charge_alias(target, event.start_mark.line + 1)
            return super().compose_node(parent, index)
        nests = not isinstance(event, yaml.ScalarEvent)  # only lists and mappings nest
        if nests and self._depth >= self.max_depth:
            raise YamlRefused(event.start_mark.line + 1, f"nested more than {self.max_depth} levels deep")
        self._depth += nests
        before = self._composed
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= nests
        if isinstance(node, yaml.ScalarNode):
            node.value = self._clean_scalar(node.value, node.start_mark.line + 1)
            self._composed += len(node.value)
        self._composed += 1
        if event.anchor is not None:
            self._anchored_sizes[id(node)] = self._composed - before
        return node

    def _charge_alias(self, target: yaml.Node, line: int) -> None:
        size = self._anchored_sizes.get(id(target))
        if size is None:
            raise YamlRefused(line, "an alias refers to the value it is part of")
        self.expansion += size
        self._composed += size
        if self.expansion > self.max_expansion:
            raise YamlRefused(line, f"aliases expand it past the limit of {self.max_expansion:,} characters")

    def _clean_scalar(self, value: str, line: int) -> str:
        if has_lone_surrogate(value):
            self.notes.append(
                YamlNote(line, "text holds a lone surrogate (a broken \\u escape); shown as \ufffd", Severity.ERROR)
            )
        value, removed = remove_controls(repair_surrogates(value))
        if removed:
            message = f"{removed} control or bidirectional-override character(s) removed from this text"
            self.notes.append(YamlNote(line, message, Severity.WARNING))
        return value


def load_bounded(
    text: str,
    loader_class: type[BoundedSafeLoader] = BoundedSafeLoader,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_expansion: int = DEFAULT_MAX_EXPANSION,
) -> YamlDocument:
    """Load one YAML document within bounds.

    Raises `YamlRefused` past a bound, `yaml.YAMLError` for malformed YAML and
    `ValueError` for values PyYAML cannot build (a date like 2024-13-01, an int
    of more digits than Python converts)."""
    loader = loader_class(text, max_depth, max_expansion)
    try:
        data = loader.get_single_data()
    finally:
        loader.dispose()
    return YamlDocument(data, loader.expansion, loader.notes)


def load_yaml(
    text: str,
    path: str,
    *,
    what: str = "YAML",
    first_line: int = 1,
    loader_class: type[BoundedSafeLoader] = BoundedSafeLoader,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_expansion: int = DEFAULT_MAX_EXPANSION,
) -> tuple[YamlDocument | None, list[Problem]]:
    """The document (None when it cannot be loaded) and its problems, located in the file.

    `first_line` is the file's line number of the text's first line (2 for front matter)."""
    try:
        document = load_bounded(text, loader_class, max_depth, max_expansion)
    except YamlRefused as refused:
        return None, [Problem(path, first_line - 1 + refused.line, f"{what} refused: {refused.message}")]
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = first_line + mark.line if mark is not None else first_line
        reason = getattr(error, "problem", None) or str(error)
        return None, [Problem(path, line, f"malformed {what}: {reason}")]
    except ValueError as error:  # PyYAML builds dates and ints with Python's own checks
        return None, [Problem(path, first_line, f"malformed {what}: {error}")]
    problems = [Problem(path, first_line - 1 + note.line, note.message, note.severity) for note in document.notes]
    return document, problems
