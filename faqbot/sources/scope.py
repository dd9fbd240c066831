"""Where an entry applies, and the messages that must get it: `channels`, `not_channels`,
`passive` and `triggers`, in a YAML entry or a Markdown page's front matter.

- `channels:` / `not_channels:`: channel or room ids, or names (`#help`, `help`, a Matrix
  alias such as `#help:example.org`), where the entry may or may not answer; a thread
  counts as its channel too. Empty `channels`: everywhere.
- `passive: false`: only when asked (`!faq`, a mention), never in plain chat.
- `triggers:`: regular expressions for messages that must get this entry whatever the
  matcher thinks, such as an error message members paste. They run with RE2
  (google-re2), which matches in time linear in the message whatever the pattern, so
  no pattern a moderator writes can stall the bot; a pattern RE2 cannot run
  (backreferences, lookarounds) or one that matches every message is refused by
  `faqbot check`, with file and line.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import re2

from faqbot.sources.model import Problem, Scope, Trigger

SCOPE_KEYS = frozenset({"channels", "not_channels", "passive", "triggers"})
MAX_TRIGGER_CHARS = 1_000


def compile_trigger(pattern: str) -> Any:
    """The RE2 pattern, or ValueError saying why it cannot be a trigger."""
    if len(pattern) > MAX_TRIGGER_CHARS:
        raise ValueError(f"longer than {MAX_TRIGGER_CHARS} characters")
    options = re2.Options()
    options.log_errors = False  # the error comes back in the exception; nothing on stderr
    try:
        compiled = re2.compile(pattern, options)
    except re2.error as error:
        detail = error.args[0] if error.args else error
        reason = detail.decode("utf-8", "replace") if isinstance(detail, bytes) else str(detail)
        raise ValueError(f"RE2 cannot run it in linear time ({reason})") from None
    if compiled.search("") is not None:
        raise ValueError("it matches every message")
    return compiled


def parse_scope(
    data: Mapping[str, Any], path: str, line_of: Callable[[str], int], problems: list[Problem]
) -> tuple[Scope, tuple[Trigger, ...]]:
    """The scope and triggers one entry's keys give; problems are reported at the key's line."""
    channels = _names(data.get("channels"), "channels", path, line_of, problems)
    not_channels = _names(data.get("not_channels"), "not_channels", path, line_of, problems)
    passive = data.get("passive", True)
    if not isinstance(passive, bool):
        problems.append(Problem(path, line_of("passive"), "'passive' must be true or false"))
        passive = True
    triggers = []
    raw = data.get("triggers")
    patterns = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else [] if raw is None else None
    if patterns is None or not all(isinstance(p, str) for p in patterns):
        problems.append(Problem(path, line_of("triggers"), "'triggers' must be a list of regular expressions"))
        patterns = []
    for pattern in patterns:
        try:
            compile_trigger(pattern)
        except ValueError as error:
            shown = pattern if len(pattern) <= 60 else pattern[:59] + "…"
            problems.append(Problem(path, line_of("triggers"), f"trigger '{shown}' is refused: {error}"))
            continue
        triggers.append(Trigger(pattern, path, line_of("triggers")))
    return Scope(channels, not_channels, passive), tuple(triggers)


def _names(
    value: object, key: str, path: str, line_of: Callable[[str], int], problems: list[Problem]
) -> tuple[str, ...]:
    if value is None:
        return ()
    items = [value] if isinstance(value, str | int) else value if isinstance(value, list) else None
    if items is None or not all(isinstance(v, str | int) and not isinstance(v, bool) for v in items):
        problems.append(Problem(path, line_of(key), f"'{key}' must be a list of channel or room ids or names"))
        return ()
    return tuple(str(v).strip() for v in items if str(v).strip())
