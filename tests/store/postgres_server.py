"""A real PostgreSQL server on 127.0.0.1 for the store tests, from the machine's binaries.

The server refuses to run as root, and tests here (CI included) run as root: then
`initdb` and `pg_ctl` run as the `postgres` user, on a data folder it owns outside
pytest's root-only temp tree. Trust authentication on loopback only; each test gets
a database of its own (`new_database`).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SUPERUSER = "faqbot"


def postgres_bin_dir() -> Path | None:
    """The newest installed PostgreSQL's binaries (Debian keeps them off PATH), or None."""
    override = os.environ.get("FAQBOT_TEST_PG_BIN")
    if override:
        return Path(override) if (Path(override) / "initdb").is_file() else None
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name), reverse=True
    )
    if found:
        return found[0].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    """A started server, removed afterwards; the test is skipped where no binaries exist."""
    import pytest

    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        pytest.skip("no PostgreSQL binaries on this machine (looked in /usr/lib/postgresql/*/bin and PATH)")
    server = PostgresServer(bin_dir)
    try:
        server.start()
        yield server
    finally:
        server.remove()


class PostgresServer:
    """One PostgreSQL cluster: `start`, `stop`, `start` again on the same port and data."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="faqbot-pg-"))
        self.data = self.directory / "data"
        self.log = self.directory / "server.log"
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.directory, owner.pw_uid, owner.pw_gid)
            self._as_user = ["runuser", "-u", "postgres", "--"]
        self._databases = 0
        self._initialised = False

    @property
    def admin_url(self) -> str:
        return self.url("postgres")

    def url(self, database: str, password: str | None = None) -> str:
        credentials = f"{SUPERUSER}:{password}" if password else SUPERUSER
        return f"postgresql://{credentials}@127.0.0.1:{self.port}/{database}"

    def _run(self, *command: str) -> None:
        result = subprocess.run(
            [*self._as_user, *command], capture_output=True, text=True, timeout=60, check=False, cwd=self.directory
        )
        if result.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{command[0]} failed ({result.returncode}): {result.stderr.strip()}\n{log}")

    def start(self) -> None:
        if not self._initialised:
            self._run(str(self.bin_dir / "initdb"), "-D", str(self.data), "-A", "trust", "-U", SUPERUSER, "-E", "UTF8")
            self._initialised = True
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "start", "-o", options)

    def stop(self) -> None:
        if self._initialised and (self.data / "postmaster.pid").exists():
            self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def new_database(self) -> str:
        """A fresh, empty database; returns its URL."""
        import psycopg

        self._databases += 1
        name = f"store_test_{self._databases}"
        with psycopg.connect(self.admin_url, autocommit=True) as connection:
            # FILE_COPY (PostgreSQL 15+) copies a tiny database faster than logging it.
            strategy = " STRATEGY = FILE_COPY" if connection.info.server_version >= 150000 else ""
            connection.execute(f"CREATE DATABASE {name}{strategy}")
        return self.url(name)
