"""A throw-away PostgreSQL server for the suite: its own cluster in a temporary folder.

`initdb` and `pg_ctl` come from Debian's `postgresql` package. As root, the server runs as the
`postgres` user (initdb refuses root), on its own socket folder and a free loopback port, with
durability off (the data is thrown away), and is stopped by the PID in `postmaster.pid`.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)  # newest first
FAST = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"


def binaries() -> Path | None:
    """The folder with initdb and pg_ctl, or None when PostgreSQL is not installed."""
    on_path = shutil.which("pg_ctl")
    if on_path:
        return Path(on_path).parent
    return next((d for d in BIN_DIRS if (d / "pg_ctl").exists()), None)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PostgresServer:
    """`with PostgresServer() as server:` a running server; `server.url(schema)` connects to it."""

    def __init__(self, *, durable: bool = False) -> None:
        """`durable`: commits reach the disk as in production (benchmarks), not thrown away."""
        found = binaries()
        if found is None:
            raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
        self.bin = found
        self.folder = Path(tempfile.mkdtemp(prefix="pressfeed-pg-"))
        self.port = _free_port()
        self.durable = durable

    def __enter__(self) -> PostgresServer:
        data, sockets = self.folder / "data", self.folder / "run"
        data.mkdir()
        sockets.mkdir()
        self.folder.chmod(0o755)
        self._run(
            "initdb",
            "-D",
            str(data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        )
        options = f"-k {sockets} -h 127.0.0.1 -p {self.port} -c max_connections=200"
        if not self.durable:
            options += f" {FAST}"
        log = data / "server.log"
        self._run("pg_ctl", "-D", str(data), "-w", "-s", "-l", str(log), "-o", options, "start")
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def url(self, schema: str | None = None) -> str:
        """The SQLAlchemy URL of the server's database, with `schema` first on the search path."""
        base = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        return base if schema is None else f"{base}?options=-csearch_path%3D{schema}"

    def stop(self) -> None:
        """Stop the server (fast shutdown) and remove its folder."""
        pid_file = self.folder / "data" / "postmaster.pid"
        if pid_file.exists():
            pid = int(pid_file.read_text().split()[0])
            os.kill(pid, signal.SIGINT)
            deadline = time.monotonic() + 30
            while pid_file.exists() and time.monotonic() < deadline:
                time.sleep(0.05)  # waiting for the server's own exit, not synchronising a test
        shutil.rmtree(self.folder, ignore_errors=True)

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin / program), *args]
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
            for path in self.folder.iterdir():
                shutil.chown(path, "postgres", "postgres")
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, text=True)
