"""The sandbox's stand-in GPU: what each instance gets from its offer (and a `gpu_fault`), and `nvidia-smi`."""

from __future__ import annotations

import subprocess
import sys
import time
from types import SimpleNamespace

import pytest

from sandbox.cloud.gpu_standin import NVIDIA_SMI, GpuStandins
from sandbox.faults import FaultError, Faults, validate

RTX_3060 = {"gpu_name": "RTX 3060", "num_gpus": 1, "gpu_ram": 12.0, "cuda_version": "12.4"}


@pytest.fixture
def standins(tmp_path):
    events = []
    faults = Faults(seed=3)
    made = GpuStandins(tmp_path, faults, SimpleNamespace(record=lambda *a, **at: events.append(a)), 60.0, 1000.0)
    (tmp_path / "bin").mkdir()
    made.install(tmp_path / "bin")
    return SimpleNamespace(made=made, faults=faults, events=events, root=tmp_path)


def instance(rid, offer=RTX_3060, kind="instance"):
    return SimpleNamespace(id=rid, kind=kind, offer=offer, image="pytorch/pytorch:2.4.1-cuda12.4-cudnn9-runtime")


def smi(root, rid, *args):
    return subprocess.run([sys.executable, "-I", "-S", str(NVIDIA_SMI), str(root / "gpus"), *args],
                          capture_output=True, text=True, env={"DUMONT_INSTANCE_ID": str(rid)}, timeout=30)


@pytest.mark.parametrize("spec, ok", [
    ({"kind": "gpu_fault", "condition": "slow"}, True),
    ({"kind": "gpu_fault", "condition": "missing", "what": ["nvidia-smi", "torch"]}, True),
    ({"kind": "gpu_fault"}, False),
    ({"kind": "gpu_fault", "condition": "on_fire"}, False),
    ({"kind": "gpu_fault", "condition": "missing", "what": "python2"}, False),
    ({"kind": "gpu_fault", "condition": "missing", "what": []}, False),
])
def test_the_fault_is_validated(spec, ok):
    if ok:
        assert validate(spec) == spec
    else:
        with pytest.raises(FaultError):
            validate(spec)


def test_an_instance_gets_its_offers_gpu_once_and_a_fault_hits_the_next_one_only(standins):
    standins.faults.add({"kind": "gpu_fault", "condition": "wrong_model"})
    standins.made.prepare(instance(1))
    standins.made.prepare(instance(1))                  # built again after a restart: nothing new is decided
    standins.made.prepare(instance(2))
    standins.made.prepare(instance(3, kind="standby"))  # a CPU standby has no GPU
    truths = {e[1]: e[5] for e in standins.events}
    assert set(truths) == {1, 2} and all(e[2] == "gpu_assigned" for e in standins.events)
    assert truths[1]["condition"] == "wrong_model" and truths[1]["gpu_name"] == "NVIDIA GeForce GTX 1060 6GB"
    assert truths[2]["condition"] is None and truths[2]["gpu_name"] == "NVIDIA GeForce RTX 3060"
    assert truths[2]["memory_total_mib"] == 12288 and truths[2]["advertised_fp32_tflops"] == 12.7
    assert smi(standins.root, 3).returncode == 127


def test_the_offer_drives_the_card(standins):
    four = {"gpu_name": "RTX 4090", "num_gpus": 2, "gpu_ram": 48, "total_flops": 160.0, "cuda_version": "12.2"}
    standins.made.prepare(instance(7, four))
    [(_, _, _, _, _, truth)] = standins.events
    assert (truth["num_gpus"], truth["memory_total_mib"], truth["advertised_fp32_tflops"]) == (2, 24576, 80.0)
    assert truth["driver"] == "535.129.03" and truth["cuda"] == "12.2"
    done = smi(standins.root, 7, "--query-gpu=index,name,memory.total,temperature.gpu", "--format=csv")
    assert done.returncode == 0
    assert done.stdout.splitlines() == ["index, name, memory.total [MiB], temperature.gpu",
                                        "0, NVIDIA GeForce RTX 4090, 24576 MiB, 41",
                                        "1, NVIDIA GeForce RTX 4090, 24576 MiB, 41"]
    assert "CUDA Version: 12.2" in smi(standins.root, 7).stdout


def test_nvidia_smi_refuses_a_field_it_does_not_know_and_vanishes_when_taken_away(standins):
    standins.made.prepare(instance(8))
    refused = smi(standins.root, 8, "--query-gpu=name,warp.drive", "--format=csv,noheader")
    assert refused.returncode == 2 and 'Field "warp.drive" is not a valid field to query.' in refused.stdout
    standins.faults.add({"kind": "gpu_fault", "condition": "missing", "what": "nvidia-smi"})
    standins.made.prepare(instance(9))
    gone = smi(standins.root, 9, "--query-gpu=name", "--format=csv")
    assert gone.returncode == 127 and "command not found" in gone.stderr


@pytest.mark.parametrize("program", [
    "nvidia-smi",
    "import torch; torch.cuda.is_available()",
])
def test_a_command_that_used_the_gpu_is_told_as_the_machines_work_and_no_other(standins, program):
    standins.made.prepare(instance(4))
    if program == "nvidia-smi":
        argv = [sys.executable, "-I", "-S", str(NVIDIA_SMI), str(standins.root / "gpus"), "--query-gpu=name",
                "--format=csv"]
    else:
        argv = [sys.executable, "-c", program]
    started = time.time()
    used = subprocess.Popen(argv, stdout=subprocess.DEVNULL, start_new_session=True,
                            env={"DUMONT_INSTANCE_ID": "4", "PYTHONPATH": str(standins.root / "gpu-site")})
    assert used.wait(timeout=30) == 0
    ended = time.time()
    idle = subprocess.Popen(["true"], start_new_session=True)
    idle.wait(timeout=30)
    rec = SimpleNamespace(id=4)
    standins.made.command_ran(rec, idle.pid, started, time.time())       # never touched the GPU
    standins.made.command_ran(rec, used.pid, ended + 1, ended + 2)       # its group again, later: not this mark
    standins.made.command_ran(rec, used.pid, started, ended)
    told = [e for e in standins.events if e[2] == "gpu_command"]
    assert told == [("instance", 4, "gpu_command", None, None, {"start": started, "end": ended})]
