"""How long a member waits for the Discord bot on loopback, through the real discord.py client.

    python bench/discord_latency.py [--knowledge knowledge] [--rounds 200]

Runs the bot in-process against the tests' fake Discord (tests/discord/fake_discord.py)
with the bundled knowledge, then, one at a time, measures from the moment the fake
sends the gateway dispatch to the moment it has answered the bot's REST call:
- `!faq <question>` (explicit ask) and the plain question (passive answer);
- `/faq` (INTERACTION_CREATE -> callback) and its autocomplete.
Prints median and p95 in milliseconds. Everything is loopback on one event loop, so this
is the bot's and discord.py's own overhead, not Discord's network latency.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import time
from collections.abc import Awaitable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.discord.fake_discord

from faqbot.platforms.discord_bot import DiscordBot, point_at_server  # noqa: E402
from faqbot.responder import IncomingMessage, Responder, ResponderSettings  # noqa: E402
from faqbot.settings import DiscordSettings  # noqa: E402
from faqbot.sources.loader import load_knowledge  # noqa: E402
from tests.discord.fake_discord import FakeDiscord  # noqa: E402

TOKEN = "bench.token.not-secret"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def timed(fake: FakeDiscord, method: str, path: str, event: Awaitable[object]) -> float:
    """Seconds from injecting an event to the fake having answered one more matching request."""
    before = len(fake.requests_to(method, path, status=200))
    start = time.monotonic()
    await event
    answered = await fake.wait_for_requests(method, path, before + 1, timeout=10)
    return answered[before].at - start


class RunningBot:
    """The fake Discord plus a bot connected to it, for one measurement."""

    def __init__(self, responder: Responder) -> None:
        self.responder = responder
        self.fake = FakeDiscord(TOKEN)

    async def __aenter__(self) -> FakeDiscord:
        await self.fake.start()
        point_at_server(self.fake.api_base, self.fake.gateway_url)
        self.bot = DiscordBot(self.responder, DiscordSettings(token=TOKEN), guild_ready_timeout=0.05)
        await self.bot.login(TOKEN)
        self.runner = asyncio.create_task(self.bot.connect())
        await self.bot.wait_until_ready()
        await self.fake.wait_connected()
        return self.fake

    async def __aexit__(self, *exc: object) -> None:
        await self.bot.close()
        await self.runner
        await self.fake.stop()


async def measure(knowledge_path: Path, rounds: int) -> dict[str, list[float]]:
    knowledge = load_knowledge([knowledge_path])
    responder = Responder(knowledge, ResponderSettings(cooldown_seconds=0))
    questions = [e.questions[0] for e in knowledge.entries if e.questions]
    # passive answers only for the phrasings the core is confident about
    confident = [q for q in questions if responder.respond(IncomingMessage(q, "probe", "probe")) is not None]
    if not questions or not confident:
        raise SystemExit(f"no usable questions in {knowledge_path}")
    send, callback = r"/channels/\d+/messages", r"/interactions/\d+/[^/]+/callback"
    results: dict[str, list[float]] = {"!faq question": [], "passive question": [], "/faq": [], "autocomplete": []}
    async with RunningBot(responder) as fake:
        for n in range(rounds):
            question, passive = questions[n % len(questions)], confident[n % len(confident)]
            option = [{"name": "question", "type": 3, "value": question}]
            partial = question[: max(3, len(question) // 2)]
            results["!faq question"].append(await timed(fake, "POST", send, fake.member_says("!faq " + question)))
            results["passive question"].append(await timed(fake, "POST", send, fake.member_says(passive)))
            results["/faq"].append(await timed(fake, "POST", callback, fake.slash("faq", option)))
            results["autocomplete"].append(
                await timed(fake, "POST", callback, fake.autocomplete("faq", "question", partial))
            )
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--knowledge", type=Path, default=ROOT / "knowledge")
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    results = asyncio.run(measure(args.knowledge, args.rounds))
    print(f"Discord round trip on loopback, {args.rounds} rounds, knowledge: {args.knowledge}")
    print(f"{'event':<18} {'n':>5} {'median ms':>10} {'p95 ms':>8}")
    for name, values in results.items():
        if values:
            median, p95 = statistics.median(values) * 1000, percentile(values, 0.95) * 1000
            print(f"{name:<18} {len(values):>5} {median:>10.2f} {p95:>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
