"""A crash-safe record of every paid resource the suite asked for.

One JSON object per line, appended with a single ``write`` on an
``O_APPEND`` file and fsynced before the call returns, so a line is either
whole on disk or absent, even under ``kill -9`` and with several processes
appending. The intent to create is written *before* the create call: if the
answer is lost, the label still leads the sweeper to the machine.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

from support.resources import KINDS, Resource


@dataclass(frozen=True)
class Entry:
    """A resource the ledger says may be alive, and who asked for it."""

    resource: Resource
    run_id: str
    scenario: str
    host: str = field(default="", compare=False)     # who wrote it: the sweeper spares live runs
    pid: int = field(default=0, compare=False)
    #: When it was written (epoch): for an intent, when its create was about to leave.
    at: float = field(default=0.0, compare=False)

    def owner_gone(self) -> bool:
        """True when the run that wrote this entry is surely over (same host, process gone)."""
        if not self.pid or self.host != socket.gethostname():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False


class Ledger:
    """Append-only JSONL file of intents, creations and confirmed deletions."""

    def __init__(self, path: Path, run_id: str, target: str):
        self.path = Path(path)
        self.run_id = run_id
        self.target = target
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def resource(self, kind: str, label: str, resource_id=None) -> Resource:
        """A resource of this ledger's target."""
        return Resource(kind, None if resource_id is None else str(resource_id), label, self.target)

    def _append(self, record: dict) -> None:
        line = (json.dumps(record, sort_keys=True) + "\n").encode()
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                line = b"\n" + line      # a crash tore the last line: start afresh, don't glue onto it
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    def _record(self, event: str, resource: Resource, scenario: str, at: float | None = None, **extra) -> None:
        """One line; ``at`` (epoch seconds) is when the event happened, if that was not just now."""
        if resource.kind not in KINDS:
            raise ValueError(f"unknown resource kind {resource.kind!r}")
        stamp = time.time() if at is None else at
        self._append({"t": round(stamp, 3), "event": event, "kind": resource.kind, "label": resource.label,
                      "id": resource.id, "run_id": self.run_id, "target": resource.target or self.target,
                      "scenario": scenario, "host": socket.gethostname(), "pid": os.getpid(), **extra})

    def intent(self, resource: Resource, scenario: str = "") -> None:
        """About to create: written before the request leaves (so stamped when it happens)."""
        self._record("intent", resource, scenario)

    def created(self, resource: Resource, scenario: str = "", at: float | None = None, **extra) -> None:
        self._record("created", resource, scenario, at=at, **extra)

    def deleted(self, resource: Resource, scenario: str = "", at: float | None = None, by_label: bool = False) -> None:
        """Deletion confirmed (see support.resources: evidence a provider error cannot fake), stamped ``at``
        when the delete was carried out.

        ``by_label``: found by the label of a create that never answered, while more may still appear
        under that label: the intent stays open until :meth:`settled`.
        """
        if by_label:
            self._record("deleted", resource, scenario, at=at, by_label=True)
        else:
            self._record("deleted", resource, scenario, at=at)

    def settled(self, resource: Resource, scenario: str = "", at: float | None = None, found=()) -> None:
        """Nothing more can appear under the label of a create that never answered (``found``: the ids
        found under it and deleted, each recorded by :meth:`deleted`)."""
        self._record("settled", resource, scenario, at=at, found=list(found))

    def kept(self, resource: Resource, scenario: str = "", at: float | None = None) -> None:
        """Left alive on purpose (e.g. ``KEEP_SNAPSHOTS=1``): no sweep deletes it."""
        self._record("kept", resource, scenario, at=at)


def read_entries(path: Path) -> list[dict]:
    """Every whole line of the ledger; a torn last line (crash mid-write) is ignored."""
    path = Path(path)
    if not path.exists():
        return []
    entries = []
    for line in path.read_text().splitlines():
        try:
            entries.append(json.loads(line))
        except ValueError:
            continue
    return entries


def maybe_alive(entries: list[dict], target: str | None = None) -> list[Entry]:
    """Resources created or intended and not confirmed deleted (or kept), oldest first.

    An intent whose creation was never recorded stays here by label alone:
    the sweeper then looks the label up through the API. Deleting what was found under such a label
    (``by_label``) leaves the intent open, as more may still appear under it, until it is ``settled``.
    """
    state: dict[tuple, Entry] = {}
    for record in entries:
        if target is not None and record.get("target") != target:
            continue
        kind, label, rid = record["kind"], record["label"], record.get("id")
        entry = Entry(Resource(kind, rid, label, record.get("target", "")), record.get("run_id", ""),
                      record.get("scenario", ""), record.get("host", ""), int(record.get("pid") or 0),
                      float(record.get("t") or 0.0))
        if record["event"] == "intent":
            state.setdefault((kind, label, None), entry)
        elif record["event"] == "created":
            state.pop((kind, label, None), None)
            state[(kind, label, rid)] = entry
        elif record["event"] in ("deleted", "kept"):
            state.pop((kind, label, rid), None)
            if not record.get("by_label"):
                state.pop((kind, label, None), None)
        elif record["event"] == "settled":
            state.pop((kind, label, None), None)
    return list(state.values())
