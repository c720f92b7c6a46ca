"""The cloud's own state, one record type per kind of row in sandbox.db.

Records hold state only. The JSON the API answers with is built from them in views.py, so a
record can change shape without an answer changing.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

Offer = Dict[str, Any]
"""An offer stays the mapping the catalogue gives: an offers file may carry any extra field,
and offer answers echo every one of them."""

Manifest = Dict[str, Dict[str, Any]]
"""relative path -> {"size", "sha256"}: the files of a snapshot or a sync, as answers show them."""

MACHINE_KINDS = ("instance", "standby")


@dataclass
class Account:
    email: str
    password_hash: str
    salt: str
    start_balance: float
    created_at: float
    # The provider account's registered SSH public keys: every new instance authorises them.
    ssh_keys: List[str] = field(default_factory=list)
    # The account's provider API key (its own VAST key): the provider's API answers it.
    provider_key: Optional[str] = None


@dataclass
class Token:
    token: str
    email: str
    created_at: float
    expires_at: float


@dataclass
class MachineRecord:
    """A machine resource: a customer's GPU instance or a CPU standby, alive or deleted."""

    id: int
    kind: str                                  # one of MACHINE_KINDS
    account: str
    label: Optional[str]
    offer_id: Optional[int]                    # None for a standby (not a catalogue offer)
    offer: Offer
    status: str                                # the intended status: running | stopped
    actual_status: str                         # loading | running | stopped | exited | offline
    dph_total: float
    storage_dph: float
    disk_size: float
    image: Optional[str]
    ssh_port: int
    ssh_key: Optional[str]
    root_dir: str
    created_at: float
    deleted_at: Optional[float] = None
    # Wall-epoch deadlines of the armed lifecycle timers, by name: a restarted sandbox re-arms them.
    timers: Dict[str, float] = field(default_factory=dict)
    ports: List[int] = field(default_factory=list)
    onstart_cmd: Optional[str] = None
    onstart_done: bool = False
    skip_standby: bool = False
    ssh_up: bool = False
    # Faults bound to this machine that take effect later in its life.
    never_running: bool = False
    preempt_after: Optional[float] = None      # nominal seconds after running
    ssh_refuse_extra: Optional[float] = None   # nominal seconds added to the next SSH delay
    # A standby: the GPU it backs up now, every GPU it has backed up, its VM shape.
    gpu_instance_id: Optional[int] = None
    gpu_instance_ids: List[int] = field(default_factory=list)
    machine_type: Optional[str] = None
    zone: Optional[str] = None
    spot: Optional[bool] = None
    # A GPU created by a failback: the GPU it replaces and the standby it came back from.
    failback_of: Optional[int] = None
    standby_id: Optional[int] = None

    @property
    def alive(self) -> bool:
        return self.deleted_at is None


@dataclass
class SnapshotRecord:
    id: str                                    # 64 hex characters
    account: str
    instance_id: int
    label: Optional[str]
    tags: List[str]
    hostname: str
    source_path: str
    archive: str                               # path of the tar.gz
    bytes: int                                 # real bytes of the files archived
    archive_bytes: int
    files: Manifest
    type: str                                  # full | incremental
    duration_s: float
    created_at: float
    deleted_at: Optional[float] = None

    @property
    def alive(self) -> bool:
        return self.deleted_at is None


@dataclass
class Interval:
    """One billing interval of a resource: a state billed at one price under one time scale."""

    id: int
    resource_id: int
    state: str
    dph: float
    scale: float
    start_t: float
    end_t: Optional[float]


@dataclass
class Event:
    """One entry of the ground truth."""

    t: float
    kind: Optional[str]
    rid: Any                                   # int for machines, str otherwise, or None
    event: str
    frm: Optional[str] = None
    to: Optional[str] = None
    detail: Any = None


@dataclass
class RequestRecord:
    """One API request as the gateway saw it."""

    t: float
    method: str
    path: str
    status: Optional[int]
    duration_s: float
    account: Optional[str]
    fault: Optional[str]
    provider_error: Optional[str] = None       # how the provider failed the server's call, if it did
    stalled_s: float = 0.0                     # wall seconds spent held by a server stall
