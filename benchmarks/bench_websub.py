"""File-to-subscriber latency: from a release file landing to its feed POSTed to a WebSub callback.

Starts `pressfeed run` with its WebSub hub (`service.websub = true`) on generated content, and a
subscriber's callback server in this process (a real HTTP server on loopback) that subscribes
to `health.atom` with a secret and waits for its verification. Then release files land one at
a time (written under a dot name, then renamed in) and each is timed from the rename to the
moment the callback has received a delivery whose body holds its headline, with a valid
signature.

    python benchmarks/bench_websub.py --out build/bench/websub.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import hmac
import statistics
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench_latency import land_atomic, make_drop, percentile
from service_process import ServiceProcess, free_port, generate_content, write_settings

TARGET_P95 = 1.0  # seconds from a dropped file to the subscriber's callback
DROP_TIMEOUT = 20.0  # seconds a drop may take to arrive before the run fails
START_TIMEOUT = 600.0  # seconds the first scan and publish of the generated pages may take
SECRET = "benchmark-subscriber-secret"
TOPIC = "health.atom"


class Callback:
    """A subscriber's callback: echoes challenges, and keeps each delivery with when it came."""

    def __init__(self) -> None:
        self.deliveries: list[tuple[float, bytes, str]] = []
        self.arrived = threading.Condition()
        self.httpd: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.httpd is not None
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/push"

    def received(self, body: bytes, signature: str) -> None:
        with self.arrived:
            self.deliveries.append((time.perf_counter(), body, signature))
            self.arrived.notify_all()

    def wait_for(self, text: bytes, timeout: float) -> tuple[float, bytes, str]:
        """The first delivery holding `text`."""
        deadline = time.monotonic() + timeout
        with self.arrived:
            while True:
                for found in self.deliveries:
                    if text in found[1]:
                        return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RuntimeError(f"no delivery holding {text.decode()!r} in {timeout} s")
                self.arrived.wait(left)

    @contextmanager
    def serving(self) -> Iterator[Callback]:
        callback = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                self._reply(query.get("hub.challenge", [""])[0].encode())

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                callback.received(body, self.headers.get("X-Hub-Signature", ""))
                self._reply(b"")

            def _reply(self, body: bytes) -> None:
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.httpd.shutdown()
            self.httpd.server_close()
            thread.join()


def subscribe(service: ServiceProcess, callback: Callback) -> None:
    fields = {
        "hub.mode": "subscribe",
        "hub.callback": callback.url,
        "hub.topic": service.url + TOPIC,
        "hub.secret": SECRET,
    }
    data = urllib.parse.urlencode(fields).encode()
    with urllib.request.urlopen(service.url + "hub", data=data, timeout=10) as response:
        if response.status != 202:
            raise RuntimeError(f"subscription answered {response.status}")
    service.wait_for(r"websub subscribe verified", DROP_TIMEOUT)


def signed(body: bytes) -> str:
    return "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


def run_drops(service: ServiceProcess, callback: Callback, folder: Path, count: int) -> list[float]:
    today = dt.datetime.now(dt.UTC).date()
    latencies = []
    for n in range(count):
        drop = make_drop("websub", n, today)
        mark = service.mark()
        start = land_atomic(folder, drop)
        arrived, body, signature = callback.wait_for(drop.headline.encode(), DROP_TIMEOUT)
        if signature != signed(body):
            raise RuntimeError(f"delivery of drop {n} carries a wrong signature")
        latencies.append(arrived - start)
        service.wait_for(r"scan done \(files changed\)", DROP_TIMEOUT, mark)  # idle again
    return latencies


def table(latencies: list[float]) -> list[str]:
    ms = [v * 1000 for v in latencies]
    return [
        "| drops | p50 ms | p95 ms | min-max ms |",
        "|---|---|---|---|",
        f"| {len(ms)} | {statistics.median(ms):.0f} | {percentile(ms, 0.95):.0f} "
        f"| {min(ms):.0f}-{max(ms):.0f} |",
    ]


def conclusion(latencies: list[float]) -> str:
    p95 = percentile(latencies, 0.95)
    verdict = "met" if p95 < TARGET_P95 else "not met"
    return (
        f"Target p95 < {TARGET_P95 * 1000:.0f} ms from a dropped file to the subscriber's "
        f"callback: {verdict} (p95 {p95 * 1000:.0f} ms, p50 "
        f"{statistics.median(latencies) * 1000:.0f} ms)."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000, help="generated pages preloaded")
    parser.add_argument("--drops", type=int, default=50, help="files dropped one at a time")
    parser.add_argument("--quick", action="store_true", help="a smoke test: small and short")
    parser.add_argument("--out", type=Path, help="write a markdown section to this file")
    args = parser.parse_args()
    if args.quick:
        args.pages, args.drops = 200, 5
    with tempfile.TemporaryDirectory(prefix="pressfeed-websub-") as tmp:
        work = Path(tmp)
        port = free_port()
        config = write_settings(work, port)
        with config.open("a", encoding="utf-8") as settings:
            # The [service] table ends the file; the subscriber is on this host.
            settings.write("websub = true\nwebsub_private_callbacks = true\n")
        generate_content(args.pages, work / "content")
        drops = work / "content" / "drops"
        drops.mkdir()
        with ServiceProcess(config, port) as service, Callback().serving() as callback:
            service.wait_for(r"serving http://", START_TIMEOUT)
            service.wait_for(r"scan done \(periodic\)", START_TIMEOUT)  # the rescan after start
            subscribe(service, callback)
            latencies = run_drops(service, callback, drops, args.drops)
    lines = table(latencies)
    end = conclusion(latencies)
    print("\n".join([*lines, "", end]))
    if args.out:
        method = (
            "## File-to-subscriber latency (WebSub)\n\n"
            f"`pressfeed run` with `service.websub = true` on {args.pages:,} generated pages, "
            f"idle, and a subscriber to `{TOPIC}` with a secret: a real HTTP server on loopback "
            "in the benchmark's process. One release file at a time is written under an "
            "ignored dot name and renamed into the content directory; each is timed from the "
            "rename to the moment the callback has received the feed holding its headline "
            "(its signature checked). p95 is the nearest rank.\n\n"
        )
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(method + "\n".join(lines) + "\n\n" + end + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
