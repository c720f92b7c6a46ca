"""The GPU check: reading nvidia-smi's documented CSV output, judging it against what was rented, running the
probe script for real (here, where there is no GPU, and on the sandbox's stand-in GPU), and the step's logic
around it (time limit, phase, record, attachment, one-line failure)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from support import gpu_check
from support.config import Timeouts
from support.errors import PhaseFailed
from support.gpu_judge import (
    Rented,
    cuda_version,
    judge,
    mib,
    published_tflops,
    same_gpu,
    smi_gpus,
    unreadable,
)
from support.journey import InstalledModel, Journey
from support.reporting.gpu_lines import gpu_lines
from support.ssh import CommandResult
from tests.unit.fakes import FakeSession, journey_on

ROOT = Path(__file__).resolve().parents[2]
FIELDS = ["name", "memory.total", "driver_version", "ecc.errors.uncorrected.volatile.total", "retired_pages.pending",
          "clocks_throttle_reasons.active", "temperature.gpu"]
LOAD = ["clocks_throttle_reasons.active", "temperature.gpu"]

# What nvidia-smi prints for `--query-gpu=<FIELDS> --format=csv,noheader,nounits` on the cards the journeys rent:
# a GeForce card (no ECC: [N/A]), a data-centre card with ECC, and a two-GPU machine.
GEFORCE = "NVIDIA GeForce RTX 3060, 12288, 550.54.15, [N/A], [N/A], 0x0000000000000001, 41\n"
A100 = "NVIDIA A100-SXM4-80GB, 81920, 535.129.03, 0, No, 0x0000000000000000, 34\n"
TWO_H100 = ("NVIDIA H100 80GB HBM3, 81559, 550.54.15, 0, No, 0x0000000000000000, 31\n"
            "NVIDIA H100 80GB HBM3, 81559, 550.54.15, 0, No, 0x0000000000000000, 33\n")
#: Without `nounits` a memory field carries its unit.
WITH_UNITS = "NVIDIA RTX A4000, 16376 MiB, 550.54.15, [N/A], [N/A], 0x0000000000000000, 38\n"
TABLE_HEADER = ("+-----------------------------------------------------------------------------------------+\n"
                "| NVIDIA-SMI 550.54.15              Driver Version: 550.54.15      CUDA Version: 12.4     |\n")
NO_DRIVER = ("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest "
             "NVIDIA driver is installed and running.\n")


def query(stdout: str, fields=FIELDS, rc: int = 0, stderr: str = "") -> dict:
    return {"fields": list(fields), "rc": rc, "stdout": stdout, "stderr": stderr}


def probe(smi=GEFORCE, load="0x0000000000000000, 63\n", tflops=19.0, answer=" Paris.", device="cuda:0",
          missing=(), **parts) -> dict:
    """A probe's JSON as the probe prints it, healthy unless told otherwise."""
    found = {
        "probe": 1, "missing": list(missing),
        "smi": {"query": query(smi), "plain": TABLE_HEADER},
        "cuda": {"available": True, "error": None, "device_count": 1, "torch": "2.4.1", "torch_cuda": "12.4",
                 "devices": [{"name": "NVIDIA GeForce RTX 3060", "memory_total_mib": 12288}]},
        "matmul": {"n": 8192, "iterations": 20, "gpu_seconds": 2.0, "tflops": tflops, "under_load": query(load, LOAD)},
        "model": {"dir": "/workspace/models/qwen3-0.6b", "device": device, "answer": answer,
                  "prompt": "The capital of France is", "time_to_first_token_seconds": 0.041,
                  "tokens_per_second": 88.5},
    }
    found.update(parts)
    return found


RTX_3060 = Rented("RTX 3060", 1, 12288.0, 12.7, "published figure")


# -- reading nvidia-smi --------------------------------------------------------------------------------------

def test_a_geforce_row_reads_with_its_missing_ecc_as_unknown():
    [gpu] = smi_gpus(query(GEFORCE))
    assert gpu["name"] == "NVIDIA GeForce RTX 3060" and gpu["memory_total_mib"] == 12288
    assert gpu["driver"] == "550.54.15" and gpu["temperature_celsius"] == 41
    assert gpu["ecc_uncorrected"] is None and gpu["retired_pages_pending"] is None
    assert gpu["throttle"] == ["GPU idle"] and gpu["throttled_under_load"] is False


def test_a_data_centre_row_and_a_two_gpu_machine():
    [a100] = smi_gpus(query(A100))
    assert a100["ecc_uncorrected"] == 0 and a100["retired_pages_pending"] is False and a100["throttle"] == []
    h100s = smi_gpus(query(TWO_H100))
    assert [g["index"] for g in h100s] == [0, 1] and [g["temperature_celsius"] for g in h100s] == [31, 33]


def test_units_and_the_sample_under_load_take_precedence():
    [gpu] = smi_gpus(query(WITH_UNITS), query("0x0000000000000040, 87\n", LOAD))
    assert gpu["memory_total_mib"] == 16376
    assert gpu["throttle"] == ["HW thermal slowdown"] and gpu["throttled_under_load"]
    assert gpu["temperature_celsius"] == 87


def test_a_driver_that_refuses_a_field_is_read_field_by_field():
    per_field = {field: {"rc": 0, "stdout": value + "\n"} for field, value in
                 zip(FIELDS, ["NVIDIA GeForce RTX 4090", "24564", "560.35.03", "[N/A]", "[N/A]", "", "45"],
                     strict=True)}
    per_field["clocks_throttle_reasons.active"] = {"rc": 0, "stdout": "0x0000000000000004\n"}   # its new name's
    per_field["retired_pages.pending"] = {"rc": 2, "stdout": 'Field "retired_pages.pending" is not a valid field'}
    [gpu] = smi_gpus({"fields": FIELDS, "per_field": per_field, "together": {"rc": 2}})
    assert gpu["name"] == "NVIDIA GeForce RTX 4090" and gpu["memory_total_mib"] == 24564
    assert gpu["retired_pages_pending"] is None and gpu["throttle"] == ["SW power cap"]


def test_the_cuda_version_comes_from_the_table_or_the_long_form():
    assert cuda_version(TABLE_HEADER) == "12.4"
    long_form = "    Driver Version                        : 535.129.03\n    CUDA Version      : 12.2\n"
    assert cuda_version(long_form) == "12.2"
    assert cuda_version({"rc": 9}) is None


# -- names, memory, advertised figures --------------------------------------------------------------------

@pytest.mark.parametrize("rented, reported, same", [
    ("RTX 3060", "NVIDIA GeForce RTX 3060", True),
    ("RTX_3060", "NVIDIA GeForce RTX 3060", True),
    ("RTX 3060", "NVIDIA GeForce RTX 3060 Ti", False),
    ("RTX 3060", "NVIDIA GeForce GTX 1060 6GB", False),
    ("RTX A4000", "NVIDIA RTX A4000", True),
    ("A100 SXM4", "NVIDIA A100-SXM4-80GB", True),
    ("A100 PCIE", "NVIDIA A100-SXM4-80GB", False),
    ("H100 SXM", "NVIDIA H100 80GB HBM3", True),
    ("RTX 4090", "NVIDIA GeForce RTX 4090 D", False),
])
def test_names_are_compared_once_normalised(rented, reported, same):
    assert same_gpu(rented, reported) is same


def test_gpu_ram_is_gb_on_offers_and_mb_on_instances():
    assert mib(12) == 12288 and mib(12288.0) == 12288 and mib(None) is None and mib(0) is None


def test_the_advertised_figure_is_the_offers_total_flops_per_gpu_or_the_published_one():
    offer = {"gpu_name": "RTX 4090", "num_gpus": 2, "gpu_ram": 24, "total_flops": 165.2}
    assert Rented.of({"gpu_name": "RTX 4090", "num_gpus": 2, "gpu_ram": 24576.0}, offer) == \
        Rented("RTX 4090", 2, 24576.0, 82.6, "offer total_flops")
    assert Rented.of({}, {"gpu_name": "RTX 3060", "gpu_ram": 12}) == RTX_3060
    # After a failback onto another model the offer is not that GPU's: the server's view decides.
    assert Rented.of({"gpu_name": "RTX A4000", "gpu_ram": 16384.0}, offer) == \
        Rented("RTX A4000", 1, 16384.0, 19.2, "published figure")
    assert Rented.of({"gpu_name": "Mystery X1"}, {}).advertised_tflops is None
    assert published_tflops("H100 SXM") == 66.9 and published_tflops("NVIDIA A100-SXM4-80GB") == 19.5


# -- verdicts ------------------------------------------------------------------------------------------------

def test_a_healthy_gpu_passes_and_its_record_has_every_field():
    verdict = judge(probe(), RTX_3060)
    assert verdict.ok and verdict.problems == []
    record = verdict.record
    assert record["name"] == "NVIDIA GeForce RTX 3060" and record["memory_total_mib"] == 12288
    assert (record["driver"], record["cuda"]) == ("550.54.15", "12.4")
    assert record["ratio"] == pytest.approx(19.0 / 12.7, abs=1e-3) and record["advertised_tflops"] == 12.7
    assert record["throttle"] == [] and record["ecc_uncorrected"] is None and record["temperature_celsius"] == 63
    assert record["time_to_first_token_seconds"] == 0.041 and record["tokens_per_second"] == 88.5
    assert (record["verdict"], record["reason"]) == ("ok", None)


def test_another_card_than_the_one_rented():
    verdict = judge(probe(smi="NVIDIA GeForce GTX 1060 6GB, 6144, 550.54.15, [N/A], [N/A], 0x0, 40\n"), RTX_3060)
    assert verdict.line == "RTX 3060 rented, nvidia-smi reports NVIDIA GeForce GTX 1060 6GB (6144 MiB)"
    assert verdict.record["verdict"] == "failed" and verdict.record["reason"] == verdict.line


def test_memory_within_five_percent_passes_and_beyond_fails():
    a4000 = Rented("RTX A4000", 1, 16384.0, 19.2, "published figure")
    assert judge(probe(smi=WITH_UNITS), a4000).ok                       # 16376 MiB of 16 GB
    small = judge(probe(smi="NVIDIA RTX A4000, 8192, 550.54.15, [N/A], [N/A], 0x0, 38\n"), a4000)
    assert small.line == "RTX A4000 rented with 16 GB, nvidia-smi reports 8192 MiB on GPU 0"


def test_too_slow_says_how_slow_against_what():
    slow = judge(probe(smi="NVIDIA GeForce RTX 4090, 24564, 550.54.15, [N/A], [N/A], 0x0, 40\n", tflops=12.1),
                 Rented("RTX 4090", 1, 24576.0, 39.0, "offer total_flops"))
    assert slow.line == "12.1 TFLOPS measured, 0.31 of the 39 advertised"
    assert judge(probe(tflops=6.5), RTX_3060).ok                         # 0.51 of 12.7: above the floor
    assert not judge(probe(tflops=6.5), RTX_3060, floor=0.6).ok
    unknown = judge(probe(smi="NVIDIA Mystery X1, 1000, 1, [N/A], [N/A], 0x0, 40\n", tflops=0.1),
                    Rented("Mystery X1", 1, None, None, None))
    assert unknown.ok and unknown.record["ratio"] is None                # measured, not judged


def test_cuda_that_does_not_initialise_is_said_once_not_as_its_consequences():
    error = "RuntimeError: CUDA unknown error - this may be due to an incorrectly set up environment"
    found = probe(cuda={"available": False, "error": error, "torch": "2.4.1"})
    del found["matmul"], found["model"]
    verdict = judge(found, RTX_3060)
    assert verdict.problems == [f"CUDA did not initialise: {error}"]


def test_missing_tools_are_named_and_nothing_that_follows_from_them():
    found = probe(missing=["nvidia-smi", "torch", "transformers"])
    for part in ("smi", "cuda", "matmul", "model"):
        found.pop(part)
    assert judge(found, RTX_3060).problems == ["missing on the machine: nvidia-smi, torch, transformers"]
    # Without nvidia-smi, CUDA's view of the card is checked instead.
    no_smi = probe(missing=["nvidia-smi"])
    no_smi["smi"] = {"query": {"fields": FIELDS, "missing": True}}
    no_smi["cuda"]["devices"] = [{"name": "NVIDIA GeForce GTX 1060 6GB", "memory_total_mib": 6144}]
    assert judge(no_smi, RTX_3060).problems == ["missing on the machine: nvidia-smi",
                                                "RTX 3060 rented, CUDA reports NVIDIA GeForce GTX 1060 6GB (6144 MiB)"]
    no_transformers = probe(missing=["transformers"])
    del no_transformers["model"]
    assert judge(no_transformers, RTX_3060).problems == ["missing on the machine: transformers"]


def test_health_problems():
    sick = ("NVIDIA A100-SXM4-80GB, 81920, 535.129.03, 3, Yes, 0x0000000000000000, 34\n")
    verdict = judge(probe(smi=sick, load="0x0000000000000024, 91\n"),
                    Rented("A100 SXM4", 1, 81920.0, 19.5, "published figure"), floor=0.5)
    assert verdict.problems == ["the GPU has 3 uncorrected ECC errors since the driver loaded",
                                "the GPU has retired memory pages pending (it needs a reset)",
                                "the GPU is throttled under load: SW thermal slowdown",
                                "the GPU is at 91 °C"]
    assert verdict.record["ecc_uncorrected"] == 3 and verdict.record["retired_pages_pending"] is True
    assert verdict.record["throttle"] == ["SW power cap", "SW thermal slowdown"]


def test_fewer_gpus_than_rented():
    two = Rented("H100 SXM", 2, 81920.0, 66.9, "published figure")
    one = probe(smi=TWO_H100.splitlines()[0] + "\n", tflops=500.0)
    one["cuda"]["devices"] = one["cuda"]["devices"][:1]
    assert judge(one, two).problems == ["2 GPUs rented, nvidia-smi lists 1", "CUDA sees 1 GPU, 2 rented"]
    both = probe(smi=TWO_H100, tflops=500.0)
    both["cuda"]["device_count"] = 2
    assert judge(both, two).ok


@pytest.mark.parametrize("model, said", [
    ({"error": "OSError: /workspace/models/x does not appear to have a file named config.json."},
     "the model did not answer: OSError: /workspace/models/x does not appear to have a file named config.json."),
    ({"device": "cpu", "answer": " Paris."}, "the model ran on cpu, not on the GPU"),
    ({"device": "cuda:0", "answer": "  ", "prompt": "The capital of France is"},
     "the model answered nothing to 'The capital of France is'"),
])
def test_the_model_must_answer_on_the_gpu(model, said):
    assert judge(probe(model=model), RTX_3060).problems == [said]


def test_a_driver_that_fails_is_quoted():
    found = probe()
    found["smi"] = {"query": query("", rc=9, stderr=NO_DRIVER)}
    assert judge(found, RTX_3060).problems[0] == (
        "nvidia-smi lists no GPU: NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. "
        "Make sure that the latest NVIDIA driver is installed and running.")


def test_a_probe_that_told_nothing_still_makes_a_whole_record():
    verdict = unreadable(RTX_3060, "missing on the machine: python3")
    assert verdict.problems == ["missing on the machine: python3"]
    assert verdict.record["verdict"] == "failed" and verdict.record["name"] is None
    schema = json.loads((ROOT / "schemas" / "metrics.schema.json").read_text())["$defs"]["gpu_check"]
    assert set(schema["required"]) - {"instance_id"} <= set(verdict.record)


# -- the probe script itself --------------------------------------------------------------------------------

def run_probe(env: dict, cwd: Path, *args: str) -> dict:
    script = (ROOT / "support" / "remote" / "gpu_probe.py").read_text()
    done = subprocess.run([sys.executable, "-", *args], input=script, capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    result = gpu_check.parse_output(CommandResult("python3 -", 0, done.stdout, done.stderr, 0.0))
    assert result is not None, done.stdout
    return result


def test_the_probe_on_a_machine_without_a_gpu_names_what_is_missing(tmp_path):
    """Here: no nvidia-smi on the PATH and no torch or transformers in this Python."""
    found = run_probe({"PATH": str(tmp_path)}, tmp_path, "--model-dir", str(tmp_path))
    assert found["missing"] == ["nvidia-smi", "torch", "transformers"]
    assert judge(found, RTX_3060).problems == ["missing on the machine: nvidia-smi, torch, transformers"]


@pytest.fixture
def standin_machine(tmp_path):
    """The sandbox's stand-in GPU installed in a folder as the sandbox does, for instance 42 (an RTX 3060)."""
    from sandbox.cloud.gpu_standin import GpuStandins
    from sandbox.faults import Faults

    events = []
    faults = Faults(seed=1)
    standins = GpuStandins(tmp_path, faults, SimpleNamespace(record=lambda *a: events.append(a)), 60.0, 1000.0)
    (tmp_path / "bin").mkdir()
    standins.install(tmp_path / "bin")
    model = tmp_path / "workspace" / "models" / "qwen3-0.6b"
    model.mkdir(parents=True)
    (model / "config.json").write_text("{}")
    (model / "model.safetensors").write_bytes(b"\0" * 1200)

    def machine(instance_id: int, **fault):
        if fault:
            faults.add({"kind": "gpu_fault", **fault})
        standins.prepare(SimpleNamespace(id=instance_id, kind="instance", image=None,
                                         offer={"gpu_name": "RTX 3060", "num_gpus": 1, "gpu_ram": 12.0}))
        env = {"PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin", "PYTHONPATH": standins.python_path,
               "DUMONT_INSTANCE_ID": str(instance_id)}
        return run_probe(env, tmp_path / "workspace", "--model-dir", str(model), "--matmul-seconds", "2")

    return SimpleNamespace(machine=machine, events=events)


def test_the_probe_on_the_sandbox_stand_in_gpu(standin_machine):
    found = standin_machine.machine(42)
    verdict = judge(found, RTX_3060)
    assert verdict.ok, verdict.problems
    [(_, _, event, _, _, truth)] = standin_machine.events
    assert event == "gpu_assigned" and truth["gpu_name"] == verdict.record["name"]
    # The GPU's own clock times the products: the stand-in's true speed, whatever the load here.
    assert verdict.record["matmul_tflops"] == pytest.approx(truth["matmul_tflops"], rel=0.02)
    assert verdict.record["answer"].strip().startswith("Paris") and verdict.record["device"] == "cuda:0"


def test_the_probe_on_a_slow_stand_in_gpu(standin_machine):
    verdict = judge(standin_machine.machine(43, condition="slow"), RTX_3060)
    assert verdict.line == "3.8 TFLOPS measured, 0.30 of the 12.7 advertised"


def test_the_probes_own_deadline_still_reports(standin_machine, tmp_path):
    script = (ROOT / "support" / "remote" / "gpu_probe.py").read_text()
    standin_machine.machine(44)
    env = {"PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin", "PYTHONPATH": str(tmp_path / "gpu-site"),
           "DUMONT_INSTANCE_ID": "44"}
    done = subprocess.run([sys.executable, "-", "--model-dir", str(tmp_path), "--deadline", "0.001"],
                          input=script, capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0 and "Traceback" not in done.stderr
    found = gpu_check.parse_output(CommandResult("python3 -", 0, done.stdout, "", 0.0))
    assert "did not finish within" in json.dumps(found)
    assert any("did not finish within" in p for p in judge(found, RTX_3060).problems)


# -- the step's logic ---------------------------------------------------------------------------------------

def journey_with(session, tmp_path) -> Journey:
    journey = journey_on(session, tmp_path, {"gpu_name": "RTX 3060", "gpu_ram": 12288.0},
                         {"gpu_name": "RTX 3060", "gpu_ram": 12})
    journey.installed(InstalledModel("qwen3-0.6b", {}))
    return journey


def printed(found: dict, noise: str = "Loading checkpoint shards: 100%\n") -> str:
    return f"{noise}{gpu_check.MARK} {json.dumps(found)}\n"


def test_the_probe_travels_in_the_command_and_the_step_records_a_passing_check(tmp_path):
    session = FakeSession(CommandResult("cmd", 0, printed(probe()), "", 1.25))
    journey = journey_with(session, tmp_path)
    entry = gpu_check.check(journey)
    [(command, timeout)] = session.commands
    assert timeout == pytest.approx(Timeouts().gpu_check / 60)               # the limit, in wall seconds
    assert "python3 - --model-dir \"$WS/models/qwen3-0.6b\"" in command
    assert (ROOT / "support" / "remote" / "gpu_probe.py").read_text() in command
    assert f"--deadline {Timeouts().gpu_check / 60 * gpu_check.DEADLINE_SHARE:.3f}" in command
    assert entry["verdict"] == "ok" and entry["instance_id"] == "7" and entry["model"] == "qwen3-0.6b"
    assert journey.metrics.extra["gpu_check"] == [entry]
    assert [p.name for p in journey.metrics.phases] == ["gpu_check"]
    [attachment] = journey.attachments
    assert attachment.name == "ssh: GPU check" and "CUDA Version: 12.4" in attachment.body
    assert "gpu_probe.py (sha256" in attachment.body and "import importlib" not in attachment.body


def test_a_failing_check_fails_the_step_in_one_line_and_is_recorded(tmp_path):
    slow = probe(tflops=3.8)
    journey = journey_with(FakeSession(CommandResult("cmd", 0, printed(slow), "", 1.0)), tmp_path)
    with pytest.raises(AssertionError) as caught:
        gpu_check.check(journey)
    assert str(caught.value) == "3.8 TFLOPS measured, 0.30 of the 12.7 advertised (instance 7)"
    [entry] = journey.metrics.extra["gpu_check"]
    assert entry["verdict"] == "failed" and entry["reason"] == "3.8 TFLOPS measured, 0.30 of the 12.7 advertised"
    assert [p.name for p in journey.metrics.phases] == ["gpu_check"]    # its time was spent all the same


def test_no_python3_and_no_result_are_named(tmp_path):
    none = journey_with(FakeSession(CommandResult("cmd", 127, gpu_check.NO_PYTHON + "\n", "", 0.1)), tmp_path)
    with pytest.raises(AssertionError, match=r"^missing on the machine: python3 \(instance 7\)$"):
        gpu_check.check(none)
    killed = journey_with(FakeSession(CommandResult("cmd", 137, "", "Killed\n", 0.1)), tmp_path)
    with pytest.raises(AssertionError, match=r"the GPU probe printed no result \(exit code 137\): Killed"):
        gpu_check.check(killed)


def test_a_probe_that_outlives_its_limit_fails_the_phase(tmp_path):
    journey = journey_with(FakeSession(error=TimeoutError("command did not finish within 20.0 s: WS=")), tmp_path)
    with pytest.raises(PhaseFailed, match="phase 'gpu_check' failed.*did not finish"):
        gpu_check.check(journey)
    [entry] = journey.metrics.extra["gpu_check"]
    assert entry["verdict"] == "failed" and "did not finish" in entry["reason"]
    assert "did not finish" in journey.attachments[0].body


def test_a_step_out_of_order_says_which_step_is_missing(tmp_path):
    journey = journey_with(None, tmp_path)
    journey.using(None)
    with pytest.raises(AssertionError, match="no instance yet"):
        gpu_check.check(journey)


def test_the_here_document_end_never_appears_in_the_probe():
    assert gpu_check.END not in (ROOT / "support" / "remote" / "gpu_probe.py").read_text()
    assert gpu_check.probe_command("qwen3-0.6b", 18.0).endswith(f"\n{gpu_check.END}\n")


# -- the report's lines -------------------------------------------------------------------------------------

def test_report_lines_in_both_languages():
    ok = {"instance_id": "7", **judge(probe(), RTX_3060).record, "model": "qwen3-0.6b"}
    failed = {"instance_id": "8", "verdict": "failed", "reason": "missing on the machine: torch"}
    journey = {"extra": {"gpu_check": [ok, failed]}}
    assert gpu_lines(journey, "en") == [
        "GPU check, instance 7: ✅ NVIDIA GeForce RTX 3060, 12288 MiB, driver 550.54.15, CUDA 12.4; "
        "19.0 TFLOPS (1.50× the 12.7 advertised); qwen3-0.6b: first token 0.041 s, 88.5 tokens/s",
        "GPU check, instance 8: ❌ missing on the machine: torch"]
    assert gpu_lines(journey, "pt")[0] == (
        "Verificação da GPU, instância 7: ✅ NVIDIA GeForce RTX 3060, 12.288 MiB, driver 550.54.15, CUDA 12.4; "
        "19,0 TFLOPS (1,50× os 12,7 anunciados); qwen3-0.6b: primeiro token em 0,041 s, 88,5 tokens/s")
    assert gpu_lines({"extra": {}}, "en") == [] and gpu_lines({}, "pt") == []


def test_a_probe_cut_off_with_its_machine_is_said_with_the_machines_state(tmp_path):
    """No exit status: the SSH channel closed under the probe (a preempted machine). The failure names the state
    the machine is in, as every phase that loses its machine does."""
    journey = journey_with(FakeSession(CommandResult("cmd", -1, "", "", 0.1)), tmp_path)
    with pytest.raises(PhaseFailed, match=r"^phase 'gpu_check' failed .*printed no result.*; instance 7: "):
        gpu_check.check(journey)
    [entry] = journey.metrics.extra["gpu_check"]
    assert entry["verdict"] == "failed"
