"""A GPU for every sandbox instance: `nvidia-smi`, and the `torch` and `transformers` its python3 imports.

The suite's GPU check (support/gpu_check.py) runs a real probe script on the machine (support/remote/
gpu_probe.py) with the machine's own tools. A sandbox machine has no GPU, so the sandbox gives it stand-ins
that behave as the rented GPU would, driven by the instance's offer (its GPU model, memory, number of GPUs,
CUDA version, and `total_flops` when the offer has one), and the probe itself runs unchanged:

* `nvidia-smi` (first on every machine's PATH): nvidia_smi_standin.py, answering the documented CSV queries
  (`--query-gpu=... --format=csv[,noheader][,nounits]`) and the plain table;
* `torch` and `transformers` (on every machine's PYTHONPATH, gpu_site/): a GPU whose work takes the time
  it would take on that card, kept on the GPU's own clock (CUDA events) in nominal seconds, while the host
  waits nominal / time_scale wall seconds, as every other sandbox wait; and a "model" that answers a fixed
  text from the files the install put in place.

What each instance got is decided when it is made (`prepare`), written to <data dir>/gpus/<id>.json, and
told as the ground-truth event `gpu_assigned`. A command that used the GPU (a stand-in marks it, by the
command's process group) is told as `gpu_command` when it ends: the machine's own work. The fault
`gpu_fault` (docs/sandbox-interface.md) breaks the next N instances' GPU: `missing` (a tool is absent),
`cuda_broken`, `slow`, `wrong_model` (another card than the one rented), `mute` (the model answers
nothing). CPU standbys get no GPU: `nvidia-smi` is not found
there and `import torch` fails, as on a CPU machine.

Standard library only.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

#: The stand-in machine's site-packages, copied into the data dir (its path is every machine's PYTHONPATH).
SITE_SOURCE = Path(__file__).resolve().parent / "gpu_site"
#: The `nvidia-smi` stand-in, a script of its own (run for every call: the fewer imports, the faster).
NVIDIA_SMI = Path(__file__).resolve().parent / "nvidia_smi_standin.py"
CONDITIONS = ("missing", "cuda_broken", "slow", "wrong_model", "mute")
TOOLS = ("nvidia-smi", "torch", "transformers")

#: GPU model (as offers name it, normalised) -> (what nvidia-smi calls it, published FP32 TFLOPS, memory
#: bandwidth in GB/s). Public spec-sheet figures; unknown models get a plausible middle.
CATALOGUE = {
    "RTX 3060": ("NVIDIA GeForce RTX 3060", 12.7, 360),
    "RTX 3090": ("NVIDIA GeForce RTX 3090", 35.6, 936),
    "RTX 4090": ("NVIDIA GeForce RTX 4090", 82.6, 1008),
    "RTX A4000": ("NVIDIA RTX A4000", 19.2, 448),
    "A100 PCIE": ("NVIDIA A100-PCIE-40GB", 19.5, 1555),
    "A100 SXM4": ("NVIDIA A100-SXM4-80GB", 19.5, 2039),
    "H100 PCIE": ("NVIDIA H100 PCIe", 51.2, 2000),
    "H100 SXM": ("NVIDIA H100 80GB HBM3", 66.9, 3350),
}
UNKNOWN = (20.0, 500)
#: The card a `wrong_model` machine really has: (nvidia-smi name, FP32 TFLOPS, GB/s, MiB).
WRONG_CARD = ("NVIDIA GeForce GTX 1060 6GB", 4.4, 192, 6144)
#: A healthy card's half-precision matrix product (tensor cores) against its FP32 figure, and a slow one's.
HEALTHY_MATMUL = 1.5
SLOW_MATMUL = 0.3
#: The driver that ships with each CUDA version an offer names (its `cuda_version`).
DRIVERS = {"12.4": "550.54.15", "12.2": "535.129.03", "12.1": "530.30.02", "12.0": "525.60.13",
           "11.8": "520.61.05"}
DEFAULT_CUDA = "12.4"
CUDA_ERROR = ("CUDA unknown error - this may be due to an incorrectly set up environment, e.g. changing env "
              "variable CUDA_VISIBLE_DEVICES after program start. Setting the available devices to be zero.")
IDLE_CELSIUS = 41


def normalise(name: str) -> str:
    return " ".join(str(name or "").replace("_", " ").replace("-", " ").upper().split())


def image_versions(image: Optional[str]) -> tuple[str, str]:
    """(torch, its CUDA runtime) of a PyTorch image (`pytorch/pytorch:2.1.0-cuda12.1-cudnn8-runtime`)."""
    found = re.search(r":(\d+\.\d+(?:\.\d+)?)-cuda(\d+\.\d+)", image or "")
    return (found.group(1), found.group(2)) if found else ("2.1.0", "12.1")


def build_spec(rec_id: int, offer: Dict[str, Any], image: Optional[str], condition: Optional[str],
               missing: List[str], time_scale: float, size_scale: float) -> Dict[str, Any]:
    """What instance `rec_id` really has, from its offer (and a fault's `condition`)."""
    rented = str(offer.get("gpu_name") or "?")
    count = max(1, int(offer.get("num_gpus") or 1))
    smi_name, fp32, bandwidth = CATALOGUE.get(normalise(rented), ("NVIDIA " + rented, *UNKNOWN))
    if offer.get("total_flops"):                    # the offer's own figure (whole machine) drives the card
        fp32 = float(offer["total_flops"]) / count
    memory = int(round(float(offer.get("gpu_ram") or 0) / count * 1024))    # offers give GB, for all GPUs
    if condition == "wrong_model":
        smi_name, fp32, bandwidth, memory = WRONG_CARD
    cuda = str(offer.get("cuda_version") or DEFAULT_CUDA)
    torch_version, torch_cuda = image_versions(image)
    ecc = "0" if normalise(smi_name).startswith(("NVIDIA A100", "NVIDIA H100")) else "[N/A]"
    return {
        "instance_id": rec_id, "rented": rented, "condition": condition, "missing": missing,
        "gpus": [{"index": i, "name": smi_name, "memory_total_mib": memory, "ecc_uncorrected": ecc,
                  "uuid": f"GPU-{rec_id:08x}-{i:04x}-4000-8000-standin{i:05d}"} for i in range(count)],
        "driver": DRIVERS.get(cuda, DRIVERS[DEFAULT_CUDA]), "cuda": cuda,
        "torch": torch_version, "torch_cuda": torch_cuda, "transformers": "4.46.3",
        "advertised_fp32_tflops": round(fp32, 3),
        "matmul_tflops": round(fp32 * (SLOW_MATMUL if condition == "slow" else HEALTHY_MATMUL), 3),
        "bandwidth_gb_s": bandwidth, "cuda_error": CUDA_ERROR if condition == "cuda_broken" else None,
        "mute": condition == "mute", "temperature": IDLE_CELSIUS,
        "time_scale": time_scale, "size_scale": size_scale,
    }


def missing_tools(spec: Dict[str, Any]) -> List[str]:
    """The tools a `missing` fault takes away: its `what` (one name or a list), torch by default."""
    what = spec.get("what", "torch")
    return [what] if isinstance(what, str) else list(what)


class GpuStandins:
    """Gives each new instance its GPU (`prepare`) and every machine the stand-in tools (`install`)."""

    def __init__(self, data_dir: Path, faults, events, time_scale: float, size_scale: float):
        self.specs = Path(data_dir) / "gpus"
        self.site = Path(data_dir) / "gpu-site"
        self.faults, self.events = faults, events
        self.time_scale, self.size_scale = time_scale, size_scale

    @property
    def python_path(self) -> str:
        """What every machine's PYTHONPATH holds: the stand-in torch and transformers."""
        return str(self.site)

    def install(self, bin_dir: Path) -> None:
        """The site-packages copy (the spec files sit beside it, where its modules look) and `nvidia-smi`."""
        shutil.copytree(SITE_SOURCE, self.site, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
        self.specs.mkdir(parents=True, exist_ok=True)
        wrapper = Path(bin_dir) / "nvidia-smi"
        # -I: the machine's PYTHONPATH (the stand-in torch) and the script's folder stay out of its imports;
        # -S: no site-packages (standard library only), so that each call starts in a few milliseconds.
        wrapper.write_text("#!/bin/sh\n"
                           f"exec {shlex.quote(sys.executable)} -I -S {shlex.quote(str(NVIDIA_SMI))} "
                           f"{shlex.quote(str(self.specs))} \"$@\"\n")
        os.chmod(wrapper, 0o755)

    def prepare(self, rec) -> None:
        """Called for every machine as it is built: a new instance gets its GPU (once: a restart keeps it)."""
        path = self.specs / f"{rec.id}.json"
        if rec.kind != "instance" or path.exists():
            return
        fault = self.faults.take("gpu_fault", instance_id=rec.id)
        condition = fault.spec.get("condition") if fault else None
        missing = missing_tools(fault.spec) if condition == "missing" else []
        spec = build_spec(rec.id, rec.offer or {}, rec.image, condition, missing, self.time_scale,
                          self.size_scale)
        self.specs.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".tmp")
        partial.write_text(json.dumps(spec, indent=1))
        os.replace(partial, path)
        truth = {key: spec[key] for key in ("rented", "condition", "missing", "driver", "cuda",
                                            "advertised_fp32_tflops", "matmul_tflops", "cuda_error", "mute")}
        truth.update(gpu_name=spec["gpus"][0]["name"], memory_total_mib=spec["gpus"][0]["memory_total_mib"],
                     num_gpus=len(spec["gpus"]), fault=fault.id if fault else None)
        self.events.record("instance", rec.id, "gpu_assigned", None, None, truth)

    def command_ran(self, rec, group: int, started: float, ended: float) -> None:
        """A command a client ran on an instance ended: if it used the GPU (a stand-in marked it), the
        ground truth gets `gpu_command`, the machine's own work from the command's start to its end."""
        marks = self.specs / f"{rec.id}.used"
        try:
            lines = marks.read_text().splitlines()
        except OSError:
            return
        for line in lines:
            mark_group, _, at = line.partition(" ")
            # a process group number may come back later for another command: the mark's time tells
            if mark_group == str(group) and started <= float(at or 0) <= ended:
                self.events.record("instance", rec.id, "gpu_command", None, None,
                                   {"start": started, "end": ended}, t=started)
                return
