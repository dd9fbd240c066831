"""A chat-like terminal session on the same core the chat adapters use."""

from __future__ import annotations

from typing import TextIO

from faqbot.render import render_plain
from faqbot.responder import IncomingMessage, Responder

BOT_NAME = "faqbot"
_MENTION_PREFIXES = ("@faqbot", "faqbot:", "faqbot,")
_QUIT_WORDS = {"/quit", "/exit", "quit", "exit"}


def _strip_mention(text: str) -> tuple[str, bool]:
    """A line that starts by naming the bot is an explicit ask, like a chat mention."""
    lowered = text.lower()
    for prefix in _MENTION_PREFIXES:
        if lowered.startswith(prefix):
            return text[len(prefix) :].lstrip(" :,"), True
    return text, False


def run_console(responder: Responder, stdin: TextIO, stdout: TextIO, interactive: bool) -> int:
    """Read chat lines until end of input; print what the bot would say to each."""
    if interactive:
        count = len(responder.knowledge.entries)
        stdout.write(
            f"{BOT_NAME} console: {count} entries loaded. Type a question as you would in chat;\n"
            f"'{responder.settings.command_prefix} help' for commands, '@{BOT_NAME} ...' to ask me directly, "
            "Ctrl-D to leave.\n"
        )
    while True:
        if interactive:
            stdout.write("you> ")
            stdout.flush()
        line = stdin.readline()
        if not line:
            break
        text = line.strip()
        if not text:
            continue
        if text.lower() in _QUIT_WORDS:
            break
        text, addressed = _strip_mention(text)
        reply = responder.respond(IncomingMessage(text, "console", "console-user", addressed=addressed))
        if reply is None:
            if interactive:
                stdout.write(f"({BOT_NAME} stays quiet)\n")
            continue
        body = render_plain(reply).replace("\n", "\n    ")
        stdout.write(f"{BOT_NAME}> {body}\n")
        stdout.flush()
    if interactive:
        stdout.write("\n")
    return 0
