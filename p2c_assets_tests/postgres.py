"""A throwaway PostgreSQL server for tests: initdb in a temp dir, start on a free loopback port.

Why a real server and not a mock: the ledger's upserts, locks and types differ between SQLite and
PostgreSQL, and only a real server shows it. CI installs the PostgreSQL packages; a local cluster
with fsync off starts in about a second. PostgreSQL refuses to run as root, so when the tests run
as root (CI containers) the server runs as the `postgres` user, created when it does not exist.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

SERVER_USER = "postgres"


def find_bindir() -> Path | None:
    """The directory of `initdb`/`pg_ctl`: on PATH, else the newest Debian/Ubuntu install."""
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    installed = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda path: int(path.parent.parent.name) if path.parent.parent.name.isdigit() else 0,
    )
    return installed[-1].parent if installed else None


@dataclass
class PostgresServer:
    bindir: Path
    root: Path
    port: int
    user: str | None  # the OS user the server runs as; None for the current one
    _names: itertools.count = field(default_factory=itertools.count)

    @classmethod
    def start(cls, bindir: Path) -> "PostgresServer":
        user = _server_user()
        root = Path(tempfile.mkdtemp(prefix="p2c-postgres-"))
        if user:
            shutil.chown(root, user, pwd.getpwnam(user).pw_gid)
        server = cls(bindir=bindir, root=root, port=_free_port(), user=user)
        server._run(
            "initdb", "-D", str(root / "data"), "-U", "postgres", "-A", "trust", "-E", "UTF8",
            "--locale=C", "--no-sync", "--no-instructions",
        )
        options = f"-p {server.port} -k {root} -c listen_addresses=127.0.0.1 -F"
        try:
            server._run("pg_ctl", "-D", str(root / "data"), "-l", str(root / "log"), "-w", "-t", "60", "-o", options, "start")
        except RuntimeError as error:
            log = (root / "log").read_text() if (root / "log").exists() else ""
            shutil.rmtree(root, ignore_errors=True)
            raise RuntimeError(f"{error}\nserver log:\n{log[-2000:]}") from None
        return server

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A fresh, empty database; returns its SQLAlchemy URL."""
        name = f"test_{next(self._names)}"
        with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def _run(self, program: str, *args: str) -> None:
        as_user = {}
        if self.user:
            as_user = {"user": self.user, "group": pwd.getpwnam(self.user).pw_gid, "extra_groups": []}
        result = subprocess.run(
            [str(self.bindir / program), *args], cwd=self.root, capture_output=True, text=True, **as_user
        )
        if result.returncode:
            raise RuntimeError(f"{program} failed ({result.returncode}): {result.stderr.strip() or result.stdout.strip()}")


def _server_user() -> str | None:
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVER_USER],
            check=True,
        )
    return SERVER_USER


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
