"""Snapshots: real tar.gz archives of an instance's workspace under <data-dir>/snapshots/.

Create is synchronous (answers when done) and takes snapshot_base + snapshot_per_gb x nominal GB
(nominal bytes = real bytes x size_scale), divided by the time scale; restore likewise with the
restore_* timings. Archiving runs in a worker thread while the scaled duration elapses. A restore
puts the files back where they were taken from and is answered as the real server answers it.
"""
from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

from ..clock import Clock, Timings
from ..faults import Faults
from .archives import build_archive, extract_archive, scan, verify_tree
from .errors import ApiError
from .events import EventLog
from .machines import map_path
from .records import SnapshotRecord
from .resource import Resource, host
from .store import Store


@dataclass(frozen=True)
class SnapshotResult:
    """What a created snapshot holds compared with the previous one of the same source."""

    snapshot_id: str
    files_new: int
    files_changed: int
    files_unmodified: int
    total_files_processed: int
    data_added: int
    total_bytes_processed: int


@dataclass(frozen=True)
class RestoreResult:
    """A restore as the real server answers it (see Snapshots.restore)."""

    snapshot_id: str
    target_path: str          # as asked; never where the files went
    files_restored: int       # restic's output lines that say "restoring": 0 or 1
    errors: List[str]         # its lines that say "error"


class Snapshots:
    def __init__(self, *, root: Path, store: Store, clock: Clock, timings: Timings, faults: Faults,
                 events: EventLog, size_scale: float):
        self.dir = Path(root)
        self.store = store
        self.clock = clock
        self.timings = timings
        self.faults = faults
        self.events = events
        self.size_scale = size_scale
        self.dir.mkdir(parents=True, exist_ok=True)
        for stale in self.dir.glob("*.partial"):   # an archive cut short by a crash
            stale.unlink(missing_ok=True)

    def _nominal_gb(self, real_bytes: int) -> float:
        return real_bytes * self.size_scale / 1e9

    @staticmethod
    def _running(res: Resource) -> None:
        if res.actual_status != "running":
            raise ApiError(400, f"Instance {res.id} is not running")

    async def create(self, account: str, res: Resource, source_path: Optional[str] = "/workspace",
                     tags: Optional[List[str]] = None, name: Optional[str] = None,
                     snap_type: str = "full") -> SnapshotResult:
        self._running(res)
        source_path = source_path or "/workspace"
        try:
            src = map_path(res.machine.root, source_path)
        except ValueError as exc:
            raise ApiError(400, f"Invalid source_path: {exc}")
        if not src.exists():
            raise ApiError(500, f"Failed to create snapshot: source path {source_path} not found on instance {res.id}")
        sid = secrets.token_hex(32)
        t0 = self.clock.now()
        tags = [str(t) for t in (tags or [])]
        label = name or (tags[0] if tags else res.label)
        self.events.record("snapshot", sid, "snapshot_started", None, None,
                           {"instance_id": res.id, "source_path": source_path, "tags": tags, "account": account},
                           t=t0)
        fail = self.faults.take("snapshot_fail", instance_id=res.id)
        archive = self.dir / f"{sid}.tar.gz"
        try:
            _, total = await asyncio.to_thread(scan, src)
            nominal = (self.timings.draw("snapshot_base", host(res))
                       + self.timings.value("snapshot_per_gb") * self._nominal_gb(total))
            work = asyncio.ensure_future(asyncio.to_thread(build_archive, src, archive))
            await asyncio.gather(work, asyncio.sleep(self.clock.wall(nominal)))
            manifest = work.result()
            if fail:
                raise RuntimeError("simulated storage backend failure (fault)")
        except Exception as exc:
            for p in (archive, archive.with_suffix(".partial")):
                p.unlink(missing_ok=True)
            self.events.record("snapshot", sid, "snapshot_failed", None, None,
                               {"instance_id": res.id, "error": str(exc), "fault": fail.id if fail else None})
            raise ApiError(500, f"Failed to create snapshot: {exc}")
        t1 = self.clock.now()
        previous = [s for s in self.store.snapshots(instance_id=res.id, alive=True) if s.source_path == source_path]
        prev_files = previous[-1].files if previous else {}
        new = [r for r in manifest if r not in prev_files]
        changed = [r for r in manifest if r in prev_files and prev_files[r]["sha256"] != manifest[r]["sha256"]]
        unmodified = len(manifest) - len(new) - len(changed)
        data_added = sum(manifest[r]["size"] for r in new + changed)
        total_bytes = sum(f["size"] for f in manifest.values())
        rec = SnapshotRecord(id=sid, account=account, instance_id=res.id, label=label, tags=tags,
                             hostname=f"C.{res.id}", source_path=source_path, archive=str(archive),
                             bytes=total_bytes, archive_bytes=archive.stat().st_size, files=manifest,
                             type=snap_type, duration_s=t1 - t0, created_at=t1)
        with self.store.tx():
            self.store.insert_snapshot(rec)
            self.events.record("snapshot", sid, "snapshot_completed", None, None,
                               {"instance_id": res.id, "bytes": total_bytes, "archive_bytes": rec.archive_bytes,
                                "files": len(manifest), "duration_s": t1 - t0, "nominal_s": nominal}, t=t1)
        return SnapshotResult(snapshot_id=sid, files_new=len(new), files_changed=len(changed),
                              files_unmodified=unmodified, total_files_processed=len(manifest),
                              data_added=data_added, total_bytes_processed=total_bytes)

    def get(self, account: str, sid: str) -> Optional[SnapshotRecord]:
        snap = self.store.snapshot(sid)
        if snap is None or not snap.alive or snap.account != account:
            return None
        return snap

    def of_account(self, account: str) -> List[SnapshotRecord]:
        return self.store.snapshots(account=account, alive=True)

    async def restore(self, account: str, sid: str, res: Resource, target_path: Optional[str] = "/workspace",
                      verify: bool = False) -> RestoreResult:
        """Restore as the real server does: restic, run on the instance over SSH, restores the
        snapshot to the paths it was taken from (`--target /`), so `target_path` is only echoed.
        The answer is a success whatever happened (docs/dumont-api.md, "Past SSH"): the server
        counts restic's output lines that say "restoring" (one, once restic starts) and those that
        say "error". When nothing could be restored (an unknown snapshot, SSH that does not
        answer, the restore_nothing fault) restic prints neither, so files_restored is 0 and
        errors is empty; the ground truth (restore_failed) says what happened."""
        self._running(res)
        target_path = target_path or "/workspace"
        t0 = self.clock.now()
        self.events.record("snapshot", sid, "restore_started", None, None,
                           {"instance_id": res.id, "target_path": target_path}, t=t0)
        snap = self.get(account, sid)
        fault = None
        if snap is None:
            reason = "snapshot not found in the repository"
        elif not res.machine.ssh_up:
            reason = "the instance's SSH did not answer"
        else:
            fault = self.faults.take("restore_nothing", instance_id=res.id)
            reason = "restic failed: unknown flag: --no-owner (restore_nothing fault)" if fault else ""
        if reason:
            self.events.record("snapshot", sid, "restore_failed", None, None,
                               {"instance_id": res.id, "error": reason, "restored": False, "files_written": 0,
                                "fault": fault.id if fault else None, "answered": "success"})
            return RestoreResult(snapshot_id=sid, target_path=target_path, files_restored=0, errors=[])
        assert snap is not None
        nominal = (self.timings.draw("restore_base", host(res))
                   + self.timings.value("restore_per_gb") * self._nominal_gb(snap.bytes))
        try:
            dst = map_path(res.machine.root, snap.source_path)
            work = asyncio.ensure_future(asyncio.to_thread(extract_archive, Path(snap.archive), dst))
            await asyncio.gather(work, asyncio.sleep(self.clock.wall(nominal)))
            written = work.result()
            mismatches = await asyncio.to_thread(verify_tree, dst, snap.files) if verify else []
        except Exception as exc:
            # restic had said "restoring ..." before it failed; its failure is an "error" line.
            self.events.record("snapshot", sid, "restore_failed", None, None,
                               {"instance_id": res.id, "error": str(exc), "restored": False, "answered": "success"})
            return RestoreResult(snapshot_id=sid, target_path=target_path, files_restored=1,
                                 errors=[f"error: {exc}"])
        errors = [f"error: verify {m}" for m in mismatches]
        self.events.record("snapshot", sid, "restore_completed", None, None,
                           {"instance_id": res.id, "files_restored": 1, "files_written": written,
                            "restored_to": snap.source_path, "target_path": target_path, "errors": errors,
                            "duration_s": self.clock.now() - t0, "nominal_s": nominal})
        return RestoreResult(snapshot_id=sid, target_path=target_path, files_restored=1, errors=errors)

    def delete(self, account: str, sid: str) -> None:
        """restic forget: an unknown id fails (500); one already forgotten succeeds again (200, as
        the real server answered: docs/dumont-api.md, "Past SSH")."""
        snap = self.store.snapshot(sid)
        if snap is None or snap.account != account:
            raise ApiError(500, f"Failed to delete snapshot {sid}")
        if not snap.alive:
            self.events.record("snapshot", sid, "snapshot_delete_repeated", None, None,
                               {"instance_id": snap.instance_id, "deleted_at": snap.deleted_at})
            return
        t = self.clock.now()
        Path(snap.archive).unlink(missing_ok=True)
        with self.store.tx():
            self.store.update_snapshot(sid, deleted_at=t)
            self.events.record("snapshot", sid, "snapshot_deleted", None, None, {"instance_id": snap.instance_id},
                               t=t)
