"""Many senders: 1, 2 and 4 `pressfeed send` processes over one PostgreSQL outbox, and a kill.

A throw-away PostgreSQL server (durable: commits reach the disk) gets generated releases and
N subscribers (`bench_digest.py`'s shapes), and every due digest is planned into the outbox
once. Each run then sets every message back to waiting, starts a fresh SMTP sink
(`smtp_sink.py`, aiosmtpd in its own process) and starts K `pressfeed send` processes at
once; it measures the rate while they send (messages over the time from the sink's first
message to its last; the wall time with process start is reported beside it), the messages
the sink accepted and the distinct recipients among them: a repeat is a message to someone
who already got theirs. In the same run, the sink's own intake is measured by a lean client
replaying the same messages over as many connections as 4 senders open (`bench_digest.py`'s
replay): no sender can go faster than that against this sink. A second series sends the first
LATE messages to a sink that takes DELAY to answer each one, as a distant relay does: there
the senders wait on the network, not on the processor, and more of them send more.

The kill run starts 4 senders and kills two of them with SIGKILL, at a quarter and at half of
the messages; the other two take the dead senders' claims back at their next batch. Nothing
may be lost, and repeats may not exceed what the killed senders had in flight (one message
per SMTP connection).

    python benchmarks/bench_senders.py --subscribers 10000 --runs 3 --out build/bench/senders.md
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bench_digest import HOST, bench_settings, fill_store, now, on_wire, replay
from smtp_sink import Counts, Sink

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))  # the suite's throw-away PostgreSQL server

from tests.postgres import PostgresServer  # noqa: E402

CONNECTIONS = 4  # SMTP connections per sender process
BATCH = 200  # messages a sender claims at a time (`pressfeed send`'s default)
SENDERS = (1, 2, 4)
KILLED_AT = (0.25, 0.5)  # shares of the messages at which a sender is killed
TIMEOUT = 1800.0  # seconds a run may take before the benchmark fails
DELAY = 0.05  # seconds the distant sink takes to answer each message
LATE = 2000  # messages of the series against it


@dataclass(frozen=True)
class Run:
    senders: int
    seconds: float
    counts: Counts
    planned: int

    @property
    def rate(self) -> float:
        """Messages per second while sending: from the sink's first message to its last."""
        return self.counts.messages / self.counts.span

    @property
    def repeats(self) -> int:
        return self.counts.messages - self.counts.recipients

    @property
    def lost(self) -> int:
        return self.planned - self.counts.recipients


def prepare(url: str, subscribers: int) -> int:
    """Releases, subscribers and their due digests in the outbox; how many digests."""
    from pressfeed import store
    from pressfeed.digest import DigestReport, mail_settings, plan_digests

    settings = replace(bench_settings(Path("unused.sqlite")), database=url)
    engine = store.open_store(url)
    try:
        fill_store(engine, settings, subscribers)
        report = DigestReport()
        mail = mail_settings(settings, engine)
        plan_digests(settings, engine, mail, now=now(), frequency=None, end_now=True, report=report)
    finally:
        engine.dispose()
    return report.planned


def reset_outbox(url: str, limit: int | None = None) -> int:
    """Every message (or the first `limit`) waiting again, due now, as if none had been tried;
    the others as sent. How many wait."""
    from sqlalchemy import select, update

    from pressfeed import store

    outbox = store.outbox
    engine = store.open_store(url)
    try:
        with engine.begin() as connection:
            keys = list(connection.execute(select(outbox.c.key).order_by(outbox.c.key)).scalars())
            waiting = keys[:limit]
            fresh = {"attempts": 0, "last_error": None, "claimed_by": None, "claimed_until": None}
            connection.execute(update(outbox).values(status="sent", sent_at=now(), **fresh))
            for start in range(0, len(waiting), 1000):
                connection.execute(
                    update(outbox)
                    .where(outbox.c.key.in_(waiting[start : start + 1000]))
                    .values(status="pending", sent_at=None, next_attempt=now())
                )
    finally:
        engine.dispose()
    return len(waiting)


def statuses(url: str) -> dict[str, int]:
    from sqlalchemy import func, select

    from pressfeed import store

    engine = store.open_store(url)
    try:
        with engine.connect() as connection:
            query = select(store.outbox.c.status, func.count()).group_by(store.outbox.c.status)
            return {status: int(count) for status, count in connection.execute(query)}
    finally:
        engine.dispose()


def write_config(work: Path, url: str, port: int) -> Path:
    config = work / "senders.toml"
    config.write_text(
        f'database = "{url}"\ncontent_dir = "content"\noutput_dir = "feeds"\n'
        f'topics_file = "{(ROOT / "config" / "topics.toml").as_posix()}"\n'
        f'templates_dir = "{(ROOT / "templates").as_posix()}"\n'
        f'[email]\ntransport = "smtp"\n[smtp]\nhost = "{HOST}"\nport = {port}\ntimeout = 60\n'
        f"[digest]\nconnections = {CONNECTIONS}\n",
        encoding="utf-8",
    )
    (work / "content").mkdir(exist_ok=True)
    return config


def start_senders(config: Path, count: int) -> list[subprocess.Popen[str]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    command = [sys.executable, "-m", "pressfeed", "--config", str(config), "send"]
    return [
        subprocess.Popen(
            [*command, "--batch", str(BATCH)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(count)
    ]


def finish(processes: Sequence[subprocess.Popen[str]], killed: Sequence[int] = ()) -> None:
    for index, process in enumerate(processes):
        _, err = process.communicate(timeout=TIMEOUT)
        if index not in killed and process.returncode != 0:
            raise RuntimeError(f"a sender failed ({process.returncode}):\n{err}")


def one_run(
    work: Path, url: str, senders: int, *, limit: int | None = None, delay: float = 0.0
) -> Run:
    planned = reset_outbox(url, limit)
    with Sink(delay) as sink:
        config = write_config(work, url, sink.port)
        started = time.perf_counter()
        finish(start_senders(config, senders))
        seconds = time.perf_counter() - started
        counts = sink.counts()
    return Run(senders, seconds, counts, planned)


def capacity(url: str) -> float:
    """Messages per second the sink takes from a client that does nothing else."""
    from pressfeed import store

    engine = store.open_store(url)
    try:
        with engine.connect() as connection:
            wires = deque(on_wire(row.message) for row in store.outbox_rows(connection))
    finally:
        engine.dispose()
    count = len(wires)
    with Sink() as sink:
        started = time.perf_counter()
        asyncio.run(replay(wires, sink.port, CONNECTIONS * max(SENDERS)))
        seconds = time.perf_counter() - started
        if sink.messages() != count:
            raise RuntimeError("the sink lost messages of the replay")
    return count / seconds


def kill_run(work: Path, url: str, planned: int) -> Run:
    """4 senders, two of them killed part way; the others finish the outbox."""
    reset_outbox(url)
    with Sink() as sink:
        config = write_config(work, url, sink.port)
        started = time.perf_counter()
        processes = start_senders(config, 4)
        killed: list[int] = []
        try:
            for index, share in enumerate(KILLED_AT):
                while sink.messages() < share * planned:
                    if time.perf_counter() - started > TIMEOUT:
                        raise RuntimeError("the senders stalled before the kill")
                    time.sleep(0.02)  # polling the sink's count, outside what is measured
                processes[index].send_signal(signal.SIGKILL)
                killed.append(index)
            finish(processes, killed)
        finally:
            for process in processes:
                process.kill()
        seconds = time.perf_counter() - started
        counts = sink.counts()
    left = {k: v for k, v in statuses(url).items() if k != "sent"}
    if left:
        raise RuntimeError(f"messages not sent after the kill run: {left}")
    return Run(4, seconds, counts, planned)


def wall(runs: Sequence[Run]) -> float:
    return statistics.median(r.seconds for r in runs)


def table(
    by_senders: dict[int, list[Run]], against: str, bound: Callable[[int], float]
) -> list[str]:
    """Rates against one sender's and against `bound(senders)`, which `against` names."""
    one = statistics.median(r.rate for r in by_senders[1])
    lines = [
        f"| senders | messages/s (median) | runs | vs 1 sender | of {against} | repeats | lost |",
        "|---|---|---|---|---|---|---|",
    ]
    for senders, runs in by_senders.items():
        rate = statistics.median(r.rate for r in runs)
        spread = ", ".join(f"{r.rate:.0f}" for r in runs)
        repeats = max(r.repeats for r in runs)
        lost = max(r.lost for r in runs)
        lines.append(
            f"| {senders} | {rate:.0f} | {spread} | {rate / one:.2f}x "
            f"| {rate / bound(senders):.0%} | {repeats} | {lost} |"
        )
    return lines


def local_table(by_senders: dict[int, list[Run]], intake: list[float]) -> list[str]:
    """The senders against the sink's own intake, and that intake as the last row."""
    one = statistics.median(r.rate for r in by_senders[1])
    ceiling = statistics.median(intake)
    spread = ", ".join(f"{c:.0f}" for c in intake)
    return [
        *table(by_senders, "the sink's intake", lambda _: ceiling),
        f"| sink's intake: lean replay, {CONNECTIONS * max(SENDERS)} connections | "
        f"{ceiling:.0f} | {spread} | {ceiling / one:.2f}x | 100% | | |",
    ]


def section(
    by_senders: dict[int, list[Run]],
    intake: list[float],
    distant: dict[int, list[Run]],
    kill: Run,
    args: Any,
    load: float,
) -> str:
    in_flight = len(KILLED_AT) * CONNECTIONS
    verdict = "PASS" if kill.lost == 0 and kill.repeats <= in_flight else "FAIL"
    lines = [
        "## Senders",
        "",
        f"`python benchmarks/bench_senders.py --subscribers {args.subscribers} --runs {args.runs}`"
        f" on {os.cpu_count()} CPUs (load {load:.1f} at the start): {kill.planned} digests for "
        f"{args.subscribers} subscribers in one PostgreSQL outbox (a durable throw-away server on "
        f"this machine), sent by `pressfeed send` processes of {CONNECTIONS} SMTP connections "
        f"each, batches of {BATCH}, into one aiosmtpd sink. Rates are over the sending, from the "
        "sink's first message to its last; the wall time from starting the senders to the last "
        f"exit adds their start (median with 4 senders: {wall(by_senders[4]):.1f} s for "
        f"{kill.planned} messages).",
        "",
        *local_table(by_senders, intake),
        "",
        f"Against a distant sink, which answers each message {DELAY * 1000:.0f} ms after its "
        f"final dot (the first {args.late} messages): a sender of {CONNECTIONS} connections can "
        f"send at most {CONNECTIONS / DELAY:.0f} messages/s there, whatever its processor.",
        "",
        *table(distant, "the connections' bound", lambda n: n * CONNECTIONS / DELAY),
        "",
        f"Kill run ({verdict}): 4 senders, one killed with SIGKILL at "
        f"{KILLED_AT[0]:.0%} and one at {KILLED_AT[1]:.0%} of the messages; the other two "
        f"finished the outbox in {kill.seconds:.1f} s. Lost: {kill.lost}; repeats: "
        f"{kill.repeats} (at most {in_flight}: one in flight per connection of the killed "
        f"senders); every outbox row ended `sent`.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--late", type=int, default=LATE, help="messages to the distant sink")
    parser.add_argument("--quick", action="store_true", help="2,000 subscribers, one run")
    parser.add_argument("--out", type=Path, help="write a markdown section here")
    args = parser.parse_args()
    if args.quick:
        args.subscribers, args.runs, args.late = 2000, 1, 500
    load = os.getloadavg()[0]
    with PostgresServer(durable=True) as server, tempfile.TemporaryDirectory() as tmp:
        url = server.url()
        planned = prepare(url, args.subscribers)
        by_senders: dict[int, list[Run]] = {k: [] for k in SENDERS}
        distant: dict[int, list[Run]] = {k: [] for k in SENDERS}
        intake: list[float] = []
        for index in range(args.runs):
            intake.append(capacity(url))
            for senders in SENDERS:
                run = one_run(Path(tmp), url, senders)
                by_senders[senders].append(run)
                late = one_run(Path(tmp), url, senders, limit=args.late, delay=DELAY)
                distant[senders].append(late)
                print(
                    f"run {index + 1}: {senders} senders {run.rate:.0f}/s, distant "
                    f"{late.rate:.0f}/s; {run.repeats + late.repeats} repeats, "
                    f"{run.lost + late.lost} lost",
                    file=sys.stderr,
                    flush=True,
                )
        kill = kill_run(Path(tmp), url, planned)
    text = section(by_senders, intake, distant, kill, args, load)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
    if kill.lost or kill.repeats > len(KILLED_AT) * CONNECTIONS:
        raise SystemExit("the kill run lost or repeated more than was in flight")


if __name__ == "__main__":
    main()
