"""What Discord refuses in a message it is asked to post, answered the way Discord answers.

`POST /channels/{id}/messages` and the message of an interaction callback are checked
against Discord's documented limits (message resource, "Embed Limits"): content 2,000
characters; at most 10 embeds; an embed's title 256, description 4,096, at most 25 fields
(name 256, value 1,024, both required), footer text 2,048, author name 256, and 6,000
characters across all of those in all embeds of the message; embed URLs must be http(s).
A lone surrogate makes the body invalid JSON for Discord's parser. Autocomplete answers
hold at most 25 choices, names 1 to 100 characters, string values at most 100.

The numbers are written here from Discord's documentation, not imported from
`faqbot.render`, so a wrong limit in the renderer cannot agree with itself.
Lengths are counted in Unicode code points, as Discord counts them.
"""

from __future__ import annotations

import re
from typing import Any

CONTENT = 2000
EMBEDS = 10
TITLE = 256
DESCRIPTION = 4096
FIELDS = 25
FIELD_NAME = 256
FIELD_VALUE = 1024
FOOTER_TEXT = 2048
AUTHOR_NAME = 256
ALL_EMBEDS = 6000
CHOICES = 25
CHOICE_NAME = 100
CHOICE_VALUE = 100

INVALID_FORM_BODY = 50035
EMPTY_MESSAGE = 50006
INVALID_JSON = 50109

_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")
_WELL_FORMED_URL = re.compile(r"^https?://[^\s/?#]+[^\s]*$", re.IGNORECASE)

Errors = dict[str, Any]


def _error(code: str, message: str) -> Errors:
    return {"_errors": [{"code": code, "message": message}]}


def _too_long(limit: int) -> Errors:
    return _error("BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")


def _place(tree: Errors, path: tuple[str, ...], error: Errors) -> None:
    for key in path[:-1]:
        tree = tree.setdefault(key, {})
    tree[path[-1]] = error


def _has_lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return bool(_LONE_SURROGATE.search(value))
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(v) for v in value)
    return False


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _embed_errors(embed: Any, tree: Errors, at: tuple[str, ...]) -> int:
    """Record what is wrong with one embed in `tree`; return the characters it counts towards 6,000."""
    if not isinstance(embed, dict):
        _place(tree, at, _error("DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType"))
        return 0
    counted = 0
    for key, limit in (("title", TITLE), ("description", DESCRIPTION)):
        text = _text(embed.get(key))
        counted += len(text)
        if len(text) > limit:
            _place(tree, (*at, key), _too_long(limit))
    url = embed.get("url")
    if url is not None and not (isinstance(url, str) and _WELL_FORMED_URL.match(url)):
        _place(tree, (*at, "url"), _error("URL_TYPE_INVALID_URL", "Not a well formed URL."))
    fields = embed.get("fields") or []
    if len(fields) > FIELDS:
        _place(tree, (*at, "fields"), _error("BASE_TYPE_MAX_LENGTH", f"Must be {FIELDS} or fewer in length."))
    for index, field in enumerate(fields):
        for key, limit in (("name", FIELD_NAME), ("value", FIELD_VALUE)):
            text = _text(field.get(key) if isinstance(field, dict) else None)
            counted += len(text)
            if not text:
                _place(tree, (*at, "fields", str(index), key), _error("BASE_TYPE_REQUIRED", "This field is required"))
            elif len(text) > limit:
                _place(tree, (*at, "fields", str(index), key), _too_long(limit))
    for key, inner, limit in (("footer", "text", FOOTER_TEXT), ("author", "name", AUTHOR_NAME)):
        part = embed.get(key)
        text = _text(part.get(inner) if isinstance(part, dict) else None)
        counted += len(text)
        if len(text) > limit:
            _place(tree, (*at, key, inner), _too_long(limit))
    return counted


def message_errors(message: Any) -> Errors:
    """Discord's `errors` tree for a message body (empty when Discord would accept it)."""
    tree: Errors = {}
    if not isinstance(message, dict):
        return _error("DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
    content = _text(message.get("content"))
    if len(content) > CONTENT:
        _place(tree, ("content",), _too_long(CONTENT))
    embeds = message.get("embeds") or []
    if len(embeds) > EMBEDS:
        _place(tree, ("embeds",), _error("BASE_TYPE_MAX_LENGTH", f"Must be {EMBEDS} or fewer in length."))
    counted = sum(_embed_errors(embed, tree, ("embeds", str(i))) for i, embed in enumerate(embeds))
    if counted > ALL_EMBEDS and "embeds" not in tree:
        _place(tree, ("embeds",), _error("MAX_EMBED_SIZE_EXCEEDED", f"Embed size exceeds maximum size of {ALL_EMBEDS}"))
    return tree


def choices_errors(data: Any) -> Errors:
    """Discord's `errors` tree for an autocomplete answer's `data` (empty when acceptable)."""
    tree: Errors = {}
    choices = data.get("choices") if isinstance(data, dict) else None
    if not isinstance(choices, list):
        return {"choices": _error("BASE_TYPE_REQUIRED", "This field is required")}
    if len(choices) > CHOICES:
        _place(tree, ("choices",), _error("BASE_TYPE_MAX_LENGTH", f"Must be {CHOICES} or fewer in length."))
    for index, choice in enumerate(choices):
        name = _text(choice.get("name") if isinstance(choice, dict) else None)
        if not 1 <= len(name) <= CHOICE_NAME:
            _place(tree, ("choices", str(index), "name"), _error("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100"))
        value = choice.get("value") if isinstance(choice, dict) else None
        if isinstance(value, str) and len(value) > CHOICE_VALUE:
            _place(tree, ("choices", str(index), "value"), _too_long(CHOICE_VALUE))
    return tree


def refusal(body: Any, errors: Errors, *, empty: bool = False) -> dict[str, Any] | None:
    """The 400 body Discord answers for `body`, or None when it would accept it.

    `errors` comes from `message_errors`/`choices_errors`; `empty` when the message has
    nothing to show. A lone surrogate anywhere comes first: Discord cannot even parse it."""
    if _has_lone_surrogate(body):
        return {"message": "The request body contains invalid JSON.", "code": INVALID_JSON}
    if errors:
        return {"message": "Invalid Form Body", "code": INVALID_FORM_BODY, "errors": errors}
    if empty:
        return {"message": "Cannot send an empty message", "code": EMPTY_MESSAGE}
    return None


def message_refusal(message: Any) -> dict[str, Any] | None:
    """What Discord answers (400) to `POST /channels/{id}/messages` with `message`, or None."""
    empty = isinstance(message, dict) and not _text(message.get("content")) and not message.get("embeds")
    return refusal(message, message_errors(message), empty=empty)


def callback_refusal(callback: Any) -> dict[str, Any] | None:
    """What Discord answers (400) to `POST /interactions/{id}/{token}/callback`, or None."""
    if not isinstance(callback, dict):
        return refusal(callback, _error("DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType"))
    data = callback.get("data")
    kind = callback.get("type")
    if kind in (4, 7):  # a message: the same rules as a channel message, under "data"
        errors = message_errors(data or {})
        empty = not _text((data or {}).get("content")) and not (data or {}).get("embeds")
        return refusal(callback, {"data": errors} if errors else {}, empty=empty)
    if kind == 8:  # autocomplete choices
        errors = choices_errors(data)
        return refusal(callback, {"data": errors} if errors else {})
    return refusal(callback, {})
