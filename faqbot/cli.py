"""The `faqbot` command line: ask, list, check, console, eval, run."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from faqbot.evaluation import evaluate, format_report, load_labelled_questions
from faqbot.flood_control import Rate
from faqbot.live_knowledge import KnowledgeWatcher
from faqbot.matching.decision import Mode, Outcome
from faqbot.matching.index import Candidate, MatchIndex
from faqbot.matching.matchers import DEFAULT_MATCHER, MATCHERS, MatcherUnavailable, load_matcher
from faqbot.platforms.console import run_console
from faqbot.render import render_plain
from faqbot.responder import IncomingMessage, Reply, ReplyKind, Responder, ResponderSettings, Verdict
from faqbot.sources.loader import KnowledgeLoader, default_knowledge_path
from faqbot.sources.model import Knowledge

if TYPE_CHECKING:
    from faqbot.matching.vectors import SemanticSource

log = logging.getLogger("faqbot")


def _knowledge_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--knowledge",
        action="append",
        type=Path,
        metavar="PATH",
        help="knowledge folder or file (repeatable; default: $FAQBOT_KNOWLEDGE or the bundled knowledge/)",
    )
    parser.add_argument("--base-url", metavar="URL", help="turns site routes into links (default: $FAQBOT_BASE_URL)")
    parser.add_argument(
        "--matcher",
        choices=MATCHERS,
        default=os.environ.get("FAQBOT_MATCHER") or DEFAULT_MATCHER,
        help="encoder: words and meaning (default); lexical: words only, for small machines ($FAQBOT_MATCHER)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="faqbot", description="Answers members' questions from your docs.")
    commands = parser.add_subparsers(dest="command", required=True)

    ask = commands.add_parser("ask", help="what the bot would say to a question (or to each line of stdin)")
    _knowledge_options(ask)
    ask.add_argument("--mode", choices=[m.value for m in Mode], default=Mode.EXPLICIT.value)
    ask.add_argument("--json", action="store_true", help="one JSON object per question")
    ask.add_argument("question", nargs="*", help="the question; read one per line from stdin when absent")

    listing = commands.add_parser("list", help="what `!faq list` shows")
    _knowledge_options(listing)
    listing.add_argument("--page", type=int, help="one page, as in chat (default: everything)")

    check = commands.add_parser("check", help="validate knowledge; non-zero exit on errors")
    _knowledge_options(check)

    console = commands.add_parser("console", help="chat with the bot in the terminal")
    _knowledge_options(console)

    evaluation = commands.add_parser("eval", help="accuracy on a file of labelled questions")
    _knowledge_options(evaluation)
    evaluation.add_argument("questions", type=Path, help="YAML list of {question, expect: id/route/URL or none}")
    evaluation.add_argument("--failures", type=int, default=50, metavar="N", help="show at most N failures")

    run = commands.add_parser("run", help="run the bot on a chat platform (configured by environment)")
    _knowledge_options(run)
    run.add_argument("platform", choices=["discord", "matrix"])
    return parser


def _loader(args: argparse.Namespace) -> KnowledgeLoader:
    paths = args.knowledge
    if not paths:
        from_env = os.environ.get("FAQBOT_KNOWLEDGE")
        paths = [Path(p) for p in from_env.split(os.pathsep) if p] if from_env else [default_knowledge_path()]
    return KnowledgeLoader(paths, args.base_url or os.environ.get("FAQBOT_BASE_URL") or None)


def _load(args: argparse.Namespace) -> Knowledge:
    return _loader(args).load()


_UNLIMITED = Rate(1_000_000_000, 1.0)


class UsageError(Exception):
    """A command cannot run as asked; the message says what to do."""


def vector_cache_dir() -> Path:
    """Where the encoder keeps the knowledge's vectors between runs: the state folder's `vectors/`."""
    return Path(os.environ.get("FAQBOT_STATE_DIR") or "faqbot-state") / "vectors"


def _semantic(args: argparse.Namespace) -> SemanticSource | None:
    """The meaning-based matcher asked for (None: lexical only)."""
    try:
        return load_matcher(args.matcher, vector_cache_dir())
    except MatcherUnavailable as error:
        raise UsageError(str(error)) from None


def _watch(loader: KnowledgeLoader, responder: Responder) -> KnowledgeWatcher | None:
    """Reload knowledge when its files change (every FAQBOT_RELOAD_SECONDS, default 2; 0 turns it off)."""
    try:
        interval = float(os.environ.get("FAQBOT_RELOAD_SECONDS", "2") or 2)
    except ValueError:
        interval = 2.0
    if interval <= 0:
        return None
    watcher = KnowledgeWatcher(loader, responder, interval)
    watcher.start()
    return watcher


def _report_load_errors(knowledge: Knowledge) -> None:
    for problem in knowledge.errors:
        print(f"faqbot: {problem}", file=sys.stderr)


def _candidate_json(candidate: Candidate) -> dict[str, Any]:
    entry = candidate.entry
    return {"id": entry.id, "title": entry.title, "url": entry.url, "score": round(candidate.score, 4)}


def _questions(args: argparse.Namespace) -> list[str] | None:
    if args.question:
        return [" ".join(args.question)]
    return None


def _why_json(verdict: Verdict) -> dict[str, Any]:
    """Why the bot answered or stayed silent: the reason, and the confidence against its bar."""
    decision = verdict.decision
    best = decision.best if decision is not None else None
    return {
        "reason": verdict.why.value,
        "confidence": round(best.confidence, 4) if best is not None else None,
        "bar": decision.bar if decision is not None else None,
    }


def command_ask(args: argparse.Namespace) -> int:
    knowledge = _load(args)
    _report_load_errors(knowledge)
    mode = Mode(args.mode)
    # A dry run: each question stands alone, with no cooldown and no flood control.
    settings = ResponderSettings(cooldown_seconds=0, asks_per_member=_UNLIMITED, asks_per_room=_UNLIMITED)
    responder = Responder(knowledge, settings, vectors=_semantic(args))
    questions = _questions(args)
    lines = questions if questions is not None else (line.rstrip("\n") for line in sys.stdin)
    for question in lines:
        if not question.strip():
            continue
        message = IncomingMessage(question, "cli", "cli", addressed=mode is Mode.EXPLICIT)
        verdict = responder.consider(message, explain=args.json)
        if args.json:
            decision = verdict.decision
            ranked_best = decision.best if decision is not None else None
            record = {
                "question": question,
                "answer": decision is not None and decision.outcome is Outcome.ANSWER,
                "best": _candidate_json(ranked_best) if ranked_best else None,
                "suggestions": [_candidate_json(c) for c in decision.suggestions] if decision else [],
                "reply": render_plain(verdict.reply) if verdict.reply is not None else None,
                "why": _why_json(verdict),
            }
            print(json.dumps(record, ensure_ascii=False), flush=True)
            continue
        reply = verdict.reply
        print(render_plain(reply) if reply else "(the bot stays silent)", flush=True)
        if questions is None:
            print(flush=True)
    return 0


def command_list(args: argparse.Namespace) -> int:
    knowledge = _load(args)
    _report_load_errors(knowledge)
    page_size = args.page and ResponderSettings().list_page_size
    settings = ResponderSettings(list_page_size=page_size or max(1, len(knowledge.entries)))
    responder = Responder(knowledge, settings)
    listing = responder.list_page(args.page or 1)
    print(render_plain(Reply(ReplyKind.LIST, listing=listing)))
    return 0


def command_check(args: argparse.Namespace) -> int:
    knowledge = _load(args)
    for problem in knowledge.problems:
        print(problem)
    sections = sum(1 for e in knowledge.entries if e.kind == "section")
    print(
        f"{len(knowledge.entries)} entries ({sections} sections), "
        f"{len(knowledge.errors)} errors, {len(knowledge.warnings)} warnings",
        file=sys.stderr,
    )
    return 1 if knowledge.errors else 0


def command_console(args: argparse.Namespace) -> int:
    loader = _loader(args)
    knowledge = loader.load()
    _report_load_errors(knowledge)
    responder = Responder(knowledge, vectors=_semantic(args))
    _watch(loader, responder)
    return run_console(responder, sys.stdin, sys.stdout, interactive=sys.stdin.isatty())


def command_eval(args: argparse.Namespace) -> int:
    knowledge = _load(args)
    _report_load_errors(knowledge)
    questions, problems = load_labelled_questions(args.questions)
    for problem in problems:
        print(f"faqbot: {problem}", file=sys.stderr)
    if not questions:
        print("faqbot: no labelled questions to evaluate", file=sys.stderr)
        return 1
    report = evaluate(MatchIndex(knowledge.entries, vectors=_semantic(args)), questions)
    print(format_report(report, show_failures=args.failures))
    return 0


def command_run(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=os.environ.get("FAQBOT_LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    loader = _loader(args)
    knowledge = loader.load()
    for problem in knowledge.errors:
        log.warning("knowledge: %s", problem)
    log.info("loaded %d entries", len(knowledge.entries))
    settings = ResponderSettings()
    cooldown = os.environ.get("FAQBOT_COOLDOWN_SECONDS", "").strip()
    if cooldown:
        try:
            seconds = float(cooldown)
        except ValueError:
            seconds = -1.0
        if seconds < 0:
            print(f"faqbot: FAQBOT_COOLDOWN_SECONDS must be a number of seconds (got {cooldown!r})", file=sys.stderr)
            return 2
        settings = dataclasses.replace(settings, cooldown_seconds=seconds)
    responder = Responder(knowledge, settings, vectors=_semantic(args))
    _watch(loader, responder)
    if args.platform == "discord":
        from faqbot.platforms.discord_bot import main as run_discord

        return run_discord(responder, os.environ)
    from faqbot.platforms.matrix_bot import main as run_matrix

    return run_matrix(responder, os.environ)


COMMANDS = {
    "ask": command_ask,
    "list": command_list,
    "check": command_check,
    "console": command_console,
    "eval": command_eval,
    "run": command_run,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except UsageError as error:
        print(f"faqbot: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
