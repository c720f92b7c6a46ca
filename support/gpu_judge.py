"""What the GPU check's probe found, read and judged: is this the GPU that was rented, healthy, as fast as
advertised, and does the installed model answer on it?

Pure functions over the probe's JSON (support/remote/gpu_probe.py) and what was rented (the offer and the
server's view of the instance); support/gpu_check.py runs the probe and records the verdict. Each problem is
said in one line, in the words a person renting the GPU would use ("RTX 3060 rented, nvidia-smi reports
NVIDIA GeForce GTX 1060 6GB"); what follows from an earlier problem (no CUDA, so no speed) is not said again.

Thresholds (README, "The GPU check"):

* identity: the name nvidia-smi reports equals the rented one once both are normalised (vendor and brand
  words, memory sizes and punctuation dropped; a form factor, PCIe or SXM, compared only when both names
  have one); its memory within :data:`MEMORY_TOLERANCE` of the rented figure; at least the rented number
  of GPUs, by nvidia-smi and by CUDA;
* health: no uncorrected ECC error since the driver loaded, no retired page pending, no throttling for
  heat or power faults under load (:data:`HARMFUL_THROTTLE`), below :data:`HOT_CELSIUS`;
* speed: the measured half-precision TFLOPS at least ``floor`` (default :data:`SPEED_FLOOR`) times the
  advertised FP32 figure per GPU: the offer's ``total_flops`` (VAST.ai's field, TFLOPS for the whole
  machine) when it has one, else the published figure of the model (:data:`PUBLISHED_FP32_TFLOPS`); a GPU
  with neither is not judged on speed;
* the model answers: loaded on a CUDA device, it answers the fixed prompt with some text.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field

MEMORY_TOLERANCE = 0.05
SPEED_FLOOR = 0.5
HOT_CELSIUS = 90
#: Published FP32 TFLOPS per GPU (the vendors' spec sheets), for offers that carry no ``total_flops``: the
#: real server's offer answer leaves that field out.
PUBLISHED_FP32_TFLOPS = {
    "RTX 3060": 12.7, "RTX 3070": 20.3, "RTX 3080": 29.8, "RTX 3090": 35.6, "RTX 4070": 29.1,
    "RTX 4080": 48.7, "RTX 4090": 82.6, "RTX A4000": 19.2, "RTX A5000": 27.8, "RTX A6000": 38.7,
    "A10": 31.2, "A40": 37.4, "L4": 30.3, "L40": 90.5, "L40S": 91.6, "A100": 19.5, "H100 PCIE": 51.2,
    "H100 SXM": 66.9, "H100": 51.2, "V100": 15.7, "T4": 8.1,
}
#: nvidia-smi's clock throttle (event) reasons, bit by bit (nvml.h).
THROTTLE_REASONS = {
    0x1: "GPU idle", 0x2: "applications clocks setting", 0x4: "SW power cap", 0x8: "HW slowdown",
    0x10: "sync boost", 0x20: "SW thermal slowdown", 0x40: "HW thermal slowdown", 0x80: "HW power brake slowdown",
    0x100: "display clock setting",
}
#: The reasons that mean the card is slowed by heat or a power fault, not by its normal limits or idleness.
HARMFUL_THROTTLE = 0x8 | 0x20 | 0x40 | 0x80
#: Values nvidia-smi prints for a field a card does not have (GeForce cards have no ECC).
NOT_AVAILABLE = {"", "n/a", "[n/a]", "not supported", "[not supported]", "[unknown error]", "unknown error"}
_DROPPED_WORDS = {"NVIDIA", "GEFORCE", "TESLA", "QUADRO"}
_FORM_FACTORS = {"PCIE": "PCIE", "SXM": "SXM", "SXM2": "SXM", "SXM4": "SXM", "SXM5": "SXM", "NVL": "NVL"}
_MEMORY_WORD = re.compile(r"^\d+(GB|G|GIB)$|^HBM\d*E?$|^GDDR\d*X?$")


# -- names --------------------------------------------------------------------------------------------------

def name_parts(name: str) -> tuple[tuple[str, ...], str | None]:
    """A GPU's name as (its model words, its form factor): "NVIDIA A100-SXM4-80GB" -> (("A100",), "SXM")."""
    words = re.sub(r"[-_/,()]", " ", str(name or "")).upper().split()
    model, form = [], None
    for word in words:
        if word in _DROPPED_WORDS or _MEMORY_WORD.match(word):
            continue
        if word in _FORM_FACTORS:
            form = _FORM_FACTORS[word]
            continue
        model.append(word)
    return tuple(model), form


def same_gpu(rented: str, reported: str) -> bool:
    """Whether nvidia-smi's name is the rented GPU (a 3060 Ti is not a 3060; an A100 SXM4 is an "A100 SXM")."""
    (model_a, form_a), (model_b, form_b) = name_parts(rented), name_parts(reported)
    return bool(model_a) and model_a == model_b and (form_a is None or form_b is None or form_a == form_b)


def published_tflops(name: str) -> float | None:
    model, form = name_parts(name)
    key = " ".join(model)
    if form and f"{key} {form}" in PUBLISHED_FP32_TFLOPS:
        return PUBLISHED_FP32_TFLOPS[f"{key} {form}"]
    return PUBLISHED_FP32_TFLOPS.get(key)


# -- what was rented ----------------------------------------------------------------------------------------

def mib(gpu_ram) -> float | None:
    """A ``gpu_ram`` as MiB. Offers give GB (docs/dumont-api.md), an instance the provider's raw MB; no GPU
    has 1024 GB, so a value of 1024 or more is MB."""
    try:
        value = float(gpu_ram)
    except (TypeError, ValueError):
        return None
    if value <= 0:
        return None
    return value if value >= 1024 else value * 1024


@dataclass
class Rented:
    """What the journey paid for, as the offer and the server describe it."""

    gpu_name: str
    num_gpus: int = 1
    memory_mib: float | None = None          # as given: per GPU on VAST.ai, or for the whole machine
    advertised_tflops: float | None = None   # FP32, per GPU
    advertised_source: str | None = None     # "offer total_flops" or "published figure"

    @classmethod
    def of(cls, view: dict, offer: dict) -> "Rented":
        """From the server's latest view of the instance (its own GPU, after a failback too) and the offer it
        was made from (which has GB and perhaps ``total_flops``, when it is that GPU's)."""
        name = str(view.get("gpu_name") or offer.get("gpu_name") or "?")
        own_offer = same_gpu(name, str(offer.get("gpu_name") or ""))
        count = max(1, int(view.get("num_gpus") or (offer.get("num_gpus") if own_offer else None) or 1))
        memory = mib(view.get("gpu_ram")) or (mib(offer.get("gpu_ram")) if own_offer else None)
        flops = (offer.get("total_flops") if own_offer else None) or view.get("total_flops")
        if flops:
            return cls(name, count, memory, round(float(flops) / count, 3), "offer total_flops")
        published = published_tflops(name)
        return cls(name, count, memory, published, "published figure" if published else None)


# -- nvidia-smi's output ------------------------------------------------------------------------------------

def value(text) -> str | None:
    text = str(text if text is not None else "").strip()
    return None if text.lower() in NOT_AVAILABLE else text


def number(text) -> float | None:
    text = value(text)
    if text is None:
        return None
    found = re.match(r"^-?\d+(\.\d+)?", text)
    return float(found.group()) if found else None


def rows(text: str) -> list[list[str]]:
    return [[cell.strip() for cell in row] for row in csv.reader((text or "").splitlines(), skipinitialspace=True)
            if row and any(cell.strip() for cell in row)]


def columns(query: dict) -> dict[str, list[str]]:
    """A query's answer (support/remote/gpu_probe.py ``query``) as field -> one value per GPU."""
    fields = list(query.get("fields") or [])
    if "per_field" in query:
        found = {}
        for name in fields:
            alone = query["per_field"].get(name) or {}
            found[name] = [row[0] for row in rows(alone.get("stdout", ""))] if alone.get("rc") == 0 else []
        return found
    if query.get("rc") != 0:
        return {name: [] for name in fields}
    table = rows(query.get("stdout", ""))
    return {name: [row[i] if i < len(row) else "" for row in table] for i, name in enumerate(fields)}


def throttle(mask_text) -> int | None:
    text = value(mask_text)
    try:
        return int(text, 16) if text else None
    except ValueError:
        return None


def throttle_names(mask: int | None) -> list[str] | None:
    return None if mask is None else [name for bit, name in THROTTLE_REASONS.items() if mask & bit]


def smi_gpus(query: dict, under_load: dict | None = None) -> list[dict]:
    """One dict per GPU from nvidia-smi's CSV query (and the throttle and temperature sampled under load)."""
    found = columns(query)
    load = columns(under_load) if under_load else {}
    gpus = []
    for index, name in enumerate(found.get("name", [])):
        def at(field, source=found, index=index):
            listed = source.get(field) or []
            return listed[index] if index < len(listed) else None

        memory = number(at("memory.total"))
        pending = value(at("retired_pages.pending"))
        ecc = number(at("ecc.errors.uncorrected.volatile.total"))
        loaded_mask = throttle(at("clocks_throttle_reasons.active", load)) if load else None
        idle_mask = throttle(at("clocks_throttle_reasons.active"))
        mask = loaded_mask if loaded_mask is not None else idle_mask
        hot = number(at("temperature.gpu", load)) if load else None
        gpus.append({
            "index": index, "name": value(name), "memory_total_mib": int(memory) if memory is not None else None,
            "driver": value(at("driver_version")), "ecc_uncorrected": int(ecc) if ecc is not None else None,
            "retired_pages_pending": None if pending is None else pending.lower() in ("yes", "1", "true"),
            "throttle_mask": mask, "throttle": throttle_names(mask), "throttled_under_load": loaded_mask is not None,
            "temperature_celsius": hot if hot is not None else number(at("temperature.gpu")),
        })
    return gpus


def cuda_version(plain) -> str | None:
    """The CUDA version the driver supports, from nvidia-smi's table (or ``-q``) header."""
    found = re.search(r"CUDA Version\s*:\s*([0-9][0-9.]*)", plain if isinstance(plain, str) else "")
    return found.group(1) if found else None


# -- the verdict --------------------------------------------------------------------------------------------

@dataclass
class Verdict:
    record: dict
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def line(self) -> str:
        return "; ".join(self.problems)


def _error(part: dict | None) -> str | None:
    if not part:
        return None
    return part.get("error") or part.get("skipped")


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def judge(probe: dict, rented: Rented, floor: float = SPEED_FLOOR) -> Verdict:
    """The record of metrics.json's ``gpu_check`` and every problem, one line each."""
    missing = list(dict.fromkeys(probe.get("missing") or []))
    smi = probe.get("smi") or {}
    cuda = probe.get("cuda") or {}
    matmul = probe.get("matmul") or {}
    model = probe.get("model") or {}
    gpus = smi_gpus(smi.get("query") or {}, matmul.get("under_load")) if "nvidia-smi" not in missing else []
    devices = cuda.get("devices") or []
    first = gpus[0] if gpus else (devices[0] if devices else {})
    problems: list[str] = []
    if missing:
        problems.append("missing on the machine: " + ", ".join(missing))
    problems += _identity(rented, gpus, devices, smi, "nvidia-smi" in missing)
    cuda_ok = bool(cuda.get("available"))
    if "torch" not in missing and not cuda_ok:
        said = cuda.get("error") or _error(cuda) or "the probe did not get there"
        problems.append(f"CUDA did not initialise: {said}")
    elif cuda_ok and (cuda.get("device_count") or 0) < rented.num_gpus:
        problems.append(f"CUDA sees {_plural(cuda.get('device_count') or 0, 'GPU')}, "
                        f"{rented.num_gpus} rented")
    problems += _health(gpus)
    tflops = matmul.get("tflops")
    advertised = rented.advertised_tflops
    ratio = round(tflops / advertised, 3) if tflops and advertised else None
    if cuda_ok:
        if tflops is None:
            problems.append(f"the half-precision matrix product failed: {_error(matmul) or 'no result'}")
        elif ratio is not None and ratio < floor:
            problems.append(f"{tflops:.1f} TFLOPS measured, {ratio:.2f} of the {advertised:g} advertised")
        problems += _model(model, "transformers" in missing)
    if probe.get("out_of_time") and not any("did not finish" in p for p in problems):
        problems.append(probe["out_of_time"])
    ecc = [g["ecc_uncorrected"] for g in gpus if g["ecc_uncorrected"] is not None]
    record = {
        "name": first.get("name"), "memory_total_mib": first.get("memory_total_mib"),
        "driver": first.get("driver"), "cuda": cuda_version(smi.get("plain")),
        "ecc_uncorrected": sum(ecc) if ecc else None,
        "throttle": sorted({name for g in gpus for name in (g["throttle"] or [])}) if gpus else None,
        "matmul_tflops": tflops, "advertised_tflops": advertised, "ratio": ratio,
        "model": model.get("dir", "").rstrip("/").rpartition("/")[2] or None,
        "time_to_first_token_seconds": model.get("time_to_first_token_seconds"),
        "tokens_per_second": model.get("tokens_per_second"),
        "verdict": "failed" if problems else "ok", "reason": "; ".join(problems) or None,
        "rented": rented.gpu_name, "num_gpus": rented.num_gpus, "gpu_count": len(gpus) or len(devices),
        "memory_rented_mib": rented.memory_mib, "advertised_source": rented.advertised_source,
        "temperature_celsius": max((g["temperature_celsius"] for g in gpus
                                    if g["temperature_celsius"] is not None), default=None),
        "retired_pages_pending": any(g["retired_pages_pending"] for g in gpus) if gpus else None,
        "torch": cuda.get("torch"), "torch_cuda": cuda.get("torch_cuda"), "device": model.get("device"),
        "answer": model.get("answer"), "missing": missing, "problems": problems,
    }
    return Verdict(record, problems)


def unreadable(rented: Rented, reason: str) -> Verdict:
    """The verdict on a machine whose probe told nothing (no python3, cut off, or no result printed)."""
    verdict = judge({}, rented)
    verdict.record.update(verdict="failed", reason=reason, problems=[reason])
    return Verdict(verdict.record, [reason])


def _identity(rented: Rented, gpus: list[dict], devices: list[dict], smi: dict, no_smi: bool) -> list[str]:
    """The GPUs nvidia-smi lists (or, without it, those CUDA sees) against what was rented."""
    problems = []
    if not gpus and not no_smi:         # its health figures are lost too: said even when CUDA sees the card
        if _error(smi):
            problems.append(f"nvidia-smi failed: {_error(smi)}")
        else:
            query = smi.get("query") or {}
            said = (query.get("stderr") or query.get("stdout") or "").strip().splitlines()
            problems.append("nvidia-smi lists no GPU" + (f": {said[-1]}" if said else ""))
    seen = gpus or devices
    tool = "nvidia-smi" if gpus else "CUDA"
    if not seen:
        return problems
    for gpu in seen:
        if gpu.get("name") and not same_gpu(rented.gpu_name, gpu["name"]):
            problems.append(f"{rented.gpu_name} rented, {tool} reports {gpu['name']}"
                            + (f" ({gpu['memory_total_mib']} MiB)" if gpu.get("memory_total_mib") else ""))
            break
    else:
        problems += _memory(rented, seen, tool)
    if gpus and len(gpus) < rented.num_gpus:
        problems.append(f"{rented.num_gpus} GPUs rented, nvidia-smi lists {len(gpus)}")
    return problems


def _memory(rented: Rented, seen: list[dict], tool: str) -> list[str]:
    if rented.memory_mib is None:
        return []
    # VAST.ai gives gpu_ram per GPU; a figure for the whole machine is accepted too.
    wanted = {rented.memory_mib, rented.memory_mib / rented.num_gpus}
    for gpu in seen:
        have = gpu.get("memory_total_mib")
        if have is not None and not any(abs(have - w) <= MEMORY_TOLERANCE * w for w in wanted):
            return [f"{rented.gpu_name} rented with {rented.memory_mib / 1024:g} GB, {tool} reports {have} MiB "
                    f"on GPU {gpu.get('index', 0)}"]
    return []


def _health(gpus: list[dict]) -> list[str]:
    problems = []
    for gpu in gpus:
        where = f"GPU {gpu['index']}" if len(gpus) > 1 else "the GPU"
        if gpu["ecc_uncorrected"]:
            problems.append(f"{where} has {_plural(gpu['ecc_uncorrected'], 'uncorrected ECC error')} "
                            "since the driver loaded")
        if gpu["retired_pages_pending"]:
            problems.append(f"{where} has retired memory pages pending (it needs a reset)")
        mask = gpu["throttle_mask"]
        if mask is not None and mask & HARMFUL_THROTTLE:
            when = "under load" if gpu["throttled_under_load"] else "idle"
            problems.append(f"{where} is throttled {when}: " + ", ".join(throttle_names(mask & HARMFUL_THROTTLE)))
        if gpu["temperature_celsius"] is not None and gpu["temperature_celsius"] >= HOT_CELSIUS:
            problems.append(f"{where} is at {gpu['temperature_celsius']:g} °C")
    return problems


def _model(model: dict, no_transformers: bool) -> list[str]:
    if no_transformers:
        return []
    if not model:
        return ["the model was not tried (the probe did not get there)"]
    if _error(model):
        return [f"the model did not answer: {_error(model)}"]
    device = str(model.get("device") or "")
    if not device.startswith("cuda"):
        return [f"the model ran on {device or 'an unknown device'}, not on the GPU"]
    if not str(model.get("answer") or "").strip():
        return [f"the model answered nothing to {model.get('prompt')!r}"]
    return []
