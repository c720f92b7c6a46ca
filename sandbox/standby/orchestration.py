"""The real server's failover orchestrator and GPU warm pool, as far as a client sees them.

The real server has routes for a failover "orchestrator" (strategies: a GPU warm pool on the same
host, the CPU standby, both...) and for the warm pool itself. A client may call five of them to
look (docs/dumont-api.md, "Past SSH"); this module builds their answers, with the real server's
shapes (its src/api/v1/endpoints/failover.py, failover_settings.py and warmpool.py):

- the global failover settings: the real server's defaults (strategy "both"; they live in a file
  of the server, which nothing here changes);
- the strategies it lists (a fixed list, in its words);
- a warm pool's status: never provisioned here, so "disabled" for every machine;
- readiness: from those settings, that warm pool, and whether the machine has a CPU standby
  association (any state counts, as on the real server);
- the multi-GPU hosts: the provider's rentable on-demand offers grouped by machine, with the real
  server's local filters (an exact `gpu_name`, reliability at least 0.9) and order.
"""
from __future__ import annotations

import re
from typing import Any, Dict, Iterable, List, Optional

from ..cloud.records import Offer

DEFAULT_STRATEGY = "both"
MIN_HOST_RELIABILITY = 0.9      # the real host finder's own threshold
OFFERS_PER_HOST = 5             # it shows at most this many offers of a host

WARM_POOL_DEFAULTS: Dict[str, Any] = {
    "enabled": True, "min_gpus_per_host": 2, "volume_size_gb": 100, "auto_provision_standby": True,
    "fallback_to_cpu_standby": True, "preferred_gpu_names": ["RTX_4090", "RTX_3090", "A100"],
    "health_check_interval_seconds": 10, "failover_timeout_seconds": 120, "auto_reprovision_standby": True,
}
CPU_STANDBY_DEFAULTS: Dict[str, Any] = {
    "enabled": True, "gcp_zone": "europe-west1-b", "gcp_machine_type": "e2-medium", "gcp_disk_size_gb": 100,
    "gcp_spot": True, "sync_interval_seconds": 30, "health_check_interval_seconds": 10, "failover_threshold": 3,
    "auto_failover": True, "auto_recovery": True, "snapshot_to_cloud": True,
}
STRATEGY_DESCRIPTIONS = {
    "warm_pool": "GPU Warm Pool (failover em 30-60s)",
    "cpu_standby": "CPU Standby (failover em 10-20min)",
    "both": "GPU Warm Pool (principal) + CPU Standby (fallback)",
    "disabled": "Failover desabilitado",
}
# (id, name, description, recovery_time, cost, requirements), as the real server lists them.
_STRATEGIES = (
    ("warm_pool", "GPU Warm Pool", "Failover rápido (~30-60s) usando GPU standby no mesmo host",
     "30-60 segundos", "Apenas armazenamento quando standby está parado",
     ["Host com múltiplas GPUs", "Volume compartilhado VAST.ai"]),
    ("cpu_standby", "CPU Standby + Snapshot", "Failover via snapshot e nova GPU (~10-20min)",
     "10-20 minutos", "CPU standby no GCP + armazenamento de snapshots",
     ["Credenciais GCP", "Bucket B2/S3 para snapshots"]),
    ("both", "Warm Pool + CPU Standby", "Warm Pool como primário, CPU Standby como fallback",
     "30-60s (warm pool) ou 10-20min (fallback)", "Combinado de ambas estratégias",
     ["Requisitos de ambas estratégias"]),
    ("regional_volume", "Regional Volume Failover", "Failover usando volume persistente regional (~30-60s)",
     "30-60 segundos", "Volume regional (~$1-3/mês para 50GB)",
     ["Volume VAST.ai na região", "GPUs disponíveis na mesma região"]),
    ("all", "Todas as Estratégias", "Warm Pool + Regional Volume + CPU Standby",
     "6s (warm) → 30-60s (regional) → 10-20min (cpu)", "Combinado de todas estratégias",
     ["Requisitos de todas estratégias"]),
    ("disabled", "Desabilitado", "Nenhuma proteção de failover automático", "Manual", "Nenhum", []),
)


def strategies_view() -> Dict[str, Any]:
    """GET /failover/strategies."""
    return {"strategies": [{"id": sid, "name": name, "description": desc, "recovery_time": recovery,
                            "cost": cost, "requirements": list(reqs)}
                           for sid, name, desc, recovery, cost, reqs in _STRATEGIES]}


def _warm_pool_enabled(strategy: str) -> bool:
    return strategy in ("warm_pool", "both", "all") and bool(WARM_POOL_DEFAULTS["enabled"])


def _cpu_standby_enabled(strategy: str) -> bool:
    return strategy in ("cpu_standby", "both", "all") and bool(CPU_STANDBY_DEFAULTS["enabled"])


def global_settings_view() -> Dict[str, Any]:
    """GET /failover/settings/global: the server's defaults (nothing here changes them)."""
    warm_pool = dict(WARM_POOL_DEFAULTS)
    warm_pool["preferred_gpu_names"] = list(warm_pool["preferred_gpu_names"])
    return {"default_strategy": DEFAULT_STRATEGY, "warm_pool": warm_pool,
            "cpu_standby": dict(CPU_STANDBY_DEFAULTS), "auto_apply_to_new_machines": True,
            "notify_on_failover": True, "notify_channels": ["email", "slack"],
            "summary": {"warm_pool_enabled": _warm_pool_enabled(DEFAULT_STRATEGY),
                        "cpu_standby_enabled": _cpu_standby_enabled(DEFAULT_STRATEGY),
                        "description": STRATEGY_DESCRIPTIONS.get(DEFAULT_STRATEGY, "Unknown")}}


def warm_pool_status_view(machine_id: int) -> Dict[str, Any]:
    """GET /warmpool/status/{id}: a warm pool that was never provisioned (there is none here)."""
    return {"machine_id": machine_id, "state": "disabled", "host_machine_id": None, "volume_id": None,
            "primary_gpu_id": None, "standby_gpu_id": None, "standby_state": "none", "primary_ssh_host": None,
            "primary_ssh_port": None, "last_health_check": None, "failover_count": 0, "last_failover_at": None,
            "error_message": None}


def readiness_view(machine_id: int, association: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """GET /failover/readiness/{id}; `association` is the machine's CPU standby association as
    GET /standby/associations/{id} shows it, or None."""
    strategy = DEFAULT_STRATEGY
    out: Dict[str, Any] = {"machine_id": machine_id, "effective_strategy": strategy, "warm_pool_ready": False,
                           "warm_pool_status": None, "cpu_standby_ready": False, "cpu_standby_status": None,
                           "overall_ready": False}
    if strategy in ("warm_pool", "both"):
        status = warm_pool_status_view(machine_id)
        out["warm_pool_status"] = status
        out["warm_pool_ready"] = status["state"] == "active" and status["standby_gpu_id"] is not None
    if strategy in ("cpu_standby", "both"):
        out["cpu_standby_status"] = association
        out["cpu_standby_ready"] = association is not None
    if strategy == "warm_pool":
        out["overall_ready"] = out["warm_pool_ready"]
    elif strategy == "cpu_standby":
        out["overall_ready"] = out["cpu_standby_ready"]
    elif strategy == "both":
        out["overall_ready"] = out["warm_pool_ready"] or out["cpu_standby_ready"]
    return out


def machine_number(machine_id: Any) -> int:
    """The provider's machine id is a number; the catalogue's are strings like "m01009"."""
    if isinstance(machine_id, int):
        return machine_id
    digits = re.sub(r"\D", "", str(machine_id))
    return int(digits) if digits else 0


def _offer_view(o: Offer) -> Dict[str, Any]:
    return {"offer_id": o["id"], "machine_id": machine_number(o.get("machine_id")), "gpu_name": o["gpu_name"],
            "num_gpus": o["num_gpus"], "price_per_hour": o["dph_total"], "reliability": o["reliability"],
            "verified": bool(o.get("verified")), "geolocation": o.get("geolocation") or ""}


def warm_pool_hosts(offers: Iterable[Offer], *, gpu_name: Optional[str] = None, min_gpus: int = 2,
                    max_price: Optional[float] = None, verified: bool = True) -> List[Dict[str, Any]]:
    """GET /warmpool/hosts' `hosts`, from the offers the provider returns (rentable, on-demand).

    As on the real server: `gpu_name` must equal the provider's name exactly ("RTX 4090"; the
    "RTX_4090" form the other routes take finds nothing), a `max_price` of 0 is no limit, offers
    below 0.9 reliability or without a GPU are left out, the offers are grouped by machine, a host
    needs `min_gpus` GPUs over its offers, and hosts are sorted by reliability per dollar."""
    by_machine: Dict[int, List[Offer]] = {}
    for o in sorted(offers, key=lambda o: (o["dph_total"], o["id"])):   # the provider's order=dph_total
        if o.get("machine_type", "on-demand") != "on-demand" or o.get("is_blacklisted"):
            continue
        if verified and not o.get("verified"):
            continue
        if gpu_name and o["gpu_name"] != gpu_name:
            continue
        if o["num_gpus"] < 1 or (max_price and o["dph_total"] > max_price):
            continue
        if o["reliability"] < MIN_HOST_RELIABILITY:
            continue
        by_machine.setdefault(machine_number(o.get("machine_id")), []).append(o)
    hosts = []
    for mid, group in by_machine.items():
        total = sum(o["num_gpus"] for o in group)
        if total < min_gpus:
            continue
        avg_price = sum(o["dph_total"] for o in group) / len(group)
        hosts.append({"machine_id": mid, "total_gpus": total, "available_gpus": len(group),
                      "gpu_name": group[0]["gpu_name"], "avg_price_per_hour": avg_price,
                      "reliability": sum(o["reliability"] for o in group) / len(group),
                      "verified": all(o.get("verified") for o in group),
                      "geolocation": group[0].get("geolocation") or "",
                      "can_create_warm_pool": len(group) >= 2,
                      "offers": [_offer_view(o) for o in group[:OFFERS_PER_HOST]]})
    hosts.sort(key=lambda h: h["reliability"] / max(h["avg_price_per_hour"], 0.01), reverse=True)
    return hosts
