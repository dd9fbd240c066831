"""A real Synapse homeserver on 127.0.0.1 for the Matrix integration tests.

Written config rather than a generated one: the generated config binds `::1`,
serves federation, trusts matrix.org as a key server and logs at INFO. Synapse
runs under the current interpreter (`sys.executable`), so any venv with
`matrix-synapse` installed works, CI's included.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

SERVER_NAME = "localhost"
CHECKOUT = Path(__file__).resolve().parents[2]
# Loaded by every test homeserver; it only touches events that carry its marker.
TEST_MODULES = [{"module": "tests.matrix.synapse_modules.FailMarkedEvents", "config": {}}]

# Raised limits keep the suite fast: matrix-nio does not fail on a 429, it sleeps for
# the server's retry time, which silently turns a seconds-long test into a minute.
_FAST = {"per_second": 1000, "burst_count": 1000}
RAISED_RATE_LIMITS = {
    "rc_message": _FAST,
    "rc_registration": _FAST,
    "rc_room_creation": _FAST,
    "rc_joins_per_room": _FAST,
    "rc_login": {"address": _FAST, "account": _FAST, "failed_attempts": _FAST},
    "rc_joins": {"local": _FAST, "remote": _FAST},
    "rc_invites": {"per_room": _FAST, "per_user": _FAST, "per_issuer": _FAST},
    "rc_key_requests": _FAST,
}


@dataclass(frozen=True)
class RegisteredUser:
    """A user created through the shared-secret admin API, already logged in once."""

    user_id: str
    password: str
    access_token: str
    device_id: str


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SynapseServer:
    """Start, stop and restart one Synapse process in `directory`.

    `raised_rate_limits=False` keeps Synapse's defaults, for the test that shows the
    bot survives being rate-limited. Restarts keep the port, database and keys, so
    clients see the same homeserver come back.
    """

    def __init__(self, directory: Path, *, raised_rate_limits: bool = True) -> None:
        self.directory = directory
        self.raised_rate_limits = raised_rate_limits
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config_path = directory / "homeserver.yaml"
        self.log_path = directory / "synapse.out"
        self._shared_secret = secrets.token_hex(16)
        self._process: subprocess.Popen[bytes] | None = None

    # -- configuration ------------------------------------------------------

    def write_config(self) -> None:
        """Write homeserver.yaml and the log config, and create the signing key."""
        self.directory.mkdir(parents=True, exist_ok=True)
        log_config = self.directory / "log.yaml"
        log_config.write_text(
            json.dumps(
                {
                    "version": 1,
                    "formatters": {"plain": {"format": "%(asctime)s %(name)s %(levelname)s %(message)s"}},
                    "handlers": {
                        "file": {
                            "class": "logging.FileHandler",
                            "filename": str(self.directory / "homeserver.log"),
                            "formatter": "plain",
                        }
                    },
                    "root": {"level": "WARNING", "handlers": ["file"]},
                    "disable_existing_loggers": False,
                }
            )
        )
        config: dict[str, object] = {
            "server_name": SERVER_NAME,
            "pid_file": str(self.directory / "homeserver.pid"),
            "listeners": [
                {
                    "port": self.port,
                    "bind_addresses": ["127.0.0.1"],
                    "type": "http",
                    "tls": False,
                    "x_forwarded": False,
                    "resources": [{"names": ["client"], "compress": False}],
                }
            ],
            "database": {"name": "sqlite3", "args": {"database": str(self.directory / "homeserver.db")}},
            "log_config": str(log_config),
            "media_store_path": str(self.directory / "media"),
            "signing_key_path": str(self.directory / "signing.key"),
            "registration_shared_secret": self._shared_secret,
            "macaroon_secret_key": secrets.token_hex(16),
            "form_secret": secrets.token_hex(16),
            "report_stats": False,
            "enable_registration": False,
            "federation_domain_whitelist": [],
            "trusted_key_servers": [],
            "suppress_key_server_warning": True,
            "url_preview_enabled": False,
            "presence": {"enabled": False},
            "bcrypt_rounds": 4,  # registration and password login in milliseconds, not a quarter second
            "modules": TEST_MODULES,
        }
        if self.raised_rate_limits:
            config.update(RAISED_RATE_LIMITS)
        # JSON is valid YAML; no YAML writer needed.
        self.config_path.write_text(json.dumps(config, indent=2))
        subprocess.run(
            [sys.executable, "-m", "synapse.app.homeserver", "-c", str(self.config_path), "--generate-keys"],
            check=True,
            capture_output=True,
            cwd=self.directory,
        )

    # -- process --------------------------------------------------------------

    def start(self, timeout: float = 60.0) -> None:
        """Start Synapse and wait until `/health` answers."""
        if not self.config_path.exists():
            self.write_config()
        environment = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(CHECKOUT), os.environ.get("PYTHONPATH")])),
        }
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "synapse.app.homeserver", "-c", str(self.config_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.directory,
                env=environment,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"Synapse exited with {self._process.returncode}; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=1) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"Synapse did not answer /health within {timeout}s; see {self.log_path}")

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM by PID, then SIGKILL if it lingers."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout)

    def restart(self) -> None:
        """Stop and start again on the same port, with the same database."""
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    # -- users ------------------------------------------------------------------

    def register_user(self, localpart: str | None = None, password: str | None = None) -> RegisteredUser:
        """Create a user with the shared-secret admin API (HMAC-SHA1 over nonce, name, password)."""
        localpart = localpart or f"user{secrets.token_hex(4)}"
        password = password or secrets.token_urlsafe(12)
        endpoint = f"{self.url}/_synapse/admin/v1/register"
        with urllib.request.urlopen(endpoint, timeout=10) as response:
            nonce = json.load(response)["nonce"]
        mac = hmac.new(self._shared_secret.encode(), digestmod=hashlib.sha1)
        mac.update(b"\x00".join([nonce.encode(), localpart.encode(), password.encode(), b"notadmin"]))
        payload = {"nonce": nonce, "username": localpart, "password": password, "admin": False, "mac": mac.hexdigest()}
        request = urllib.request.Request(
            endpoint, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            body = json.load(response)
        return RegisteredUser(body["user_id"], password, body["access_token"], body["device_id"])
