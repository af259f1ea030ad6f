"""`pressfeed run` as a real process on a free port: watch, publish, serve, mail, stop, restart."""

# The SMTP fixtures are imported by name, and pytest passes them back as same-named arguments.

from __future__ import annotations

import asyncio
import datetime as dt
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import feedparser
import httpx
import pytest
from sqlalchemy import update

from pressfeed import service, store
from pressfeed.config import load_settings
from pressfeed.scan import scan_content
from pressfeed.subscriptions import Choice, add_subscriber, subscriber_from
from tests.conftest import ROOT, write_settings
from tests.smtp_servers import SmtpServer, free_port, slow, smtp_sink
from tests.test_publish import HEALTH
from tests.test_scan import LISTING

__all__ = ["smtp_sink"]

START = 30.0  # seconds a service may take to start or to react


class Running:
    """A `pressfeed run` process, its port and its log lines."""

    def __init__(self, config: Path, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}/"
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "PYTHONUNBUFFERED": "1"}
        command = [
            sys.executable,
            "-m",
            "pressfeed.cli",
            "--config",
            str(config),
            "run",
            "--port",
            str(port),
        ]
        self.process = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.log: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for_log(self, pattern: str, timeout: float = START) -> str:
        """The first log line matching `pattern`, waiting at most `timeout` seconds."""
        deadline = time.monotonic() + timeout
        for line in self.log:
            if re.search(pattern, line):
                return line
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            self.log.append(line)
            if re.search(pattern, line):
                return line
        raise AssertionError(f"no log line matching {pattern!r}; log:\n" + "\n".join(self.log))

    def wait_until(self, check: object, timeout: float = START) -> None:
        """Poll `check` (a callable returning true when done) with a deadline."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():  # type: ignore[operator]
                return
            time.sleep(0.05)
        raise AssertionError("condition not met in time; log:\n" + "\n".join(self.drain()))

    def drain(self) -> list[str]:
        while not self.lines.empty():
            self.log.append(self.lines.get())
        return self.log

    def stop(self, sig: int = signal.SIGTERM, timeout: float = START) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        code = self.process.wait(timeout=timeout)
        self.reader.join(timeout=timeout)
        assert self.process.stdout is not None
        self.process.stdout.close()
        self.drain()
        return code


@pytest.fixture
def service_port() -> int:
    return free_port()


@pytest.fixture
def service_config(tmp_path: Path, smtp_sink: SmtpServer, service_port: int) -> Path:
    """Settings for a service whose pages link to where it really listens."""
    config = write_settings(
        tmp_path,
        f'site_url = "http://127.0.0.1:{service_port}/"\n'
        f'[email]\ntransport = "smtp"\n[smtp]\nhost = "{smtp_sink.host}"\nport = {smtp_sink.port}\n'
        "[service]\nscan_interval = 3600\n",
    )
    (tmp_path / "content" / "listing.txt").write_text(LISTING, encoding="utf-8")
    return config


@pytest.fixture
def running(service_config: Path, service_port: int) -> Iterator[Running]:
    service = Running(service_config, service_port)
    try:
        service.wait_for_log(r"service: serving http://")
        yield service
    finally:
        service.stop(signal.SIGKILL if service.process.poll() is None else signal.SIGTERM)


def get(service: Running, path: str, **headers: str) -> httpx.Response:
    return httpx.get(service.url + path, headers=headers, timeout=10)


def titles(service: Running, name: str) -> list[str]:
    response = get(service, name)
    if response.status_code != 200:
        return []
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo
    return [e.title for e in parsed.entries]


def test_a_dropped_file_reaches_its_topic_feed_over_http(
    running: Running, service_config: Path
) -> None:
    running.wait_until(lambda: len(titles(running, "all.atom")) == 2)
    (service_config.parent / "content" / "health.txt").write_text(HEALTH, encoding="utf-8")
    running.wait_until(lambda: "Clinic opens for new arrivals" in titles(running, "health.atom"))
    assert "Clinic opens for new arrivals" not in titles(running, "libya.atom")
    first = get(running, "health.atom")
    assert first.headers["content-type"] == "application/atom+xml; charset=utf-8"
    again = get(running, "health.atom", **{"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert get(running, "healthz").json()["status"] == "ok"
    running.wait_for_log(r"release added: Clinic opens for new arrivals")


def test_a_publish_that_cannot_write_is_one_line_and_the_service_goes_on(
    running: Running, service_config: Path
) -> None:
    running.wait_until(lambda: len(titles(running, "all.atom")) == 2)
    pages = service_config.parent / "feeds" / "releases"
    shutil.rmtree(pages)
    pages.write_text("a file where the release pages go", encoding="utf-8")
    (service_config.parent / "content" / "health.txt").write_text(HEALTH, encoding="utf-8")
    line = running.wait_for_log(r"scan \(.*\) stopped: cannot write")
    assert "releases" in line
    assert get(running, "healthz").status_code == 200
    pages.unlink()
    (service_config.parent / "content" / "health-2.txt").write_text(
        HEALTH.replace("Clinic opens", "Second clinic opens"), encoding="utf-8"
    )
    # The next scan publishes what the failed one left pending, and the new file.
    running.wait_until(lambda: "Clinic opens for new arrivals" in titles(running, "health.atom"))
    assert "Second clinic opens for new arrivals" in titles(running, "health.atom")
    assert not any("Traceback" in line for line in running.drain())


def test_sigterm_stops_cleanly(running: Running) -> None:
    assert running.stop(signal.SIGTERM) == 0
    assert any("stopped" in line for line in running.log)


def test_config_reload_good_and_bad(running: Running, service_config: Path) -> None:
    text = service_config.read_text(encoding="utf-8")
    service_config.write_text(text.replace("[email]", 'site_title = "Newsroom"\n[email]'), "utf-8")
    running.wait_until(lambda: "Newsroom" in get(running, "index.html").text)
    service_config.write_text(text.replace("[email]", "feed_lenght = 3\n[email]"), "utf-8")
    running.wait_for_log(r"config not reloaded, the running one stays")
    running.wait_for_log(r"pressfeed.toml:\d+: feed_lenght: unknown key")
    assert "Newsroom" in get(running, "index.html").text  # the running config stayed
    assert get(running, "healthz").status_code == 200


def test_paths_cannot_leave_the_output_directory(running: Running) -> None:
    for path in ("../pressfeed.toml", "%2e%2e/pressfeed.toml", "releases/..%2f..%2fpressfeed.toml"):
        response = httpx.get(running.url + path, timeout=10)
        assert response.status_code == 404
        assert "content_dir" not in response.text


def mailing_config(tmp_path: Path, server: SmtpServer, connections: int) -> Path:
    """Settings under tmp_path sending by SMTP to `server` over `connections` connections, with
    the project's listing in the content and no periodic scan to come in between."""
    config = write_settings(
        tmp_path,
        f'[email]\ntransport = "smtp"\n[smtp]\nhost = "{server.host}"\nport = {server.port}\n'
        f"[digest]\nconnections = {connections}\n[service]\nscan_interval = 3600\n",
    )
    (tmp_path / "content" / "listing.txt").write_text(LISTING, encoding="utf-8")
    return config


def news_and_subscribers(config: Path, count: int, frequency: str = "daily") -> None:
    """An archive scanned days ago, news since, and subscribers who signed up before it."""
    settings = load_settings(config, environ={})
    engine = store.open_store(settings.database)
    now = dt.datetime.now(dt.UTC)
    scan_content(settings, engine, now=now - dt.timedelta(days=3))
    (settings.content_dir / "health.txt").write_text(HEALTH, encoding="utf-8")
    scan_content(settings, engine, now=now - dt.timedelta(days=2))
    for n in range(count):
        made = subscriber_from(
            Choice(f"reader{n:03d}@example.org", "all", frequency, hour="0"),
            settings,
            now=now - dt.timedelta(days=4),
            confirmed=True,
        )
        add_subscriber(engine, made)
    engine.dispose()


def test_digest_due_while_down_is_sent_once_after_start(
    service_config: Path, smtp_sink: SmtpServer
) -> None:
    news_and_subscribers(service_config, 3)
    service = Running(service_config, free_port())
    try:
        received = smtp_sink.wait_for(3, timeout=START)
        service.wait_for_log(r"digests: 3 recorded")
    finally:
        service.stop()
    again = Running(service_config, free_port())
    try:
        again.wait_for_log(r"service: serving http://")
        again.wait_for_log(r"scan done \(start\)")
    finally:
        again.stop()
    assert len(smtp_sink.messages) == len(received) == 3  # nothing sent twice after restart


def test_the_leader_forgets_digests_sent_long_ago(
    service_config: Path, smtp_sink: SmtpServer
) -> None:
    news_and_subscribers(service_config, 2)
    first = Running(service_config, free_port())
    try:
        first.wait_for_log(r"digests: 2 recorded, 2 sent")
    finally:
        first.stop()
    engine = store.open_store(load_settings(service_config, environ={}).database)
    try:
        with engine.begin() as connection:  # as if sent a month ago
            month_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=31)
            connection.execute(update(store.outbox).values(created=month_ago))
        again = Running(service_config, free_port())
        try:
            again.wait_for_log(r"outbox: 2 digests done more than 30 days ago forgotten")
        finally:
            again.stop()
        with engine.connect() as connection:
            assert store.outbox_rows(connection) == []
    finally:
        engine.dispose()
    assert len(smtp_sink.messages) == 2  # forgotten, not sent again


def test_sigterm_mid_send_finishes_or_resumes_without_loss(tmp_path: Path) -> None:
    subscribers, connections = 40, 2
    with slow(0.05) as server:
        config = mailing_config(tmp_path, server, connections)
        news_and_subscribers(config, subscribers)
        first = Running(config, free_port())
        server.wait_for(5, timeout=START)
        assert first.stop(signal.SIGTERM) == 0
        second = Running(config, free_port())
        try:
            received = server.wait_for(subscribers, timeout=START * 2)
        finally:
            second.stop()
    counts = Counter(r.rcpt_tos[0] for r in received)
    assert len(counts) == subscribers
    assert sum(counts.values()) - subscribers <= connections


def test_sigterm_mid_scan_leaves_a_store_the_next_scan_completes(tmp_path: Path) -> None:
    config = write_settings(tmp_path, "[service]\nscan_interval = 3600\n")
    generate = [sys.executable, str(ROOT / "benchmarks" / "generate.py"), "1500"]
    subprocess.run([*generate, str(tmp_path / "content")], check=True)
    first = Running(config, free_port())
    first.wait_for_log(r"first scan of")
    assert first.stop(signal.SIGTERM) == 0
    assert not any("service: serving http://" in line for line in first.log)  # stopped mid-scan
    second = Running(config, free_port())
    try:
        second.wait_for_log(r"scan done \(start\)", timeout=120)
    finally:
        second.stop()
    settings = load_settings(config, environ={})
    engine = store.open_store(settings.database)
    with engine.connect() as connection:
        stored = store.release_count(connection)
    engine.dispose()
    (tmp_path / "clean").mkdir()
    clean = load_settings(write_settings(tmp_path / "clean"), environ={})
    engine = store.open_store(clean.database)
    uninterrupted = scan_content(
        replace(clean, content_dir=tmp_path / "content"), engine, now=dt.datetime.now(dt.UTC)
    )
    engine.dispose()
    assert stored == uninterrupted.added
    feed = feedparser.parse((settings.output_dir / "all.atom").read_bytes())
    assert not feed.bozo


def test_a_busy_port_is_one_clear_error(service_config: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        service = Running(service_config, port)
        assert service.process.wait(timeout=START) == 1
        service.stop()
    assert any(f"cannot listen on 127.0.0.1:{port}" in line for line in service.log)


def test_a_missing_content_directory_is_one_clear_error(
    service_config: Path, service_port: int
) -> None:
    content = service_config.parent / "content"
    shutil.rmtree(content)
    service = Running(service_config, service_port)
    try:
        service.process.wait(timeout=START)
    finally:
        code = service.stop()  # a service that did start is not left running
    assert code == 1
    assert service.log == [f"pressfeed: {content}: content directory not found"]


def settle_time(paths: set[Path]) -> float:
    """Seconds `_settled` took on `paths`."""
    start = time.monotonic()
    asyncio.run(service._settled(paths))
    return time.monotonic() - start


def test_a_file_written_in_parts_settles_only_when_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "SETTLE_QUIET", 0.5)  # far above the writer's pauses
    path = tmp_path / "slow.txt"
    path.write_text("part 0\n", encoding="utf-8")

    async def write_parts() -> None:
        with path.open("a", encoding="utf-8") as stream:
            for n in range(1, 6):
                await asyncio.sleep(0.05)
                stream.write(f"part {n}\n")
                stream.flush()

    async def settle_while_writing() -> int:
        writing = asyncio.create_task(write_parts())
        await service._settled({path})
        size = path.stat().st_size
        await writing
        return size

    assert asyncio.run(settle_while_writing()) == len("part 0\n") * 6


def test_a_fresh_file_settles_when_its_last_write_is_quiet_long_enough(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "SETTLE_QUIET", 0.3)
    path = tmp_path / "new.txt"
    path.write_text(HEALTH, encoding="utf-8")
    settle_time({path})
    assert time.time() - path.stat().st_mtime >= 0.3 - service.CLOCK_SLACK


def test_a_file_that_lands_with_an_old_time_settles_at_the_second_look(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "SETTLE_QUIET", 30.0)
    path = tmp_path / "copied.txt"
    path.write_text(HEALTH, encoding="utf-8")
    hour_ago = time.time() - 3600
    os.utime(path, (hour_ago, hour_ago))  # as rsync, cp -p and tar leave it
    assert settle_time({path}) < 10.0  # not the quiet time
