"""Pool workers end when the process that started them is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from tests.conftest import ROOT
from tests.crashing import group_members

# A parent that starts a pool the way scan and publish do, reports its workers, then waits.
PARENT = """
import multiprocessing, os, threading
from concurrent.futures import ProcessPoolExecutor
from pressfeed.processes import end_with_parent

pool = ProcessPoolExecutor(
    2, mp_context=multiprocessing.get_context("forkserver"), initializer=end_with_parent
)
print(*{pool.submit(os.getpid).result() for _ in range(8)}, flush=True)
threading.Event().wait()
"""


def test_pool_workers_exit_when_their_parent_is_killed() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert parent.stdout is not None
        workers = [int(pid) for pid in parent.stdout.readline().split()]
        assert workers
        assert set(workers) <= set(group_members(parent.pid))
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=30)
        deadline = time.monotonic() + 10.0
        while group_members(parent.pid) and time.monotonic() < deadline:
            time.sleep(0.05)  # polling the process table, with a deadline
        assert group_members(parent.pid) == []
    finally:
        if group_members(parent.pid):
            os.killpg(parent.pid, signal.SIGKILL)
        parent.stdout.close()  # type: ignore[union-attr]
