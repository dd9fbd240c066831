"""Every setting faqbot has, parsed once at the edge into typed, frozen settings.

Settings come from defaults, then an optional TOML file (`--config PATH` or
`FAQBOT_CONFIG`), then `FAQBOT_*` environment variables, then command-line flags;
each later source wins. `SETTINGS` below is the one list of what exists: its key
in the file, its variable, its type, its default and what it means. The README's
tables and `examples/faqbot.toml` are checked against it by the tests, and
`faqbot config` prints the effective values from it, secrets masked.

Nothing below the CLI reads `os.environ`: adapters and the core receive the frozen
dataclasses built here. Errors name the key or variable, the bad value (never a
secret's) and what was expected; an unknown key or `FAQBOT_*` variable gets a
"did you mean".
"""

from __future__ import annotations

import difflib
import math
import os
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from faqbot.flood_control import Rate
from faqbot.matching.matchers import DEFAULT_MATCHER, MATCHERS
from faqbot.responder import ResponderSettings
from faqbot.sources.limits import KnowledgeLimits
from faqbot.store.database_url import DatabaseUrl
from faqbot.store.settings import StoreSettings

CONFIG_VARIABLE = "FAQBOT_CONFIG"


class SettingsError(ValueError):
    """A setting is missing or wrong; the message names it and says what is expected."""


# -- parsers: each takes a TOML value or an environment string ---------------------------


Parser = Callable[[Any], Any]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError("expected true or false (1/0, yes/no, on/off)")


def number(low: float | None = None, high: float | None = None) -> Parser:
    expected = f"expected a number {_range(low, high)}".rstrip()

    def parse(value: Any) -> float:
        if isinstance(value, bool):
            raise ValueError(expected)
        try:
            result = float(value)
        except (TypeError, ValueError):
            raise ValueError(expected) from None
        if not math.isfinite(result) or (low is not None and result < low) or (high is not None and result > high):
            raise ValueError(expected)
        return result

    return parse


def integer(low: int | None = None, high: int | None = None) -> Parser:
    expected = f"expected a whole number {_range(low, high)}".rstrip()

    def parse(value: Any) -> int:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError(expected)
        try:
            result = int(str(value).strip()) if not isinstance(value, int | float) else int(value)
        except ValueError:
            raise ValueError(expected) from None
        if (low is not None and result < low) or (high is not None and result > high):
            raise ValueError(expected)
        return result

    return parse


def _range(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"from {low:g} to {high:g}"
    if low is not None:
        return f"of at least {low:g}"
    if high is not None:
        return f"of at most {high:g}"
    return ""


def text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("expected text")
    return value.strip()


def optional_text(value: Any) -> str | None:
    return text(value) or None


def choice(*options: str) -> Parser:
    def parse(value: Any) -> str:
        picked = str(value).strip().lower()
        if picked not in options:
            raise ValueError(f"expected one of {', '.join(options)}")
        return picked

    return parse


def url(value: Any) -> str | None:
    found = text(value)
    if not found:
        return None
    if not re.match(r"^https?://[^\s/]+", found):
        raise ValueError("expected an http:// or https:// URL")
    return found.rstrip("/")


def items(value: Any) -> tuple[str, ...]:
    """A list: a TOML array, or comma-separated in a variable."""
    if isinstance(value, list):
        if not all(isinstance(v, str | int) for v in value):
            raise ValueError("expected a list of texts")
        return tuple(str(v).strip() for v in value if str(v).strip())
    if not isinstance(value, str):
        raise ValueError("expected a list (comma-separated in a variable)")
    return tuple(part.strip() for part in value.replace("\n", ",").split(",") if part.strip())


def paths(value: Any) -> tuple[Path, ...]:
    """Paths: a TOML array, or separated by the platform's path separator in a variable."""
    if isinstance(value, list):
        if not all(isinstance(v, str) for v in value):
            raise ValueError("expected a list of paths")
        return tuple(Path(v) for v in value if v.strip())
    if not isinstance(value, str):
        raise ValueError("expected a path")
    return tuple(Path(part) for part in value.split(os.pathsep) if part.strip())


def path(value: Any) -> Path:
    found = text(value)
    if not found:
        raise ValueError("expected a path")
    return Path(found)


def snowflakes(value: Any) -> tuple[int, ...]:
    """Discord ids."""
    found = items(value)
    bad = [v for v in found if not v.isdigit()]
    if bad:
        raise ValueError("expected Discord ids (numbers)")
    return tuple(int(v) for v in found)


def optional_snowflake(value: Any) -> int | None:
    found = text(str(value)) if isinstance(value, int) else text(value)
    if not found:
        return None
    if not found.isdigit():
        raise ValueError("expected a Discord id (a number)")
    return int(found)


def optional_count(value: Any) -> int | None:
    if isinstance(value, str) and not value.strip():
        return None
    return integer(1)(value)


def matrix_user_id(value: Any) -> str | None:
    found = text(value)
    if not found:
        return None
    if not re.fullmatch(r"@[^:\s]+:\S+", found):
        raise ValueError("expected a Matrix user id like @faqbot:example.org")
    return found


def matrix_inviters(value: Any) -> tuple[str, ...]:
    found = items(value)
    for entry in found:
        if entry.startswith("@") and ":" not in entry:
            raise ValueError("expected @user:server, server or * entries")
    return found


def matrix_user_ids(value: Any) -> tuple[str, ...]:
    """Matrix user ids only: a list of moderators never names a whole server."""
    found = items(value)
    for entry in found:
        if not re.fullmatch(r"@[^:\s]+:\S+", entry):
            raise ValueError("expected Matrix user ids like @mod:example.org")
    return found


def database_url(value: Any) -> DatabaseUrl | None:
    found = text(value)
    if not found:
        return None
    if not DatabaseUrl.is_database_url(found):
        scheme = found.split("://", 1)[0] if "://" in found else "no scheme"
        raise ValueError(f"expected a postgresql:// URL (got {scheme})")
    return DatabaseUrl(found)


def log_level(value: Any) -> str:
    return choice("debug", "info", "warning", "error")(value).upper()


# -- the list of settings ---------------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    """One setting: `key` in the TOML file (`section.name`), `variable` in the environment."""

    key: str
    variable: str
    parse: Parser
    default: Any
    doc: str
    secret: bool = False
    shown_default: str | None = None  # for the README when the default is computed


def _s(key: str, parse: Parser, default: Any, doc: str, *, variable: str | None = None, **extra: Any) -> Setting:
    name = variable or "FAQBOT_" + key.replace(".", "_").upper()
    return Setting(key, name, parse, default, doc, **extra)


SETTINGS: tuple[Setting, ...] = (
    _s("knowledge.paths", paths, (), "knowledge folders or files, combined", variable="FAQBOT_KNOWLEDGE",
       shown_default="the bundled vmst.io knowledge"),
    _s("knowledge.base_url", url, None, "turns site routes such as /about/threads into links",
       variable="FAQBOT_BASE_URL"),
    _s("knowledge.reload_seconds", number(0, 86_400), 2.0, "how often to look for edited knowledge files (0: never)",
       variable="FAQBOT_RELOAD_SECONDS"),
    _s("knowledge.max_file_bytes", integer(1_000, 1 << 30), KnowledgeLimits.max_file_bytes,
       "largest knowledge file accepted (YAML aliases expanded); larger ones are refused and reported"),
    _s("knowledge.max_total_bytes", integer(1_000, 1 << 32), KnowledgeLimits.max_total_bytes,
       "all knowledge files together; past it, files are refused and reported"),
    _s("knowledge.max_files", integer(1, 1_000_000), KnowledgeLimits.max_files, "knowledge files read at most"),
    _s("matching.matcher", choice(*MATCHERS), DEFAULT_MATCHER,
       "encoder (words and meaning) or lexical (words only: less memory, for small machines)",
       variable="FAQBOT_MATCHER"),
    _s("chat.command_prefix", text, "!faq", "the command members type"),
    _s("chat.passive", boolean, True, "answer plain questions in chat, not only asks"),
    _s("chat.passive_off", items, (), "channel or room ids where plain questions get no answer (threads too)"),
    _s("chat.cooldown_seconds", number(0), 600.0, "how long an entry is not repeated passively in a room",
       variable="FAQBOT_COOLDOWN_SECONDS"),
    _s("chat.list_page_size", integer(1, 25), 15, "entries per page of `!faq list`"),
    _s("chat.suggestions", integer(1, 10), 3, "how many entries a \"did you mean\" offers"),
    _s("chat.max_question_chars", integer(50, 10_000), 500,
       "longer chat is not a question; an ask is read up to this length"),
    _s("chat.member_asks_per_minute", integer(1, 10_000), 6, "explicit asks a member may make per minute"),
    _s("chat.room_asks_per_minute", integer(1, 100_000), 20, "explicit asks a room may make per minute"),
    _s("chat.help_grace_seconds", number(0, 3_600), 60.0,
       "how long a new help post waits for its author's edits or a quick human before the bot answers"),
    _s("chat.help_silent_tags", items, ("solved", "needs human"),
       "help-post tags that keep the bot out of a post"),
    _s("state.dir", path, Path("faqbot-state"), "sync position, device, keys, caches (keep it between runs)",
       variable="FAQBOT_STATE_DIR"),
    _s("store.database_url", database_url, None,
       "a postgresql:// URL shared by several bot processes (default: SQLite in the state folder)",
       variable="FAQBOT_DATABASE_URL", secret=True),
    _s("store.retention_days", number(0.01, 36_500), 90.0, "how long records of questions and answers are kept",
       variable="FAQBOT_RETENTION_DAYS"),
    _s("store.user_ids", boolean, False,
       "keep members' user ids themselves instead of keyed hashes (see What faqbot stores)",
       variable="FAQBOT_STORE_USER_IDS"),
    _s("log.level", log_level, "INFO", "debug, info, warning or error"),
    _s("log.format", choice("text", "json"), "text", "text, or json (one object per line)"),
    _s("connect.timeout_seconds", number(1, 86_400), 300.0,
       "how long start-up retries a server that refuses or does not answer, then exits non-zero"),
    _s("health.heartbeat_seconds", number(1, 3_600), 15.0,
       "how often the running bot refreshes its heartbeat file (`faqbot health` checks it)"),
    _s("discord.token", optional_text, None, "the bot token (required for Discord)", secret=True),
    _s("discord.message_content", boolean, True,
       "request the privileged message content intent (off: /faq, mentions and DMs still work)"),
    _s("discord.guild_id", optional_snowflake, None, "register slash commands in this guild (instant) only"),
    _s("discord.sync_commands", boolean, True, "register slash commands at start-up"),
    _s("discord.shard_count", optional_count, None, "total shards across all processes (needed from 2,500 guilds)"),
    _s("discord.shard_ids", items, (), "the shards this process runs, e.g. 0,1 (default: all of shard_count)"),
    _s("discord.moderator_roles", items, (),
       "role ids or names counted as moderators (as is anyone with Manage Messages)"),
    _s("discord.help_forums", items, (), "forum channel ids or names whose new posts get one answer"),
    _s("discord.solved_tag", optional_text, None, "the forum tag \"That solved it\" applies (by name)"),
    _s("discord.human_tag", optional_text, None, "the forum tag \"I need a human\" applies (by name)"),
    _s("discord.human_role", optional_snowflake, None,
       "the role id notified, once per post, when a member asks for a human (the one ping the bot sends)"),
    _s("discord.api_base", url, None, "a Discord-compatible API (Spacebar, tests)"),
    _s("discord.gateway", optional_text, None, "a Discord-compatible gateway URL (Spacebar, tests)"),
    _s("matrix.homeserver", url, None, "the homeserver's client URL (required for Matrix)"),
    _s("matrix.user_id", matrix_user_id, None, "the bot's user id, @faqbot:example.org (required for Matrix)"),
    _s("matrix.access_token", optional_text, None, "log in with this token ...", secret=True),
    _s("matrix.password", optional_text, None, "... or this password (keeps its device in the state folder)",
       secret=True),
    _s("matrix.allowed_inviters", matrix_inviters, (),
       "@user:server, server or * allowed to invite the bot", shown_default="the bot's own homeserver"),
    _s("matrix.device_name", text, "faqbot", "the device name members see"),
    _s("matrix.moderators", matrix_user_ids, (),
       "@user:server ids counted as moderators (as is anyone with power level 50 in the room)"),
    _s("matrix.help_rooms", items, (),
       "room ids or aliases where each top-level message is a help post and gets one answer, in a thread"),
    _s("matrix.human_room", optional_text, None,
       "a room id or alias told, once per post, when a member asks for a human"),
)  # fmt: skip

BY_KEY = {setting.key: setting for setting in SETTINGS}
BY_VARIABLE = {setting.variable: setting for setting in SETTINGS}

# Variables that earlier releases read, with what replaced them.
RETIRED_VARIABLES = {
    "FAQBOT_ENCODER": "FAQBOT_MATCHER=encoder (now the default)",
    "FAQBOT_VECTORS": "FAQBOT_MATCHER (the word vectors are retired: encoder, or lexical)",
    "FAQBOT_ENCODER_DIR": "nothing (the encoder's model ships in the package)",
    "FAQBOT_DISCORD_PASSIVE_OFF": "FAQBOT_CHAT_PASSIVE_OFF",
    "FAQBOT_MATRIX_PASSIVE_OFF": "FAQBOT_CHAT_PASSIVE_OFF",
}
# Read by tooling around faqbot, not by faqbot's settings.
OTHER_VARIABLES = frozenset({CONFIG_VARIABLE})


# -- the typed result -----------------------------------------------------------------------------


@dataclass(frozen=True)
class KnowledgeSettings:
    paths: tuple[Path, ...]  # empty: the bundled knowledge
    base_url: str | None
    reload_seconds: float
    limits: KnowledgeLimits = field(default_factory=KnowledgeLimits)


@dataclass(frozen=True)
class DiscordSettings:
    token: str | None = field(default=None, repr=False)
    message_content: bool = True
    guild_id: int | None = None
    sync_commands: bool = True
    shard_count: int | None = None
    shard_ids: tuple[int, ...] = ()
    api_base: str | None = None
    gateway: str | None = None
    moderator_roles: tuple[str, ...] = ()
    help_forums: tuple[str, ...] = ()
    solved_tag: str | None = None
    human_tag: str | None = None
    human_role: int | None = None


@dataclass(frozen=True)
class MatrixSettings:
    homeserver: str | None = None
    user_id: str | None = None
    access_token: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    allowed_inviters: tuple[str, ...] = ()
    device_name: str = "faqbot"
    moderators: tuple[str, ...] = ()
    help_rooms: tuple[str, ...] = ()
    human_room: str | None = None

    @property
    def server_name(self) -> str:
        return self.user_id.split(":", 1)[1] if self.user_id and ":" in self.user_id else ""


@dataclass(frozen=True)
class Settings:
    """Everything faqbot runs with, validated."""

    knowledge: KnowledgeSettings
    matcher: str
    chat: ResponderSettings
    state_dir: Path
    log_level: str
    log_format: str
    connect_timeout: float
    heartbeat_seconds: float
    help_grace_seconds: float
    discord: DiscordSettings
    matrix: MatrixSettings
    store: StoreSettings
    values: Mapping[str, Any] = field(repr=False, compare=False, default_factory=dict)
    origins: Mapping[str, str] = field(repr=False, compare=False, default_factory=dict)

    def require_discord(self) -> DiscordSettings:
        """The Discord settings, or an error naming what `faqbot run discord` still needs."""
        if not self.discord.token:
            raise SettingsError(
                "FAQBOT_DISCORD_TOKEN (discord.token) is not set: put the bot token from the Discord developer "
                "portal in it"
            )
        if self.discord.shard_ids and self.discord.shard_count is None:
            raise SettingsError("discord.shard_ids needs discord.shard_count (FAQBOT_DISCORD_SHARD_COUNT)")
        for shard in self.discord.shard_ids:
            if self.discord.shard_count is not None and not 0 <= int(shard) < self.discord.shard_count:
                raise SettingsError(
                    f"discord.shard_ids: shard {shard} is outside 0..{self.discord.shard_count - 1} "
                    "(FAQBOT_DISCORD_SHARD_IDS)"
                )
        return self.discord

    def require_matrix(self) -> MatrixSettings:
        """The Matrix settings, or an error naming what `faqbot run matrix` still needs."""
        matrix = self.matrix
        if not matrix.homeserver:
            raise SettingsError(
                "FAQBOT_MATRIX_HOMESERVER (matrix.homeserver) is not set, e.g. https://matrix.example.org"
            )
        if not matrix.user_id:
            raise SettingsError("FAQBOT_MATRIX_USER_ID (matrix.user_id) is not set, e.g. @faqbot:example.org")
        if not matrix.access_token and not matrix.password:
            raise SettingsError(
                "set FAQBOT_MATRIX_ACCESS_TOKEN or FAQBOT_MATRIX_PASSWORD (matrix.access_token/password)"
            )
        return matrix


# -- loading --------------------------------------------------------------------------------------


def _suggest(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for name, value in table.items():
        key = f"{prefix}{name}"
        if isinstance(value, dict):
            flat.update(_flatten(value, key + "."))
        else:
            flat[key] = value
    return flat


def read_config_file(config: Path) -> dict[str, Any]:
    """The file's settings by dotted key; unreadable or unknown content is a `SettingsError`."""
    try:
        raw = config.read_bytes()
    except OSError as error:
        raise SettingsError(f"{config}: cannot read the config file ({error.strerror or error})") from None
    try:
        table = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise SettingsError(f"{config}: not valid TOML: {error}") from None
    flat = _flatten(table)
    unknown = [key for key in flat if key not in BY_KEY]
    if unknown:
        problems = [f"unknown key '{key}'{_suggest(key, BY_KEY)}" for key in unknown]
        raise SettingsError(f"{config}: " + "; ".join(problems))
    return flat


def _check_variables(environ: Mapping[str, str]) -> None:
    problems = []
    for name in sorted(environ):
        if not name.startswith("FAQBOT_") or name in BY_VARIABLE or name in OTHER_VARIABLES:
            continue
        if name in RETIRED_VARIABLES:
            problems.append(f"{name} is no longer read: use {RETIRED_VARIABLES[name]}")
        else:
            problems.append(f"unknown variable {name}{_suggest(name, BY_VARIABLE)}")
    if problems:
        raise SettingsError("; ".join(problems))


def _parse(setting: Setting, raw: Any, where: str) -> Any:
    try:
        return setting.parse(raw)
    except ValueError as error:
        shown = "(hidden: it is a secret)" if setting.secret else repr(raw)
        raise SettingsError(f"{where}: {error}, got {shown}") from None


def load_settings(
    config: Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Defaults < config file < `FAQBOT_*` variables < `overrides` (command-line flags, by key).

    `config` defaults to `$FAQBOT_CONFIG`; `environ` to `os.environ` (the CLI is the
    only caller that passes nothing)."""
    environ = os.environ if environ is None else environ
    if config is None and environ.get(CONFIG_VARIABLE, "").strip():
        config = Path(environ[CONFIG_VARIABLE].strip())
    _check_variables(environ)
    values = {s.key: s.default for s in SETTINGS}
    origins = dict.fromkeys(values, "default")
    if config is not None:
        for key, raw in read_config_file(config).items():
            values[key] = _parse(BY_KEY[key], raw, f"{config}: {key}")
            origins[key] = str(config)
    for setting in SETTINGS:
        if setting.variable in environ:
            values[setting.key] = _parse(setting, environ[setting.variable], setting.variable)
            origins[setting.key] = setting.variable
    for key, raw in (overrides or {}).items():
        if raw is not None:
            values[key] = raw
            origins[key] = "command line"
    return _build(values, origins)


def _build(values: Mapping[str, Any], origins: Mapping[str, str]) -> Settings:
    def shard_ids() -> tuple[int, ...]:
        found = []
        for item in values["discord.shard_ids"]:
            if not str(item).isdigit():
                raise SettingsError(f"discord.shard_ids: expected shard numbers, got {item!r}")
            found.append(int(item))
        return tuple(found)

    user_id = values["matrix.user_id"]
    inviters = values["matrix.allowed_inviters"] or ((":" + user_id.split(":", 1)[1],) if user_id else ())
    chat = ResponderSettings(
        command_prefix=values["chat.command_prefix"] or "!faq",
        passive_by_default=values["chat.passive"],
        cooldown_seconds=values["chat.cooldown_seconds"],
        list_page_size=values["chat.list_page_size"],
        suggestion_count=values["chat.suggestions"],
        max_question_chars=values["chat.max_question_chars"],
        asks_per_member=Rate(values["chat.member_asks_per_minute"], 60.0),
        asks_per_room=Rate(values["chat.room_asks_per_minute"], 60.0),
        passive_off=frozenset(values["chat.passive_off"]),
        help_silent_tags=frozenset(values["chat.help_silent_tags"]),
    )
    return Settings(
        knowledge=KnowledgeSettings(
            paths=values["knowledge.paths"],
            base_url=values["knowledge.base_url"],
            reload_seconds=values["knowledge.reload_seconds"],
            limits=KnowledgeLimits(
                max_file_bytes=values["knowledge.max_file_bytes"],
                max_total_bytes=values["knowledge.max_total_bytes"],
                max_files=values["knowledge.max_files"],
            ),
        ),
        matcher=values["matching.matcher"],
        chat=chat,
        state_dir=values["state.dir"],
        log_level=values["log.level"],
        log_format=values["log.format"],
        connect_timeout=values["connect.timeout_seconds"],
        heartbeat_seconds=values["health.heartbeat_seconds"],
        help_grace_seconds=values["chat.help_grace_seconds"],
        discord=DiscordSettings(
            token=values["discord.token"],
            message_content=values["discord.message_content"],
            guild_id=values["discord.guild_id"],
            sync_commands=values["discord.sync_commands"],
            shard_count=values["discord.shard_count"],
            shard_ids=shard_ids(),
            api_base=values["discord.api_base"],
            gateway=values["discord.gateway"],
            moderator_roles=values["discord.moderator_roles"],
            help_forums=values["discord.help_forums"],
            solved_tag=values["discord.solved_tag"],
            human_tag=values["discord.human_tag"],
            human_role=values["discord.human_role"],
        ),
        matrix=MatrixSettings(
            homeserver=values["matrix.homeserver"],
            user_id=user_id,
            access_token=values["matrix.access_token"],
            password=values["matrix.password"],
            allowed_inviters=inviters,
            device_name=values["matrix.device_name"] or "faqbot",
            moderators=values["matrix.moderators"],
            help_rooms=values["matrix.help_rooms"],
            human_room=values["matrix.human_room"],
        ),
        store=StoreSettings(
            state_dir=values["state.dir"],
            database_url=values["store.database_url"],
            store_user_ids=values["store.user_ids"],
            retention_days=values["store.retention_days"],
        ),
        values=dict(values),
        origins=dict(origins),
    )


# -- showing --------------------------------------------------------------------------------------

MASK = "********"


def _toml_value(value: Any) -> str:
    if value is None:
        return '""'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"{value:g}" if isinstance(value, float) else str(value)
    if isinstance(value, Path):
        return _toml_value(str(value))
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def describe(settings: Settings) -> str:
    """The effective configuration as TOML, each value with where it came from; secrets masked."""
    lines: list[str] = []
    section = None
    for setting in SETTINGS:
        group, name = setting.key.split(".", 1)
        if group != section:
            lines.append(("\n" if lines else "") + f"[{group}]")
            section = group
        value = settings.values.get(setting.key, setting.default)
        shown = f'"{MASK}"' if setting.secret and value else _toml_value(value)
        lines.append(f"{name} = {shown}  # {settings.origins.get(setting.key, 'default')}")
    return "\n".join(lines)


def _shown_default(setting: Setting) -> str:
    if setting.shown_default is not None:
        return setting.shown_default
    if setting.default in (None, (), ""):
        return "unset"
    return _toml_value(setting.default)


def settings_table() -> str:
    """The README's table of every setting (checked against the README by the tests)."""
    rows = ["| key | variable | default | meaning |", "|---|---|---|---|"]
    for setting in SETTINGS:
        meaning = setting.doc.replace("|", "\\|") + (" (secret: never shown or logged)" if setting.secret else "")
        rows.append(f"| `{setting.key}` | `{setting.variable}` | {_shown_default(setting)} | {meaning} |")
    return "\n".join(rows)


def example_config() -> str:
    """`examples/faqbot.toml`: every key, commented out at its default (checked by the tests)."""
    lines = [
        "# faqbot configuration: every key with its default. Uncomment what you change.",
        "# Use it with `faqbot --config faqbot.toml ...` or FAQBOT_CONFIG=faqbot.toml; FAQBOT_* variables",
        "# override the file. Prefer variables for secrets (tokens, passwords).",
    ]
    section = None
    for setting in SETTINGS:
        group, name = setting.key.split(".", 1)
        if group != section:
            lines += ["", f"[{group}]"]
            section = group
        lines.append(f"# {setting.doc} ({setting.variable}; default: {_shown_default(setting)})")
        value = _toml_value(setting.default)  # secrets too: unset, and best given as variables
        lines.append(f"# {name} = {value}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # python -m faqbot.settings: regenerate the docs
    import sys

    if sys.argv[1:] == ["--example"]:
        print(example_config(), end="")
    else:
        print(settings_table())
