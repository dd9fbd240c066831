"""The responder path the adapters use, fed a chat stream: messages per second, worst cases, memory.

    python bench/throughput.py [--shared ../shared] [--matcher encoder|lexical] [--messages 100000]
                               [--hostile 100000]

Knowledge: the vmst.io docs tree. Every message goes through `Responder.consider`, as the
Discord and Matrix adapters send it (cooldowns and flood control included), on one core
(the process is pinned to one CPU). Two streams, in the same run:

- *chat*: the IRC `dev/` and `test/` logs in order, repeated until `--messages` lines
  (each repetition in new conversations, so cooldowns start afresh), with our vmst.io
  member questions mixed in (one every 40 lines), many conversations at once (one per
  channel log per repetition). A line that opens with the nick of someone else in its
  log is said to them, as a platform marks a reply or a mention.
- *hostile*: `--hostile` messages cycling through what an attacker or a broken client
  sends: 60 KB and 1 MB messages, thousands of unknown words, words of 10,000 characters,
  many typos, combining marks, RTL overrides, lone surrogates, mass mentions; each as
  plain chat, as `!faq ...` and as a mention of the bot (addressed), from 5,000 senders in 5 rooms.

Prints messages per second (median of per-chunk rates, and overall), the worst time
for one message and which input it was, the share answered, and peak memory (the
process's maximum resident set, after loading and after each stream). The lexical
matcher runs the same chat stream first, in the same process, as the baseline.
"""

from __future__ import annotations

import os

# Measured on one core (the process pins itself to one CPU): a BLAS that starts a thread per
# core would run its threads on that one CPU and fight over it. Read when numpy loads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import csv
import random
import resource
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from datasets import DEFAULT_SHARED, vmstio_knowledge

from faqbot.evaluation import load_labelled_questions
from faqbot.matching.matchers import DEFAULT_MATCHER, MATCHERS, load_matcher
from faqbot.matching.text import addressee
from faqbot.responder import IncomingMessage, Responder
from faqbot.sources.model import Knowledge

QUESTION_EVERY = 40
CHUNK = 1000


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def member_questions() -> list[str]:
    here = Path(__file__).resolve().parent / "vmstio"
    found = []
    for split in ("dev", "test"):
        questions, _ = load_labelled_questions(here / f"questions-{split}.yaml")
        found += [q.question for q in questions if q.in_scope]
    return found


def chat_stream(shared: Path, count: int) -> Iterator[tuple[str, IncomingMessage]]:
    """(kind, message): IRC lines in log order, repeated, with member questions mixed in."""
    with (shared / "benchmarks" / "irc" / "messages.tsv").open(encoding="utf-8", newline="") as handle:
        rows = [
            r
            for r in csv.DictReader(handle, delimiter="\t")
            if r["channel_file"].split("/")[0] in ("dev", "test") and r["text"] and r["text"].strip()
        ]
    members: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        members[row["channel_file"]].add(row["speaker"].casefold())
    questions = member_questions()
    sent = 0
    repetition = 0
    while True:
        for number, row in enumerate(rows):
            room = f"{row['channel_file']}#{repetition}"
            others = members[row["channel_file"]] - {row["speaker"].casefold()}
            to_someone = addressee(row["text"]) in others
            yield "irc", IncomingMessage(row["text"], room, row["speaker"], to_someone_else=to_someone)
            sent += 1
            if sent >= count:
                return
            if number % QUESTION_EVERY == 0:
                question = questions[(sent // QUESTION_EVERY) % len(questions)]
                yield "member question", IncomingMessage(question, room, "@member")
                sent += 1
                if sent >= count:
                    return
        repetition += 1


def hostile_inputs(rng: random.Random) -> list[tuple[str, str]]:
    """(name, text) of the kinds of message an attacker or a broken client sends."""
    letters = "abcdefghijklmnopqrstuvwxyz"

    def junk_word(length: int) -> str:
        return "".join(rng.choice(letters) for _ in range(length))

    question = "do you block threads? "
    typos = " ".join(
        "".join(c if rng.random() > 0.3 else rng.choice(letters) for c in w)
        for w in ("how", "do", "i", "donate", "to", "the", "server", "and", "block", "threads", "bluesky") * 30
    )
    return [
        ("60 KB of words", question + " ".join(junk_word(6) for _ in range(60_000 // 7))),
        ("1 MB of words", question + " ".join(junk_word(7) for _ in range(1_000_000 // 8))),
        ("thousands of unknown words", " ".join(junk_word(rng.randint(4, 12)) for _ in range(3000)) + "?"),
        ("60 unknown words", " ".join(junk_word(rng.randint(5, 12)) for _ in range(60)) + "?"),
        ("words of 10,000 characters", f"{junk_word(10_000)} {junk_word(10_000)} threads?"),
        ("one word of 10,000 characters", junk_word(10_000) + "?"),
        ("many typos", typos[:480] + "?"),
        ("combining marks", "wh\u0301\u0302\u0303at " * 5 + "a\u0300" * 2000 + " funding?"),
        ("RTL overrides", "\u202eis there \u202dmoderation\u202c " * 40 + "?"),
        ("lone surrogates", "who pays \ud800 for \udfff this \udbff server?" * 10),
        ("zero-width and bidi marks", "do\u200b you\u200d block\u2066 threads\u2069\ufeff?" * 20),
        ("mass mentions", " ".join(f"@user{n}:example.org" for n in range(400)) + " who runs this?"),
        ("@everyone", "@everyone @here who pays for this server?"),
        ("only punctuation", "?!" * 30_000),
        ("emoji flood", "\U0001f600\U0001f3f3\ufe0f\u200d\U0001f308" * 5000 + "?"),
        ("NUL and control bytes", "who\x00 pays\x1b[31m for\x07 this?" * 50),
    ]


def hostile_stream(count: int, seed: int = 0) -> Iterator[tuple[str, IncomingMessage]]:
    """`count` hostile messages: each input as plain chat, `!faq ...` and addressed, many senders."""
    rng = random.Random(seed)
    variants = [hostile_inputs(rng) for _ in range(4)]  # building a 1 MB message takes a second: a few variants
    for number in range(count):
        inputs = variants[(number // 16) % len(variants)]
        name, text = inputs[number % len(inputs)]
        text = f"{number:x} {text}"  # every message differs, so no cache answers it
        how = (number // len(inputs)) % 3
        sender, room = f"@attacker{number % 5000}", f"room{number % 5}"  # a flood hits a few rooms
        if how == 0:
            yield f"{name}, plain chat", IncomingMessage(text, room, sender)
        elif how == 1:
            yield f"{name}, as !faq", IncomingMessage("!faq " + text, room, sender)
        else:
            yield f"{name}, addressed", IncomingMessage(text, room, sender, addressed=True)


def run(responder: Responder, stream: Iterator[tuple[str, IncomingMessage]]) -> dict[str, object]:
    chunk_rates, worst, answered, total = [], (0.0, ""), defaultdict(int), defaultdict(int)
    started = chunk_started = time.perf_counter()
    count = 0
    for kind, message in stream:
        before = time.perf_counter()
        verdict = responder.consider(message)
        took = time.perf_counter() - before
        if took > worst[0]:
            worst = (took, kind)
        total[kind.split(",")[0]] += 1
        answered[kind.split(",")[0]] += verdict.reply is not None
        count += 1
        if count % CHUNK == 0:
            now = time.perf_counter()
            chunk_rates.append(CHUNK / (now - chunk_started))
            chunk_started = now
    elapsed = time.perf_counter() - started
    return {
        "count": count,
        "rate": count / elapsed,
        "median_rate": statistics.median(chunk_rates) if chunk_rates else count / elapsed,
        "worst": worst,
        "answered": {k: answered[k] / total[k] for k in total},
        "peak": peak_mb(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    parser.add_argument("--matcher", choices=MATCHERS, default=DEFAULT_MATCHER)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--hostile", type=int, default=100_000)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    knowledge = Knowledge(vmstio_knowledge(args.shared))
    baseline = None
    if args.matcher != "lexical":  # the light matcher on the same chat, first (its memory is a subset)
        baseline = run(Responder(knowledge), chat_stream(args.shared, args.messages))
    started = time.perf_counter()
    responder = Responder(knowledge, vectors=load_matcher(args.matcher))
    print(
        f"matcher {args.matcher}: {len(responder.knowledge.entries)} entries loaded and indexed in "
        f"{time.perf_counter() - started:.1f} s; peak memory {peak_mb():.0f} MB"
    )
    for name, stream in (
        ("chat (IRC + member questions)", chat_stream(args.shared, args.messages)),
        ("hostile", hostile_stream(args.hostile)),
    ):
        result = run(responder, stream)
        if baseline is not None and name.startswith("chat"):
            print(
                f"lexical baseline, same chat: {baseline['rate']:,.0f} msg/s overall (median of chunks "
                f"{baseline['median_rate']:,.0f}); {args.matcher} / lexical: {result['rate'] / baseline['rate']:.2f}"
            )
        worst_time, worst_kind = result["worst"]
        shares = ", ".join(f"{k} {v:.2%}" for k, v in sorted(result["answered"].items()))
        print(
            f"{name}: {result['count']:,} messages, {result['rate']:,.0f} msg/s overall "
            f"(median of {CHUNK:,}-message chunks {result['median_rate']:,.0f}); worst {worst_time * 1000:.1f} ms "
            f"({worst_kind}); answered: {shares}; peak memory {result['peak']:.0f} MB",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
