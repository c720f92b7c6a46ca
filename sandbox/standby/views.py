"""The JSON of the standby routes and of its ground truth, built from the records: one function
per kind of answer. `standby` is the pair's standby machine if it is alive."""
from __future__ import annotations

from typing import Any, Dict, List, Optional

from ..clock import iso
from ..cloud.resource import Resource
from . import pricing
from .pairs import Pair
from .records import Association, FailbackRecord, FailoverRecord, StandbyConfig, SyncLogEntry


def status_config_view(cfg: StandbyConfig) -> Dict[str, Any]:
    """The `config` of GET /standby/status, as the real server gives it: no `enabled` (that is
    `auto_standby_enabled`), so posting it back as is enables standby (configure defaults
    `enabled` to true)."""
    return {"gcp_zone": cfg.gcp_zone, "gcp_machine_type": cfg.gcp_machine_type, "gcp_disk_size": cfg.gcp_disk_size,
            "gcp_spot": cfg.gcp_spot, "sync_interval": cfg.sync_interval, "auto_failover": cfg.auto_failover,
            "auto_recovery": cfg.auto_recovery}


def configured_view(cfg: StandbyConfig) -> Dict[str, Any]:
    """The `config` of a POST /standby/configure that enabled standby: the real server's three
    fields (its monthly estimate is a fixed 7.20 for spot, 25.0 otherwise), then [ext] the rest."""
    return {"gcp_zone": cfg.gcp_zone, "gcp_machine_type": cfg.gcp_machine_type,
            "estimated_cost_monthly_usd": 7.20 if cfg.gcp_spot else 25.0,
            # [ext]
            "gcp_disk_size": cfg.gcp_disk_size, "gcp_spot": cfg.gcp_spot, "sync_interval": cfg.sync_interval,
            "auto_failover": cfg.auto_failover, "auto_recovery": cfg.auto_recovery,
            "estimated_hourly_usd": pricing.hourly(cfg.gcp_machine_type, cfg.gcp_spot)}


def _standby_machine(rec: Association, standby: Optional[Resource], host: str) -> Dict[str, Any]:
    return {"name": rec.name, "zone": rec.zone, "ip": host, "ssh_host": host,
            "ssh_port": standby.machine.port if standby is not None else None,
            "instance_id": rec.id, "machine_type": rec.machine_type, "spot": rec.spot,
            "status": standby.actual_status if standby is not None else "deleted",
            "dph_total": rec.dph, "label": rec.label, "created_at": iso(rec.created_at)}


def instance_standby_view(p: Pair, standby: Optional[Resource], host: str) -> Dict[str, Any]:
    """The `cpu_standby` object of an instance's view."""
    rec = p.record
    return {"enabled": True, "provider": "gcp", **_standby_machine(rec, standby, host),
            "sync_enabled": rec.sync_enabled, "sync_count": rec.sync_count, "state": p.state,
            "last_sync_at": iso(rec.last_sync_at)}


def association_view(p: Pair, standby: Optional[Resource], host: str) -> Dict[str, Any]:
    rec = p.record
    return {"gpu_instance_id": rec.gpu_id, "cpu_standby": _standby_machine(rec, standby, host),
            "sync_enabled": rec.sync_enabled, "gpu_failed": rec.gpu_failed,
            "failure_reason": rec.failure_reason, "failed_at": iso(rec.failed_at), "state": p.state,
            "sync_count": rec.sync_count, "health_status": rec.health_status,
            # [ext]
            "last_sync_at": iso(rec.last_sync_at), "is_syncing": p.sync is not None,
            "current_gpu_instance_id": rec.current_gpu_id, "new_gpu_instance_id": rec.new_gpu_instance_id,
            "sync_interval": rec.sync_interval, "auto_failover": rec.auto_failover,
            "auto_recovery": rec.auto_recovery, "failover_count": len(rec.failovers),
            "failback_count": len(rec.failbacks), "error": rec.error if p.state == "error" else None,
            "sync_error": "sync stalled" if p.sync is not None and p.sync.stalled else None}


def failover_view(f: FailoverRecord) -> Dict[str, Any]:
    return {"failed_at": f.failed_at, "detected_at": f.detected_at, "completed_at": f.completed_at,
            "reason": f.reason, "explicit": f.explicit, "gpu_instance_id": f.gpu_instance_id,
            "last_sync_started_at": f.last_sync_started_at, "last_sync_completed_at": f.last_sync_completed_at,
            "discarded_sync_started_at": f.discarded_sync_started_at,
            "lost_files": [{"path": lf.path, "bytes": lf.bytes} for lf in f.lost_files],
            "lost_bytes": f.lost_bytes, "rpo_seconds": f.rpo_seconds, "rpo_nominal_seconds": f.rpo_nominal_seconds,
            "standby_files": f.standby_files}


def failback_view(f: FailbackRecord) -> Dict[str, Any]:
    view = {"started_at": f.started_at, "completed_at": f.completed_at, "gpu_instance_id": f.gpu_instance_id,
            "new_gpu": f.new_gpu, "resumed": f.resumed, "explicit": f.explicit, "error": f.error}
    if f.completed_at is not None:   # what the copy back moved is known only once it is done
        view.update(bytes=f.bytes, changed_bytes=f.changed_bytes, nominal_s=f.nominal_s,
                    copy_started_at=f.copy_started_at)
    return view


def sync_log_view(s: SyncLogEntry) -> Dict[str, Any]:
    return {"seq": s.seq, "gpu_instance_id": s.gpu_instance_id, "started_at": s.started_at,
            "completed_at": s.completed_at, "status": s.status, "files": s.files, "bytes": s.bytes,
            "changed_bytes": s.changed_bytes, "nominal_s": s.nominal_s}


def truth_brief_view(rec: Association) -> Dict[str, Any]:
    """An association in GET /_sandbox/standby."""
    return {"gpu_instance_id": rec.gpu_id, "standby_id": rec.id, "account": rec.account,
            "gpu_instance_ids": rec.gpu_ids, "current_gpu_instance_id": rec.current_gpu_id,
            "state": rec.state, "alive": rec.alive, "sync_count": rec.sync_count,
            "failovers": len(rec.failovers), "failbacks": len(rec.failbacks)}


def truth_view(rec: Association, syncs: List[SyncLogEntry]) -> Dict[str, Any]:
    """GET /_sandbox/standby/{gpu_id}: everything that happened to an association."""
    return {"gpu_instance_id": rec.gpu_id, "standby_id": rec.id, "account": rec.account,
            "gpu_instance_ids": rec.gpu_ids, "current_gpu_instance_id": rec.current_gpu_id,
            "state": rec.state, "alive": rec.alive, "created_at": rec.created_at,
            "deleted_at": rec.deleted_at, "sync_count": rec.sync_count,
            "last_sync_started_at": rec.last_sync_started_at, "last_sync_completed_at": rec.last_sync_at,
            "syncs": [sync_log_view(s) for s in syncs], "failovers": [failover_view(f) for f in rec.failovers],
            "failbacks": [failback_view(f) for f in rec.failbacks]}
