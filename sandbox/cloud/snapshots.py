"""Snapshots: real tar.gz archives of an instance's workspace under <data-dir>/snapshots/.

Create is synchronous (answers when done) and takes snapshot_base + snapshot_per_gb x nominal GB
(nominal bytes = real bytes x size_scale), divided by the time scale; restore likewise with the
restore_* timings. Archiving runs in a worker thread while the scaled duration elapses.
"""
from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
import tarfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from .errors import ApiError
from .instances import Resource, iso
from .machines import map_path


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def scan(src: Path) -> Tuple[List[Path], int]:
    files, total = [], 0
    if src.is_file():
        return [src], src.stat().st_size
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames.sort()
        for name in sorted(filenames):
            p = Path(dirpath) / name
            if p.is_file() and not p.is_symlink():
                files.append(p)
                total += p.stat().st_size
    return files, total


def build_archive(src: Path, archive: Path) -> Dict[str, Dict[str, Any]]:
    """Write src (a directory or a file) into archive; return {relpath: {size, sha256}}."""
    manifest: Dict[str, Dict[str, Any]] = {}
    base = src if src.is_dir() else src.parent
    files, _ = scan(src)
    tmp = archive.with_suffix(".partial")
    with tarfile.open(tmp, "w:gz", compresslevel=3) as tar:
        if src.is_dir():
            for dirpath, dirnames, _ in os.walk(src):
                dirnames.sort()
                for d in dirnames:
                    p = Path(dirpath) / d
                    tar.add(str(p), arcname=str(p.relative_to(base)), recursive=False)
        for p in files:
            rel = str(p.relative_to(base))
            manifest[rel] = {"size": p.stat().st_size, "sha256": _sha256(p)}
            tar.add(str(p), arcname=rel, recursive=False)
    os.replace(tmp, archive)
    return manifest


def extract_archive(archive: Path, dst: Path) -> int:
    dst.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "r:gz") as tar:
        members = tar.getmembers()
        tar.extractall(dst, filter="data")
    return sum(1 for m in members if m.isfile())


def verify_tree(dst: Path, manifest: Dict[str, Dict[str, Any]]) -> List[str]:
    errors = []
    for rel, info in manifest.items():
        p = dst / rel
        if not p.is_file():
            errors.append(f"{rel}: missing")
        elif p.stat().st_size != info["size"] or _sha256(p) != info["sha256"]:
            errors.append(f"{rel}: content differs")
    return errors


class Snapshots:
    def __init__(self, core):
        self.core = core
        self.dir = core.cfg.data_dir / "snapshots"
        self.dir.mkdir(parents=True, exist_ok=True)
        for stale in self.dir.glob("*.partial"):   # an archive cut short by a crash
            stale.unlink(missing_ok=True)

    def _nominal_gb(self, real_bytes: int) -> float:
        return real_bytes * self.core.cfg.size_scale / 1e9

    @staticmethod
    def _running(res: Resource) -> None:
        if res.actual_status != "running":
            raise ApiError(400, f"Instance {res.id} is not running")

    async def create(self, account: str, res: Resource, source_path: Optional[str] = "/workspace",
                     tags: Optional[List[str]] = None, name: Optional[str] = None,
                     snap_type: str = "full") -> Dict[str, Any]:
        core = self.core
        self._running(res)
        source_path = source_path or "/workspace"
        try:
            src = map_path(res.machine.root, source_path)
        except ValueError as exc:
            raise ApiError(400, f"Invalid source_path: {exc}")
        if not src.exists():
            raise ApiError(500, f"Failed to create snapshot: source path {source_path} not found on instance {res.id}")
        sid = secrets.token_hex(32)
        t0 = core.clock.now()
        tags = [str(t) for t in (tags or [])]
        label = name or (tags[0] if tags else res.label)
        core.event("snapshot", sid, "snapshot_started", None, None,
                   {"instance_id": res.id, "source_path": source_path, "tags": tags, "account": account}, t=t0)
        fail = core.faults.take("snapshot_fail", instance_id=res.id)
        archive = self.dir / f"{sid}.tar.gz"
        try:
            _, total = await asyncio.to_thread(scan, src)
            nominal = core.timings.draw("snapshot_base") + core.timings.value("snapshot_per_gb") * self._nominal_gb(total)
            work = asyncio.ensure_future(asyncio.to_thread(build_archive, src, archive))
            await asyncio.gather(work, asyncio.sleep(core.clock.wall(nominal)))
            manifest = work.result()
            if fail:
                raise RuntimeError("simulated storage backend failure (fault)")
        except Exception as exc:
            for p in (archive, archive.with_suffix(".partial")):
                p.unlink(missing_ok=True)
            core.event("snapshot", sid, "snapshot_failed", None, None,
                       {"instance_id": res.id, "error": str(exc), "fault": fail.id if fail else None})
            raise ApiError(500, f"Failed to create snapshot: {exc}")
        t1 = core.clock.now()
        previous = [s for s in core.store.snapshots(instance_id=res.id, alive=True)
                    if s["source_path"] == source_path]
        prev_files = previous[-1]["files"] if previous else {}
        new = [r for r in manifest if r not in prev_files]
        changed = [r for r in manifest if r in prev_files and prev_files[r]["sha256"] != manifest[r]["sha256"]]
        unmodified = len(manifest) - len(new) - len(changed)
        data_added = sum(manifest[r]["size"] for r in new + changed)
        total_bytes = sum(f["size"] for f in manifest.values())
        row = {"id": sid, "account": account, "instance_id": res.id, "label": label, "tags": tags,
               "hostname": f"C.{res.id}", "source_path": source_path, "archive": str(archive),
               "bytes": total_bytes, "archive_bytes": archive.stat().st_size, "files": manifest,
               "type": snap_type, "duration_s": t1 - t0, "created_at": t1, "deleted_at": None}
        with core.store.tx():
            core.store.insert_snapshot(row)
            core.event("snapshot", sid, "snapshot_completed", None, None,
                       {"instance_id": res.id, "bytes": total_bytes, "archive_bytes": row["archive_bytes"],
                        "files": len(manifest), "duration_s": t1 - t0, "nominal_s": nominal}, t=t1)
        return {"success": True, "snapshot_id": sid, "files_new": len(new), "files_changed": len(changed),
                "files_unmodified": unmodified, "total_files_processed": len(manifest),
                "data_added": data_added, "total_bytes_processed": total_bytes}

    def get(self, account: str, sid: str) -> Optional[Dict[str, Any]]:
        snap = self.core.store.snapshot(sid)
        if snap is None or snap["deleted_at"] is not None or snap["account"] != account:
            return None
        return snap

    def list(self, account: str) -> List[Dict[str, Any]]:
        return [self.view(s) for s in self.core.store.snapshots(account=account, alive=True)]

    @staticmethod
    def view(s: Dict[str, Any]) -> Dict[str, Any]:
        return {"id": s["id"], "short_id": s["id"][:8], "time": iso(s["created_at"]), "hostname": s["hostname"],
                "tags": s["tags"], "paths": [s["source_path"]],
                # [ext]
                "instance_id": s["instance_id"], "label": s["label"], "bytes": s["bytes"], "type": s["type"]}

    async def restore(self, account: str, sid: str, res: Resource, target_path: Optional[str] = "/workspace",
                      verify: bool = False) -> Dict[str, Any]:
        core = self.core
        snap = self.get(account, sid)
        if snap is None:
            raise ApiError(404, f"Snapshot {sid} not found")
        self._running(res)
        target_path = target_path or "/workspace"
        try:
            dst = map_path(res.machine.root, target_path)
        except ValueError as exc:
            raise ApiError(400, f"Invalid target_path: {exc}")
        t0 = core.clock.now()
        core.event("snapshot", sid, "restore_started", None, None,
                   {"instance_id": res.id, "target_path": target_path}, t=t0)
        nominal = core.timings.draw("restore_base") + core.timings.value("restore_per_gb") * self._nominal_gb(snap["bytes"])
        try:
            work = asyncio.ensure_future(asyncio.to_thread(extract_archive, Path(snap["archive"]), dst))
            await asyncio.gather(work, asyncio.sleep(core.clock.wall(nominal)))
            restored = work.result()
            errors = await asyncio.to_thread(verify_tree, dst, snap["files"]) if verify else []
        except Exception as exc:
            core.event("snapshot", sid, "restore_failed", None, None, {"instance_id": res.id, "error": str(exc)})
            raise ApiError(500, f"Failed to restore snapshot {sid}: {exc}")
        core.event("snapshot", sid, "restore_completed", None, None,
                   {"instance_id": res.id, "files_restored": restored, "errors": errors,
                    "duration_s": core.clock.now() - t0, "nominal_s": nominal})
        return {"success": not errors, "snapshot_id": sid, "target_path": target_path,
                "files_restored": restored, "errors": errors}

    def delete(self, account: str, sid: str) -> None:
        snap = self.get(account, sid)
        if snap is None:
            raise ApiError(500, f"Failed to delete snapshot {sid}")
        t = self.core.clock.now()
        Path(snap["archive"]).unlink(missing_ok=True)
        with self.core.store.tx():
            self.core.store.update_snapshot(sid, deleted_at=t)
            self.core.event("snapshot", sid, "snapshot_deleted", None, None, {"instance_id": snap["instance_id"]}, t=t)
