"""`pressfeed run`: one asyncio process with a scheduler, a file watcher and a web server.

The scheduler only ticks: what is due is always a question to the store, so a restart picks
up where the last run stopped. Scans and digest runs happen one at a time, in a worker thread,
so the web server keeps answering while they work.

Any number of processes may share one database. Each serves HTTP and sends what waits in the
outbox (claiming its own batches); one at a time, the leader (the holder of the leadership lock)
also scans, watches the content folder, publishes, plans digests and reads unsubscribe mails.
The others try for the lock every LEADER_LOOK seconds, and the leader checks that it still holds
it as often.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import logging
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import uvicorn
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import Engine
from watchfiles import Change, awatch

from pressfeed import store
from pressfeed.config import load_settings
from pressfeed.digest import send_due_digests
from pressfeed.errors import ConfigError, PressfeedError, ServiceError
from pressfeed.leadership import leadership_for
from pressfeed.models import Settings
from pressfeed.outbox import deliver_outbox, forget_old_digests
from pressfeed.publish import publish
from pressfeed.scan import scan_content
from pressfeed.send import transport_for
from pressfeed.site import hub_url
from pressfeed.sources import SUFFIXES
from pressfeed.unsubscribes import read_unsubscribes
from pressfeed.web import MAX_HEAD_BYTES, create_app
from pressfeed.web.hub import Hub
from pressfeed.websub import Pusher

log = logging.getLogger(__name__)

DIGEST_TICK = 60  # seconds between looks at what digests are due
UNSUBSCRIBE_TICK = 60  # seconds between reads of the unsubscribe maildir
FORGET_TICK = 24 * 3600  # seconds between deletions of old digests from the outbox
CONFIG_LOOK = 1.0  # seconds between looks at the config files
RESCAN_AFTER_START = 2.0  # a second scan soon after start catches files the watcher missed
SETTLE_QUIET = 0.2  # seconds a changed file must go unwritten before it is scanned
SETTLE_LOOK = 0.05  # seconds at least between two looks that must find a file unchanged
SETTLE_LIMIT = 10.0  # seconds a file may keep growing before it is scanned anyway
# File times come from a coarse kernel clock and timers may fire a little early.
CLOCK_SLACK = 0.005
# Seconds between a follower's tries for the leadership lock, and between the leader's checks
# that it still holds it: a dead leader is replaced within this plus the time the lock takes to
# go (at once when its process dies; see store.LOCK_CONNECTION_TIMEOUT for a lost host).
LEADER_LOOK = 2.0
LEADER_JOBS = ("scan", "digests", "unsubscribes", "forget")
JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class _QuietServer(uvicorn.Server):
    """uvicorn without its own signal handling: the service decides when to stop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class Service:
    """The long-running process: watch, scan, publish, mail and serve."""

    def __init__(self, config: Path | None, overrides: dict[str, Any]) -> None:
        self.config = config
        self.overrides = overrides
        self.settings = load_settings(config, overrides=overrides)
        self.config_stamp = _config_stamp(self.settings)
        self.engine: Engine = store.open_store(
            self.settings.database, busy_timeout=self.settings.database_timeout
        )
        self.stop = asyncio.Event()
        self.leadership = leadership_for(self.engine)
        self.leading = False
        self.term = asyncio.Event()  # set when this process stops leading (or never led)
        self.term.set()
        # One scan at a time and one mail run at a time; a slow mail server holds up no scan.
        self.scanning = asyncio.Lock()
        self.mailing = asyncio.Lock()
        self.scheduler = AsyncIOScheduler(job_defaults=JOB_DEFAULTS, timezone=dt.UTC)
        self.background: set[asyncio.Task[None]] = set()
        # WebSub settings take effect at the next start, as the other service settings do.
        self.pusher: Pusher | None = None
        if hub_url(self.settings) is not None:
            self.pusher = Pusher(lambda: self.settings, self.engine)

    # --- jobs --------------------------------------------------------------------------------

    async def scan(self, reason: str) -> None:
        """Scan the content directory and publish what changed."""
        async with self.scanning:
            if not self.leading:
                return
            settings = self.settings
            try:
                report = await asyncio.to_thread(self._scan, settings)
            except PressfeedError as error:
                log.error("scan (%s) stopped: %s; the next scan tries again", reason, error)
                return
        if self.pusher is not None:
            self.pusher.wake()  # the publish recorded the feeds it changed
        for problem in report.problems:
            log.warning("%s", problem)
        log.info(
            "scan done (%s): %d added, %d updated, %d withdrawn",
            reason,
            report.added,
            report.updated,
            report.withdrawn,
        )

    def _scan(self, settings: Settings) -> Any:
        report = scan_content(settings, self.engine, now=_now(), should_stop=self._should_pause)
        publish(settings, self.engine)
        return report

    def _should_pause(self) -> bool:
        return self.stop.is_set() or not self.leading

    async def digests(self) -> None:
        """Record and send the digests that are due, and retry what waits in the outbox."""
        async with self.mailing:
            if not self.leading:
                return
            settings = self.settings
            try:
                report = await asyncio.to_thread(
                    send_due_digests, settings, self.engine, now=_now()
                )
            except PressfeedError as error:
                log.error("digest run stopped: %s; the next run tries again", error)
                return
        delivery = report.delivery
        if report.planned or delivery.sent or delivery.deferred or delivery.failed:
            log.info(
                "digests: %d recorded, %d sent, %d deferred, %d failed",
                report.planned,
                delivery.sent,
                delivery.deferred,
                delivery.failed,
            )

    async def forget(self) -> None:
        """Delete the outbox's digests done long ago (the leader's, once a day)."""
        if not self.leading:
            return
        try:
            await asyncio.to_thread(forget_old_digests, self.engine, _now())
        except PressfeedError as error:
            log.error("old digests not deleted: %s; the next run tries again", error)

    async def unsubscribes(self) -> None:
        """Act on the unsubscribe mails in the configured maildir, if there is one."""
        maildir = self.settings.email.unsubscribe_maildir
        if maildir is None or not self.leading:
            return
        try:
            report = await asyncio.to_thread(read_unsubscribes, maildir, self.engine)
        except (OSError, PressfeedError) as error:
            log.error("unsubscribe mails not read: %s; the next run tries again", error)
            return
        if report.unsubscribed or report.unknown or report.skipped:
            log.info(
                "unsubscribe mails: %d unsubscribed, %d unknown tokens, %d kept",
                report.unsubscribed,
                report.unknown,
                report.skipped,
            )

    async def deliver(self) -> None:
        """Send what waits in the outbox now (a confirmation mail, say).

        Leader and followers alike: each claims its own batches (see `outbox`)."""
        async with self.mailing:
            settings = self.settings
            transport = transport_for(settings.email, settings.smtp, settings.digest.connections)
            try:
                await asyncio.to_thread(deliver_outbox, self.engine, transport, now=_now())
            except PressfeedError as error:
                log.error("delivery stopped: %s; the next run tries again", error)

    def deliver_soon(self) -> None:
        """Called by the web app after recording a message."""
        self._spawn(self.deliver())

    def _spawn(self, job: Any) -> None:
        task = asyncio.get_running_loop().create_task(job)
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    # --- watching ----------------------------------------------------------------------------

    async def watch_content(self) -> None:
        """Scan soon after files change; the periodic scan catches what events miss."""
        settings = self.settings
        async for changes in awatch(
            settings.content_dir,
            stop_event=self.term,
            debounce=200,
            step=20,
            force_polling=settings.service.poll,
            watch_filter=_content_filter,
            recursive=True,
        ):
            await _settled({Path(p) for change, p in changes if change is not Change.deleted})
            if not self.term.is_set():
                await self.scan("files changed")

    async def watch_config(self) -> None:
        """Reload the settings when their files change; a bad config keeps the running one.

        Two files are cheap to look at every second, and looking works on any file system.
        """
        while not self.stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), CONFIG_LOOK)
            stamp = _config_stamp(self.settings)
            if stamp != self.config_stamp and not self.stop.is_set():
                self.config_stamp = stamp
                await self.reload()

    async def reload(self) -> None:
        try:
            fresh = load_settings(self.config, overrides=self.overrides)
        except ConfigError as error:
            log.error("config not reloaded, the running one stays: %s", error)
            return
        if fresh.service != self.settings.service or fresh.database != self.settings.database:
            log.warning("service and database settings take effect at the next start")
        self.settings = fresh
        log.info("config reloaded")
        await self.scan("config changed")

    # --- leading -----------------------------------------------------------------------------

    async def keep_role(self) -> None:
        """Try for the lock while following; check it while leading; until the service stops."""
        while not self.stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), LEADER_LOOK)
            if self.stop.is_set():
                return
            if not self.leading:
                await self.try_to_lead()
            elif not await asyncio.to_thread(self.leadership.held):
                self._follow(f"leadership lost ({self.leadership})")

    async def try_to_lead(self) -> bool:
        """Take the lock if it is free and start the leader's work: True when leading."""
        if not await asyncio.to_thread(self.leadership.acquire) or self.stop.is_set():
            return False
        self.leading = True
        self.term = asyncio.Event()
        log.info("leader: this process scans, publishes and plans digests (%s)", self.leadership)
        self.first_scan = asyncio.get_running_loop().create_task(self._lead(self.term))
        self.background.add(self.first_scan)
        self.first_scan.add_done_callback(self.background.discard)
        return True

    async def _lead(self, term: asyncio.Event) -> None:
        log.info("first scan of %s", self.settings.content_dir)
        await self.scan("start")
        if term.is_set() or self.stop.is_set():
            return
        self._schedule_leader_jobs()
        self._spawn(self.watch_content())
        if self.pusher is not None:
            self._spawn(self.pusher.run(term))

    def _follow(self, why: str) -> None:
        """Stop the leader's work at once: its jobs off the schedule, watchers and scans stopped."""
        self.leading = False
        self.term.set()
        for job in LEADER_JOBS:
            if self.scheduler.get_job(job) is not None:
                self.scheduler.remove_job(job)
        self.leadership.release()
        log.warning(
            "follower: %s; scans, publishing and digests stopped here; trying for the lock "
            "every %g s",
            why,
            LEADER_LOOK,
        )

    # --- running -----------------------------------------------------------------------------

    async def run(self, *, host: str | None = None, port: int | None = None) -> None:
        """Serve until SIGTERM or SIGINT, then stop cleanly."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop, sig)
        settings = self.settings
        host = host or settings.service.host
        port = port if port is not None else settings.service.port
        listening = _listen(host, port)  # before anything else: a busy port is one clear error
        hub = None
        if self.pusher is not None and settings.service.websub:
            hub = Hub(lambda: self.settings, self.pusher)
        app = create_app(
            lambda: self.settings,
            self.engine,
            on_mail=self.deliver_soon,
            hub=hub,
            role=self.role,
        )
        # h11, whose head limit holds: httptools, if installed, would keep any head whole.
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="warning",
            lifespan="off",
            http="h11",
            h11_max_incomplete_event_size=MAX_HEAD_BYTES,
        )
        server = _QuietServer(config)
        serving = loop.create_task(server.serve(sockets=[listening]))
        watchers = [loop.create_task(self.watch_config())]
        leading = await self.try_to_lead()
        watchers.append(loop.create_task(self.keep_role()))  # also during a long first scan
        if leading and self.first_scan is not None:
            await self.first_scan  # a leader serves its first scan's feeds from the start
        else:
            log.info(
                "follower: another process leads (%s); serving, trying for the lock every %g s",
                self.leadership,
                LEADER_LOOK,
            )
        if not self.stop.is_set():
            self._schedule()
            url = f"http://{server.config.host}:{server.config.port}/"
            log.info("serving %s (content %s)", url, settings.content_dir)
            await self.stop.wait()
        await self._shut_down(server, serving, watchers)

    def role(self) -> str:
        """`leader` or `follower`, for the health endpoint."""
        return "leader" if self.leading else "follower"

    def _schedule(self) -> None:
        # Every process delivers the outbox each tick, and at once when its web pages just
        # recorded a mail; the leader also at once after planning digests.
        self.scheduler.add_job(self.deliver, "interval", seconds=DIGEST_TICK, id="deliver")
        self.scheduler.start()

    def _schedule_leader_jobs(self) -> None:
        interval = self.settings.service.scan_interval
        soon = _now() + dt.timedelta(seconds=RESCAN_AFTER_START)
        add = functools.partial(self.scheduler.add_job, replace_existing=True)
        add(
            self.scan,
            "interval",
            seconds=interval,
            args=["periodic"],
            next_run_time=soon,
            id="scan",
        )
        add(self.digests, "interval", seconds=DIGEST_TICK, next_run_time=_now(), id="digests")
        add(self.forget, "interval", seconds=FORGET_TICK, next_run_time=soon, id="forget")
        add(
            self.unsubscribes,
            "interval",
            seconds=UNSUBSCRIBE_TICK,
            next_run_time=_now(),
            id="unsubscribes",
        )

    def _stop(self, sig: int) -> None:
        log.info("stopping (%s)", signal.Signals(sig).name)
        self.stop.set()
        self.term.set()

    async def _shut_down(
        self,
        server: uvicorn.Server,
        serving: asyncio.Task[None],
        watchers: list[asyncio.Task[None]],
    ) -> None:
        # The scheduler's shutdown does not wait for coroutine jobs: pause it, then wait for
        # the jobs in progress to finish by taking their locks ourselves.
        if self.scheduler.running:
            self.scheduler.pause()
        async with self.scanning, self.mailing:
            if self.scheduler.running:
                self.scheduler.shutdown(wait=False)
        await asyncio.gather(*watchers, *self.background, return_exceptions=True)
        server.should_exit = True
        await serving
        if self.pusher is not None:
            await self.pusher.close()
        self.leading = False
        await asyncio.to_thread(self.leadership.release)
        self.engine.dispose()
        log.info("stopped")


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket for the web server, or a ServiceError saying why there is none."""
    try:
        listening = socket.create_server((host, port), reuse_port=False)
    except OSError as error:
        raise ServiceError(host, port, error.strerror or str(error)) from error
    listening.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return listening


def _content_filter(change: Change, path: str) -> bool:
    name = Path(path).name
    hidden = name.startswith((".", "~", "#")) or name.endswith(("~", ".tmp", ".part", ".swp"))
    return not hidden and (Path(path).suffix.lower() in SUFFIXES or "." not in name)


async def _settled(paths: set[Path]) -> None:
    """Wait until the changed files stop growing: watchers report files still being written.

    A file is settled when two looks find it unchanged and its modification time is
    SETTLE_QUIET old. Counting from that time rather than from the event does not add the
    watcher's delay to the wait, and a file that lands whole with an old time (renamed in by
    rsync, cp -p or tar) waits only for the second look.
    """
    waited = 0.0
    before = _sizes(paths)
    while waited < SETTLE_LIMIT:
        pause = min(max(SETTLE_LOOK, _quiet_left(before)), SETTLE_LIMIT - waited)
        await asyncio.sleep(pause)
        waited += pause
        after = _sizes(paths)
        if after == before and _quiet_left(after) <= CLOCK_SLACK:
            return
        before = after


def _quiet_left(found: dict[Path, tuple[int, int]]) -> float:
    """Seconds until the last written of these files has gone SETTLE_QUIET unwritten."""
    newest = max((mtime_ns for _, mtime_ns in found.values()), default=0)
    return newest / 1e9 + SETTLE_QUIET - time.time()


def _config_stamp(settings: Settings) -> dict[Path, tuple[int, int]]:
    """Sizes and times of the config files, to tell when they change."""
    return _sizes({settings.config_file, settings.topics_file})


def _sizes(paths: set[Path]) -> dict[Path, tuple[int, int]]:
    found = {}
    for path in paths:
        with contextlib.suppress(OSError):
            stat = path.stat()
            found[path] = (stat.st_size, stat.st_mtime_ns)
    return found


def run_service(
    config: Path | None, overrides: dict[str, Any], *, host: str | None, port: int | None
) -> None:
    """Run the service until it is told to stop."""

    async def main() -> None:
        service = Service(config, overrides)
        await service.run(host=host, port=port)

    asyncio.run(main())
