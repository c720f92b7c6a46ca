"""The GPU check end to end: the instance journey against a sandbox whose stand-in GPU is healthy, then broken
in each way the `gpu_fault` allows. A broken GPU fails the journey at "the GPU works and the model answers" with
its one-line reason (never a traceback), its metrics say so, and nothing is left alive."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import jsonschema
import pytest

import sandbox
from tests.behave_run import alive, run_behave

ROOT = Path(__file__).resolve().parents[2]
STEP = "the GPU works and the model answers"


@pytest.fixture(scope="module")
def gpu_sandbox(tmp_path_factory):
    handle = sandbox.start(data_dir=tmp_path_factory.mktemp("gpu") / "sandbox", time_scale=60.0, seed=13)
    yield handle
    handle.stop()


def truth_of(sb, instance_id) -> dict:
    [event] = [e for e in sb.admin.events(resource_id=instance_id) if e["event"] == "gpu_assigned"]
    return event["detail"]


def failed_step_line(stdout: str) -> str:
    """The line behave printed under the GPU step (its error)."""
    lines = stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if STEP in line)
    return lines[at + 1].strip()


def test_a_healthy_gpu_passes_and_is_reported_as_the_sandbox_made_it(gpu_sandbox, tmp_path):
    sb = gpu_sandbox
    sb.admin.clear_faults()
    result = run_behave(["features/instance.feature"], tmp_path / "reports", sb.url, "gpu-healthy")
    assert result.returncode == 0, result.explain()
    [journey] = result.metrics["journeys"]
    [check] = journey["extra"]["gpu_check"]
    truth = truth_of(sb, check["instance_id"])
    assert check["verdict"] == "ok" and check["reason"] is None
    assert (check["name"], check["memory_total_mib"]) == (truth["gpu_name"], truth["memory_total_mib"])
    assert (check["driver"], check["cuda"]) == (truth["driver"], truth["cuda"])
    assert check["matmul_tflops"] == pytest.approx(truth["matmul_tflops"], rel=0.02)
    assert check["advertised_tflops"] == truth["advertised_fp32_tflops"]
    assert check["model"] == "qwen3-0.6b" and check["tokens_per_second"] > 0
    assert check["time_to_first_token_seconds"] > 0
    # Its time is a phase of the journey, between the model install and the snapshot.
    names = [p["name"] for p in journey["phases"]]
    assert names.index("model_install") < names.index("gpu_check") < names.index("snapshot")
    # The sandbox's truth says which command was the machine's GPU work: the probe alone (the install's and the
    # checksums' commands never touch the GPU), inside the phase the suite reports for it.
    [ran] = [e for e in sb.admin.events(resource_id=check["instance_id"]) if e["event"] == "gpu_command"]
    [phase] = [p for p in journey["phases"] if p["name"] == "gpu_check"]
    started = datetime.fromisoformat(phase["started_at"]).timestamp()
    assert started - 0.002 <= ran["detail"]["start"] < ran["detail"]["end"] <= started + phase["seconds"] + 0.002
    schema = json.loads((ROOT / "schemas" / "metrics.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(result.metrics)
    # Allure attaches the probe's raw output to the step: nvidia-smi's table and the probe's JSON.
    attached = []
    for path in (result.reports / "allure-results").glob("*-result.json"):
        for step in json.loads(path.read_text()).get("steps", []):
            if step["name"].endswith(STEP):
                attached += [(result.reports / "allure-results" / a["source"]).read_text()
                             for a in step.get("attachments", []) if a["name"] == "ssh: GPU check"]
    [raw] = attached
    assert f"CUDA Version: {truth['cuda']}" in raw and '"tflops"' in raw and "python3 - --model-dir" in raw
    assert alive(sb, result.label) == []


CASES = [
    ({"condition": "wrong_model"}, "RTX 3060 rented, nvidia-smi reports NVIDIA GeForce GTX 1060 6GB (6144 MiB)"),
    ({"condition": "slow"}, "3.8 TFLOPS measured, 0.30 of the 12.7 advertised"),
    ({"condition": "cuda_broken"}, "CUDA did not initialise: RuntimeError: CUDA unknown error - this may be due "
                                   "to an incorrectly set up environment"),
    ({"condition": "missing"}, "missing on the machine: torch"),
    ({"condition": "missing", "what": ["nvidia-smi", "transformers"]},
     "missing on the machine: nvidia-smi, transformers"),
    ({"condition": "mute"}, "the model answered nothing to 'The capital of France is'"),
]


@pytest.mark.parametrize("fault, reason", CASES, ids=[
    "wrong_model", "slow", "cuda_broken", "missing-torch", "missing-smi-and-transformers", "mute"])
def test_a_broken_gpu_fails_the_journey_at_the_gpu_step(gpu_sandbox, tmp_path, fault, reason):
    sb = gpu_sandbox
    sb.admin.clear_faults()
    sb.admin.add_fault(kind="gpu_fault", **fault)
    run_id = "gpu-" + "-".join([fault["condition"], *fault.get("what", [])]).replace("_", "-")
    result = run_behave(["features/instance.feature"], tmp_path / "reports", sb.url, run_id)
    sb.admin.clear_faults()
    assert result.returncode != 0
    [journey] = result.metrics["journeys"]
    [check] = journey["extra"]["gpu_check"]
    assert journey["status"] == "failed"
    assert journey["error_message"].startswith(reason), journey["error_message"]
    assert journey["error_message"].endswith(f"(instance {check['instance_id']})")
    assert "\n" not in journey["error_message"]
    assert check["verdict"] == "failed" and check["reason"].startswith(reason)
    assert failed_step_line(result.stdout).startswith(f"ASSERT FAILED: {reason}")
    assert "Traceback" not in result.stdout + result.stderr
    assert truth_of(sb, check["instance_id"])["condition"] == fault["condition"]
    # The journey went no further, and its machine was deleted like any failed journey's.
    assert "snapshot" not in [p["name"] for p in journey["phases"]]
    assert alive(sb, result.label) == []
    assert {m["fate"] for m in result.metrics["machines"]} == {"deleted"}
