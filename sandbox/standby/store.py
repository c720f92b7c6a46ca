"""SQLite persistence of the CPU standby (tables added to the sandbox's own sandbox.db):
per-account configs, associations (one JSON document each) and the sync log (ground truth)."""
from __future__ import annotations

import dataclasses
import json
from typing import Any, Dict, List, Optional

from ..cloud.store import Store
from .records import Association, FailbackRecord, FailoverRecord, FailoverRequest, LostFile, StandbyConfig, SyncLogEntry

SCHEMA = """
CREATE TABLE IF NOT EXISTS standby_configs(account TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS standby_assocs(
    id INTEGER PRIMARY KEY, account TEXT NOT NULL, gpu_id INTEGER NOT NULL,
    created_at REAL NOT NULL, deleted_at REAL, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS standby_syncs(
    seq INTEGER PRIMARY KEY AUTOINCREMENT, assoc_id INTEGER NOT NULL, gpu_id INTEGER,
    started_at REAL NOT NULL, completed_at REAL, status TEXT NOT NULL, bytes INTEGER,
    changed_bytes INTEGER, nominal_s REAL, files TEXT);
CREATE INDEX IF NOT EXISTS standby_syncs_assoc ON standby_syncs(assoc_id);
"""


def _known(cls, data: Dict[str, Any]) -> Dict[str, Any]:
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in data.items() if k in names}


def _config(data: Dict[str, Any]) -> StandbyConfig:
    return StandbyConfig(**_known(StandbyConfig, data))


def _failover(data: Dict[str, Any]) -> FailoverRecord:
    rec = FailoverRecord(**_known(FailoverRecord, data))
    rec.lost_files = [LostFile(**f) for f in data.get("lost_files") or []]
    return rec


def _association(data: Dict[str, Any]) -> Association:
    a = Association(**_known(Association, data))
    a.gpu_ids = list(data.get("gpu_ids") or [data["gpu_id"]])
    pending = data.get("pending_failover")
    a.pending_failover = FailoverRequest(**pending) if pending else None
    a.failovers = [_failover(f) for f in data.get("failovers") or []]
    a.failbacks = [FailbackRecord(**_known(FailbackRecord, f)) for f in data.get("failbacks") or []]
    return a


class StandbyStore:
    def __init__(self, store: Store):
        self.store = store
        self.db = store.db
        self.db.executescript(SCHEMA)

    def tx(self):
        return self.store.tx()

    # -- configs --------------------------------------------------------------------------
    def configs(self) -> Dict[str, StandbyConfig]:
        return {r["account"]: _config(json.loads(r["data"])) for r in self.db.execute("SELECT * FROM standby_configs")}

    def put_config(self, account: str, cfg: StandbyConfig) -> None:
        self.db.execute("INSERT INTO standby_configs(account, data) VALUES(?, ?) "
                        "ON CONFLICT(account) DO UPDATE SET data=excluded.data",
                        (account, json.dumps(dataclasses.asdict(cfg))))

    # -- associations ---------------------------------------------------------------------
    def insert_assoc(self, a: Association) -> None:
        self.db.execute("INSERT INTO standby_assocs(id, account, gpu_id, created_at, deleted_at, data) "
                        "VALUES(?,?,?,?,?,?)", (a.id, a.account, a.gpu_id, a.created_at, a.deleted_at,
                                                json.dumps(dataclasses.asdict(a))))

    def save_assoc(self, a: Association) -> None:
        self.db.execute("UPDATE standby_assocs SET deleted_at=?, data=? WHERE id=?",
                        (a.deleted_at, json.dumps(dataclasses.asdict(a)), a.id))

    def assocs(self, alive: Optional[bool] = None) -> List[Association]:
        sql = "SELECT data FROM standby_assocs"
        if alive is True:
            sql += " WHERE deleted_at IS NULL"
        elif alive is False:
            sql += " WHERE deleted_at IS NOT NULL"
        return [_association(json.loads(r[0])) for r in self.db.execute(sql + " ORDER BY id")]

    def find_assoc(self, gpu_id: int) -> Optional[Association]:
        """The latest association (live or deleted) that ever paired with this GPU id."""
        for a in reversed(self.assocs()):
            if gpu_id in a.gpu_ids:
                return a
        return None

    # -- sync log -------------------------------------------------------------------------
    def start_sync(self, assoc_id: int, gpu_id: int, t: float) -> int:
        cur = self.db.execute("INSERT INTO standby_syncs(assoc_id, gpu_id, started_at, status) VALUES(?,?,?,?)",
                              (assoc_id, gpu_id, t, "in_flight"))
        return int(cur.lastrowid)

    def update_sync(self, seq: int, **fields: Any) -> None:
        if "files" in fields:
            fields["files"] = json.dumps(fields["files"])
        sets = ", ".join(f"{k}=?" for k in fields)
        self.db.execute(f"UPDATE standby_syncs SET {sets} WHERE seq=?", (*fields.values(), seq))

    def syncs(self, assoc_id: int) -> List[SyncLogEntry]:
        return [SyncLogEntry(seq=r["seq"], gpu_instance_id=r["gpu_id"], started_at=r["started_at"],
                             completed_at=r["completed_at"], status=r["status"],
                             files=json.loads(r["files"]) if r["files"] else {}, bytes=r["bytes"] or 0,
                             changed_bytes=r["changed_bytes"] or 0, nominal_s=r["nominal_s"])
                for r in self.db.execute("SELECT * FROM standby_syncs WHERE assoc_id=? ORDER BY seq", (assoc_id,))]

    def interrupt_in_flight(self) -> int:
        cur = self.db.execute("UPDATE standby_syncs SET status='interrupted' WHERE status IN ('in_flight', 'stalled')")
        return cur.rowcount
