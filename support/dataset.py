"""Data written on a machine so that its survival can be proved: a data set and canary files.

Integrity, not existence: every file is hashed where it was written, and a
copy elsewhere is re-hashed and compared file by file. Canary files are
written at known moments before a failure; the newest one that reached the
standby bounds when the last sync happened, and every byte written after it
and missing on the standby is the data lost (RPO).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from support.models import WORKSPACE, compare, parse_listing

DATA_DIR = '"$WS/dataset"'
CANARY_DIR = '"$WS/canary"'


@dataclass
class Written:
    """Files the suite wrote: hashes, sizes, and when each write began and finished (epoch)."""

    hashes: dict[str, str] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)
    written_at: dict[str, float] = field(default_factory=dict)
    begun_at: dict[str, float] = field(default_factory=dict)

    def add(self, hashes: dict[str, str], size: int, at: float, begun: float | None = None) -> None:
        for path, digest in hashes.items():
            self.hashes[path] = digest
            self.sizes[path] = size
            self.written_at[path] = at
            self.begun_at[path] = at if begun is None else begun


def write_dataset(session, files: int, size_bytes: int, timeout: float) -> Written:
    """``files`` files of ``size_bytes`` random bytes under $WORKSPACE/dataset, hashed on the machine.

    One command: one stream of random bytes cut into the files, and their hashes listed. Nothing is
    flushed to the GPU's disk: a sync to the standby copies what the file system shows, which a write
    shows once it returns, and what the suite checks is the standby's copy and, after a failback, what
    the pair synced back (a flush took 10–100 ms of the disk's time and proved neither).
    """
    width = len(str(files))
    command = (f"set -e; {WORKSPACE}; mkdir -p {DATA_DIR}; cd {DATA_DIR}; "
               f"head -c {files * size_bytes} /dev/urandom | split -b {size_bytes} -a {width} "
               f"--numeric-suffixes=1 --additional-suffix=.bin - part-; sha256sum part-*.bin")
    result = session.check(command, timeout=timeout, what="writing the data set")
    hashes = {f"dataset/{path}": digest for path, digest in parse_listing(result.stdout).items()}
    if len(hashes) != files:
        raise AssertionError(f"writing the data set made {len(hashes)} files, not {files}")
    written = Written()
    written.add(hashes, size_bytes, time.time())
    return written


def write_canary(session, written: Written, index: int, size_bytes: int, timeout: float) -> None:
    """One canary file, ``canary/c<index>.bin``; its write time is when the command returned (not flushed:
    see :func:`write_dataset`)."""
    name = f"c{index:04d}.bin"
    begun = time.time()
    result = session.check(f"set -e; {WORKSPACE}; mkdir -p {CANARY_DIR}; cd {CANARY_DIR}; "
                           f"head -c {size_bytes} /dev/urandom > {name}; sha256sum {name}",
                           timeout=timeout, what="writing a canary file")
    digest = result.stdout.split()[0]
    written.add({f"canary/{name}": digest}, size_bytes, time.time(), begun)


#: Every data set and canary file under $WORKSPACE with its sha256, keyed as in :class:`Written`.
LISTING = (f"{WORKSPACE}; cd \"$WS\" && find dataset canary -type f -printf '%p\\0' 2>/dev/null "
           f"| sort -z | xargs -0 -r sha256sum")


def read_all(session, timeout: float) -> dict[str, str]:
    """Hashes of every data set and canary file on the machine (one command), keyed as in :class:`Written`."""
    result = session.run(LISTING, timeout=timeout)
    return parse_listing(result.stdout) if result.ok else {}


def intact(written: Written, found: dict[str, str], exclude_prefix: str = "canary/") -> bool:
    """Every data set file is in ``found`` with the hash it was written with."""
    return not compare(_data_set(written, exclude_prefix), found)


def _data_set(written: Written, exclude_prefix: str) -> dict[str, str]:
    return {p: d for p, d in written.hashes.items() if not p.startswith(exclude_prefix)}


def verify(written: Written, found: dict[str, str], where: str, exclude_prefix: str = "canary/") -> None:
    """Every data set file is on ``where`` with the same hash; names each missing or corrupt file."""
    problems = compare(_data_set(written, exclude_prefix), found)
    if problems:
        raise AssertionError(f"data set not intact on {where}: " + "; ".join(problems))


@dataclass
class DataLoss:
    """What a failover lost: the files and bytes written after the last sync, and for how long.

    The moment the last completed sync took its copy is bracketed by the
    canaries: after the newest one that reached the standby began to be
    written, before the oldest one that did not was done (or the failure
    itself, if none was lost).
    ``rpo_seconds`` is measured from the middle of that bracket, and
    ``rpo_seconds_min``/``rpo_seconds_max`` from its ends.
    """

    lost_files: list[str]
    lost_bytes: int
    rpo_seconds: float | None
    rpo_seconds_min: float | None = None
    rpo_seconds_max: float | None = None


def measure_loss(written: Written, found: dict[str, str], failed_at: float) -> DataLoss:
    """Compare what was written with what the standby has."""
    lost = sorted(p for p, digest in written.hashes.items() if found.get(p) != digest)
    lost_bytes = sum(written.sizes[p] for p in lost)
    canaries = [p for p in written.hashes if p.startswith("canary/")]
    if not canaries:
        return DataLoss(lost, lost_bytes, None)
    # A canary that reached the standby began before the copy was taken; one that did not ended after.
    kept = [written.begun_at[p] for p in canaries if p not in lost]
    missing = [written.written_at[p] for p in canaries if p in lost]
    earliest = max(kept) if kept else min(written.begun_at[p] for p in canaries)
    latest = min((t for t in missing if t >= earliest), default=failed_at)
    latest = min(latest, failed_at)
    middle = (earliest + latest) / 2
    return DataLoss(lost, lost_bytes, max(0.0, failed_at - middle), max(0.0, failed_at - latest),
                    max(0.0, failed_at - earliest))
