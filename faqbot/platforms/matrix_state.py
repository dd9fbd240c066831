"""What the Matrix adapter keeps between runs, and the shape its files must have.

Two JSON files in the state folder. The session (`matrix_session.json`) says which
device the bot is, holds its access token when the bot logged in with a password,
and the secret that encrypts the encryption store (matrix-nio's default key is
the same for everyone). The adapter state (`matrix_state.json`) holds which events
were answered, which rooms are direct messages, where the bot's sync stands,
which questions a stop handed back to the next run, and which events are the bot's
latest answers (and of what kind), so that a 👍, a 🗑️ or a ✅ on one still counts after
a restart. Both are read strictly: a
file of the wrong shape (`null`, `[]`, `{"answered": 5}`) is refused whole, and
`StateFolder.read_json` sets it aside and reports it.

No user ids are kept: only room and event ids, the bot's own ids and its secrets.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from faqbot.bounded import BoundedDict

STATE_FILE = "matrix_state.json"
SESSION_FILE = "matrix_session.json"

ANSWERED_LIMIT = 2000  # events answered, remembered so none is answered twice, even across restarts
DIRECT_ROOMS_LIMIT = 10_000
HANDED_BACK_LIMIT = 200  # questions a stop left unanswered, for the next run
REPLIES_LIMIT = 2000  # the bot's latest answers, which members may still rate or remove


def _strings(value: Any, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{what} is not a list of texts")
    return value


def _optional_string(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{key} is not a text")
    return value


def _object(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, found {type(data).__name__}")
    return data


@dataclass(frozen=True)
class Session:
    """The bot's device. `access_token` only when a password login made it (a configured
    token stays in the configuration); `pickle_key` encrypts the device's encryption store."""

    user_id: str
    device_id: str
    pickle_key: str = field(repr=False)
    access_token: str | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        data = {"user_id": self.user_id, "device_id": self.device_id, "pickle_key": self.pickle_key}
        if self.access_token is not None:
            data["access_token"] = self.access_token
        return data

    @classmethod
    def from_json(cls, data: Any) -> LegacySession | Session:
        """A session file's content; one written before the store had its own key is a
        `LegacySession` (its store uses matrix-nio's default key)."""
        data = _object(data)
        user_id, device_id = data.get("user_id"), data.get("device_id")
        if not isinstance(user_id, str) or not isinstance(device_id, str) or not device_id:
            raise ValueError("user_id or device_id is missing")
        access_token = _optional_string(data, "access_token")
        pickle_key = _optional_string(data, "pickle_key")
        if pickle_key is None:
            return LegacySession(user_id, device_id, access_token)
        if not pickle_key:
            raise ValueError("pickle_key is empty")
        return cls(user_id, device_id, pickle_key, access_token)


@dataclass(frozen=True)
class LegacySession:
    """A session from before the store's own key: its store is re-keyed on first use."""

    user_id: str
    device_id: str
    access_token: str | None = field(default=None, repr=False)


class AnswerKind(Enum):
    """What one of the bot's answers was: what a reaction on it may do."""

    PASSIVE = "passive"  # unasked: its asker or a moderator may remove it (🗑️)
    ASKED = "asked"
    HELP_POST = "help post"  # the answer to a help post: ✅ and 🙋


@dataclass(frozen=True)
class SentAnswer:
    """One of the bot's answers: its kind, for a help post's the post (its root event), and the
    room it is in (None when a state file from before rooms were kept says nothing of it)."""

    kind: AnswerKind
    post_id: str | None = None
    room_id: str | None = None


class AdapterState:
    """The adapter's memory that outlives a restart; bounded, so chat cannot grow it."""

    def __init__(self) -> None:
        self._answered: BoundedDict[str, None] = BoundedDict(ANSWERED_LIMIT)
        self._direct_rooms: BoundedDict[str, None] = BoundedDict(DIRECT_ROOMS_LIMIT)
        self._handed_back: BoundedDict[tuple[str, str], None] = BoundedDict(HANDED_BACK_LIMIT)
        self._answers: BoundedDict[str, SentAnswer] = BoundedDict(REPLIES_LIMIT)
        self.sync_device: str | None = None
        self.sync_token: str | None = None

    # -- answered events ------------------------------------------------------------

    def answered(self, event_id: str) -> bool:
        return event_id in self._answered

    def mark_answered(self, event_id: str) -> None:
        self._answered[event_id] = None

    def forget_answered(self, event_id: str) -> None:
        self._answered.pop(event_id, None)

    # -- direct-message rooms ---------------------------------------------------------

    def is_direct(self, room_id: str) -> bool:
        return room_id in self._direct_rooms

    def add_direct(self, room_id: str) -> None:
        self._direct_rooms[room_id] = None

    # -- the sync position ------------------------------------------------------------

    def sync_position(self, device_id: str) -> str | None:
        """Where the last fully handled sync ended, if it was this device's."""
        return self.sync_token if self.sync_device == device_id else None

    def set_sync_position(self, device_id: str, token: str) -> None:
        self.sync_device, self.sync_token = device_id, token

    # -- questions handed back by a stop ----------------------------------------------

    def hand_back(self, room_id: str, event_id: str) -> None:
        """A question whose answer did not go out before the bot stopped: the next run answers it."""
        self.forget_answered(event_id)
        self._handed_back[(room_id, event_id)] = None

    def drop_handed_back(self, room_id: str, event_id: str) -> None:
        self._handed_back.pop((room_id, event_id), None)

    @property
    def handed_back(self) -> Iterator[tuple[str, str]]:
        return iter(self._handed_back)

    # -- the bot's answers ---------------------------------------------------------------

    def sent_answer(self, reply_id: str, answer: SentAnswer) -> None:
        self._answers[reply_id] = answer

    def answer(self, reply_id: str, room_id: str) -> SentAnswer | None:
        """What the bot's event `reply_id` was, if it is one of its latest answers and in `room_id`.
        Event ids name events across rooms: a reaction, reply or redaction sent in one room that
        points at an answer in another acts on nothing (a room's creator is its moderator)."""
        answer = self._answers.get(reply_id)
        if answer is None or answer.room_id not in (None, room_id):
            return None
        return answer

    def forget_answer(self, reply_id: str) -> None:
        self._answers.pop(reply_id, None)

    # -- the file -------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "answered": list(self._answered),
            "direct_rooms": list(self._direct_rooms),
            "handed_back": [list(pair) for pair in self._handed_back],
            "answers": [[reply_id, a.kind.value, a.post_id, a.room_id] for reply_id, a in self._answers.items()],
        }
        if self.sync_device is not None and self.sync_token is not None:
            data["sync"] = {"device_id": self.sync_device, "next_batch": self.sync_token}
        return data

    @classmethod
    def from_json(cls, data: Any) -> AdapterState:
        """The state a file holds; ValueError when its shape is wrong, so it is set aside."""
        data = _object(data)
        state = cls()
        for event_id in _strings(data.get("answered", []), "answered"):
            state.mark_answered(event_id)
        for room_id in _strings(data.get("direct_rooms", []), "direct_rooms"):
            state.add_direct(room_id)
        handed_back = data.get("handed_back", [])
        if not isinstance(handed_back, list):
            raise ValueError("handed_back is not a list")
        for pair in handed_back:
            if not isinstance(pair, list) or len(pair) != 2 or not all(isinstance(p, str) and p for p in pair):
                raise ValueError("a handed_back entry is not [room id, event id]")
            state._handed_back[(pair[0], pair[1])] = None
        answers = data.get("answers", [])
        if not isinstance(answers, list):
            raise ValueError("answers is not a list")
        for item in answers:
            state.sent_answer(*_answer(item))
        sync = data.get("sync")
        if sync is not None:
            sync = _object(sync)
            device, token = _optional_string(sync, "device_id"), _optional_string(sync, "next_batch")
            if device and token:
                state.set_sync_position(device, token)
        return state


_ANSWER_KINDS = {kind.value: kind for kind in AnswerKind}


def _answer(item: Any) -> tuple[str, SentAnswer]:
    if not isinstance(item, list) or len(item) not in (3, 4):  # 3: written before rooms were kept
        raise ValueError("an answers entry is not [event id, kind, post id, room id]")
    reply_id, kind, post_id, room_id = (*item, None) if len(item) == 3 else item
    if not isinstance(reply_id, str) or not reply_id or not isinstance(kind, str) or kind not in _ANSWER_KINDS:
        raise ValueError("an answers entry has no event id or an unknown kind")
    if post_id is not None and not isinstance(post_id, str):
        raise ValueError("an answers entry's post id is not a text")
    if room_id is not None and not (isinstance(room_id, str) and room_id):
        raise ValueError("an answers entry's room id is not a text")
    return reply_id, SentAnswer(_ANSWER_KINDS[kind], post_id, room_id)
