"""Why a chat server could not be reached, in one line an operator can act on.

Both chat libraries (discord.py, matrix-nio) talk through aiohttp, whose exceptions
carry the cause several layers deep and print as screens of traceback. At start-up the
bot retries within a time budget (`faqbot.backoff.retry_until`); each retry is logged
with the sentence built here, which names the URL and says what happened: the name
does not resolve, nothing listens there, TLS failed, the answer is not HTTP, nothing
came back in time.
"""

from __future__ import annotations

import asyncio
import socket
import ssl

import aiohttp
import yarl


def host_of(url: str) -> str:
    return yarl.URL(url).host or url


def describe_network_error(url: str, error: BaseException, timeout: float | None = None) -> str | None:
    """One line for an error reaching `url`, or None when `error` is not a network error.

    `timeout` is what the attempt was given, for a timed-out attempt."""
    host = host_of(url)
    if isinstance(error, aiohttp.ClientConnectorError):
        cause = error.os_error
        if isinstance(cause, socket.gaierror):
            return f"cannot reach {url}: the name {host} does not resolve (DNS: {cause.strerror or cause})"
        if isinstance(error, aiohttp.ClientConnectorCertificateError):
            return f"cannot reach {url}: the TLS certificate of {host} is not trusted"
        if isinstance(error, aiohttp.ClientSSLError) or isinstance(cause, ssl.SSLError):
            return f"cannot reach {url}: the TLS handshake failed (does {host} speak https on that port?)"
        if isinstance(cause, ConnectionRefusedError):
            return f"cannot reach {url}: connection refused (nothing listens on {host}:{error.port})"
        return f"cannot reach {url}: {cause.strerror or cause}"
    if isinstance(error, aiohttp.ServerDisconnectedError):
        return f"{url} closed the connection without answering (plain http to an https port?)"
    if isinstance(error, aiohttp.WSServerHandshakeError):
        return f"{url} did not accept a websocket (HTTP {error.status}): is this the gateway's URL?"
    if isinstance(error, aiohttp.ClientResponseError | aiohttp.ClientPayloadError):
        return f"{url} answered something that is not HTTP (the wrong port, or http to an https server?)"
    if isinstance(error, asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        within = f" within {timeout:g} s" if timeout is not None else ""
        return f"{url} did not answer{within}"
    if isinstance(error, aiohttp.ClientError | OSError):
        return f"cannot reach {url}: {error}"
    return None
