"""Why a chat server could not be reached, in one line an operator can act on.

Both chat libraries (discord.py, matrix-nio) talk through aiohttp, whose exceptions
carry the cause several layers deep and print as screens of traceback. At start-up the
bot retries within a time budget (`faqbot.backoff.retry_until`); each retry is logged
with the sentence built here, which names the URL and says what happened: the name
does not resolve, nothing listens there, TLS failed, the answer is not HTTP, nothing
came back in time.
"""

from __future__ import annotations

import socket
import ssl

import aiohttp
import yarl

_QUOTED_CHARS = 160  # a server's or a library's text quoted in our log line; some quote whole keys back


def one_line(text: str, limit: int = _QUOTED_CHARS) -> str:
    """`text` on one line, cut to `limit` characters: for a log line that quotes a server."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def host_of(url: str) -> str:
    return yarl.URL(url).host or url


def describe_network_error(url: str, error: BaseException, timeout: float | None = None) -> str | None:
    """One line for an error reaching `url`, or None when `error` is not about reaching it
    (a bug, a local disk or encryption store problem), which retrying would not fix.

    `timeout` is what the attempt was given, for a timed-out attempt."""
    host = host_of(url)
    if isinstance(error, TimeoutError):  # asyncio's and aiohttp's timeouts are TimeoutErrors too
        within = f" within {timeout:g} s" if timeout is not None else ""
        return f"{url} did not answer{within}"
    if isinstance(error, aiohttp.ClientConnectorError):
        cause = error.os_error
        if isinstance(cause, socket.gaierror):
            return f"cannot reach {url}: the name {host} does not resolve (DNS: {_reason(cause)})"
        if isinstance(error, aiohttp.ClientConnectorCertificateError):
            detail = one_line(str(error.certificate_error))
            return f"cannot reach {url}: the TLS certificate of {host} is not trusted here ({detail})"
        if isinstance(error, aiohttp.ClientSSLError) or isinstance(cause, ssl.SSLError):
            return f"cannot reach {url}: the TLS handshake failed (does {host} speak https on that port?)"
        if isinstance(cause, ConnectionRefusedError):
            return f"cannot reach {url}: connection refused (nothing listens on {host}:{error.port})"
        return f"cannot reach {url}: {_reason(cause)}"
    if isinstance(error, aiohttp.ServerDisconnectedError):
        return f"{url} closed the connection without answering (plain http to an https port?)"
    if isinstance(error, aiohttp.WSServerHandshakeError):
        return f"{url} did not accept a websocket (HTTP {error.status}): is this the gateway's URL?"
    if isinstance(error, aiohttp.ClientResponseError | aiohttp.ClientPayloadError):
        return f"{url} answered something that is not HTTP (the wrong port, or http to an https server?)"
    if isinstance(error, aiohttp.ClientError | ConnectionError | socket.gaierror | ssl.SSLError):
        return f"cannot reach {url}: {type(error).__name__}: {one_line(str(error))}"
    return None


def _reason(os_error: OSError) -> str:
    return one_line(os_error.strerror or str(os_error) or type(os_error).__name__)
