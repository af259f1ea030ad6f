"""HTTP benchmark: requests per second for a feed, pressfeed's server against nginx, same run.

Starts `pressfeed run` on generated content and nginx (a generated config in a temporary
directory, one worker, no access log) on the same output directory, then loads both with wrk:
50 connections fetch the `all` Atom feed, whole (200), compressed (200 with gzip) and
conditionally with the current ETag (304). Runs alternate between the two servers so that
noise on the machine falls on both. Needs nginx and wrk (`apt-get install nginx wrk`).

    python benchmarks/bench_http.py --out build/bench/http.md
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from service_process import ServiceProcess, free_port, generate_content, spread, write_settings

FEED = "all.atom"
START_TIMEOUT = 600.0  # seconds the first scan and publish of the generated pages may take
NGINX_START = 10.0  # seconds nginx may take to listen
WRK_GRACE = 30.0  # seconds a wrk run may overrun its duration before it is killed
NGINX_PATHS = ("/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx")
CASES = {
    "200": {},
    "200 gzip": {"Accept-Encoding": "gzip"},
    "304": {"If-None-Match": ""},  # each server's own ETag is filled in
}

NGINX_CONF = """\
worker_processes 1;
daemon off;
pid {work}/nginx.pid;
error_log {work}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {work}/client_body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    types {{ application/atom+xml atom; application/rss+xml rss; application/feed+json json;
             text/x-opml opml; text/html html; }}
    default_type application/octet-stream;
    charset utf-8;
    charset_types application/atom+xml application/rss+xml application/feed+json text/x-opml;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 1000000;
    etag on;
    gzip on;
    gzip_min_length 500;
    gzip_types application/atom+xml application/rss+xml application/feed+json text/x-opml;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        add_header Cache-Control "public, max-age=60";
    }}
}}
"""


class MissingToolError(Exception):
    """A program the benchmark needs is not installed."""

    def __init__(self, tool: str) -> None:
        super().__init__(
            f"{tool} is not installed; install nginx and wrk (as root: apt-get install nginx wrk) "
            "and run again"
        )


def find_tools() -> tuple[str, str]:
    """The nginx and wrk executables, or MissingToolError."""
    nginx = shutil.which("nginx") or next((p for p in NGINX_PATHS if Path(p).is_file()), None)
    wrk = shutil.which("wrk")
    if nginx is None:
        raise MissingToolError("nginx")
    if wrk is None:
        raise MissingToolError("wrk")
    return nginx, wrk


class Nginx:
    """nginx in the foreground on `port`, serving `root`, with everything it writes in `work`."""

    def __init__(self, executable: str, work: Path, root: Path, port: int) -> None:
        work.mkdir()
        config = work / "nginx.conf"
        config.write_text(NGINX_CONF.format(work=work, root=root, port=port), encoding="utf-8")
        command = [executable, "-p", str(work), "-e", str(work / "error.log"), "-c", str(config)]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True
        )
        self.url = f"http://127.0.0.1:{port}/"
        wait_for_port(port, NGINX_START, self.process, work / "error.log")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
        try:
            self.process.wait(timeout=NGINX_START)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=NGINX_START)


def wait_for_port(port: int, timeout: float, process: subprocess.Popen[str], log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            time.sleep(0.05)
            continue
        return
    errors = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    raise RuntimeError(f"nginx did not listen on port {port}:\n{errors}")


@dataclass(frozen=True)
class Server:
    """A server under test: the feed's URL and its process, whose CPU time is counted."""

    url: str
    pid: int


@dataclass(frozen=True)
class Load:
    """What one wrk run reported, and the server's CPU time per request."""

    rate: float  # requests per second
    p50_ms: float
    p99_ms: float
    errors: int  # socket errors and non-2xx/3xx answers
    requests: int
    cpu_us: float = float("nan")  # server CPU microseconds per request; nan without /proc


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process and its children, from /proc (nan elsewhere)."""
    try:
        stats = {int(d.name): _stat_fields(d) for d in Path("/proc").iterdir() if d.name.isdigit()}
    except OSError:
        return float("nan")
    family = {pid} | {child for child, fields in stats.items() if fields and fields[1] == str(pid)}
    ticks = sum(int(stats[p][11]) + int(stats[p][12]) for p in family if stats.get(p))
    return ticks / os.sysconf("SC_CLK_TCK")


def _stat_fields(process: Path) -> list[str]:
    """The fields of /proc/PID/stat after the command name (state, ppid, ...), or none."""
    try:
        return (process / "stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def probe(url: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    """One GET: status, headers (lower-case names) and body."""
    parts = re.match(r"http://([^:/]+):(\d+)(/.*)", url)
    assert parts is not None
    connection = http.client.HTTPConnection(parts[1], int(parts[2]), timeout=10)
    try:
        connection.request("GET", parts[3], headers=headers)
        response = connection.getresponse()
        body = response.read()
        found = {name.lower(): value for name, value in response.getheaders()}
        return response.status, found, body
    finally:
        connection.close()


def case_headers(url: str, case: str) -> dict[str, str]:
    """The request headers of `case` for this server, checked to give the expected answer."""
    status, headers, body = probe(url, {})
    if status != 200:
        raise RuntimeError(f"GET {url} answered {status}")
    wanted = dict(CASES[case])
    if "If-None-Match" in wanted:
        wanted["If-None-Match"] = headers["etag"]
    answer, got, zipped = probe(url, wanted)
    expected = 304 if case == "304" else 200
    if answer != expected:
        raise RuntimeError(f"GET {url} with {wanted} answered {answer}, not {expected}")
    if case == "200 gzip" and gzip.decompress(zipped) != body:
        raise RuntimeError(f"GET {url} with gzip did not give the same feed")
    if case == "200" and got.get("content-encoding"):
        raise RuntimeError(f"GET {url} without Accept-Encoding came {got['content-encoding']}")
    return wanted


def run_wrk(wrk: str, server: Server, headers: dict[str, str], args: argparse.Namespace) -> Load:
    before = cpu_seconds(server.pid)
    command = [wrk, f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}s"]
    command += ["--latency", "--timeout", "5s"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    done = subprocess.run(
        [*command, server.url],
        capture_output=True,
        text=True,
        check=True,
        timeout=args.duration + WRK_GRACE,
    )
    load = parse_wrk(done.stdout)
    cpu = cpu_seconds(server.pid) - before
    return replace(load, cpu_us=cpu / max(load.requests, 1) * 1e6)


def parse_wrk(output: str) -> Load:
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    count = re.search(r"(\d+) requests in", output)
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)\b", output)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", output)
    if not (rate and count and p50 and p99):
        raise RuntimeError(f"cannot read wrk's output:\n{output}")
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors += int(bad[1]) if bad else 0
    return Load(float(rate[1]), _ms(p50), _ms(p99), errors, int(count[1]))


def _ms(found: re.Match[str]) -> float:
    return float(found[1]) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[found[2]]


def load_both(
    wrk: str, servers: dict[str, Server], args: argparse.Namespace
) -> dict[str, list[Load]]:
    """Every case against every server, `runs` times, alternating servers."""
    loads: dict[str, list[Load]] = {}
    for case in CASES:
        headers = {name: case_headers(server.url, case) for name, server in servers.items()}
        for _ in range(args.runs):
            for name, server in servers.items():
                load = run_wrk(wrk, server, headers[name], args)
                loads.setdefault(f"{case}|{name}", []).append(load)
                print(
                    f"  {case:<8} {name:<9} {load.rate:8.0f}/s  p50 {load.p50_ms:6.2f} ms  "
                    f"p99 {load.p99_ms:7.1f} ms  cpu {load.cpu_us:6.0f} us/request",
                    flush=True,
                )
    return loads


def table(loads: dict[str, list[Load]]) -> list[str]:
    lines = [
        "| request | server | requests/s | p50 ms | p99 ms | server CPU µs/request | errors |",
        "|---|---|---|---|---|---|---|",
    ]
    for case in CASES:
        for name in ("pressfeed", "nginx"):
            runs = loads[f"{case}|{name}"]
            lines.append(
                f"| {case} | {name} | {spread([r.rate for r in runs])} "
                f"| {spread([r.p50_ms for r in runs], digits=2)} "
                f"| {spread([r.p99_ms for r in runs], digits=1)} "
                f"| {spread([r.cpu_us for r in runs])} | {sum(r.errors for r in runs)} |"
            )
    return lines


def ratio_table(loads: dict[str, list[Load]]) -> list[str]:
    lines = [
        "| request | requests/s, pressfeed / nginx | CPU per request, pressfeed / nginx |",
        "|---|---|---|",
    ]
    for case, (rate, cpu) in ratios(loads).items():
        lines.append(f"| {case} | {rate:.3f} | {cpu:.1f} |")
    return lines


def ratios(loads: dict[str, list[Load]]) -> dict[str, tuple[float, float]]:
    """Per case: the ratio of median rates, and the ratio of median CPU time per request."""
    found = {}
    for case in CASES:
        ours, theirs = loads[f"{case}|pressfeed"], loads[f"{case}|nginx"]
        rate = _median(r.rate for r in ours) / _median(r.rate for r in theirs)
        found[case] = (rate, _median(r.cpu_us for r in ours) / _median(r.cpu_us for r in theirs))
    return found


def _median(values: Iterable[float]) -> float:
    return statistics.median(values)


def conclusion(loads: dict[str, list[Load]]) -> str:
    found = ratios(loads)
    listed = ", ".join(f"{case} {rate:.1%}" for case, (rate, _) in found.items())
    errors = sum(r.errors for runs in loads.values() for r in runs)
    return (
        f"pressfeed's own server reaches {listed} of nginx's request rate on the same file "
        f"(errors over all runs: {errors}). In front of heavy traffic, serve the output "
        "directory with nginx as the README shows; pressfeed's server is for the sign-up pages "
        "and modest feed traffic."
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000, help="generated pages behind the feed")
    parser.add_argument("--runs", type=int, default=3, help="wrk runs per case and server")
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="a smoke test: small and short")
    parser.add_argument("--out", type=Path, help="write a markdown section to this file")
    args = parser.parse_args()
    if args.quick:
        args.pages, args.runs, args.duration = 200, 1, 1
    try:
        nginx_path, wrk = find_tools()
    except MissingToolError as error:
        print(f"bench_http: {error}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="pressfeed-http-") as tmp:
        work = Path(tmp)
        work.chmod(0o755)  # nginx's worker runs as another user when started by root
        port = free_port()
        config = write_settings(work, port)
        generate_content(args.pages, work / "content")
        with ServiceProcess(config, port) as service:
            service.wait_for(r"serving http://", START_TIMEOUT)
            service.wait_for(r"scan done \(periodic\)", START_TIMEOUT)  # then it is idle
            nginx = Nginx(nginx_path, work / "nginx", work / "feeds", free_port())
            try:
                servers = {
                    "pressfeed": Server(service.url + FEED, service.process.pid),
                    "nginx": Server(nginx.url + FEED, nginx.process.pid),
                }
                size = len(probe(servers["nginx"].url, {})[2])
                loads = load_both(wrk, servers, args)
            finally:
                nginx.stop()
    lines = [*table(loads), "", *ratio_table(loads)]
    print("\n".join([*lines, "", conclusion(loads)]))
    if args.out:
        write_section(args, size, lines, conclusion(loads))
    return 0


def write_section(args: argparse.Namespace, size: int, lines: list[str], end: str) -> None:
    method = (
        "## HTTP\n\n"
        f"The `all` Atom feed ({size / 1024:.0f} KB, from {args.pages:,} generated pages) served "
        "by `pressfeed run` itself and by nginx (one worker process, sendfile, ETag, gzip for "
        "the feed types, no access log) from the same output directory, in the same run. wrk "
        f"keeps {args.connections} connections busy over loopback with {args.threads} threads "
        f"for {args.duration} s per run; median (min-max) of {args.runs} runs, alternating "
        "between the servers. 200: the whole feed; 200 gzip: with `Accept-Encoding: gzip`; "
        "304: with `If-None-Match` and the server's current ETag. Ratios divide medians. wrk "
        "and both servers share the machine's cores, so rates move with whatever else runs; "
        "the servers' CPU time per request (user and system, from /proc) moves much less.\n\n"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(method + "\n".join(lines) + "\n\n" + end + "\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
