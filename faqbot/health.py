"""Health for orchestrators: a heartbeat file the running bot keeps fresh.

A bot that looks alive but cannot hear (its sync position cannot be saved, the
server refuses it) is worse than a dead one, because nobody restarts it. The bot
writes `heartbeat.json` in its state folder every few seconds with its status and
any problem it knows of; `faqbot health` (the Docker image's HEALTHCHECK) reads it
and fails when the file is stale, the bot is still starting or is degraded. A
heartbeat that cannot be written (a full disk) goes stale, which is the truth.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from faqbot.state_folder import StateFolder

HEARTBEAT_FILE = "heartbeat.json"
STALE_AFTER_BEATS = 4  # a heartbeat this many periods old means the process is stuck or gone

log = logging.getLogger("faqbot.health")


class Status(Enum):
    STARTING = "starting"
    RUNNING = "running"
    DEGRADED = "degraded"
    STOPPED = "stopped"


@dataclass
class Health:
    """What the running bot knows about itself; adapters report problems here."""

    platform: str
    status: Status = Status.STARTING
    problems: dict[str, str] = field(default_factory=dict)
    # Called when the status or the problems change (the heartbeat writes at once, not a period later).
    listeners: list[Callable[[], None]] = field(default_factory=list, repr=False)

    def ready(self) -> None:
        """The bot is connected and listening."""
        changed = self.status is not Status.RUNNING
        self.status = Status.RUNNING
        if changed:
            self._changed()

    def problem(self, key: str, message: str) -> None:
        """Something keeps the bot from working fully (logged loudly once, until cleared)."""
        if self.problems.get(key) == message:
            return
        log.error("%s", message)
        self.problems[key] = message
        self._changed()

    def clear(self, key: str) -> None:
        if self.problems.pop(key, None) is not None:
            log.warning("recovered: %s is fine again", key)
            self._changed()

    def _changed(self) -> None:
        for listener in self.listeners:
            listener()

    @property
    def effective_status(self) -> Status:
        if self.status is Status.RUNNING and self.problems:
            return Status.DEGRADED
        return self.status

    def snapshot(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "time": time.time(),
            "platform": self.platform,
            "status": self.effective_status.value,
            "problems": sorted(self.problems.values()),
        }


class Heartbeat:
    """Writes the health snapshot to the state folder; errors are logged, not raised."""

    def __init__(self, folder: StateFolder, health: Health) -> None:
        self.folder = folder
        self.health = health
        self._failing = False
        health.listeners.append(self.beat)

    def beat(self) -> None:
        try:
            self.folder.write_json(HEARTBEAT_FILE, self.health.snapshot())
        except OSError as error:
            if not self._failing:
                log.error("cannot write the heartbeat in %s: %s", self.folder.path, error.strerror or error)
            self._failing = True
        else:
            self._failing = False


def check(folder: StateFolder, period: float, now: float | None = None) -> tuple[bool, str]:
    """(healthy, one line saying why) for the heartbeat in `folder`."""
    snapshot = folder.read_json(HEARTBEAT_FILE, _heartbeat_shape)
    if snapshot is None:
        return False, f"no heartbeat in {folder.path}: the bot is not running (or not from this state folder)"
    age = (time.time() if now is None else now) - snapshot["time"]
    status, platform = snapshot["status"], snapshot["platform"]
    if age > STALE_AFTER_BEATS * period:
        return False, f"{platform} bot's heartbeat is {age:.0f} s old (expected every {period:g} s): stuck or gone"
    if status != Status.RUNNING.value:
        detail = "; ".join(snapshot["problems"])
        return False, f"{platform} bot is {status}" + (f": {detail}" if detail else "")
    return True, f"{platform} bot is running (heartbeat {age:.0f} s ago)"


def _heartbeat_shape(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ValueError("not an object")
    if not isinstance(data.get("time"), int | float) or not isinstance(data.get("status"), str):
        raise ValueError("missing time or status")
    problems = data.get("problems", [])
    if not isinstance(problems, list):
        raise ValueError("problems is not a list")
    return {
        "time": float(data["time"]),
        "status": data["status"],
        "platform": str(data.get("platform", "?")),
        "problems": [str(p) for p in problems],
    }
