"""The backup (restic) service behind POST /instances/{id}/sync and GET /instances/{id}/sync/status.

On the real server this is not the CPU standby: a "sync" is an incremental restic snapshot of an
instance's /workspace, tagged instance-<id>, auto-sync and sync-<n>, and the status counts those
runs. Here a run is a snapshot (snapshots.py), visible in GET /snapshots like any other. As on
the real server the status is kept in memory (a restart forgets it) and a run within 30 s
(nominal) of the last one is refused unless forced. The standby's own syncs are in its
association (/standby/associations/{gpu_id}).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

from ..clock import Clock, iso
from .errors import ApiError
from .resource import Resource
from .snapshots import Snapshots

MIN_INTERVAL_S = 30.0   # nominal seconds between two runs without force


@dataclass
class BackupStatus:
    instance_id: int
    last_sync_time: Optional[float] = None     # wall epoch
    last_snapshot_id: Optional[str] = None
    files_new: int = 0
    files_changed: int = 0
    files_unmodified: int = 0
    data_added_bytes: int = 0
    is_syncing: bool = False
    error: Optional[str] = None
    sync_count: int = 0


def format_bytes(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    if n < 1024 ** 2:
        return f"{n / 1024:.1f} KB"
    if n < 1024 ** 3:
        return f"{n / 1024 ** 2:.1f} MB"
    return f"{n / 1024 ** 3:.2f} GB"


def format_ago(seconds: float) -> str:
    if seconds < 60:
        return f"{int(seconds)}s ago"
    if seconds < 3600:
        return f"{int(seconds / 60)}m ago"
    if seconds < 86400:
        return f"{int(seconds / 3600)}h ago"
    return f"{int(seconds / 86400)}d ago"


class Backups:
    def __init__(self, snapshots: Snapshots, clock: Clock):
        self.snapshots = snapshots
        self.clock = clock
        self._status: Dict[Tuple[str, int], BackupStatus] = {}

    def _result(self, instance_id: int, t0: float, error: Optional[str] = None,
                st: Optional[BackupStatus] = None, incremental: bool = True) -> Dict[str, Any]:
        ok = error is None and st is not None
        added = st.data_added_bytes if ok else 0
        return {"success": ok, "instance_id": instance_id, "snapshot_id": st.last_snapshot_id if ok else None,
                "files_new": st.files_new if ok else 0, "files_changed": st.files_changed if ok else 0,
                "files_unmodified": st.files_unmodified if ok else 0, "data_added": format_bytes(added),
                "data_added_bytes": added, "duration_seconds": self.clock.now() - t0,
                "is_incremental": incremental if ok else True, "error": error}

    async def run(self, account: str, instance_id: int, res: Optional[Resource], source_path: str = "/workspace",
                  force: bool = False, refusal: Optional[str] = None) -> Dict[str, Any]:
        """One backup run, answered like the real POST /instances/{id}/sync (always 200: a
        failure is `success: false` with its `error`). `res` None: the instance could not be
        read; `refusal`: why the run cannot even start (e.g. no restic repository)."""
        t0 = self.clock.now()
        st = self._status.get((account, instance_id))
        if st is not None and st.is_syncing:
            return self._result(instance_id, t0, "Sync already in progress")
        if st is not None and st.last_sync_time is not None and not force:
            elapsed = self.clock.nominal(t0 - st.last_sync_time)
            if elapsed < MIN_INTERVAL_S:
                return self._result(instance_id, t0, f"Synced {int(elapsed)}s ago. Wait "
                                                     f"{int(MIN_INTERVAL_S - elapsed)}s or use force=true")
        if st is None:
            st = self._status[(account, instance_id)] = BackupStatus(instance_id)
        st.is_syncing, st.error = True, None
        first = st.last_snapshot_id is None
        try:
            if refusal:
                raise RuntimeError(refusal)
            if res is None:
                raise RuntimeError(f"Instance {instance_id} not found")
            if res.actual_status != "running":
                raise RuntimeError(f"Instance {instance_id} is not running")
            tags = [f"instance-{instance_id}", "auto-sync", f"sync-{st.sync_count + 1}"]
            done = await self.snapshots.create(account, res, source_path, tags)
        except (ApiError, RuntimeError) as exc:
            st.is_syncing, st.error = False, str(exc)
            return self._result(instance_id, t0, str(exc))
        st.last_sync_time, st.last_snapshot_id = self.clock.now(), done.snapshot_id
        st.files_new, st.files_changed, st.files_unmodified = done.files_new, done.files_changed, done.files_unmodified
        st.data_added_bytes, st.is_syncing = done.data_added, False
        st.sync_count += 1
        total = done.files_new + done.files_changed + done.files_unmodified
        incremental = (done.files_unmodified / total > 0.5) if total else not first
        return self._result(instance_id, t0, None, st, incremental)

    def status(self, account: str, instance_id: int) -> Dict[str, Any]:
        """GET /instances/{id}/sync/status: never a 404, an unknown instance has never synced."""
        st = self._status.get((account, instance_id))
        if st is None:
            return {"instance_id": instance_id, "synced": False, "is_syncing": False, "last_sync": None,
                    "last_sync_ago": "Never", "last_snapshot_id": None, "sync_count": 0, "last_stats": None,
                    "error": None}
        last = st.last_sync_time
        ago = "Never" if last is None else format_ago(self.clock.now() - last)
        return {"instance_id": instance_id, "synced": st.last_snapshot_id is not None, "is_syncing": st.is_syncing,
                "last_sync": iso(last), "last_sync_ago": ago,
                "last_snapshot_id": st.last_snapshot_id, "sync_count": st.sync_count,
                "last_stats": {"files_new": st.files_new, "files_changed": st.files_changed,
                               "files_unmodified": st.files_unmodified,
                               "data_added": format_bytes(st.data_added_bytes),
                               "data_added_bytes": st.data_added_bytes},
                "error": st.error}
