"""The offer catalogue (GPU and CPU machines) and the search filters of GET /instances/offers."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional

from .billing import STORAGE_USD_PER_GB_MONTH, storage_dph
from .records import Offer

DEFAULT_DISK_GB = 100.0

# (id, gpu_name, num_gpus, gpu_ram, cpu_cores, cpu_ram, disk, $/h, geolocation, reliability,
#  verified, machine_type)
_CATALOGUE = [
    (101001, "RTX 3060", 1, 12, 8, 32, 200, 0.09, "Texas, US", 0.975, True, "on-demand"),
    (101002, "RTX 3060", 1, 12, 12, 64, 500, 0.11, "Germany, DE", 0.992, True, "on-demand"),
    (101003, "RTX 3060", 1, 12, 6, 16, 100, 0.05, "Ohio, US", 0.885, False, "interruptible"),
    (101004, "RTX 3090", 1, 24, 16, 64, 500, 0.22, "California, US", 0.981, True, "on-demand"),
    (101005, "RTX A4000", 1, 16, 8, 32, 250, 0.17, "Netherlands, NL", 0.987, True, "on-demand"),
    (101006, "RTX A4000", 1, 16, 12, 48, 250, 0.19, "Quebec, CA", 0.962, True, "on-demand"),
    (101007, "RTX 4090", 1, 24, 16, 64, 500, 0.39, "Virginia, US", 0.991, True, "on-demand"),
    (101008, "RTX 4090", 1, 24, 32, 128, 1000, 0.45, "Japan, JP", 0.958, True, "on-demand"),
    (101009, "RTX 4090", 2, 48, 32, 128, 1000, 0.80, "Sweden, SE", 0.979, True, "on-demand"),
    (101010, "RTX 4090", 1, 24, 16, 64, 300, 0.28, "Poland, PL", 0.921, False, "interruptible"),
    (101011, "A100 PCIE", 1, 40, 32, 128, 1000, 0.85, "Oregon, US", 0.989, True, "on-demand"),
    (101012, "A100 SXM4", 1, 80, 32, 256, 2000, 1.20, "France, FR", 0.995, True, "on-demand"),
    (101013, "A100 SXM4", 4, 320, 128, 1024, 4000, 4.60, "Singapore, SG", 0.973, True, "on-demand"),
    (101014, "H100 PCIE", 1, 80, 32, 256, 2000, 2.10, "Finland, FI", 0.984, True, "on-demand"),
    (101015, "H100 SXM", 1, 80, 52, 512, 2000, 2.45, "Utah, US", 0.997, True, "on-demand"),
    (101016, "H100 SXM", 8, 640, 208, 2048, 8000, 19.20, "Korea, KR", 0.968, True, "on-demand"),
    # Cheap hosts below the real server's hidden search defaults (min_disk 50, min_inet_down
    # 100): found only when a search lowers those minimums explicitly (or names a machine_type).
    (101017, "RTX 3060", 1, 12, 4, 16, 40, 0.045, "Minas Gerais, BR", 0.912, False, "on-demand"),
    (101018, "RTX A4000", 1, 16, 6, 24, 200, 0.12, "Texas, US", 0.944, False, "on-demand"),
    # CPU-only offers (num_gpus 0), e.g. for standbys
    (102001, "CPU", 0, 0, 2, 4, 50, 0.010, "Belgium, BE", 0.990, True, "on-demand"),
    (102002, "CPU", 0, 0, 4, 16, 100, 0.020, "Iowa, US", 0.985, True, "on-demand"),
    (102003, "CPU", 0, 0, 8, 32, 200, 0.040, "Taiwan, TW", 0.970, True, "on-demand"),
    (102004, "CPU", 0, 0, 2, 8, 50, 0.006, "Ireland, IE", 0.900, False, "interruptible"),
]

# (inet_down, inet_up) in Mbps where the catalogue's derived values do not apply
_SLOW_NETWORK = {101017: (80.0, 40.0), 101018: (60.0, 30.0)}

# GET /instances/offers' machine_type: the provider's type filter ("bid" is the provider's name
# for interruptible; "all" lifts the filter); any other text matches nothing.
MACHINE_TYPES = {"on-demand": ("on-demand",), "interruptible": ("interruptible",), "bid": ("interruptible",),
                 "all": ("on-demand", "interruptible")}

REGIONS = {
    "US": {"US", "CA", "MX"},
    "EU": {"DE", "NL", "FR", "SE", "PL", "FI", "BE", "IE", "ES", "IT", "GB", "UK", "NO", "DK", "CZ", "PT", "AT", "CH"},
    "ASIA": {"JP", "KR", "SG", "TW", "IN", "HK", "CN", "TH", "VN", "MY", "ID", "PH"},
}


def reliability_status(r: float) -> str:
    if r is None:
        return "unknown"
    if r >= 0.98:
        return "excellent"
    if r >= 0.95:
        return "good"
    if r >= 0.90:
        return "fair"
    return "poor"


def country_of(geolocation: Optional[str]) -> str:
    if not geolocation:
        return ""
    return geolocation.rsplit(",", 1)[-1].strip().upper()


def region_of(geolocation: Optional[str]) -> Optional[str]:
    cc = country_of(geolocation)
    for region, codes in REGIONS.items():
        if cc in codes:
            return region
    return None


def normalise_gpu(name: str) -> str:
    return " ".join(str(name).replace("_", " ").replace("-", " ").upper().split())


def complete_offer(raw: Dict[str, Any]) -> Offer:
    """Fill an offer dict (built-in or from --offers-file) with every field of the contract."""
    o = dict(raw)
    if "id" not in o or "dph_total" not in o:
        raise ValueError(f"offer needs at least id and dph_total: {raw!r}")
    o["id"] = int(o["id"])
    o["dph_total"] = float(o["dph_total"])
    o.setdefault("num_gpus", 1)
    o.setdefault("gpu_name", "CPU" if o["num_gpus"] == 0 else "RTX 3060")
    o.setdefault("gpu_ram", 0 if o["num_gpus"] == 0 else 12)
    o.setdefault("cpu_cores", 8)
    o.setdefault("cpu_ram", 32)
    o.setdefault("disk_space", 200)
    o.setdefault("inet_down", 1000.0)
    o.setdefault("inet_up", 800.0)
    o.setdefault("geolocation", "Texas, US")
    o.setdefault("reliability", 0.98)
    o.setdefault("cuda_version", None if o["num_gpus"] == 0 else "12.4")
    o.setdefault("verified", True)
    o.setdefault("static_ip", False)
    o.setdefault("machine_id", f"m{o['id'] % 100000:05d}")
    o["machine_id"] = str(o["machine_id"])
    o.setdefault("is_blacklisted", False)
    o.setdefault("machine_type", "on-demand")
    o.setdefault("storage_cost", STORAGE_USD_PER_GB_MONTH)   # [ext] $/GB/month of disk
    o["reliability_status"] = o.get("reliability_status") or reliability_status(o["reliability"])
    o["storage_dph"] = storage_dph(DEFAULT_DISK_GB, o["storage_cost"])  # [ext] for the default 100 GB disk
    return o


def builtin_offers() -> List[Offer]:
    out = []
    for (oid, gpu, n, gram, cores, cram, disk, dph, geo, rel, verified, mtype) in _CATALOGUE:
        inet_down, inet_up = _SLOW_NETWORK.get(oid, (500.0 + (oid % 7) * 250.0, 300.0 + (oid % 5) * 200.0))
        out.append(complete_offer({
            "id": oid, "gpu_name": gpu, "num_gpus": n, "gpu_ram": float(gram), "cpu_cores": cores,
            "cpu_ram": float(cram), "disk_space": float(disk), "dph_total": dph, "geolocation": geo,
            "reliability": rel, "verified": verified, "machine_type": mtype,
            "static_ip": verified and dph >= 0.8,
            "inet_down": inet_down, "inet_up": inet_up,
        }))
    return out


class Offers:
    def __init__(self, offers_file: Optional[Path] = None):
        if offers_file:
            raw = json.loads(Path(offers_file).read_text())
            if not isinstance(raw, list):
                raise ValueError("offers file must hold a JSON list of offers")
            self.offers = [complete_offer(o) for o in raw]
        else:
            self.offers = builtin_offers()
        self.by_id = {o["id"]: o for o in self.offers}

    def get(self, offer_id: int) -> Optional[Offer]:
        return self.by_id.get(int(offer_id))

    def search(self, *, gpu_name: Optional[str] = None, num_gpus: int = 1, min_gpu_ram: float = 0,
               min_cpu_cores: int = 1, min_cpu_ram: float = 1, min_disk: float = 50, min_inet_down: float = 100,
               max_price: float = 10.0, min_reliability: float = 0.0, region: Optional[str] = None,
               verified_only: bool = False, machine_type: Optional[str] = None, limit: int = 50,
               hidden: Iterable[int] = ()) -> List[Offer]:
        """The real server's two searches. Without machine_type: on-demand offers only, with the
        hidden minimums (disk, download speed, CPU cores and RAM). With a machine_type: that
        provider type, and those minimums are not applied."""
        hidden = set(hidden)
        want_gpu = normalise_gpu(gpu_name) if gpu_name else None
        want_region = region.upper() if region else None
        if machine_type is None:
            types: Iterable[str] = ("on-demand",)
        else:
            types = MACHINE_TYPES.get(machine_type.strip().lower(), ())
            min_cpu_cores, min_cpu_ram, min_disk, min_inet_down = 0, 0, float("-inf"), float("-inf")
        out = []
        for o in self.offers:
            if o["id"] in hidden or o.get("is_blacklisted"):
                continue
            if o.get("machine_type", "on-demand") not in types:
                continue
            if o["num_gpus"] != num_gpus:
                continue
            if want_gpu:
                have = normalise_gpu(o["gpu_name"])
                if not (have == want_gpu or have.startswith(want_gpu + " ")):
                    continue
            if o["gpu_ram"] < min_gpu_ram or o["cpu_cores"] < min_cpu_cores or o["cpu_ram"] < min_cpu_ram:
                continue
            if o["disk_space"] < min_disk or o["inet_down"] < min_inet_down:
                continue
            if o["dph_total"] > max_price or o["reliability"] < min_reliability:
                continue
            if want_region and region_of(o["geolocation"]) != want_region:
                continue
            if verified_only and not o["verified"]:
                continue
            out.append(o)
        out.sort(key=lambda o: (o["dph_total"], o["id"]))
        return out[:max(0, limit)]
