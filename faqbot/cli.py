"""The `faqbot` command line: ask, list, check, console, eval, run, config, health.

This is the edge: the only place that reads the environment and the config file
(through `faqbot.settings`), and the only place that turns errors into exit
statuses. Every command reports a problem it cannot go on with the same way, one
line on stderr (`faqbot: error: ...`), and exits 2 for what the operator must fix
(settings, paths, a missing extra) and 1 for what went wrong while running.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import json
import logging
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from faqbot import __version__
from faqbot.answer_stats import stats_report
from faqbot.bot import Bot
from faqbot.evaluation import evaluate, format_report, load_labelled_questions
from faqbot.flood_control import Rate
from faqbot.gaps import LexicalSimilarity, SemanticSimilarity, gaps_report
from faqbot.health import Health, Heartbeat
from faqbot.health import check as check_health
from faqbot.learned_phrasings import export_yaml, learned_json, learned_text, read_learned
from faqbot.live_knowledge import KnowledgeWatcher
from faqbot.logging_setup import configure_logging
from faqbot.matching.decision import Mode, Outcome
from faqbot.matching.index import Candidate, MatchIndex
from faqbot.matching.matchers import MATCHERS, MatcherUnavailable, load_matcher
from faqbot.platforms.console import run_console
from faqbot.render import render_plain
from faqbot.responder import IncomingMessage, Reply, ReplyKind, Responder, Verdict
from faqbot.settings import Settings, SettingsError, describe, load_settings
from faqbot.sources.bundled import bundled_knowledge
from faqbot.sources.loader import KnowledgeLoader
from faqbot.sources.model import Knowledge
from faqbot.state_folder import StateFolder, StateFolderError
from faqbot.store.interface import Store, StoreError, StoreMissing
from faqbot.store.recorder import BackgroundRecorder
from faqbot.store.records import LearnedPhrasing

if TYPE_CHECKING:
    from faqbot.matching.vectors import SemanticSource

log = logging.getLogger("faqbot")

EXIT_USAGE = 2
_UNLIMITED = Rate(1_000_000_000, 1.0)


class UsageError(Exception):
    """A command cannot run as asked; the message says what to do (exit status 2)."""


# -- arguments ----------------------------------------------------------------------------


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, metavar="PATH", help="a TOML config file (default: $FAQBOT_CONFIG)")
    common.add_argument(
        "--knowledge",
        action="append",
        type=Path,
        metavar="PATH",
        help="knowledge folder or file (repeatable; default: $FAQBOT_KNOWLEDGE or the bundled knowledge)",
    )
    common.add_argument("--base-url", metavar="URL", help="turns site routes into links (default: $FAQBOT_BASE_URL)")
    common.add_argument(
        "--matcher",
        choices=MATCHERS,
        help="encoder: words and meaning (default); lexical: words only, for small machines ($FAQBOT_MATCHER)",
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="faqbot", description="Answers members' questions from your docs.")
    parser.add_argument("--version", action="version", version=f"faqbot {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    common = [_common_options()]

    ask = commands.add_parser(
        "ask", parents=common, help="what the bot would say to a question (or to each stdin line)"
    )
    ask.add_argument("--mode", choices=[m.value for m in Mode], default=Mode.EXPLICIT.value)
    ask.add_argument("--json", action="store_true", help="one JSON object per question")
    ask.add_argument("question", nargs="*", help="the question; read one per line from stdin when absent")

    listing = commands.add_parser("list", parents=common, help="what `!faq list` shows")
    listing.add_argument("--page", type=int, help="one page, as in chat (default: everything)")

    commands.add_parser("check", parents=common, help="validate knowledge; non-zero exit on errors")
    commands.add_parser("console", parents=common, help="chat with the bot in the terminal")

    evaluation = commands.add_parser("eval", parents=common, help="accuracy on a file of labelled questions")
    evaluation.add_argument("questions", type=Path, help="YAML list of {question, expect: id/route/URL or none}")
    evaluation.add_argument("--failures", type=int, default=50, metavar="N", help="show at most N failures")
    evaluation.add_argument(
        "--fail-under", type=float, metavar="SHARE", help="exit 1 when explicit accuracy is below SHARE (for CI)"
    )
    evaluation.add_argument(
        "--max-false-triggers",
        type=float,
        metavar="SHARE",
        help="exit 1 when more than SHARE of the `expect: none` lines get a passive answer (for CI)",
    )

    run = commands.add_parser("run", parents=common, help="run the bot on a chat platform")
    run.add_argument("platform", choices=["discord", "matrix"])

    commands.add_parser("config", parents=common, help="print the effective configuration, secrets masked")
    commands.add_parser("health", parents=common, help="exit 0 when the running bot's heartbeat is fresh")

    gaps = commands.add_parser("gaps", parents=common, help="what members asked and did not get, grouped")
    stats = commands.add_parser("stats", parents=common, help="per entry: answers, removals, ratings")
    for report in (gaps, stats):
        report.add_argument("--since", type=float, metavar="DAYS", help="only the last DAYS days")
        report.add_argument("--json", action="store_true", help="one JSON object")

    learned = commands.add_parser("learned", parents=common, help="phrasings moderators' corrections taught")
    what = learned.add_mutually_exclusive_group()
    what.add_argument("--json", action="store_true", help="one JSON object")
    what.add_argument("--forget", type=int, metavar="ID", help="delete one learned phrasing")
    what.add_argument("--export", action="store_true", help="print a YAML file to commit to the knowledge folder")

    teach = commands.add_parser("teach", parents=common, help="teach the bot a way of asking for an entry")
    teach.add_argument("question", help="the member's words")
    teach.add_argument("entry", help="the id of the entry that answers them")
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {
        "knowledge.paths": tuple(args.knowledge) if args.knowledge else None,
        "knowledge.base_url": args.base_url.rstrip("/") if args.base_url else None,
        "matching.matcher": args.matcher,
    }
    return load_settings(args.config, overrides=overrides)


# -- what every command builds -------------------------------------------------------------


def _loader(settings: Settings) -> KnowledgeLoader:
    paths = settings.knowledge.paths or (bundled_knowledge(),)
    return KnowledgeLoader(list(paths), settings.knowledge.base_url, settings.knowledge.limits)


def _load(settings: Settings, *, require_entries: bool = True) -> tuple[KnowledgeLoader, Knowledge]:
    """The knowledge, refusing to run on nothing: a mistyped path is an error, not a bot that
    says "Sorry" to everything."""
    loader = _loader(settings)
    missing = [str(path) for path in loader.paths if not path.exists()]
    if missing:
        raise UsageError(f"knowledge not found: {', '.join(missing)} (check --knowledge / FAQBOT_KNOWLEDGE)")
    knowledge = loader.load()
    for problem in knowledge.errors:
        print(f"faqbot: {problem}", file=sys.stderr)
    if require_entries and not knowledge.entries:
        shown = ", ".join(str(path) for path in loader.paths)
        raise UsageError(f"no knowledge entries in {shown}: nothing to answer with (see `faqbot check`)")
    return loader, knowledge


def _semantic(settings: Settings) -> SemanticSource | None:
    """The meaning-based matcher the settings ask for (None: lexical only). The encoder keeps the
    knowledge's vectors in the state folder's `vectors/`, so a restart encodes nothing new."""
    try:
        return load_matcher(settings.matcher, settings.state_dir / "vectors")
    except MatcherUnavailable as error:
        raise UsageError(str(error)) from None


def _watch(settings: Settings, loader: KnowledgeLoader, responder: Responder) -> KnowledgeWatcher | None:
    """Reload knowledge when its files change (every `knowledge.reload_seconds`; 0 turns it off)."""
    if settings.knowledge.reload_seconds <= 0:
        return None
    watcher = KnowledgeWatcher(loader, responder, settings.knowledge.reload_seconds)
    watcher.start()
    return watcher


# -- commands -------------------------------------------------------------------------------


def _candidate_json(candidate: Candidate) -> dict[str, Any]:
    entry = candidate.entry
    return {"id": entry.id, "title": entry.title, "url": entry.url, "score": round(candidate.score, 4)}


def _why_json(verdict: Verdict) -> dict[str, Any]:
    """Why the bot answered or stayed silent: the reason, and the confidence against its bar."""
    decision = verdict.decision
    best = decision.best if decision is not None else None
    return {
        "reason": verdict.why.value,
        "confidence": round(best.confidence, 4) if best is not None else None,
        "bar": decision.bar if decision is not None else None,
    }


def command_ask(args: argparse.Namespace, settings: Settings) -> int:
    _, knowledge = _load(settings)
    mode = Mode(args.mode)
    # A dry run: each question stands alone, with no cooldown and no flood control.
    chat = dataclasses.replace(settings.chat, cooldown_seconds=0, asks_per_member=_UNLIMITED, asks_per_room=_UNLIMITED)
    responder = Responder(knowledge, chat, vectors=_semantic(settings))
    responder.set_learned(_learned_for_a_dry_run(settings))
    questions = [" ".join(args.question)] if args.question else None
    lines = questions if questions is not None else (line.rstrip("\n") for line in sys.stdin)
    for question in lines:
        if not question.strip():
            continue
        message = IncomingMessage(question, "cli", "cli", addressed=mode is Mode.EXPLICIT)
        verdict = responder.consider(message, explain=args.json)
        if args.json:
            decision = verdict.decision
            best = decision.best if decision is not None else None
            record = {
                "question": question,
                "answer": decision is not None and decision.outcome is Outcome.ANSWER,
                "best": _candidate_json(best) if best else None,
                "suggestions": [_candidate_json(c) for c in decision.suggestions] if decision else [],
                "reply": render_plain(verdict.reply) if verdict.reply is not None else None,
                "why": _why_json(verdict),
            }
            print(json.dumps(record, ensure_ascii=False), flush=True)
            continue
        print(render_plain(verdict.reply) if verdict.reply else "(the bot stays silent)", flush=True)
        if questions is None:
            print(flush=True)
    return 0


def command_list(args: argparse.Namespace, settings: Settings) -> int:
    _, knowledge = _load(settings)
    page_size = settings.chat.list_page_size if args.page else max(1, len(knowledge.entries))
    responder = Responder(knowledge, dataclasses.replace(settings.chat, list_page_size=page_size))
    print(render_plain(Reply(ReplyKind.LIST, listing=responder.list_page(args.page or 1))))
    return 0


def command_check(args: argparse.Namespace, settings: Settings) -> int:
    loader = _loader(settings)
    knowledge = loader.load()
    for problem in knowledge.problems:
        print(problem)
    sections = sum(1 for e in knowledge.entries if e.kind == "section")
    print(
        f"{len(knowledge.entries)} entries ({sections} sections), "
        f"{len(knowledge.errors)} errors, {len(knowledge.warnings)} warnings",
        file=sys.stderr,
    )
    return 1 if knowledge.errors else 0


def command_console(args: argparse.Namespace, settings: Settings) -> int:
    """A chat session at the terminal, recorded like a chat platform ("console") so that
    `/good`, `/bad` and corrections reach the store as they would from chat."""
    loader, knowledge = _load(settings)
    responder = Responder(knowledge, settings.chat, vectors=_semantic(settings))
    watcher = _watch(settings, loader, responder)
    try:
        StateFolder.open(settings.state_dir)
    except StateFolderError as error:
        raise UsageError(str(error)) from None
    recorder = BackgroundRecorder(settings.store.open).start()
    bot = Bot(responder, "console", recorder=recorder, reload=loader.load)
    bot.restore()
    try:
        return run_console(bot, sys.stdin, sys.stdout, interactive=sys.stdin.isatty())
    finally:
        if watcher is not None:
            watcher.stop()
        bot.close()
        recorder.close()


def command_eval(args: argparse.Namespace, settings: Settings) -> int:
    _, knowledge = _load(settings)
    questions, problems = load_labelled_questions(args.questions)
    for problem in problems:
        print(f"faqbot: {problem}", file=sys.stderr)
    if not questions:
        raise UsageError(f"no labelled questions to evaluate in {args.questions}")
    responder = Responder(knowledge, settings.chat, vectors=_semantic(settings))
    responder.set_learned(_learned_for_a_dry_run(settings))
    report = evaluate(responder.index, questions)
    print(format_report(report, show_failures=args.failures))
    failed = []
    if args.fail_under is not None and report.in_scope and report.explicit_accuracy() < args.fail_under:
        failed.append(f"explicit accuracy {report.explicit_accuracy():.1%} is below {args.fail_under:.1%}")
    limit = args.max_false_triggers
    if limit is not None and report.out_of_scope and report.false_triggers() > limit:
        failed.append(f"false triggers {report.false_triggers():.1%} are above {limit:.1%}")
    for reason in failed:
        print(f"faqbot: {reason}", file=sys.stderr)
    return 1 if failed else 0


def command_config(args: argparse.Namespace, settings: Settings) -> int:
    print(describe(settings))
    missing = [str(path) for path in settings.knowledge.paths if not path.exists()]
    if missing:
        raise UsageError(f"knowledge.paths: not found: {', '.join(missing)}")
    return 0


def command_health(args: argparse.Namespace, settings: Settings) -> int:
    healthy, why = check_health(StateFolder(settings.state_dir), settings.heartbeat_seconds)
    print(f"faqbot: {why}", file=sys.stdout if healthy else sys.stderr)
    return 0 if healthy else 1


def _learned_for_a_dry_run(settings: Settings) -> list[LearnedPhrasing]:
    """What moderators taught the running bot, read without changing the store, so a dry run
    says what the bot would say. A store that cannot be read costs only a warning."""
    try:
        return read_learned(settings.store)
    except StoreError as error:
        print(f"faqbot: warning: answering without learned phrasings: {error}", file=sys.stderr)
        return []


def _read_store(settings: Settings) -> Store | None:
    """The store for a report, opened read-only; None when the bot has recorded nothing yet."""
    try:
        return settings.store.open(read_only=True)
    except StoreMissing:
        return None
    except StoreError as error:
        raise UsageError(f"cannot read the store: {error}") from None


def command_gaps(args: argparse.Namespace, settings: Settings) -> int:
    _, knowledge = _load(settings)
    store = _read_store(settings)
    if store is None:
        print(json.dumps({"groups": []}) if args.json else "Nothing recorded yet: run the bot first.")
        return 0
    try:
        source = _semantic(settings)
        similarity = SemanticSimilarity(source) if source is not None else LexicalSimilarity()
        index = MatchIndex(knowledge.entries, vectors=source)
        report = gaps_report(store, index=index, similarity=similarity, since_days=args.since)
    finally:
        store.close()
    print(json.dumps(report.to_json(), ensure_ascii=False) if args.json else report.to_text())
    return 0


def command_stats(args: argparse.Namespace, settings: Settings) -> int:
    store = _read_store(settings)
    if store is None:
        print(json.dumps({"entries": []}) if args.json else "Nothing recorded yet: run the bot first.")
        return 0
    try:
        report = stats_report(store, since_days=args.since)
    finally:
        store.close()
    print(json.dumps(report.to_json(), ensure_ascii=False) if args.json else report.to_text())
    return 0


def command_learned(args: argparse.Namespace, settings: Settings) -> int:
    _, knowledge = _load(settings)
    if args.forget is not None:
        try:
            store = settings.store.open()
        except StoreError as error:
            raise UsageError(f"cannot open the store: {error}") from None
        try:
            forgotten = store.forget_phrasing(args.forget)
        finally:
            store.close()
        if not forgotten:
            raise UsageError(f"no learned phrasing {args.forget} (see `faqbot learned`)")
        print(f"Forgot learned phrasing {args.forget}; a running bot drops it at its next `!faq reload`.")
        return 0
    learned = _learned_for_a_dry_run(settings)
    if args.export:
        print(export_yaml(learned, knowledge, time.strftime("%Y-%m-%d")), end="")
    elif args.json:
        print(json.dumps(learned_json(learned, knowledge), ensure_ascii=False))
    else:
        print(learned_text(learned, knowledge))
    return 0


def command_teach(args: argparse.Namespace, settings: Settings) -> int:
    """The same path as a moderator's correction in chat: the responder learns, the store keeps it."""
    _, knowledge = _load(settings)
    if knowledge.by_id(args.entry) is None:
        close = difflib.get_close_matches(args.entry, [e.id for e in knowledge.entries], n=1)
        hint = f" (did you mean {close[0]}?)" if close else " (see `faqbot list`)"
        raise UsageError(f"no entry with id '{args.entry}'{hint}")
    try:
        StateFolder.open(settings.state_dir)
    except StateFolderError as error:
        raise UsageError(str(error)) from None
    recorder = BackgroundRecorder(settings.store.open).start()
    responder = Responder(knowledge, settings.chat, vectors=_semantic(settings))
    bot = Bot(responder, "cli", recorder=recorder)
    bot.restore()
    taught = bot.teach(args.question, args.entry)
    recorder.close()
    bot.close()
    if not taught or recorder.written == 0:
        raise UsageError("the store did not keep it (see the messages above)")
    print(f"Learned: “{args.question}” → {args.entry}")
    return 0


_EXTRAS = {"discord": ("discord", "discord.py"), "matrix": ("nio", "matrix-nio")}


class _Terminated(Exception):
    """SIGTERM before the bot's event loop runs (loading knowledge, the model): a clean stop."""


def _terminated(signum: int, frame: object) -> None:
    raise _Terminated


def command_run(args: argparse.Namespace, settings: Settings) -> int:
    # Until the adapter's loop takes signals over (platforms/lifecycle.py), SIGTERM ends start-up
    # cleanly: loading the knowledge and the encoder can take seconds, and `docker stop` or
    # systemd must not have to kill the process.
    signal.signal(signal.SIGTERM, _terminated)
    platform = args.platform
    secrets = [settings.discord.token, settings.matrix.access_token, settings.matrix.password]
    configure_logging(settings.log_level, settings.log_format == "json", [s for s in secrets if s])
    settings.require_discord() if platform == "discord" else settings.require_matrix()
    module, package = _EXTRAS[platform]
    try:
        __import__(module)
    except ImportError:
        raise UsageError(f"the {platform} bot needs {package}: pip install 'faqbot[{platform}]'") from None
    try:
        state = StateFolder.open(settings.state_dir)
    except StateFolderError as error:
        raise UsageError(str(error)) from None
    log.info("faqbot %s; state folder %s", __version__, state.path.resolve())
    loader, knowledge = _load(settings)
    log.info("loaded %d entries from %s", len(knowledge.entries), ", ".join(str(p) for p in loader.paths))
    responder = Responder(knowledge, settings.chat, vectors=_semantic(settings))
    watcher = _watch(settings, loader, responder)
    health = Health(platform)
    heartbeat = Heartbeat(state, health)
    # The store's writer opens the store in its own thread and keeps retrying: a database that is
    # down delays records, never the bot (see faqbot/store/recorder.py).
    recorder = BackgroundRecorder(settings.store.open).start()
    bot = Bot(responder, platform, recorder=recorder, reload=loader.load)
    log.info("store: %s", settings.store.database_url or settings.store.target)
    try:
        if platform == "discord":
            from faqbot.platforms.discord_bot import main as run_discord

            return run_discord(bot, settings, state, health, heartbeat)
        from faqbot.platforms.matrix_bot import main as run_matrix

        return run_matrix(bot, settings, state, health, heartbeat)
    finally:
        if watcher is not None:
            watcher.stop()
        bot.close()
        recorder.close()


COMMANDS = {
    "ask": command_ask,
    "list": command_list,
    "check": command_check,
    "console": command_console,
    "eval": command_eval,
    "run": command_run,
    "config": command_config,
    "health": command_health,
    "gaps": command_gaps,
    "stats": command_stats,
    "learned": command_learned,
    "teach": command_teach,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = _settings(args)
        return COMMANDS[args.command](args, settings)
    except (UsageError, SettingsError) as error:
        print(f"faqbot: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except _Terminated:
        log.info("received SIGTERM while starting: stopped")
        return 0
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
