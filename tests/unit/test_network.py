"""One line per way a chat server can be out of reach, the same for Discord and Matrix."""

from __future__ import annotations

import errno
import socket
import ssl
from types import SimpleNamespace

import aiohttp
import pytest

from faqbot.platforms.network import describe_network_error

URL = "https://chat.example.org"


def connector_error(os_error: OSError, kind: type[aiohttp.ClientConnectorError] = aiohttp.ClientConnectorError):
    return kind(SimpleNamespace(host="chat.example.org", port=443, ssl=True), os_error)


async def test_a_refused_connection_names_what_does_not_listen() -> None:
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectorError) as raised:
            await session.get(url)
    said = describe_network_error(url, raised.value)
    assert said == f"cannot reach {url}: connection refused (nothing listens on 127.0.0.1:{port})"


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (TimeoutError(), f"{URL} did not answer within 7 s"),
        (aiohttp.ServerTimeoutError("read"), f"{URL} did not answer within 7 s"),
        (
            connector_error(socket.gaierror(socket.EAI_NONAME, "Name or service not known")),
            f"cannot reach {URL}: the name chat.example.org does not resolve (DNS: Name or service not known)",
        ),
        (
            connector_error(ssl.SSLError(1, "wrong version number"), aiohttp.ClientConnectorSSLError),
            f"cannot reach {URL}: the TLS handshake failed (does chat.example.org speak https on that port?)",
        ),
        (
            aiohttp.ServerDisconnectedError(),
            f"{URL} closed the connection without answering (plain http to an https port?)",
        ),
        (ConnectionResetError(errno.ECONNRESET, "reset\nby peer"), f"cannot reach {URL}: ConnectionResetError: "),
    ],
)
def test_each_way_out_of_reach_is_one_line_naming_the_url(error: BaseException, said: str) -> None:
    line = describe_network_error(URL, error, timeout=7)
    assert line is not None and line.startswith(said) and "\n" not in line


@pytest.mark.parametrize(
    "error", [KeyError("a bug"), OSError(errno.ENOSPC, "No space left on device"), PermissionError("state")]
)
def test_what_retrying_cannot_fix_is_not_called_a_network_error(error: BaseException) -> None:
    """A full disk or a bug is no reason to wait for the chat server."""
    assert describe_network_error(URL, error, timeout=7) is None
