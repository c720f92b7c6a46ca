"""The JSON the API answers with, built from the records: one function per kind of answer."""
from __future__ import annotations

from typing import Any, Dict, Optional

from ..clock import iso
from .listener import StandbyAttachment
from .records import Event, MachineRecord, Offer, RequestRecord, SnapshotRecord
from .resource import Resource
from .snapshots import RestoreResult, SnapshotResult

MB_PER_GB = 1024

# The three shapes the real server gives an instance (see docs/dumont-api.md, "Verified"):
# the list fills cpu_standby and total_dph; a GET leaves them null; the create answer also
# leaves start_date null.
INSTANCE_FORMS = ("list", "get", "create")


def _mb(gb: Any) -> Optional[float]:
    """Instances carry the provider's raw RAM values, in MB (offers give GB)."""
    return None if gb is None else float(gb) * MB_PER_GB


def instance_view(res: Resource, host: str, standby: Optional[StandbyAttachment], form: str = "list",
                  ext: bool = True) -> Dict[str, Any]:
    """An instance as the real server shows it in `form` ("list", "get" or "create"); `ext`
    adds the sandbox's [ext] fields (left out in the real profile)."""
    rec, offer = res.record, res.record.offer or {}
    ports = {"22": res.machine.port}
    for p in rec.ports or []:
        ports[str(p)] = p
    view = {
        "id": rec.id, "status": rec.status, "actual_status": rec.actual_status,
        "gpu_name": offer.get("gpu_name"), "num_gpus": offer.get("num_gpus"),
        "gpu_ram": _mb(offer.get("gpu_ram")), "cpu_cores": offer.get("cpu_cores"),
        "cpu_ram": _mb(offer.get("cpu_ram")), "disk_space": rec.disk_size,
        "dph_total": rec.dph_total, "public_ipaddr": host, "ssh_host": host,
        "ssh_port": res.machine.port, "start_date": None if form == "create" else iso(rec.created_at),
        "label": rec.label, "ports": ports,
        # metrics: the real server never fills them
        "gpu_util": None, "gpu_temp": None, "cpu_util": None, "ram_used": None, "ram_total": None,
        "provider": "vast.ai", "cpu_standby": None, "total_dph": None,
    }
    if form == "list":
        view["total_dph"] = rec.dph_total
        if standby is not None:
            view["cpu_standby"] = standby.view
            view["total_dph"] = round(float(rec.dph_total) + standby.dph, 6)
    if ext:   # [ext] sandbox additions
        view.update({"storage_dph": rec.storage_dph, "offer_id": rec.offer_id, "image": rec.image,
                     "geolocation": offer.get("geolocation"), "machine_id": offer.get("machine_id")})
    return view


OFFER_FIELDS = ("id", "gpu_name", "num_gpus", "gpu_ram", "cpu_cores", "cpu_ram", "disk_space", "inet_down",
                "inet_up", "dph_total", "geolocation", "reliability", "cuda_version", "verified", "static_ip",
                "machine_id", "is_blacklisted", "blacklist_reason", "success_rate", "total_attempts",
                "reliability_status")


def offer_view(offer: Offer, ext: bool = True) -> Dict[str, Any]:
    """An offer in GET /instances/offers; without `ext` only the real server's fields."""
    if ext:
        return dict(offer)
    defaults = {"blacklist_reason": None, "success_rate": None, "total_attempts": 0}
    return {k: offer.get(k, defaults.get(k)) for k in OFFER_FIELDS}


def machine_view(res: Resource) -> Dict[str, Any]:
    """[ext] GET /_sandbox/machines/{id}: the internals of a live machine."""
    return {"id": res.id, "kind": res.kind, "workspace": str(res.machine.workspace), "root": str(res.machine.root),
            "ssh_port": res.machine.port, "ssh_up": res.machine.ssh_up, "timers": res.record.timers,
            "status": res.status, "actual_status": res.actual_status}


def machine_resource_view(rec: MachineRecord) -> Dict[str, Any]:
    """An instance or standby in GET /_sandbox/resources."""
    offer = rec.offer or {}
    return {
        "kind": rec.kind, "id": rec.id, "label": rec.label, "account": rec.account,
        "created_at": rec.created_at, "deleted_at": rec.deleted_at, "alive": rec.alive,
        "status": rec.status, "actual_status": rec.actual_status, "gpu_name": offer.get("gpu_name"),
        "offer_id": rec.offer_id, "dph_total": rec.dph_total, "storage_dph": rec.storage_dph,
        "tags": [], "gpu_instance_id": rec.gpu_instance_id, "ssh_port": rec.ssh_port,
        "disk_size": rec.disk_size,
    }


def snapshot_resource_view(rec: SnapshotRecord, size_scale: float) -> Dict[str, Any]:
    """A snapshot in GET /_sandbox/resources."""
    state = "ready" if rec.alive else "deleted"
    return {
        "kind": "snapshot", "id": rec.id, "label": rec.label, "account": rec.account,
        "created_at": rec.created_at, "deleted_at": rec.deleted_at, "alive": rec.alive,
        "status": state, "actual_status": state,
        "gpu_name": None, "offer_id": None, "dph_total": 0.0, "storage_dph": 0.0, "tags": rec.tags,
        "instance_id": rec.instance_id, "bytes": rec.bytes, "archive_bytes": rec.archive_bytes,
        "nominal_bytes": int(rec.bytes * size_scale), "duration_s": rec.duration_s,
        "source_path": rec.source_path,
    }


def billing_row(rec: MachineRecord, summary: Dict[str, Any]) -> Dict[str, Any]:
    """A resource in GET /_sandbox/billing, with its Billing.resource_summary."""
    return {"kind": rec.kind, "id": rec.id, "label": rec.label, "account": rec.account, "alive": rec.alive,
            "dph_total": rec.dph_total, "storage_dph": rec.storage_dph, **summary}


def snapshot_view(rec: SnapshotRecord, ext: bool = True) -> Dict[str, Any]:
    """A snapshot in GET /snapshots (`ext`: with the sandbox's [ext] fields)."""
    view = {"id": rec.id, "short_id": rec.id[:8], "time": iso(rec.created_at), "hostname": rec.hostname,
            "tags": rec.tags, "paths": [rec.source_path]}
    if ext:
        view.update({"instance_id": rec.instance_id, "label": rec.label, "bytes": rec.bytes, "type": rec.type})
    return view


def event_view(ev: Event) -> Dict[str, Any]:
    return {"t": ev.t, "kind": ev.kind, "id": ev.rid, "event": ev.event, "from": ev.frm, "to": ev.to,
            "detail": ev.detail}


def request_view(r: RequestRecord) -> Dict[str, Any]:
    return {"t": r.t, "method": r.method, "path": r.path, "status": r.status, "duration_s": r.duration_s,
            "account": r.account, "fault": r.fault, "provider_error": r.provider_error, "stalled_s": r.stalled_s}


def snapshot_created_view(result: SnapshotResult) -> Dict[str, Any]:
    """The answer of POST /snapshots."""
    return {"success": True, "snapshot_id": result.snapshot_id, "files_new": result.files_new,
            "files_changed": result.files_changed, "files_unmodified": result.files_unmodified,
            "total_files_processed": result.total_files_processed, "data_added": result.data_added,
            "total_bytes_processed": result.total_bytes_processed}


def instance_snapshot_view(result: SnapshotResult, instance_id: int, snap_type: str) -> Dict[str, Any]:
    """The answer of POST /instances/{id}/snapshots."""
    return {"success": True, "snapshot_id": result.snapshot_id, "instance_id": instance_id, "type": snap_type,
            "files_new": result.files_new, "files_changed": result.files_changed, "data_added": result.data_added}


def restore_view(result: RestoreResult) -> Dict[str, Any]:
    """The answer of POST /snapshots/restore: a success whatever happened, as on the real server
    (its restore returns success: true unconditionally; only the data on the machine tells)."""
    return {"success": True, "snapshot_id": result.snapshot_id, "target_path": result.target_path,
            "files_restored": result.files_restored, "errors": result.errors}
