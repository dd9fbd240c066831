"""Knowledge that updates live: moderators edit files, the running bot picks them up.

Polling file sizes and modification times every few seconds costs little, needs no
extra dependency, and works where file-system events do not (network shares,
container volumes). A file saved half-edited is reported and its last good version
keeps serving (see `KnowledgeLoader`).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from faqbot.responder import Responder
from faqbot.sources.files import FoundFile, walk_knowledge
from faqbot.sources.limits import KnowledgeLimits
from faqbot.sources.loader import KnowledgeLoader
from faqbot.sources.model import Knowledge

log = logging.getLogger(__name__)

Fingerprint = frozenset[tuple[str, str, int, int]]


def fingerprint(paths: list[Path], limits: KnowledgeLimits | None = None) -> Fingerprint:
    """What the loader would look at, with modification times and sizes: every knowledge file
    (folder metadata included) and every refused one. The same walk as the loader's, so a
    link or FIFO is only ever looked at, never opened, and a huge tree costs no more here."""
    seen: set[tuple[str, str, int, int]] = set()
    for root in paths:
        if not root.exists():
            continue
        for item in walk_knowledge(root, limits or KnowledgeLimits()):
            stamps = [item.path] if not isinstance(item, FoundFile) else [item.path, item.target]
            for path in stamps:
                try:
                    status = path.lstat()
                except OSError:
                    continue
                seen.add((item.path.as_posix(), path.as_posix(), status.st_mtime_ns, status.st_size))
    return frozenset(seen)


class KnowledgeWatcher:
    """Reloads knowledge into a responder whenever its files change."""

    def __init__(self, loader: KnowledgeLoader, responder: Responder, interval: float = 2.0) -> None:
        self.loader = loader
        self.responder = responder
        self.interval = interval
        self._seen = fingerprint(loader.paths, loader.limits)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def check_once(self) -> Knowledge | None:
        """Reload if anything changed since the last look; the new knowledge, or None."""
        current = fingerprint(self.loader.paths, self.loader.limits)
        if current == self._seen:
            return None
        self._seen = current
        knowledge = self.loader.load()
        self.responder.replace_knowledge(knowledge)
        for problem in knowledge.errors:
            log.warning("knowledge: %s", problem)
        log.info("knowledge reloaded: %d entries, %d errors", len(knowledge.entries), len(knowledge.errors))
        return knowledge

    def start(self) -> None:
        """Watch in a background thread until `stop()`."""
        self._thread = threading.Thread(target=self._run, name="faqbot-knowledge-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check_once()
            except Exception:  # a watcher that dies silently would freeze the knowledge
                log.exception("knowledge reload failed; still serving the previous knowledge")
