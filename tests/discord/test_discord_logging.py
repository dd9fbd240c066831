"""What the Discord bot's log holds at DEBUG: discord.py's own gateway and HTTP logging, through
the log faqbot configures (`configure_logging`), with the real client against the fake Discord.

At DEBUG discord.py logs every gateway payload and every REST request and response; the bot's
token, the reply tokens of interactions and everything members wrote must still stay out.
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterator

import pytest

from faqbot.logging_setup import REDACTED, configure_logging
from tests.discord.conftest import TOKEN, StartBot
from tests.discord.fake_discord import CHANNEL_ID, FakeDiscord
from tests.discord.test_discord_bot import CALLBACK, callback_for, reply_to

LIBRARY_LOGGERS = ("discord", "discord.client", "discord.gateway", "discord.http", "discord.state")


@pytest.fixture
def debug_log() -> Iterator[io.StringIO]:
    """The log as `faqbot run` sets it up at DEBUG, its stderr caught in a buffer; restored afterwards."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    saved_levels = {name: logging.getLogger(name).level for name in LIBRARY_LOGGERS}
    for name in LIBRARY_LOGGERS:  # an earlier test's INFO set-up may have quietened them
        logging.getLogger(name).setLevel(logging.NOTSET)
    written = io.StringIO()
    with contextlib.redirect_stderr(written):  # the handler keeps the stream it was given
        configure_logging("DEBUG", secrets=[TOKEN])
    yield written
    root.handlers[:] = saved_handlers
    root.setLevel(saved_level)
    for name, level in saved_levels.items():
        logging.getLogger(name).setLevel(level)


async def test_debug_log_holds_no_token_reply_token_or_member_text(
    fake: FakeDiscord, debug_log: io.StringIO, start_bot: StartBot
) -> None:
    await start_bot()
    private = {
        "message": "MEMBER-TEXT-message how do I reset my password?",
        "embed": "MEMBER-TEXT-embed",
        "attachment": "MEMBER-TEXT-attachment.png",
        "slash": "MEMBER-TEXT-slash reset password",
        "autocomplete": "MEMBER-TEXT-autocomplete",
        "thread": "MEMBER-TEXT-thread name",
    }
    asked = await fake.member_says(
        private["message"],
        embeds=[{"type": "rich", "description": private["embed"]}],
        attachments=[
            {
                "id": "1",
                "filename": private["attachment"],
                "size": 1,
                "url": "https://cdn.example/a",
                "proxy_url": "https://cdn.example/a",
            }
        ],
    )
    await reply_to(fake, asked)
    slash = await fake.slash("faq", [{"name": "question", "type": 3, "value": private["slash"]}])
    typing = await fake.autocomplete("faq", "question", private["autocomplete"])
    await callback_for(fake, slash)
    await callback_for(fake, typing)
    thread = await fake.create_thread(CHANNEL_ID, name=private["thread"])
    await reply_to(fake, await fake.member_says("!faq help", channel_id=thread))
    fake.rate_limit("POST", r"/channels/\d+/messages", times=1, retry_after=0.1)
    await reply_to(fake, await fake.member_says("!faq reset my password"))
    await fake.drop_gateway()  # the client resumes: the RESUME payload carries the token too
    await fake.wait_connected(timeout=10)
    await reply_to(fake, await fake.member_says("!faq help"))

    log = debug_log.getvalue()
    # discord.py really logged the payloads and the requests, so the checks below mean something
    assert log.count("WebSocket Event") >= 10
    assert "INTERACTION_CREATE" in log and "THREAD_CREATE" in log and "MESSAGE_CREATE" in log
    assert len(fake.requests_to("POST", CALLBACK)) == 2 and "/callback" in log
    assert log.count(REDACTED) >= 10
    for token in (TOKEN, *TOKEN.split("."), slash["token"], typing["token"]):
        assert token not in log
    for what, text in private.items():
        assert "MEMBER-TEXT" not in log, f"the {what} text reached the log"
        assert text not in log


def test_a_log_line_that_cannot_be_written_stays_redacted(
    debug_log: io.StringIO, capsys: pytest.CaptureFixture[str]
) -> None:
    # A library logging arguments that do not fit its format: the standard handler would print
    # the raw arguments to stderr. (Handled directly: pytest's own log handler raises on it.)
    (handler,) = [h for h in logging.getLogger().handlers if getattr(h, "stream", None) is debug_log]
    record = logging.LogRecord("discord.gateway", logging.DEBUG, __file__, 1, "Event %d", ("MEMBER-TEXT",), None)
    handler.handle(record)
    written = debug_log.getvalue() + capsys.readouterr().err
    assert "MEMBER-TEXT" not in written
    assert "a log line from discord.gateway could not be written (TypeError); its text is withheld" in written


def test_at_info_routine_library_lines_go_and_reconnects_are_one_line() -> None:
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    written = io.StringIO()
    try:
        with contextlib.redirect_stderr(written):
            configure_logging("INFO")
        logging.getLogger("discord.client").warning("PyNaCl is not installed, voice will NOT be supported")
        logging.getLogger("discord.client").warning(
            "Application has an interaction endpoint URL set, this means registered components and app commands "
            "will not be received by the library."
        )
        try:
            raise ConnectionResetError(104, "Connection reset by peer")
        except ConnectionResetError as error:
            logging.getLogger("discord.shard").error(
                "Attempting a reconnect for shard ID %s in %.2fs", 1, 3.5, exc_info=error
            )
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
    lines = written.getvalue().splitlines()
    assert len(lines) == 2, lines
    assert "interaction endpoint URL set" in lines[0]  # the operator must see this one
    assert lines[1].endswith(
        "Attempting a reconnect for shard ID 1 in 3.50s (ConnectionResetError: [Errno 104] Connection reset by peer)"
    )
