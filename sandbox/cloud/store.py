"""SQLite state (stdlib sqlite3): accounts, tokens, machines, snapshots, billing intervals,
events (ground truth) and the request log, read and written as the records of records.py.
Used only from the event-loop thread.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import sqlite3
from pathlib import Path
from typing import Any, Dict, List, Optional

from .records import Account, Event, Interval, MachineRecord, RequestRecord, SnapshotRecord, Token

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS accounts(
    email TEXT PRIMARY KEY, password_hash TEXT NOT NULL, salt TEXT NOT NULL,
    start_balance REAL NOT NULL, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS tokens(
    token TEXT PRIMARY KEY, email TEXT NOT NULL, created_at REAL NOT NULL, expires_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS resources(
    id INTEGER PRIMARY KEY, kind TEXT NOT NULL, account TEXT NOT NULL, label TEXT,
    offer_id INTEGER, offer TEXT, status TEXT, actual_status TEXT,
    dph_total REAL NOT NULL DEFAULT 0, storage_dph REAL NOT NULL DEFAULT 0, disk_size REAL,
    image TEXT, ssh_port INTEGER, ssh_key TEXT, root_dir TEXT,
    created_at REAL NOT NULL, deleted_at REAL, extra TEXT NOT NULL DEFAULT '{}');
CREATE INDEX IF NOT EXISTS resources_account ON resources(account);
CREATE TABLE IF NOT EXISTS snapshots(
    id TEXT PRIMARY KEY, account TEXT NOT NULL, instance_id INTEGER, label TEXT, tags TEXT,
    hostname TEXT, source_path TEXT, archive TEXT, bytes INTEGER, archive_bytes INTEGER,
    files TEXT, type TEXT, duration_s REAL, created_at REAL NOT NULL, deleted_at REAL);
CREATE TABLE IF NOT EXISTS intervals(
    id INTEGER PRIMARY KEY, resource_id INTEGER NOT NULL, state TEXT NOT NULL, dph REAL NOT NULL,
    scale REAL NOT NULL, start_t REAL NOT NULL, end_t REAL);
CREATE INDEX IF NOT EXISTS intervals_resource ON intervals(resource_id);
CREATE TABLE IF NOT EXISTS events(
    seq INTEGER PRIMARY KEY, t REAL NOT NULL, kind TEXT, rid TEXT, event TEXT NOT NULL,
    from_s TEXT, to_s TEXT, detail TEXT);
CREATE INDEX IF NOT EXISTS events_rid ON events(rid);
CREATE TABLE IF NOT EXISTS requests(
    seq INTEGER PRIMARY KEY, t REAL NOT NULL, method TEXT, path TEXT, status INTEGER,
    duration_s REAL, account TEXT, fault TEXT);
"""

# Columns added after the first release: a data dir made before them gets them on start.
ADDED_COLUMNS = (
    ("accounts", "ssh_keys", "TEXT NOT NULL DEFAULT '[]'"),
    ("accounts", "provider_key", "TEXT"),
    ("requests", "provider_error", "TEXT"),
    ("requests", "stalled_s", "REAL NOT NULL DEFAULT 0"),
)

FIRST_RESOURCE_ID = 31_000_001

# The columns of `resources`; every other field of a MachineRecord is kept in its `extra` JSON.
MACHINE_COLUMNS = ("id", "kind", "account", "label", "offer_id", "offer", "status", "actual_status",
                   "dph_total", "storage_dph", "disk_size", "image", "ssh_port", "ssh_key", "root_dir",
                   "created_at", "deleted_at")
MACHINE_EXTRAS = tuple(f.name for f in dataclasses.fields(MachineRecord) if f.name not in MACHINE_COLUMNS)
SNAPSHOT_COLUMNS = tuple(f.name for f in dataclasses.fields(SnapshotRecord))
ID_KINDS = ("instance", "standby")   # events whose resource id is a number


def _loads(text: Optional[str], default: Any = None) -> Any:
    if text in (None, ""):
        return default
    return json.loads(text)


def _machine_row(rec: MachineRecord) -> Dict[str, Any]:
    row = {c: getattr(rec, c) for c in MACHINE_COLUMNS}
    row["offer"] = json.dumps(rec.offer)
    row["extra"] = json.dumps({name: getattr(rec, name) for name in MACHINE_EXTRAS})
    return row


def _machine(row: sqlite3.Row) -> MachineRecord:
    extra = _loads(row["extra"], {})
    return MachineRecord(**{c: row[c] for c in MACHINE_COLUMNS if c != "offer"},
                         offer=_loads(row["offer"], {}) or {},
                         **{k: v for k, v in extra.items() if k in MACHINE_EXTRAS})


def _snapshot(row: sqlite3.Row) -> SnapshotRecord:
    d = dict(row)
    d["tags"] = _loads(d.get("tags"), []) or []
    d["files"] = _loads(d.get("files"), {}) or {}
    return SnapshotRecord(**d)


def _account(row: sqlite3.Row) -> Account:
    d = dict(row)
    d["ssh_keys"] = _loads(d.get("ssh_keys"), []) or []
    return Account(**d)


def _interval(row: sqlite3.Row) -> Interval:
    return Interval(**dict(row))


class Store:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        for table, column, decl in ADDED_COLUMNS:
            have = {r["name"] for r in self.db.execute(f"PRAGMA table_info({table})")}
            if column not in have:
                self.db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")
        self._depth = 0

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.db.close()

    @contextlib.contextmanager
    def tx(self):
        """Group writes into one transaction (re-entrant)."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self._depth = 1
        self.db.execute("BEGIN")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        else:
            self.db.execute("COMMIT")
        finally:
            self._depth = 0

    # -- meta ---------------------------------------------------------------------------
    def meta_get(self, key: str, default: Optional[str] = None) -> Optional[str]:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else default

    def meta_set(self, key: str, value: str) -> None:
        self.db.execute("INSERT INTO meta(key, value) VALUES(?, ?) "
                        "ON CONFLICT(key) DO UPDATE SET value=excluded.value", (key, value))

    # -- accounts and tokens -------------------------------------------------------------
    def account(self, email: str) -> Optional[Account]:
        row = self.db.execute("SELECT * FROM accounts WHERE email=?", (email,)).fetchone()
        return _account(row) if row else None

    def account_by_provider_key(self, key: str) -> Optional[Account]:
        row = self.db.execute("SELECT * FROM accounts WHERE provider_key=?", (key,)).fetchone()
        return _account(row) if row else None

    def accounts(self) -> List[Account]:
        return [_account(r) for r in self.db.execute("SELECT * FROM accounts ORDER BY created_at")]

    def put_account(self, account: Account) -> None:
        self.db.execute("INSERT INTO accounts(email, password_hash, salt, start_balance, created_at, ssh_keys, "
                        "provider_key) VALUES(?,?,?,?,?,?,?)",
                        (account.email, account.password_hash, account.salt, account.start_balance,
                         account.created_at, json.dumps(account.ssh_keys), account.provider_key))

    def update_account(self, email: str, **fields: Any) -> None:
        if "ssh_keys" in fields:
            fields["ssh_keys"] = json.dumps(fields["ssh_keys"])
        self._update("accounts", "email", email, fields)

    def put_token(self, token: Token) -> None:
        self.db.execute("INSERT INTO tokens(token, email, created_at, expires_at) VALUES(?,?,?,?)",
                        (token.token, token.email, token.created_at, token.expires_at))

    def token(self, token: str) -> Optional[Token]:
        row = self.db.execute("SELECT * FROM tokens WHERE token=?", (token,)).fetchone()
        return Token(**dict(row)) if row else None

    # -- machines ------------------------------------------------------------------------
    def next_machine_id(self) -> int:
        row = self.db.execute("SELECT MAX(id) FROM resources").fetchone()
        return max(FIRST_RESOURCE_ID, (row[0] or 0) + 1)

    def insert_machine(self, rec: MachineRecord) -> None:
        row = _machine_row(rec)
        cols = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        self.db.execute(f"INSERT INTO resources({cols}) VALUES({marks})", tuple(row.values()))

    def save_machine(self, rec: MachineRecord) -> None:
        row = _machine_row(rec)
        rid = row.pop("id")
        self._update("resources", "id", rid, row)

    def machine(self, rid: int) -> Optional[MachineRecord]:
        row = self.db.execute("SELECT * FROM resources WHERE id=?", (rid,)).fetchone()
        return _machine(row) if row else None

    def machines(self, kind: Optional[str] = None, alive: Optional[bool] = None,
                 account: Optional[str] = None) -> List[MachineRecord]:
        sql, args = "SELECT * FROM resources WHERE 1=1", []
        if kind:
            sql += " AND kind=?"
            args.append(kind)
        if alive is True:
            sql += " AND deleted_at IS NULL"
        elif alive is False:
            sql += " AND deleted_at IS NOT NULL"
        if account:
            sql += " AND account=?"
            args.append(account)
        sql += " ORDER BY id"
        return [_machine(r) for r in self.db.execute(sql, args).fetchall()]

    # -- snapshots -----------------------------------------------------------------------
    def insert_snapshot(self, rec: SnapshotRecord) -> None:
        row = {c: getattr(rec, c) for c in SNAPSHOT_COLUMNS}
        for key in ("tags", "files"):
            row[key] = json.dumps(row[key])
        cols = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        self.db.execute(f"INSERT INTO snapshots({cols}) VALUES({marks})", tuple(row.values()))

    def snapshot(self, sid: str) -> Optional[SnapshotRecord]:
        row = self.db.execute("SELECT * FROM snapshots WHERE id=?", (sid,)).fetchone()
        return _snapshot(row) if row else None

    def snapshots(self, account: Optional[str] = None, alive: Optional[bool] = None,
                  instance_id: Optional[int] = None) -> List[SnapshotRecord]:
        sql, args = "SELECT * FROM snapshots WHERE 1=1", []
        if account:
            sql += " AND account=?"
            args.append(account)
        if alive is True:
            sql += " AND deleted_at IS NULL"
        elif alive is False:
            sql += " AND deleted_at IS NOT NULL"
        if instance_id is not None:
            sql += " AND instance_id=?"
            args.append(instance_id)
        sql += " ORDER BY created_at"
        return [_snapshot(r) for r in self.db.execute(sql, args).fetchall()]

    def update_snapshot(self, sid: str, **fields: Any) -> None:
        self._update("snapshots", "id", sid, fields)

    # -- billing intervals ---------------------------------------------------------------
    def open_interval(self, rid: int, state: str, dph: float, scale: float, t: float) -> None:
        self.db.execute("INSERT INTO intervals(resource_id, state, dph, scale, start_t) VALUES(?,?,?,?,?)",
                        (rid, state, dph, scale, t))

    def open_intervals(self, rid: Optional[int] = None) -> List[Interval]:
        if rid is None:
            rows = self.db.execute("SELECT * FROM intervals WHERE end_t IS NULL")
        else:
            rows = self.db.execute("SELECT * FROM intervals WHERE end_t IS NULL AND resource_id=?", (rid,))
        return [_interval(r) for r in rows.fetchall()]

    def close_interval(self, interval_id: int, t: float) -> None:
        self.db.execute("UPDATE intervals SET end_t=MAX(?, start_t) WHERE id=?", (t, interval_id))

    def intervals(self, rid: Optional[int] = None) -> List[Interval]:
        if rid is None:
            rows = self.db.execute("SELECT * FROM intervals ORDER BY id")
        else:
            rows = self.db.execute("SELECT * FROM intervals WHERE resource_id=? ORDER BY id", (rid,))
        return [_interval(r) for r in rows.fetchall()]

    def account_cost(self, email: str, now: float) -> float:
        row = self.db.execute(
            "SELECT COALESCE(SUM(i.dph * (COALESCE(i.end_t, MAX(?, i.start_t)) - i.start_t) * i.scale / 3600.0), 0) "
            "FROM intervals i JOIN resources r ON r.id = i.resource_id WHERE r.account=?", (now, email)).fetchone()
        return float(row[0] or 0.0)

    # -- events and requests -------------------------------------------------------------
    def add_event(self, ev: Event) -> None:
        self.db.execute("INSERT INTO events(t, kind, rid, event, from_s, to_s, detail) VALUES(?,?,?,?,?,?,?)",
                        (ev.t, ev.kind, None if ev.rid is None else str(ev.rid), ev.event, ev.frm, ev.to,
                         None if ev.detail is None else json.dumps(ev.detail)))

    def events(self, rid: Any = None, kind: Optional[str] = None) -> List[Event]:
        sql, args = "SELECT * FROM events WHERE 1=1", []
        if rid is not None:
            sql += " AND rid=?"
            args.append(str(rid))
        if kind:
            sql += " AND kind=?"
            args.append(kind)
        sql += " ORDER BY seq"
        out = []
        for r in self.db.execute(sql, args).fetchall():
            rid_v: Any = r["rid"]
            if rid_v is not None and r["kind"] in ID_KINDS:
                rid_v = int(rid_v)
            out.append(Event(t=r["t"], kind=r["kind"], rid=rid_v, event=r["event"], frm=r["from_s"],
                             to=r["to_s"], detail=_loads(r["detail"])))
        return out

    def add_request(self, rec: RequestRecord) -> None:
        self.db.execute("INSERT INTO requests(t, method, path, status, duration_s, account, fault, provider_error, "
                        "stalled_s) VALUES(?,?,?,?,?,?,?,?,?)",
                        (rec.t, rec.method, rec.path, rec.status, rec.duration_s, rec.account, rec.fault,
                         rec.provider_error, rec.stalled_s))

    def requests(self) -> List[RequestRecord]:
        return [RequestRecord(t=r["t"], method=r["method"], path=r["path"], status=r["status"],
                              duration_s=r["duration_s"], account=r["account"], fault=r["fault"],
                              provider_error=r["provider_error"], stalled_s=r["stalled_s"] or 0.0)
                for r in self.db.execute("SELECT * FROM requests ORDER BY seq").fetchall()]

    # -- helpers -------------------------------------------------------------------------
    def _update(self, table: str, key: str, value: Any, fields: Dict[str, Any]) -> None:
        if not fields:
            return
        sets = ", ".join(f"{k}=?" for k in fields)
        self.db.execute(f"UPDATE {table} SET {sets} WHERE {key}=?", (*fields.values(), value))
