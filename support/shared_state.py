"""A small JSON state shared by the processes of a run, changed under an exclusive lock.

The run's request budget and its money budget are both such files: every
parallel worker reads, changes and writes them in one locked step, so no two
processes ever act on the same stale state.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import Callable, TypeVar

T = TypeVar("T")


def change_locked(path: Path, change: Callable[[dict], T], durable: bool = False) -> T:
    """Read the JSON object at ``path`` (empty when missing or unreadable), let ``change`` alter it in
    place, write it back, all under ``flock``; return what ``change`` returned. ``durable`` also fsyncs
    (for money; a request budget does without)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        raw = os.read(fd, 1 << 20)
        try:
            state = json.loads(raw) if raw else {}
        except ValueError:
            state = {}
        if not isinstance(state, dict):
            state = {}
        answer = change(state)
        # Padded to the old length instead of truncated: JSON ignores trailing blanks, and a truncate on
        # every API call cost more than the rest of this function together.
        os.pwrite(fd, json.dumps(state).encode().ljust(len(raw)), 0)
        if durable:
            os.fsync(fd)
        return answer
    finally:
        os.close(fd)   # closing releases the lock
