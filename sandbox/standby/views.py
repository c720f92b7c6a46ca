"""Views of CPU standby associations for the API and the ground truth (a mixin of
StandbyManager)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Optional

from ..clock import iso

if TYPE_CHECKING:  # pragma: no cover
    from .manager import Assoc


class ViewsMixin:
    # -- views ------------------------------------------------------------------------------
    def _standby_bits(self, a: Assoc) -> Dict[str, Any]:
        standby = self.standby(a)
        host = self.core.cfg.host
        return {"name": a.d["name"], "zone": a.d["zone"], "ip": host, "ssh_host": host,
                "ssh_port": standby.machine.port if standby is not None else None,
                "instance_id": a.id, "machine_type": a.d["machine_type"], "spot": a.d["spot"],
                "status": standby.actual_status if standby is not None else "deleted",
                "dph_total": a.d["dph"], "label": a.d["label"], "created_at": iso(a.d["created_at"])}

    def instance_standby_view(self, a: Assoc) -> Dict[str, Any]:
        bits = self._standby_bits(a)
        return {"enabled": True, "provider": "gcp", **bits, "sync_enabled": a.d["sync_enabled"],
                "sync_count": a.d["sync_count"], "state": a.state, "last_sync_at": iso(a.d["last_sync_at"])}

    def assoc_view(self, a: Assoc) -> Dict[str, Any]:
        d = a.d
        return {"gpu_instance_id": d["gpu_id"], "cpu_standby": self._standby_bits(a),
                "sync_enabled": d["sync_enabled"], "gpu_failed": d["gpu_failed"],
                "failure_reason": d["failure_reason"], "failed_at": iso(d["failed_at"]), "state": a.state,
                "sync_count": d["sync_count"], "health_status": d["health_status"],
                # [ext]
                "last_sync_at": iso(d["last_sync_at"]), "is_syncing": a.sync is not None,
                "current_gpu_instance_id": d["current_gpu_id"], "new_gpu_instance_id": d["new_gpu_instance_id"],
                "sync_interval": d["sync_interval"], "auto_failover": d["auto_failover"],
                "auto_recovery": d["auto_recovery"], "failover_count": len(d["failovers"]),
                "failback_count": len(d["failbacks"]), "error": d.get("error") if a.state == "error" else None}

    def sync_status(self, instance_id: int, a: Optional[Assoc]) -> Dict[str, Any]:
        if a is None:
            return {"instance_id": instance_id, "synced": False, "is_syncing": False, "last_sync": None,
                    "last_sync_ago": "Never", "sync_count": 0, "error": None, "state": None}
        d = a.d
        last = d["last_sync_at"]
        error = None
        if a.state == "error":
            error = d.get("error") or "standby error"
        elif a.sync is not None and a.sync["stalled"]:
            error = "sync stalled"
        return {"instance_id": instance_id, "synced": d["sync_count"] > 0, "is_syncing": a.sync is not None,
                "last_sync": iso(last),
                "last_sync_ago": "Never" if last is None else f"{max(0, int(self._now() - last))}s ago",
                "sync_count": d["sync_count"], "error": error, "state": a.state,
                "sync_enabled": d["sync_enabled"], "standby_instance_id": a.id}

    def truth(self, gpu_id: int) -> Optional[Dict[str, Any]]:
        a = self.by_gpu.get(gpu_id)
        d = a.d if a is not None else self.sstore.find_assoc(gpu_id)
        if d is None:
            return None
        return {"gpu_instance_id": d["gpu_id"], "standby_id": d["id"], "account": d["account"],
                "gpu_instance_ids": d["gpu_ids"], "current_gpu_instance_id": d["current_gpu_id"],
                "state": d["state"], "alive": d["deleted_at"] is None, "created_at": d["created_at"],
                "deleted_at": d["deleted_at"], "sync_count": d["sync_count"],
                "last_sync_started_at": d["last_sync_started_at"], "last_sync_completed_at": d["last_sync_at"],
                "syncs": self.sstore.syncs(d["id"]), "failovers": d["failovers"], "failbacks": d["failbacks"]}
