"""Data written on a machine so that its survival can be proved: a data set and canary files.

Integrity, not existence: every file is hashed where it was written, and a
copy elsewhere is re-hashed and compared file by file. Canary files are
written at known moments before a failure; the newest one that reached the
standby bounds when the last sync happened, and every byte written after it
and missing on the standby is the data lost (RPO).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from support.clock import Moment
from support.models import WORKSPACE, compare, parse_listing

DATA_DIR = '"$WS/dataset"'
CANARY_DIR = '"$WS/canary"'


@dataclass
class Written:
    """Files the suite wrote: hashes, sizes, and when each was made.

    When a file was made is a :class:`Moment` on the suite's monotonic clock: after its command was
    sent, before the answer came. The failure is dated on the same clock, so the data-loss window is a
    difference of readings of one clock; epoch time (``time.time()``) would need a conversion whose
    offset is known only as well as two clock reads taken one after the other, which a loaded machine
    can set milliseconds apart.
    """

    hashes: dict[str, str] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)
    made: dict[str, Moment] = field(default_factory=dict)

    def add(self, hashes: dict[str, str], size: int, made: Moment) -> None:
        for path, digest in hashes.items():
            self.hashes[path] = digest
            self.sizes[path] = size
            self.made[path] = made


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
    sent = time.monotonic()
    result = session.check(command, timeout=timeout, what="writing the data set")
    made = Moment.during(sent, time.monotonic())
    hashes = {f"dataset/{path}": digest for path, digest in parse_listing(result.stdout).items()}
    if len(hashes) != files:
        raise AssertionError(f"writing the data set made {len(hashes)} files, not {files}")
    written = Written()
    written.add(hashes, size_bytes, made)
    return written


def write_canary(session, written: Written, index: int, size_bytes: int, timeout: float) -> None:
    """One canary file, ``canary/c<index>.bin``, made between the command's sending and its answer (not
    flushed: see :func:`write_dataset`)."""
    name = f"c{index:04d}.bin"
    sent = time.monotonic()
    result = session.check(f"set -e; {WORKSPACE}; mkdir -p {CANARY_DIR}; cd {CANARY_DIR}; "
                           f"head -c {size_bytes} /dev/urandom > {name}; sha256sum {name}",
                           timeout=timeout, what="writing a canary file")
    made = Moment.during(sent, time.monotonic())
    digest = result.stdout.split()[0]
    written.add({f"canary/{name}": digest}, size_bytes, made)


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

    The window runs from the moment the last completed sync took its copy of the workspace to the
    failure; both ends are known as brackets (wall seconds of the suite's monotonic clock). The copy
    came after every file the standby has began to be made (it was there to be copied), and before
    every canary the standby lacks was done and before the GPU was seen failed (a stopped GPU is not
    copied); the failure lies within the bracket of the wait that saw it.
    ``rpo_seconds`` is the window between the middles of the two brackets;
    ``rpo_seconds_min``/``rpo_seconds_max`` are the shortest and longest windows both brackets allow,
    so the true window lies between them. None: no canary was written, or nothing written reached the
    standby (then the copy has no lower bound and the window no upper one).
    """

    lost_files: list[str]
    lost_bytes: int
    rpo_seconds: float | None
    rpo_seconds_min: float | None = None
    rpo_seconds_max: float | None = None

    def rounded_range(self, digits: int = 3) -> list[float] | None:
        """``[min, max]`` rounded outwards (down, up) to ``digits`` decimals: rounded to nearest, either end
        could move inwards past the true window."""
        if self.rpo_seconds_min is None or self.rpo_seconds_max is None:
            return None
        scale = 10 ** digits
        return [math.floor(self.rpo_seconds_min * scale) / scale, math.ceil(self.rpo_seconds_max * scale) / scale]


def copy_bracket(written: Written, lost: set[str], failed: Moment) -> Moment | None:
    """When the last completed sync took its copy, as the written files bound it (None: no lower bound).

    Lower bound: the latest start among the files the standby has, canaries and data set alike (the data
    set alone bounds it when no canary made it, e.g. a sync that took its copy before the first canary).
    Upper bound: the earliest end among the canaries it lacks (one ending before that lower bound would
    contradict it: a canary damaged on the standby, not one made too late, so it bounds nothing), and
    the failure's latest moment.
    """
    kept = [written.made[p].earliest for p in written.hashes if p not in lost]
    if not kept:
        return None
    earliest = max(kept)
    missing = [written.made[p].latest for p in written.hashes if p.startswith("canary/") and p in lost]
    latest = min([t for t in missing if t >= earliest] + [failed.latest])
    return Moment(earliest, max(earliest, latest))


def measure_loss(written: Written, found: dict[str, str], failed: Moment) -> DataLoss:
    """Compare what was written with what the standby has; ``failed`` is when the GPU was seen failed,
    on the clock of :attr:`Written.made`."""
    lost = sorted(p for p, digest in written.hashes.items() if found.get(p) != digest)
    lost_bytes = sum(written.sizes[p] for p in lost)
    if not any(p.startswith("canary/") for p in written.hashes):
        return DataLoss(lost, lost_bytes, None)
    copy = copy_bracket(written, set(lost), failed)
    if copy is None:
        return DataLoss(lost, lost_bytes, None)
    return DataLoss(lost, lost_bytes, max(0.0, failed.at - copy.at), max(0.0, failed.earliest - copy.latest),
                    max(0.0, failed.latest - copy.earliest))
