"""Find and kill processes started inside sandbox machines that outlived their sandbox
(e.g. after kill -9). Every command run in a machine carries DUMONT_SANDBOX_ID=<id of the data
dir> in its environment; children inherit it. Standard library only (used by the handle too)."""
from __future__ import annotations

import hashlib
import os
import signal
import time
from pathlib import Path
from typing import List

MARKER = "DUMONT_SANDBOX_ID"


def sandbox_id(data_dir) -> str:
    return hashlib.sha1(str(Path(data_dir).resolve()).encode()).hexdigest()[:16]


def find(data_dir) -> List[int]:
    needle = f"{MARKER}={sandbox_id(data_dir)}".encode()
    me = os.getpid()
    found = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return found
    for name in entries:
        if not name.isdigit() or int(name) == me:
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as fh:
                env = fh.read()
        except OSError:
            continue
        if needle in env.split(b"\0") and not _zombie(int(name)):
            found.append(int(name))
    return found


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] in (b"Z", b"X")
    except (OSError, IndexError):
        return True


def reap(data_dir, wait: float = 2.0) -> int:
    """SIGKILL every leftover process of this data dir's machines and wait (briefly) until
    they are gone; returns how many were killed."""
    killed = set()
    for pid in find(data_dir):
        try:
            os.kill(pid, signal.SIGKILL)
            killed.add(pid)
        except (ProcessLookupError, PermissionError):
            pass
    deadline = time.monotonic() + wait
    while killed and time.monotonic() < deadline:
        if all(_zombie(pid) for pid in killed):
            break
        time.sleep(0.01)
    return len(killed)
