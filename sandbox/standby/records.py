"""The CPU standby's own state, as kept in the standby_* tables of sandbox.db. Answers are
built from these records in views.py."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

from ..cloud.records import Manifest

# An association's states: provisioning -> syncing -> failover_active -> recovering -> syncing ...;
# disabled once its GPU or itself is deleted; error when the standby machine dies.
STATES = ("provisioning", "syncing", "failover_active", "recovering", "disabled", "error")


@dataclass
class StandbyConfig:
    """An account's standby settings (POST /standby/configure); the defaults are the real server's."""

    enabled: bool = False
    gcp_zone: str = "europe-west1-b"
    gcp_machine_type: str = "e2-medium"
    gcp_disk_size: int = 100
    gcp_spot: bool = True
    sync_interval: int = 30
    auto_failover: bool = True
    auto_recovery: bool = True
    configured: bool = False


# The settings a new config also applies to the account's live associations.
LIVE_SETTINGS = ("sync_interval", "auto_failover", "auto_recovery")


@dataclass
class LostFile:
    """A file the GPU had at a failover that the standby lacks or holds different."""

    path: str
    bytes: int


@dataclass
class FailoverRequest:
    """A failover decided but not yet done (kept so that a restart finishes it)."""

    reason: str
    explicit: bool
    detected_at: float


@dataclass
class FailoverRecord:
    failed_at: float                              # when the GPU stopped being healthy
    detected_at: float                            # the third failed check, or the request
    reason: str
    explicit: bool
    gpu_instance_id: int
    last_sync_started_at: Optional[float]         # of the last completed sync: what the standby holds
    last_sync_completed_at: Optional[float]
    discarded_sync_started_at: Optional[float]
    completed_at: Optional[float] = None
    lost_files: List[LostFile] = field(default_factory=list)
    lost_bytes: int = 0
    rpo_seconds: Optional[float] = None
    rpo_nominal_seconds: Optional[float] = None
    standby_files: int = 0


@dataclass
class FailbackRecord:
    started_at: float
    explicit: bool
    completed_at: Optional[float] = None
    gpu_instance_id: Optional[int] = None
    new_gpu: bool = False
    resumed: bool = False
    error: Optional[str] = None
    # known once the copy back is done
    bytes: Optional[int] = None
    changed_bytes: Optional[int] = None
    nominal_s: Optional[float] = None
    copy_started_at: Optional[float] = None


@dataclass
class Association:
    """A GPU instance paired with a CPU standby machine (whose id is the association's id)."""

    id: int
    account: str
    gpu_id: int                                   # the GPU it was made for
    current_gpu_id: int                           # the GPU it syncs from now (a failback may replace it)
    gpu_ids: List[int]                            # every GPU it has paired with
    gpu_label: Optional[str]
    label: str
    name: str
    zone: str
    machine_type: str
    spot: bool
    dph: float
    disk_gb: float
    state: str                                    # one of STATES
    sync_enabled: bool
    sync_interval: int
    auto_failover: bool
    auto_recovery: bool
    seen_running: bool                            # the current GPU has run since it was paired
    provision_ready_at: Optional[float]
    created_at: float
    deleted_at: Optional[float] = None
    sync_count: int = 0                           # completed syncs
    last_sync_at: Optional[float] = None          # completion of the last completed sync
    last_sync_started_at: Optional[float] = None
    manifest: Manifest = field(default_factory=dict)   # what the last completed sync copied
    gpu_failed: bool = False
    failure_reason: Optional[str] = None
    failed_at: Optional[float] = None
    health_status: str = "unknown"
    failures: int = 0                             # consecutive failed health checks
    first_failure_at: Optional[float] = None
    gpu_left_running_at: Optional[float] = None
    pending_failover: Optional[FailoverRequest] = None
    recovery_at: Optional[float] = None           # when an automatic failback starts
    pending_gpu_id: Optional[int] = None          # a replacement GPU a failback is bringing up
    new_gpu_instance_id: Optional[int] = None
    failovers: List[FailoverRecord] = field(default_factory=list)
    failbacks: List[FailbackRecord] = field(default_factory=list)
    error: Optional[str] = None

    @property
    def alive(self) -> bool:
        return self.deleted_at is None


@dataclass
class SyncLogEntry:
    """One sync as the ground truth lists it; only `completed` ones reached the standby."""

    seq: int
    gpu_instance_id: Optional[int]
    started_at: float
    completed_at: Optional[float]
    status: str          # in_flight | stalled | completed | discarded | abandoned | failed | interrupted
    files: Manifest
    bytes: int
    changed_bytes: int
    nominal_s: Optional[float]
