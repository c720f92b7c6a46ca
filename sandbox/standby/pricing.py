"""Prices and machine shapes of the CPU standby VMs (GCP e2 family), as the real server
estimates them: spot and on-demand $/h, VM-only monthly estimate = hourly x 720 h, disk at
$0.04 per GB-month (pd-standard)."""
from __future__ import annotations

from typing import Any, Dict

from ..cloud.records import Offer

SPOT_DPH = {"e2-micro": 0.002, "e2-small": 0.005, "e2-medium": 0.010,
            "e2-standard-2": 0.020, "e2-standard-4": 0.040}
ON_DEMAND_DPH = {"e2-micro": 0.0084, "e2-small": 0.0168, "e2-medium": 0.0335,
                 "e2-standard-2": 0.067, "e2-standard-4": 0.134}
SHAPES = {"e2-micro": (2, 1), "e2-small": (2, 2), "e2-medium": (2, 4),
          "e2-standard-2": (2, 8), "e2-standard-4": (4, 16)}     # vCPUs, GB RAM
HOURS_PER_MONTH = 720
DISK_USD_PER_GB_MONTH = 0.04
MACHINE_TYPES = tuple(SPOT_DPH)


def known(machine_type: str) -> bool:
    return machine_type in SPOT_DPH


def hourly(machine_type: str, spot: bool) -> float:
    return (SPOT_DPH if spot else ON_DEMAND_DPH)[machine_type]


def monthly_vm(machine_type: str, spot: bool) -> float:
    return round(hourly(machine_type, spot) * HOURS_PER_MONTH, 2)


def pricing(machine_type: str, disk_gb: int, spot: bool) -> Dict[str, Any]:
    h = hourly(machine_type, spot)
    vm = h * HOURS_PER_MONTH
    disk = disk_gb * DISK_USD_PER_GB_MONTH
    return {"machine_type": machine_type, "disk_gb": disk_gb, "spot": spot,
            "estimated_hourly_usd": round(h, 4), "estimated_monthly_usd": round(vm + disk, 2),
            "breakdown": {"vm_monthly": round(vm, 2), "disk_monthly": round(disk, 2)},
            "note": "Prices are estimates and may vary by region."}


def offer(machine_type: str, spot: bool, disk_gb: float, zone: str) -> Offer:
    """The pseudo-offer a standby machine is created from (not in the VAST catalogue)."""
    cores, ram = SHAPES[machine_type]
    return {"id": None, "gpu_name": None, "num_gpus": 0, "gpu_ram": 0, "cpu_cores": cores, "cpu_ram": ram,
            "disk_space": float(disk_gb), "dph_total": hourly(machine_type, spot),
            "storage_cost": DISK_USD_PER_GB_MONTH, "geolocation": zone, "machine_type": machine_type,
            "spot": spot, "provider": "gcp"}
