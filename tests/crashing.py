"""Killing `pressfeed` commands at chosen points, and what must hold afterwards.

`Child` runs one command as its own process (in its own process group, output to files), waits
for a kill point measured in observed progress, then SIGKILLs the process: a crash, with no
chance to clean up. `store_problems` and `feed_problems` check what a crash may have left
behind; `store_state` and `feed_entry_ids` describe the end state of a run, so a resumed run can
be compared with one that was never interrupted.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import feedparser

from pressfeed.store import MIGRATIONS
from tests.conftest import ROOT

DEADLINE = 120.0  # seconds a child may take to reach a kill point or to finish
POLL = 0.005  # seconds between two looks at a condition
ATOM = "{http://www.w3.org/2005/Atom}"
FEED_SUFFIXES = (".atom", ".rss", ".json", ".opml")


class Child:
    """`python -m pressfeed.cli --config CONFIG ARGS...`, started at once; logs in `logs`."""

    def __init__(self, config: Path, args: Sequence[str], logs: Path, *, verbose: bool) -> None:
        logs.mkdir(parents=True, exist_ok=True)
        self.stderr_path = logs / "stderr.txt"
        self.stdout_path = logs / "stdout.txt"
        command = [sys.executable, "-m", "pressfeed.cli", "--config", str(config)]
        command += ["-v", *args] if verbose else list(args)
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "PYTHONUNBUFFERED": "1"}
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            # A group of its own: whatever it starts can be found, and must go when it goes.
            self.process = subprocess.Popen(
                command, env=env, stdout=out, stderr=err, start_new_session=True
            )
        self._read = 0
        self._seen = 0
        STARTED.append(self)

    def log_count(self, needle: bytes) -> int:
        """How many times `needle` has appeared on standard error so far."""
        with self.stderr_path.open("rb") as stream:
            stream.seek(self._read)
            fresh = stream.read()
        # Count only whole lines: the last one may still be on its way.
        whole = fresh[: fresh.rfind(b"\n") + 1]
        self._read += len(whole)
        self._seen += whole.count(needle)
        return self._seen

    def wait_until(self, reached: Callable[[], bool], what: str) -> None:
        """Poll `reached` until it holds; fail if the child ends or the deadline passes first."""
        deadline = time.monotonic() + DEADLINE
        while not reached():
            if self.process.poll() is not None:
                raise AssertionError(f"the child ended before {what}:\n{self.output()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what} within {DEADLINE}s:\n{self.output()}")
            time.sleep(POLL)

    def kill(self) -> list[int]:
        """SIGKILL the command's process alone; the pids of its group still alive afterwards.

        Processes the command started (worker pools) get a deadline to notice and exit; any
        left then are killed here, so that one failed run does not leak into the next.
        """
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=DEADLINE)
        assert self.process.returncode == -signal.SIGKILL, self.output()
        deadline = time.monotonic() + 10.0
        while (left := group_members(self.process.pid)) and time.monotonic() < deadline:
            time.sleep(POLL * 10)
        if left:
            os.killpg(self.process.pid, signal.SIGKILL)
        return left

    def finish(self) -> str:
        """Wait for the command to end; its standard output, or AssertionError on failure."""
        code = self.process.wait(timeout=DEADLINE * 3)
        assert code == 0, f"exit code {code}:\n{self.output()}"
        return self.stdout_path.read_text(encoding="utf-8")

    def output(self) -> str:
        err = self.stderr_path.read_text(encoding="utf-8", errors="replace")
        return self.stdout_path.read_text(encoding="utf-8", errors="replace") + err[-3000:]


STARTED: list[Child] = []


def reap() -> None:
    """Kill whatever the children started so far left running (after a failed test)."""
    while STARTED:
        child = STARTED.pop()
        if child.process.poll() is None or group_members(child.process.pid):
            os.killpg(child.process.pid, signal.SIGKILL)
            child.process.wait(timeout=DEADLINE)


def group_members(group: int) -> list[int]:
    """Live (not zombie) processes of a process group."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        # Fields after the command name, which sits in parentheses and may hold spaces.
        state, _ppid, pgrp = stat.rsplit(")", 1)[1].split()[:3]
        if int(pgrp) == group and state != "Z":
            members.append(int(entry.name))
    return members


def run(config: Path, args: Sequence[str], logs: Path) -> str:
    """Run a command to its end; its standard output."""
    return Child(config, args, logs, verbose=False).finish()


def count_files(directory: Path) -> int:
    """Files under `directory`, hidden temporary files included."""
    return sum(len(names) for _, _, names in os.walk(directory))


# --- the store ---------------------------------------------------------------------------------


def _connect(database: Path) -> sqlite3.Connection:
    # Opened the way the next run opens it: SQLite rolls back what the crash left unfinished.
    return sqlite3.connect(database, timeout=30.0)


# Each query counts rows that break a rule the store keeps in every committed state.
INVARIANTS = {
    "source rows without their file record": (
        "SELECT count(*) FROM sources WHERE path NOT IN (SELECT path FROM files)"
    ),
    "source rows naming no release": (
        "SELECT count(*) FROM sources WHERE release_id NOT IN (SELECT id FROM releases)"
    ),
    "live releases with no source row": (
        "SELECT count(*) FROM releases WHERE withdrawn_at IS NULL"
        " AND id NOT IN (SELECT release_id FROM sources)"
    ),
    "live releases whose file has no record": (
        "SELECT count(*) FROM releases WHERE withdrawn_at IS NULL"
        " AND source NOT IN (SELECT path FROM files)"
    ),
    "withdrawn releases still held by a file": (
        "SELECT count(*) FROM releases WHERE withdrawn_at IS NOT NULL"
        " AND id IN (SELECT release_id FROM sources)"
    ),
    "topic rows naming no release": (
        "SELECT count(*) FROM release_topics WHERE release_id NOT IN (SELECT id FROM releases)"
    ),
    "outbox rows naming no subscriber": (
        "SELECT count(*) FROM outbox WHERE subscriber_id NOT IN (SELECT id FROM subscribers)"
    ),
    "outbox rows in no known state": (
        "SELECT count(*) FROM outbox WHERE status NOT IN ('pending', 'claimed', 'sent', 'failed')"
    ),
}


def store_problems(database: Path) -> list[str]:
    """What is wrong with the store a crash left; empty when it is consistent."""
    with _connect(database) as connection:
        problems = [
            f"integrity_check: {row[0]}"
            for row in connection.execute("PRAGMA integrity_check")
            if row[0] != "ok"
        ]
        problems += [
            f"foreign key: {row}" for row in connection.execute("PRAGMA foreign_key_check")
        ]
        version = connection.execute("SELECT version FROM schema_version").fetchone()[0]
        if version != len(MIGRATIONS):
            problems.append(f"schema version {version}, expected {len(MIGRATIONS)}")
        for rule, query in INVARIANTS.items():
            broken = connection.execute(query).fetchone()[0]
            if broken:
                problems.append(f"{broken} {rule}")
    connection.close()
    return problems


# What a scan and a publish leave, without the times at which they ran.
STATE_QUERIES = {
    "releases": "SELECT id, title, title_derived, date, date_kind, place, source, position,"
    " text_hash, withdrawn_at IS NULL FROM releases ORDER BY id",
    "topics": "SELECT release_id, slug, score FROM release_topics ORDER BY release_id, slug",
    "sources": "SELECT path, position, release_id, data FROM sources ORDER BY path, position",
    "files": "SELECT path, size, mtime_ns, sha256, reread FROM files ORDER BY path",
    "pending": "SELECT kind, key FROM pending ORDER BY kind, key",
    "meta": "SELECT key, value FROM meta"
    " WHERE key NOT IN ('news_since', 'backfill_started', 'first_published') ORDER BY key",
}


def store_state(database: Path) -> dict[str, list[tuple[Any, ...]]]:
    """The store's rows that must not depend on whether a scan was interrupted."""
    with _connect(database) as connection:
        state = {name: connection.execute(q).fetchall() for name, q in STATE_QUERIES.items()}
    connection.close()
    return state


def outbox(database: Path) -> list[tuple[str, str, str]]:
    """(recipient, Message-ID, status) of every outbox row."""
    with _connect(database) as connection:
        rows = connection.execute("SELECT recipient, message_id, status FROM outbox").fetchall()
    connection.close()
    return rows


def outbox_count(database: Path) -> int:
    if not database.exists():
        return 0
    with _connect(database) as connection:
        exists = connection.execute(
            "SELECT count(*) FROM sqlite_master WHERE name = 'outbox'"
        ).fetchone()[0]
        count = connection.execute("SELECT count(*) FROM outbox").fetchone()[0] if exists else 0
    connection.close()
    return int(count)


# --- the files on disk -------------------------------------------------------------------------


def feed_files(output: Path) -> list[Path]:
    """The feed documents under `output` that a reader or a web server can see."""
    return sorted(
        path
        for path in output.rglob("*")
        if path.suffix in FEED_SUFFIXES and not path.name.startswith(".")
    )


def feed_problems(output: Path, *, with_feedparser: int) -> list[str]:
    """What is wrong with the files a crash left in `output`; empty when all is well.

    Every feed must parse (XML well-formed, JSON valid) and no temporary file may look like a
    feed. feedparser reads the current feeds and the `with_feedparser` files written last (a
    crash can only have cut short the file being written); it takes about 20 ms a feed, too
    slow for the hundreds of archive pages of every kill point.
    """
    problems = [
        f"visible temporary file {path.relative_to(output)}"
        for path in output.rglob("*")
        if path.is_file() and not path.name.startswith(".") and ".tmp" in path.name
    ]
    problems += [
        f"hidden file that is not a temporary file: {path.relative_to(output)}"
        for path in output.rglob(".*")
        if not path.name.endswith(".tmp")
    ]
    feeds = feed_files(output)
    for path in feeds:
        try:
            _entries(path)
        except (ElementTree.ParseError, ValueError) as error:
            problems.append(f"{path.relative_to(output)} does not parse: {error}")
    newest = sorted(feeds, key=lambda p: p.stat().st_mtime_ns)[-with_feedparser:]
    current = [p for p in feeds if p.parent == output]
    for path in sorted({*newest, *current}):
        if path.suffix in (".atom", ".rss"):
            parsed = feedparser.parse(path.read_bytes())
            if parsed.bozo:
                problems.append(f"{path.relative_to(output)}: {parsed.bozo_exception}")
    return problems


def feed_entry_ids(output: Path) -> dict[str, list[str]]:
    """Each feed document's entry ids, in document order, by path under `output`."""
    return {str(path.relative_to(output)): _entries(path) for path in feed_files(output)}


def _entries(path: Path) -> list[str]:
    data = path.read_bytes()
    if path.suffix == ".json":
        return [str(item["id"]) for item in json.loads(data)["items"]]
    root = ElementTree.fromstring(data)
    if path.suffix == ".atom":
        return [e.findtext(f"{ATOM}id", "") for e in root.iter(f"{ATOM}entry")]
    if path.suffix == ".rss":
        return [e.findtext("guid", "") for e in root.iter("item")]
    return [e.get("xmlUrl", "") for e in root.iter("outline")]
