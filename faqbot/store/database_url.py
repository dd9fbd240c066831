"""A PostgreSQL URL that keeps its password to itself.

`FAQBOT_DATABASE_URL` may carry a password (`postgresql://bot:s3cret@db/faqbot`, or
`?password=...`). The URL is only ever handed to the driver: its `repr`, `str` and
every message made with `scrub` show it without the password or query, and driver
errors are scrubbed before they reach a log, because a driver may echo the
connection string it could not parse.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote, urlsplit

SCHEMES = ("postgresql", "postgres")
_HIDDEN = "***"


class DatabaseUrl:
    """A `postgresql://` URL; `value` is for the driver only."""

    __slots__ = ("_secrets", "display", "value")

    def __init__(self, value: str) -> None:
        self.value = value
        self._secrets = _secrets_in(value)
        self.display = _display(value)

    @staticmethod
    def is_database_url(target: str) -> bool:
        return target.split("://", 1)[0].lower() in SCHEMES and "://" in target

    def option(self, name: str) -> str | None:
        """A connection option given in the URL's query (`?connect_timeout=5`)."""
        try:
            return dict(parse_qsl(urlsplit(self.value).query)).get(name)
        except ValueError:
            return None

    def scrub(self, text: str) -> str:
        """`text` with the URL and its password, in every spelling, replaced."""
        text = text.replace(self.value, self.display)
        for secret in self._secrets:
            text = text.replace(secret, _HIDDEN)
        return text

    def __repr__(self) -> str:
        return f"DatabaseUrl({self.display!r})"

    def __str__(self) -> str:
        return self.display


def _secrets_in(value: str) -> list[str]:
    """The password as written in the URL and as decoded, longest first (so a decoded
    form that contains the encoded one is replaced whole)."""
    found: set[str] = set()
    try:
        parts = urlsplit(value)
        netloc_password = parts.password
    except ValueError:
        parts, netloc_password = None, None
    if netloc_password:
        found.update({netloc_password, unquote(netloc_password)})
    elif "@" in value.split("://", 1)[-1]:
        # Unparseable netloc: hide everything between "user:" and the last "@".
        credentials = value.split("://", 1)[-1].rsplit("@", 1)[0]
        if ":" in credentials:
            password = credentials.split(":", 1)[1]
            found.update({password, unquote(password)})
    if parts is not None:
        try:
            for key, item in parse_qsl(parts.query, keep_blank_values=False):
                if key == "password" and item:
                    found.update({item, unquote(item)})
        except ValueError:
            pass
    return sorted((s for s in found if s), key=len, reverse=True)


def _display(value: str) -> str:
    """scheme://user@host:port/database: enough to say which store, nothing secret."""
    try:
        parts = urlsplit(value)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        user = f"{unquote(parts.username)}@" if parts.username else ""
        return f"{parts.scheme}://{user}{host}{port}{parts.path}"
    except ValueError:
        return value.split("://", 1)[0] + "://(unparseable URL)"
