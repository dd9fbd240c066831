"""How long a member waits for the Discord bot on loopback, through the real discord.py client.

    python bench/discord_latency.py [--knowledge knowledge] [--rounds 200] [--matcher lexical|encoder] [--no-store]

Runs the bot in-process against the tests' fake Discord (tests/discord/fake_discord.py)
with the bundled knowledge, built as `faqbot run discord` builds it (a `Bot` with a
SQLite store in a temporary state folder), then, one at a time, measures from the
moment the fake sends the gateway dispatch to the moment it has answered the bot's
REST call:
- `!faq <question>` (explicit ask) and the plain question (passive answer);
- `/faq` (INTERACTION_CREATE -> callback) and its autocomplete;
- a new help-forum post (THREAD_CREATE and its first message -> the answer in the post,
  with a grace period of 0) and a press of its "That solved it" button (-> the callback);
- the "Answer with FAQ" context menu on a member's message (-> the answer to that message);
- `!faq <question>` again, right after 10 other members each asked something costly in
  10 other rooms (threads): 500 characters of made-up words, so every word misses the
  vocabulary and gets a typo search. Its ratio to the quiet `!faq` (same run) is how much
  one room's load delays another room's answer. It is measured twice: as the bot runs
  (matching in its answering thread, costly calls yielding to cheap ones) and with the
  responder called on the event loop instead, as the bot did before.
Prints medians and p95 in milliseconds. Everything is loopback on one event loop, so this
is the bot's and discord.py's own overhead, not Discord's network latency. Flood control
is set out of the way (every member and room may ask at will): it is not what is measured.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import re
import statistics
import string
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.discord.fake_discord

from faqbot.bot import Bot, Handled  # noqa: E402
from faqbot.flood_control import Rate  # noqa: E402
from faqbot.matching.matchers import MATCHERS, load_matcher  # noqa: E402
from faqbot.platforms.discord_bot import DiscordBot, point_at_server  # noqa: E402
from faqbot.responder import IncomingMessage, Responder, ResponderSettings  # noqa: E402
from faqbot.settings import DiscordSettings  # noqa: E402
from faqbot.sources.loader import load_knowledge  # noqa: E402
from faqbot.store import BackgroundRecorder, open_store  # noqa: E402
from tests.discord.fake_discord import CHANNEL_ID, HELP_FORUM_ID, MODERATOR_ID, FakeDiscord, RecordedRequest  # noqa: E402

TOKEN = "bench.token.not-secret"
SEND, CALLBACK = r"/channels/\d+/messages", r"/interactions/\d+/[^/]+/callback"
BUSY_ROOMS = 10
AT_WILL = Rate(1_000_000, 60.0)
T = TypeVar("T")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def made_up_words(rng: random.Random, length: int = 500) -> str:
    """Words no knowledge has: each one costs the matcher a typo search."""
    words: list[str] = []
    while sum(len(w) + 1 for w in words) < length:
        words.append("".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(4, 9))))
    return " ".join(words)


async def first_answered(fake: FakeDiscord, since: int, wanted: Callable[[RecordedRequest], bool]) -> RecordedRequest:
    """The first request the fake answered (200) after its first `since` ones that `wanted` picks.
    Only those newer requests are looked at, so the wait costs the same in the last round as in the first."""

    def found() -> RecordedRequest | None:
        return next((r for r in fake.requests[since:] if r.status == 200 and wanted(r)), None)

    await fake.wait_for_event(lambda: found() is not None, 60)
    answer = found()
    assert answer is not None
    return answer


async def timed(fake: FakeDiscord, method: str, path: str, event: Awaitable[object]) -> float:
    """Seconds from injecting an event to the fake having answered one more matching request."""
    pattern, since = re.compile(path), len(fake.requests)
    start = time.monotonic()
    await event
    answer = await first_answered(fake, since, lambda r: r.method == method and bool(pattern.fullmatch(r.path)))
    return answer.at - start


async def answer_after_busy_rooms(fake: FakeDiscord, question: str, rng: random.Random, member: int) -> float:
    """Seconds until `question` in #help is answered, asked right after the busy rooms' asks."""
    rooms = [await fake.create_thread(CHANNEL_ID) for _ in range(BUSY_ROOMS)]
    busy_before = len(fake.requests_to("POST", SEND, status=200))
    for offset, room in enumerate(rooms):
        await fake.member_says("!faq " + made_up_words(rng), channel_id=room, author_id=member + 1 + offset)
    since, start = len(fake.requests), time.monotonic()
    asked = await fake.member_says("!faq " + question, author_id=member)
    took = await replied(fake, asked, since) - start  # its own answer, not the first of the busy rooms'
    await fake.wait_for_requests("POST", SEND, busy_before + BUSY_ROOMS + 1, timeout=60)  # let the rooms finish
    return took


async def replied(fake: FakeDiscord, asked: dict[str, Any], since: int) -> float:
    """When (time.monotonic) the fake answered the bot's reply to `asked`, among its requests after `since`."""
    answer = await first_answered(fake, since, lambda r: r.method == "POST" and _reply_to(r.json, asked))
    return answer.at


class OnTheLoop(Bot):
    """The same bot calling the responder right on the event loop, as the adapter once did."""

    async def ahandle(self, message: IncomingMessage) -> Handled:
        return self.handle(message)

    async def in_worker(self, work: Callable[..., T], *args: object) -> T:
        return work(*args)


class RunningBot:
    """The fake Discord plus a bot connected to it, for one measurement."""

    def __init__(self, responder: Responder, state: Path | None) -> None:
        self.responder = responder
        self.state = state  # None: no store, nothing recorded
        self.fake = FakeDiscord(TOKEN)

    async def __aenter__(self) -> RunningBot:
        await self.fake.start()
        point_at_server(self.fake.api_base, self.fake.gateway_url)
        state = self.state
        self.recorder = BackgroundRecorder(lambda: open_store(state)).start() if state is not None else None
        self.core = Bot(self.responder, "discord", recorder=self.recorder)
        config = DiscordSettings(token=TOKEN, help_forums=(str(HELP_FORUM_ID),))
        self.bot = DiscordBot(self.core, config, help_grace_seconds=0.0, guild_ready_timeout=0.05)
        self.runner = asyncio.create_task(self.bot.start(TOKEN))
        await self.fake.wait_connected(timeout=30)
        await self.bot.restored.wait()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.bot.drain()  # replies still going out finish before the fake goes away
        await self.bot.close()
        await self.runner
        self.core.close()
        if self.recorder is not None:
            await asyncio.to_thread(self.recorder.close)
        await self.fake.stop()


async def post_answered(fake: FakeDiscord, title: str) -> tuple[float, str]:
    """Seconds from a new help post to the bot's answer in it (grace 0), and the answer's id."""
    since, start = len(fake.requests), time.monotonic()
    post = await fake.open_post(title)
    path = f"/channels/{post.thread_id}/messages"
    answer = await first_answered(fake, since, lambda r: r.method == "POST" and r.path == path)
    answer_id = next(
        m
        for m, message in fake.messages.items()
        if message["channel_id"] == str(post.thread_id) and message["author"]["id"] != post.starter["author"]["id"]
    )
    return answer.at - start, answer_id


async def menu_answered(fake: FakeDiscord, text: str) -> float:
    """Seconds from the context menu on a member's message to the answer replying to it."""
    target = await fake.member_says(text)
    since, start = len(fake.requests), time.monotonic()
    await fake.message_command("Answer with FAQ", target, user_id=MODERATOR_ID)
    return await replied(fake, target, since) - start


def _reply_to(body: Any, target: dict[str, Any]) -> bool:
    return str(((body or {}).get("message_reference") or {}).get("message_id")) == target["id"]


async def measure(knowledge_path: Path, rounds: int, matcher: str, store: bool = True) -> dict[str, list[float]]:
    knowledge = load_knowledge([knowledge_path])
    vectors = load_matcher(matcher)
    settings = ResponderSettings(cooldown_seconds=0, asks_per_member=AT_WILL, asks_per_room=AT_WILL)
    responder = Responder(knowledge, settings, vectors=vectors)
    questions = [e.questions[0] for e in knowledge.entries if e.questions]
    # passive answers only for the phrasings the core is confident about
    confident = [q for q in questions if responder.respond(IncomingMessage(q, "probe", "probe")) is not None]
    if not questions or not confident:
        raise SystemExit(f"no usable questions in {knowledge_path}")
    results: dict[str, list[float]] = {
        "!faq question": [],
        "passive question": [],
        "/faq": [],
        "autocomplete": [],
        "help post": [],
        "solved button": [],
        "context menu": [],
        "!faq, rooms busy": [],
        "same, on the loop": [],
    }
    rng = random.Random(7)
    state = Path(tempfile.mkdtemp(prefix="faqbot-bench-")) if store else None
    async with RunningBot(responder, state) as running:
        fake, core = running.fake, running.core
        on_the_loop = OnTheLoop(responder, "discord")
        for n in range(rounds):
            question, passive = questions[n % len(questions)], confident[n % len(confident)]
            option = [{"name": "question", "type": 3, "value": question}]
            partial = question[: max(3, len(question) // 2)]
            results["!faq question"].append(await timed(fake, "POST", SEND, fake.member_says("!faq " + question)))
            results["passive question"].append(await timed(fake, "POST", SEND, fake.member_says(passive)))
            results["/faq"].append(await timed(fake, "POST", CALLBACK, fake.slash("faq", option)))
            results["autocomplete"].append(
                await timed(fake, "POST", CALLBACK, fake.autocomplete("faq", "question", partial))
            )
            took, answer_id = await post_answered(fake, passive)
            results["help post"].append(took)
            results["solved button"].append(
                await timed(fake, "POST", CALLBACK, fake.press(answer_id, "faqbot:help:solved"))
            )
            results["context menu"].append(await menu_answered(fake, question))
            member = 600000000000000000 + n * 2 * (BUSY_ROOMS + 1)
            results["!faq, rooms busy"].append(await answer_after_busy_rooms(fake, question, rng, member))
            running.bot.core = on_the_loop
            member += BUSY_ROOMS + 1
            results["same, on the loop"].append(await answer_after_busy_rooms(fake, question, rng, member))
            running.bot.core = core
        on_the_loop.close()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--knowledge", type=Path, default=ROOT / "knowledge")
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--matcher", choices=MATCHERS, default="lexical")
    parser.add_argument("--no-store", action="store_true", help="record nothing (what the store costs)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    results = asyncio.run(measure(args.knowledge, args.rounds, args.matcher, store=not args.no_store))
    store = "no store" if args.no_store else "a SQLite store"
    print(
        f"Discord round trip on loopback, {args.rounds} rounds, matcher {args.matcher}, {store}, "
        f"knowledge: {args.knowledge}"
    )
    print(f"{'event':<18} {'n':>5} {'median ms':>10} {'p95 ms':>8}")
    for name, values in results.items():
        median, p95 = statistics.median(values) * 1000, percentile(values, 0.95) * 1000
        print(f"{name:<18} {len(values):>5} {median:>10.2f} {p95:>8.2f}")
    quiet = statistics.median(results["!faq question"])
    busy, on_loop = (statistics.median(results[name]) for name in ("!faq, rooms busy", "same, on the loop"))
    print(f"another room's answer with {BUSY_ROOMS} rooms busy, against quiet (medians):")
    print(f"  answering thread {busy / quiet:.1f}x, on the event loop {on_loop / quiet:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
