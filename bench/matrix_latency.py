"""How long a member waits for the Matrix bot on loopback, and how much memory the bot takes.

    python bench/matrix_latency.py [--knowledge knowledge] [--rounds 50] [--hostile 3]

Starts a real Synapse (tests/matrix/synapse_server.py, raised rate limits) and the bot as
its own process, exactly as an operator would (`python -m faqbot.cli run matrix`). A
matrix-nio member then asks `!faq <title>` for the knowledge's entries one at a time, in
a plain room and in an end-to-end encrypted room, and measures from just before its
send to the moment its sync delivers the bot's answer. Also printed: the same interval
by the homeserver's own timestamps (question received -> answer received), and the bot
process's resident memory (VmRSS, and the peak VmHWM) after the run.

Then the same questions in a plain room while another room is flooded: before each
question, `--hostile` messages of about 55,000 characters of fresh random words (the
largest a Matrix event carries) go to a neighbouring room, once as explicit asks
(`!faq ...`, which matching reads up to its length cap) and once as plain chat (which
the core dismisses unread as too long), so the difference is what matching costs.
Flood control is turned off for this run, so every hostile ask reaches matching: the
worst a room can do to another. Ratios are to the quiet plain room of the same run.
Everything is loopback on one machine, so this is Synapse's, nio's and the bot's overhead.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import statistics
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.matrix

from nio import AsyncClient, AsyncClientConfig, RoomCreateResponse, RoomMessage  # noqa: E402

from faqbot.sources.bundled import bundled_knowledge  # noqa: E402
from faqbot.sources.loader import load_knowledge  # noqa: E402
from tests.matrix.synapse_server import SynapseServer  # noqa: E402


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process, in KiB, from /proc."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0])
    return values


class Asker:
    """The member: sends one question, waits for the bot's reply to it."""

    def __init__(self, client: AsyncClient, bot_id: str) -> None:
        self.client = client
        self.bot_id = bot_id
        self.replies: dict[str, tuple[float, int]] = {}  # question event id -> (arrival, server ts)
        client.add_event_callback(self._record, RoomMessage)

    async def _record(self, room: object, event: RoomMessage) -> None:
        if event.sender != self.bot_id:
            return
        relates = event.source.get("content", {}).get("m.relates_to", {})
        question = relates.get("m.in_reply_to", {}).get("event_id")
        if question:
            self.replies[question] = (time.perf_counter(), event.server_timestamp)

    async def ask(self, room_id: str, text: str, timeout: float = 30) -> tuple[float, float]:
        """(client-observed seconds, homeserver-observed seconds) for one answer."""
        start = time.perf_counter()
        response = await self.client.room_send(
            room_id, "m.room.message", {"msgtype": "m.text", "body": text}, ignore_unverified_devices=True
        )
        event_id = response.event_id
        while event_id not in self.replies:
            if time.perf_counter() - start > timeout:
                raise TimeoutError(f"no answer to {text!r} within {timeout}s")
            await asyncio.sleep(0.001)
        arrival, answer_ts = self.replies[event_id]
        asked = await self.client.room_get_event(room_id, event_id)
        return arrival - start, (answer_ts - asked.event.server_timestamp) / 1000


HOSTILE_CHARS = 55_000  # a Matrix event is at most 65,536 bytes, its envelope included


def hostile_text(rng: random.Random) -> str:
    """Words nobody has used before, so no cache helps the bot."""
    words: list[str] = []
    length = 5
    while length < HOSTILE_CHARS:
        word = "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(3, 10)))
        words.append(word)
        length += len(word) + 1
    return " ".join(words)


async def joined_room(client: AsyncClient, bot_id: str, encrypted: bool = False) -> str:
    state = [{"type": "m.room.encryption", "state_key": "", "content": {"algorithm": "m.megolm.v1.aes-sha2"}}]
    created = await client.room_create(invite=[bot_id], initial_state=state if encrypted else ())
    assert isinstance(created, RoomCreateResponse), created
    while bot_id not in {m.user_id for m in (await client.joined_members(created.room_id)).members}:
        await asyncio.sleep(0.1)
    while encrypted and not client.device_store[bot_id]:
        await asyncio.sleep(0.1)
    return created.room_id


async def measure(
    server: SynapseServer, bot_id: str, questions: list[str], workdir: Path, hostile: int
) -> dict[str, list]:
    user = server.register_user()
    client = AsyncClient(
        server.url,
        user.user_id,
        device_id=user.device_id,
        store_path=str(workdir / "member"),
        config=AsyncClientConfig(encryption_enabled=True),
    )
    (workdir / "member").mkdir()
    client.restore_login(user.user_id, user.device_id, user.access_token)
    asker = Asker(client, bot_id)
    await client.sync(timeout=0, full_state=True)
    syncing = asyncio.create_task(client.sync_forever(timeout=30000))
    results: dict[str, list] = {}
    try:
        for label, encrypted in (("plain room", False), ("encrypted room", True)):
            room_id = await joined_room(client, bot_id, encrypted)
            await asker.ask(room_id, questions[0])  # warm-up: key sharing, first-message costs
            results[label] = [await asker.ask(room_id, question) for question in questions]
        rng = random.Random(11)
        for kind, prefix in (("chat", ""), ("asks", "!faq ")) if hostile else ():
            flooded, quiet = await joined_room(client, bot_id), await joined_room(client, bot_id)
            await asker.ask(quiet, questions[0])
            samples = []
            for question in questions:
                for _ in range(hostile):
                    content = {"msgtype": "m.text", "body": prefix + hostile_text(rng)}
                    await client.room_send(flooded, "m.room.message", content)
                samples.append(await asker.ask(quiet, question))
            results[f"plain room, {hostile} long {kind} next door"] = samples
    finally:
        syncing.cancel()
        await asyncio.gather(syncing, return_exceptions=True)
        await client.close()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--knowledge", type=Path, default=bundled_knowledge())
    parser.add_argument("--rounds", type=int, default=50, help="questions per room")
    parser.add_argument("--hostile", type=int, default=3, help="long messages next door before each question")
    args = parser.parse_args()
    logging.getLogger("nio").setLevel(logging.ERROR)  # the member's own e2e chatter is not the measurement

    knowledge = load_knowledge([args.knowledge])
    titles = [entry.title for entry in knowledge.entries if entry.kind != "section"]
    questions = [f"!faq {titles[i % len(titles)]}" for i in range(args.rounds)]

    with tempfile.TemporaryDirectory(prefix="faqbot-matrix-bench-") as tmp:
        workdir = Path(tmp)
        server = SynapseServer(workdir / "synapse")
        server.start()
        bot_user = server.register_user("faqbot")
        env = {
            **os.environ,
            "FAQBOT_MATRIX_HOMESERVER": server.url,
            "FAQBOT_MATRIX_USER_ID": bot_user.user_id,
            "FAQBOT_MATRIX_ACCESS_TOKEN": bot_user.access_token,
            "FAQBOT_STATE_DIR": str(workdir / "state"),
            "FAQBOT_LOG_LEVEL": "WARNING",
            # Off for the measurement: every hostile ask reaches matching, the worst case.
            "FAQBOT_CHAT_MEMBER_ASKS_PER_MINUTE": "10000",
            "FAQBOT_CHAT_ROOM_ASKS_PER_MINUTE": "100000",
        }
        command = [sys.executable, "-m", "faqbot.cli", "run", "matrix", "--knowledge", str(args.knowledge)]
        bot = subprocess.Popen(command, env=env, cwd=ROOT)
        try:
            results = asyncio.run(measure(server, bot_user.user_id, questions, workdir, args.hostile))
            memory = memory_kib(bot.pid)
        finally:
            bot.terminate()
            bot.wait(20)
            server.stop()

    print(f"Matrix bot on loopback Synapse, {len(knowledge.entries)} entries, {args.rounds} questions per room")
    quiet = statistics.median(c for c, _ in results["plain room"])
    for label, samples in results.items():
        client_ms = [c * 1000 for c, _ in samples]
        server_ms = [s * 1000 for _, s in samples]
        ratio = statistics.median(client_ms) / (quiet * 1000)
        print(
            f"  {label}: member send -> answer received: median {statistics.median(client_ms):6.1f} ms "
            f"({ratio:.2f}x the plain room), p95 {percentile(client_ms, 0.95):6.1f} ms; by server timestamps: "
            f"median {statistics.median(server_ms):6.1f} ms"
        )
    print(f"  bot process memory: RSS {memory['VmRSS'] / 1024:.1f} MiB, peak {memory['VmHWM'] / 1024:.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
