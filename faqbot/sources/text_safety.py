"""Characters that knowledge text must not carry into chat or a terminal.

- Lone UTF-16 surrogates (a YAML `"\\ud800"` escape, an undecodable file name):
  no UTF-8 encoder accepts them, so `faqbot ask` crashed and Synapse answered 500
  to every message holding one.
- Control characters (ANSI escapes, carriage returns) and bidirectional overrides
  (U+202E "right-to-left override" and its kin): they rewrite what a terminal or a
  chat client shows, so a title or file name can spoof other text.
"""

from __future__ import annotations

import re

# Tab and newline are ordinary text; the bidi *marks* (U+200E, U+200F, U+061C) do not
# reorder neighbouring text and right-to-left writing needs them, so they stay.
_CONTROL_OR_OVERRIDE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def repair_surrogates(text: str) -> str:
    """`text` that UTF-8 can encode: surrogate pairs joined into their character, lone ones as U+FFFD."""
    if not _SURROGATE.search(text):
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def has_lone_surrogate(text: str) -> bool:
    """True when `text` holds a surrogate that is not half of a pair."""
    return _SURROGATE.search(text) is not None and "\ufffd" in repair_surrogates(text.replace("\ufffd", ""))


def remove_controls(text: str) -> tuple[str, int]:
    """`text` without control characters and bidirectional overrides, and how many were removed."""
    return _CONTROL_OR_OVERRIDE.subn("", text)


def first_control(text: str) -> int | None:
    """Offset of the first control character or bidirectional override in `text`, if any."""
    found = _CONTROL_OR_OVERRIDE.search(text)
    return None if found is None else found.start()


def is_unsafe_name(name: str) -> bool:
    """A file or folder name holding a control, line break, bidi override or undecodable byte."""
    return _UNPRINTABLE.search(name) is not None


def printable(text: str) -> str:
    """`text` on one line, with every control, line break, bidi override and surrogate shown escaped."""
    return _UNPRINTABLE.sub(lambda m: m.group().encode("unicode_escape", "backslashreplace").decode("ascii"), text)
