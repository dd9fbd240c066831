"""What Discord refuses in a message it is asked to post, answered the way Discord answers.

`POST /channels/{id}/messages` and the message of an interaction callback are checked
against Discord's documented limits (message resource, "Embed Limits"): content 2,000
characters; at most 10 embeds; an embed's title 256, description 4,096, at most 25 fields
(name 256, value 1,024, both required), footer text 2,048, author name 256, and 6,000
characters across all of those in all embeds of the message; embed URLs must be http(s).
A lone surrogate makes the body invalid JSON for Discord's parser. Autocomplete answers
hold at most 25 choices, names 1 to 100 characters, string values at most 100.

Components (message resource, "Component Reference"): at most 5 action rows, each with at
most 5 buttons or one select menu; a button's label at most 80 characters and, unless it is
a link, a `custom_id` of 1 to 100, unique in the message; a select menu 1 to 25 options, each
with a label and a value of 1 to 100. `allowed_mentions` may not both parse roles and list
them, and lists at most 100 roles. Application commands: chat-input names are 1 to 32
lowercase letters, digits, `-` or `_`, with a description of 1 to 100; context menu names are
1 to 32 characters and have no description.

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
ACTION_ROWS = 5
ROW_BUTTONS = 5
BUTTON_LABEL = 80
CUSTOM_ID = 100
SELECT_OPTIONS = 25
OPTION_TEXT = 100
MENTIONED_ROLES = 100
COMMAND_NAME = 32
COMMAND_DESCRIPTION = 100
ACTION_ROW, BUTTON, STRING_SELECT = 1, 2, 3
LINK_STYLE = 5
CHAT_INPUT = 1

INVALID_FORM_BODY = 50035
EMPTY_MESSAGE = 50006
INVALID_JSON = 50109

_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")
_WELL_FORMED_URL = re.compile(r"^https?://[^\s/?#]+[^\s]*$", re.IGNORECASE)
_CHAT_INPUT_NAME = re.compile(r"^[-_\w]{1,32}$")

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
    _component_errors(message.get("components") or [], tree)
    _allowed_mentions_errors(message.get("allowed_mentions"), tree)
    return tree


def _bad_length(low: int, high: int) -> Errors:
    return _error("BASE_TYPE_BAD_LENGTH", f"Must be between {low} and {high} in length.")


def _component_errors(rows: Any, tree: Errors) -> None:
    """Action rows of buttons and string selects, as Discord checks them."""
    if not isinstance(rows, list) or len(rows) > ACTION_ROWS:
        _place(tree, ("components",), _error("BASE_TYPE_MAX_LENGTH", f"Must be {ACTION_ROWS} or fewer in length."))
        return
    custom_ids: set[str] = set()
    for r, row in enumerate(rows):
        at = ("components", str(r))
        items = row.get("components") if isinstance(row, dict) and row.get("type") == ACTION_ROW else None
        if not isinstance(items, list) or not items:
            _place(tree, at, _error("COMPONENT_TYPE_INVALID", "An action row must hold components"))
            continue
        selects = [item for item in items if isinstance(item, dict) and item.get("type") == STRING_SELECT]
        if len(items) > ROW_BUTTONS or (selects and len(items) > 1):
            _place(tree, (*at, "components"), _error("COMPONENT_LAYOUT_WIDTH_EXCEEDED", "The row is too wide"))
        for i, item in enumerate(items):
            item_at = (*at, "components", str(i))
            if not isinstance(item, dict) or item.get("type") not in (BUTTON, STRING_SELECT):
                _place(tree, item_at, _error("COMPONENT_TYPE_INVALID", "Unknown component type"))
                continue
            link = item.get("type") == BUTTON and item.get("style") == LINK_STYLE
            custom_id = item.get("custom_id")
            if link:
                pass
            elif not isinstance(custom_id, str) or not 1 <= len(custom_id) <= CUSTOM_ID:
                _place(tree, (*item_at, "custom_id"), _bad_length(1, CUSTOM_ID))
            elif custom_id in custom_ids:
                _place(tree, (*item_at, "custom_id"), _error("COMPONENT_CUSTOM_ID_DUPLICATED", "Duplicate custom_id"))
            else:
                custom_ids.add(custom_id)
            if item.get("type") == BUTTON:
                if len(_text(item.get("label"))) > BUTTON_LABEL:
                    _place(tree, (*item_at, "label"), _too_long(BUTTON_LABEL))
                continue
            options = item.get("options")
            if not isinstance(options, list) or not 1 <= len(options) <= SELECT_OPTIONS:
                _place(tree, (*item_at, "options"), _bad_length(1, SELECT_OPTIONS))
                continue
            for o, option in enumerate(options):
                for key in ("label", "value"):
                    text = _text(option.get(key) if isinstance(option, dict) else None)
                    if not 1 <= len(text) <= OPTION_TEXT:
                        _place(tree, (*item_at, "options", str(o), key), _bad_length(1, OPTION_TEXT))


def _allowed_mentions_errors(allowed: Any, tree: Errors) -> None:
    if not isinstance(allowed, dict):
        return
    roles = allowed.get("roles") or []
    if "roles" in (allowed.get("parse") or []) and roles:
        _place(
            tree,
            ("allowed_mentions",),
            _error(
                "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE", 'parse:["roles"] and roles: [ids] are mutually exclusive.'
            ),
        )
    elif len(roles) > MENTIONED_ROLES:
        _place(tree, ("allowed_mentions", "roles"), _too_long(MENTIONED_ROLES))


def command_errors(commands: Any) -> Errors:
    """Discord's `errors` tree for `PUT /applications/{id}/commands` (empty when acceptable)."""
    tree: Errors = {}
    if not isinstance(commands, list):
        return _error("LIST_TYPE_CONVERT", "Only iterables may be used in a ListType")
    for index, command in enumerate(commands):
        at = (str(index),)
        name = _text(command.get("name") if isinstance(command, dict) else None)
        kind = command.get("type", CHAT_INPUT) if isinstance(command, dict) else CHAT_INPUT
        description = _text(command.get("description") if isinstance(command, dict) else None)
        if kind == CHAT_INPUT:
            if not _CHAT_INPUT_NAME.match(name) or name != name.lower():
                _place(tree, (*at, "name"), _error("APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid"))
            if not 1 <= len(description) <= COMMAND_DESCRIPTION:
                _place(tree, (*at, "description"), _bad_length(1, COMMAND_DESCRIPTION))
        else:
            if not 1 <= len(name) <= COMMAND_NAME:
                _place(tree, (*at, "name"), _bad_length(1, COMMAND_NAME))
            if description:
                _place(
                    tree,
                    (*at, "description"),
                    _error("APPLICATION_COMMAND_DESCRIPTION_NOT_ALLOWED", "Context menu commands have no description"),
                )
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
    return refusal(message, message_errors(message), empty=_nothing_to_show(message))


def _nothing_to_show(message: Any) -> bool:
    """A message needs content, an embed or a component (files, stickers and polls: never sent here)."""
    return isinstance(message, dict) and not any(message.get(key) for key in ("content", "embeds", "components"))


def callback_refusal(callback: Any) -> dict[str, Any] | None:
    """What Discord answers (400) to `POST /interactions/{id}/{token}/callback`, or None."""
    if not isinstance(callback, dict):
        return refusal(callback, _error("DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType"))
    data = callback.get("data")
    kind = callback.get("type")
    if kind in (4, 7):  # a message: the same rules as a channel message, under "data"
        errors = message_errors(data or {})
        return refusal(callback, {"data": errors} if errors else {}, empty=_nothing_to_show(data or {}))
    if kind == 8:  # autocomplete choices
        errors = choices_errors(data)
        return refusal(callback, {"data": errors} if errors else {})
    return refusal(callback, {})


def edit_refusal(message: Any) -> dict[str, Any] | None:
    """What Discord answers (400) to editing an interaction's response with `message`, or None:
    the rules of a message, except that an edit may leave out content and embeds."""
    return refusal(message, message_errors(message))


def commands_refusal(commands: Any) -> dict[str, Any] | None:
    """What Discord answers (400) to registering `commands`, or None."""
    return refusal(commands, command_errors(commands))
