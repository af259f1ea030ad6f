"""`pressfeed run` as a subprocess for the service benchmarks: generated content, a free port,
settings in a work directory, and its log lines with the moment each one arrived.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
STOP_WAIT = 30.0  # seconds a stopping service may take before it is killed


def free_port() -> int:
    """A loopback port where nothing listens now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def generate_content(pages: int, root: Path, seed: int = 1) -> None:
    """`pages` generated release pages under `root` (their file times spread over ten years)."""
    command = [sys.executable, str(HERE / "generate.py"), str(pages), str(root)]
    subprocess.run([*command, "--seed", str(seed)], check=True, timeout=600)


def write_settings(work: Path, port: int) -> Path:
    """Settings keeping everything under `work`, with the project's topics and templates."""
    config = work / "pressfeed.toml"
    config.write_text(
        'content_dir = "content"\noutput_dir = "feeds"\ndatabase = "pressfeed.db"\n'
        f'site_url = "http://127.0.0.1:{port}/"\n'
        f'topics_file = "{(ROOT / "config" / "topics.toml").as_posix()}"\n'
        f'templates_dir = "{(ROOT / "templates").as_posix()}"\n'
        '[email]\ntransport = "directory"\noutbox_dir = "outbox"\n'
        "[service]\nscan_interval = 3600\n",
        encoding="utf-8",
    )
    (work / "content").mkdir(exist_ok=True)
    return config


class ServiceProcess:
    """A running `pressfeed run`; each log line is kept with the `time.perf_counter()` it came."""

    def __init__(self, config: Path, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}/"
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "PYTHONUNBUFFERED": "1"}
        command = [sys.executable, "-m", "pressfeed.cli", "--config", str(config), "run"]
        self.process = subprocess.Popen(
            [*command, "--port", str(port)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[tuple[float, str]] = []
        self.arrived = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self.arrived:
                self.lines.append((time.perf_counter(), line.rstrip("\n")))
                self.arrived.notify_all()

    def mark(self) -> int:
        """A position in the log: `wait_for` after it sees only later lines."""
        with self.arrived:
            return len(self.lines)

    def wait_for(self, pattern: str, timeout: float, after: int = 0) -> tuple[float, str]:
        """The first line after position `after` matching `pattern`, and when it arrived."""
        deadline = time.monotonic() + timeout
        seen = after
        with self.arrived:
            while True:
                for arrived, line in self.lines[seen:]:
                    if re.search(pattern, line):
                        return arrived, line
                seen = len(self.lines)
                left = deadline - time.monotonic()
                if left <= 0 or self.process.poll() is not None:
                    raise RuntimeError(f"no service log line matching {pattern!r}; {self.tail()}")
                self.arrived.wait(min(left, 0.5))

    def tail(self, count: int = 20) -> str:
        """The last lines of the log, to explain a failure."""
        with self.arrived:
            return "log:\n" + "\n".join(line for _, line in self.lines[-count:])

    def stop(self) -> int:
        """SIGTERM, then SIGKILL if it does not stop in time; its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=STOP_WAIT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait(timeout=STOP_WAIT)
        self.reader.join(timeout=STOP_WAIT)
        return code

    def __enter__(self) -> ServiceProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def spread(values: list[float], unit: float = 1.0, digits: int = 0) -> str:
    """Median (min-max), each value divided by `unit`."""
    scaled = [v / unit for v in values]
    median, low, high = statistics.median(scaled), min(scaled), max(scaled)
    return f"{median:.{digits}f} ({low:.{digits}f}-{high:.{digits}f})"
