"""Worker processes that end when the process that started them dies."""

from __future__ import annotations

import multiprocessing
import os
import threading
from multiprocessing.process import BaseProcess


def end_with_parent() -> None:
    """In a pool's worker: exit at once when the process that started the pool is gone.

    A killed scan or publish would otherwise leave its workers waiting for work forever, holding
    memory and open files; a publish worker could even write a stale file after the next run.
    """
    parent = multiprocessing.parent_process()
    if parent is not None:
        watch = threading.Thread(target=_exit_after, args=(parent,), daemon=True)
        watch.start()


def _exit_after(parent: BaseProcess) -> None:
    # join() waits on a pipe that only the parent holds open: it returns when the parent ends.
    parent.join()
    os._exit(1)
