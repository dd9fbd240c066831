"""YAML read from knowledge files, within bounds: no alias bomb, no deep nesting, clean text.

PyYAML's safe loader builds aliases as shared objects, so a 468-byte document of
nested aliases loads at once, and then turning it into text (a front matter
`title: *i`) took 74 s and 3 GB. `[` nested 5,000 deep raised `RecursionError`
out of `faqbot check`. Both are refused here while the document is composed, which
costs one pass over it: each alias is charged what it would expand to, and
nesting is counted on the way down.

The text is read by libyaml's C parser when PyYAML has it (7,500 phrasings: 0.06
instead of 0.74 s), under the same bounded composer. Whatever that path does not load
(libyaml refuses `\\u` surrogate escapes, has limits of its own, words its errors
differently) is loaded again by PyYAML's own parser, so every error and its line
is the one that parser gives; so is text the two would read differently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

try:
    from yaml.cyaml import CParser
except ImportError:  # PyYAML built without libyaml: every document takes the Python parser
    CParser = None

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


class _BoundedComposer(Composer):
    """The composer of both parsers: refuses deep nesting and alias expansion past its bounds, and
    cleans scalars. The parser (PyYAML's or libyaml's) comes from the class it is mixed into."""

    def _start_bounds(self, max_depth: int, max_expansion: int) -> None:
        self.max_depth = max_depth
        self.max_expansion = max_expansion
        self.expansion = 0
        self.notes: list[YamlNote] = []
        self._depth = 0
        self._composed = 0  # characters composed so far, aliases counted at their expanded size
        self._anchored_sizes: dict[int, int] = {}  # id(node) -> expanded size, for anchored nodes once complete

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


class BoundedSafeLoader(_BoundedComposer, yaml.SafeLoader):
    """A safe loader on PyYAML's own parser that refuses deep nesting and alias expansion past its
    bounds, and cleans scalars. Constructors added to a subclass (`add_constructor`) serve the C
    parser's path too (`load_bounded`)."""

    def __init__(
        self, stream: str, max_depth: int = DEFAULT_MAX_DEPTH, max_expansion: int = DEFAULT_MAX_EXPANSION
    ) -> None:
        yaml.SafeLoader.__init__(self, stream)
        self._start_bounds(max_depth, max_expansion)

    def fetch_flow_collection_start(self, token_class: type[yaml.Token]) -> None:
        # The scanner looks up to 1,024 characters ahead past every unclosed `[` or `{`, at a
        # cost that grows with the nesting: refusing here spares that (0.25 s on `[` x 5,000).
        if self.flow_level >= self.max_depth:
            raise YamlRefused(self.line + 1, f"nested more than {self.max_depth} levels deep")
        super().fetch_flow_collection_start(token_class)


# A `!` where a tag may start (not inside a word); a block scalar header with a comment straight after it.
_READ_DIFFERENTLY = re.compile(r"(?:^|[\s,\[\]{}])!|[|>][-+0-9]*#")
_CONSTRUCTION = ("yaml_constructors", "yaml_multi_constructors", "yaml_implicit_resolvers", "yaml_path_resolvers")


@cache
def _on_libyaml(loader_class: type[BoundedSafeLoader]) -> type | None:
    """`loader_class` with libyaml's parser instead of PyYAML's: the same composer, constructors and
    resolvers. None without libyaml, or for a loader class that changes more than its constructors."""
    if CParser is None:
        return None
    for klass in loader_class.__mro__[: loader_class.__mro__.index(BoundedSafeLoader)]:
        if any(name not in _CONSTRUCTION and not name.startswith("__") for name in vars(klass)):
            return None

    def __init__(self: Any, stream: str, max_depth: int, max_expansion: int) -> None:
        CParser.__init__(self, stream)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        self._start_bounds(max_depth, max_expansion)

    namespace = {name: getattr(loader_class, name) for name in _CONSTRUCTION}
    # The composer comes before CParser, whose own (C) composer would skip the bounds.
    return type(f"Libyaml{loader_class.__name__}", (_BoundedComposer, CParser, SafeConstructor, Resolver), {
        "__init__": __init__,
        **namespace,
    })  # fmt: skip


def _read_alike(text: str) -> bool:
    """False for text libyaml may read differently from PyYAML (found by running both on mutated
    knowledge files): it skips a byte order mark at the start of every line, PyYAML only at the start
    of the text; it accepts tabs where PyYAML refuses them, and `?` inside `[...]` or `{...}`
    ("alternates: [do you block threads?]", which PyYAML refuses), and a comment right after a block
    scalar's `|` or `>`; it reads a value tagged just `!` as text where PyYAML reads it as null."""
    if "\t" in text or "\ufeff" in text[1:] or _READ_DIFFERENTLY.search(text) is not None:
        return False
    return "?" not in text or ("[" not in text and "{" not in text)


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
    fast = _on_libyaml(loader_class) if _read_alike(text) else None
    if fast is not None:
        loader = fast(text, max_depth, max_expansion)
        try:
            data = loader.get_single_data()
        except Exception:  # whatever it is, PyYAML's parser below says it as it always has
            pass
        else:
            return YamlDocument(data, loader.expansion, loader.notes)
        finally:
            loader.dispose()
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
