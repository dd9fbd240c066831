"""A chat-like terminal session on the same core the chat adapters use.

The person at the console is a moderator (they run the bot), so moderator commands
work here, and `/good` and `/bad` rate the last answer as 👍 and 👎 do in chat.
"""

from __future__ import annotations

import itertools
from typing import TextIO

from faqbot.bot import Bot
from faqbot.render import render_plain
from faqbot.responder import IncomingMessage

BOT_NAME = "faqbot"
CONSOLE_USER = "console-user"
_MENTION_PREFIXES = ("@faqbot", "faqbot:", "faqbot,")
_QUIT_WORDS = {"/quit", "/exit", "quit", "exit"}
_RATINGS = {"/good": True, "/bad": False}


def _strip_mention(text: str) -> tuple[str, bool]:
    """A line that starts by naming the bot is an explicit ask, like a chat mention."""
    lowered = text.lower()
    for prefix in _MENTION_PREFIXES:
        if lowered.startswith(prefix):
            return text[len(prefix) :].lstrip(" :,"), True
    return text, False


def run_console(bot: Bot, stdin: TextIO, stdout: TextIO, interactive: bool) -> int:
    """Read chat lines until end of input; print what the bot would say to each."""
    responder = bot.responder
    if interactive:
        count = len(responder.knowledge.entries)
        stdout.write(
            f"{BOT_NAME} console: {count} entries loaded. Type a question as you would in chat;\n"
            f"'{responder.settings.command_prefix} help' for commands, '@{BOT_NAME} ...' to ask me directly, "
            "/good or /bad about my last answer, Ctrl-D to leave.\n"
        )
    numbers = itertools.count(1)
    last_answer: str | None = None
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
        if text.lower() in _RATINGS:
            if last_answer is None:
                stdout.write(f"{BOT_NAME}> There is no answer of mine to rate yet.\n")
            else:
                bot.rated(last_answer, CONSOLE_USER, _RATINGS[text.lower()])
                stdout.write(f"{BOT_NAME}> Thanks, noted.\n")
            continue
        text, addressed = _strip_mention(text)
        number = next(numbers)
        message = IncomingMessage(
            text, "console", CONSOLE_USER, addressed=addressed, message_id=f"line-{number}", moderator=True
        )
        handled = bot.handle(message)
        reply_id = f"reply-{number}" if handled.reply is not None else None
        bot.sent(message, handled, reply_id)
        if handled.reply is None:
            if interactive:
                stdout.write(f"({BOT_NAME} stays quiet)\n")
            continue
        if handled.reply.entry is not None:
            last_answer = reply_id
        body = render_plain(handled.reply).replace("\n", "\n    ")
        stdout.write(f"{BOT_NAME}> {body}\n")
        stdout.flush()
    if interactive:
        stdout.write("\n")
    return 0
