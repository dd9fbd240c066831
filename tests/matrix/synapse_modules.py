"""A Synapse module the test homeserver loads: it fails every event that carries a marker.

Synapse answers 500 to each send of content it chokes on (a lone surrogate did that),
every time: the permanent server error the adapter must drop instead of retrying for
minutes. Only events whose body contains `REFUSED_MARKER` are touched; other tests
never send it. Loaded by Synapse's own process (tests/matrix/synapse_server.py puts the
checkout on its PYTHONPATH), so it may import only Synapse and the standard library.
"""

from __future__ import annotations

from typing import Any

from synapse.module_api import NOT_SPAM, ModuleApi

REFUSED_MARKER = "FAQBOT-TEST-REFUSED"


class FailMarkedEvents:
    def __init__(self, config: dict[str, Any], api: ModuleApi) -> None:
        api.register_spam_checker_callbacks(check_event_for_spam=self.check_event_for_spam)

    @staticmethod
    def parse_config(config: dict[str, Any]) -> dict[str, Any]:
        return config

    async def check_event_for_spam(self, event: Any) -> str:
        body = event.content.get("body")
        if isinstance(body, str) and REFUSED_MARKER in body:
            raise RuntimeError("this test homeserver fails every event carrying the marker")
        return NOT_SPAM
