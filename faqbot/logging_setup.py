"""The log: one format for every command, secrets and members' words kept out of it.

The bot's log ends up in journald, `docker logs` and bug reports, so nothing secret
may reach it at any level: tokens and passwords the bot was configured with, the
short-lived reply tokens in Discord interaction URLs, and, even at DEBUG, what
members wrote (discord.py logs whole gateway payloads there). Redaction happens
on the formatted line, so it covers messages, arguments and tracebacks alike.
Libraries' routine noise (voice support warnings, matrix-nio's schema complaints
about other servers' events) stays out at INFO.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sys
import time
from collections.abc import Iterable, Mapping
from typing import Any

REDACTED = "<redacted>"

# Keys whose values are member text or credentials, wherever they appear in a payload.
_PRIVATE_KEYS = frozenset({"content", "token", "access_token", "password", "body", "formatted_body", "title"})
# What else members write or are called in Discord payloads: what they type into a slash command
# or autocomplete (`options[].value`), thread and forum post names, embeds and attachments of
# their messages, poll texts, and their names.
_DISCORD_PRIVATE_KEYS = frozenset(
    {"value", "name", "description", "text", "filename", "username", "global_name", "nick"}
)
_PRIVATE = _PRIVATE_KEYS | _DISCORD_PRIVATE_KEYS
# discord.py logs request bodies as JSON text; longer text than this is not parsed, only hidden.
_LONGEST_INSPECTED_JSON = 1_000_000
# Interaction and webhook URLs carry a reply credential as a path segment.
_URL_TOKEN = re.compile(r"(/(?:interactions|webhooks)/\d+/)([A-Za-z0-9_.\-]{20,})")
_BEARER = re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?(?:bot|bearer)\s+)[^\s'\",}]+")
_QUIET_LIBRARY_LOGGERS = {
    "nio": logging.ERROR,  # schema-validation warnings about other servers' events, 429 sleeps we log ourselves
    "nio.responses": logging.ERROR,
    "nio.events.misc": logging.CRITICAL,
    "discord.gateway": logging.INFO,
    "discord.http": logging.INFO,
    "aiohttp.access": logging.WARNING,
    "asyncio": logging.WARNING,
}

# Warnings about features the bot never uses (voice): they would only worry an operator. Only
# these lines go, not their loggers: discord.client also warns when slash commands cannot arrive.
_ROUTINE_LINES = (
    ("discord.client", "PyNaCl is not installed"),
    ("discord.client", "davey is not installed"),
)
# discord.py's reconnect lines, logged with a whole traceback for a network blip; the cause's
# one-line description says as much.
_RECONNECT_LINES = (
    ("discord.client", "Attempting a reconnect"),
    ("discord.shard", "Attempting a reconnect"),
    ("discord.shard", "Failed to connect for shard_id"),
)


class _LibraryNoise(logging.Filter):
    """Drops routine library lines and turns reconnect tracebacks into one line (at INFO and up)."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = str(record.msg)
        if any(record.name == name and text.startswith(start) for name, start in _ROUTINE_LINES):
            return False
        if record.exc_info and any(record.name == name and text.startswith(start) for name, start in _RECONNECT_LINES):
            error = record.exc_info[1]
            cause = f"{type(error).__name__}: {error}".replace("%", "%%")  # the line is still %-formatted
            record.msg = f"{text} ({cause})" if error is not None else text
            record.exc_info, record.exc_text = None, None
        return True


def _redact_value(value: Any, depth: int = 0) -> Any:
    if depth > 20:
        return REDACTED
    if isinstance(value, Mapping):
        return {
            k: (REDACTED if isinstance(k, str) and k in _PRIVATE and v else _redact_value(v, depth + 1))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        redacted = [_redact_value(v, depth + 1) for v in value]
        if hasattr(value, "_make"):  # a named tuple, such as the aiohttp message discord.py logs on a close
            return value._make(redacted)
        return type(value)(redacted) if type(value) in (list, tuple) else tuple(redacted)
    if isinstance(value, str) and value.startswith(("{", "[")):
        return _redact_json_text(value, depth)
    return value


def _redact_json_text(text: str, depth: int) -> str:
    """A payload logged as JSON text (discord.py's request bodies), redacted like a payload."""
    if len(text) > _LONGEST_INSPECTED_JSON:
        return REDACTED
    try:
        parsed = json.loads(text)
    except ValueError:
        return text
    return json.dumps(_redact_value(parsed, depth + 1), ensure_ascii=False)


class Redactor(logging.Filter):
    """Rewrites records so that payloads lose their private fields and lines lose secrets."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets: list[str] = []
        self.add_secrets(secrets)

    def add_secrets(self, secrets: Iterable[str]) -> None:
        """Values to blank wherever they appear (tokens, passwords); short ones are skipped."""
        for secret in secrets:
            if secret and len(secret) >= 6 and secret not in self._secrets:
                self._secrets.append(secret)
        self._secrets.sort(key=len, reverse=True)

    def scrub(self, line: str) -> str:
        for secret in self._secrets:
            line = line.replace(secret, REDACTED)
        line = _URL_TOKEN.sub(lambda m: m.group(1) + REDACTED, line)
        return _BEARER.sub(lambda m: m.group(1) + REDACTED, line)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            if isinstance(record.msg, Mapping | list):  # a payload logged on its own
                record.msg = _redact_value(record.msg)
            if isinstance(record.args, Mapping):
                record.args = _redact_value(record.args)
            elif isinstance(record.args, tuple):
                record.args = tuple(_redact_value(a) for a in record.args)
        except Exception:  # a filter that raises breaks the code that logged: hide what could not be redacted
            record.msg, record.args = f"{record.name} logged something faqbot could not redact", ()
        return True


class _ScrubbingFormatter(logging.Formatter):
    def __init__(self, redactor: Redactor, json_lines: bool) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self._redactor = redactor
        self._json = json_lines

    def format(self, record: logging.LogRecord) -> str:
        if not self._json:
            return self._redactor.scrub(super().format(record))
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return self._redactor.scrub(json.dumps(entry, ensure_ascii=False))


class _RedactedStreamHandler(logging.StreamHandler):
    """A stream handler whose own failures stay redacted.

    The standard `handleError` prints the raw message and arguments of a record it could
    not write (a closed stream, arguments that do not match the format), unredacted."""

    def handleError(self, record: logging.LogRecord) -> None:
        if not logging.raiseExceptions:
            return
        error = sys.exc_info()[1]
        notice = f"a log line from {record.name} could not be written ({type(error).__name__}); its text is withheld\n"
        for stream in (self.stream, sys.__stderr__):
            with contextlib.suppress(Exception):
                stream.write(notice)
                return


REDACTOR = Redactor()


def configure_logging(level: str = "INFO", json_lines: bool = False, secrets: Iterable[str] = ()) -> Redactor:
    """Send every log record to stderr, in text or JSON lines, redacted. Called once by the CLI."""
    REDACTOR.add_secrets(secrets)
    handler = _RedactedStreamHandler(sys.stderr)
    handler.addFilter(REDACTOR)
    handler.setFormatter(_ScrubbingFormatter(REDACTOR, json_lines))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    debugging = logging.getLevelName(level) <= logging.DEBUG
    if not debugging:
        handler.addFilter(_LibraryNoise())
    for name, quiet in _QUIET_LIBRARY_LOGGERS.items():  # at DEBUG, everything (redacted) is wanted
        logging.getLogger(name).setLevel(logging.NOTSET if debugging else quiet)
    logging.captureWarnings(True)
    return REDACTOR
