"""The GPU check on the suite's real-mode code: against a sandbox in its "real" profile (no sandbox extension,
the model through `hf download`, offers without `total_flops` as the real server's), the step probes the GPU
with the machine's own tools and judges its speed against the model's published figure."""

from __future__ import annotations

import pytest

from tests.behave_run import alive, run_behave
from tests.safety.test_real_mode import attachments, real_env


@pytest.fixture
def real_looking(real_with_provider_key):
    return real_with_provider_key


def test_the_gpu_check_runs_on_the_real_mode_profile(tmp_path, real_looking):
    result = run_behave(["features/instance.feature"], tmp_path / "reports", real_looking.url, "real-gpu",
                        extra_env=real_env(real_looking, tmp_path))
    assert result.returncode == 0, result.explain()
    assert result.metrics["run"]["target"] == "real"
    [check] = result.metrics["journeys"][0]["extra"]["gpu_check"]
    assert check["verdict"] == "ok" and check["model"] == "qwen3-0.6b"
    # The real server's offers carry no total_flops: the published figure of the rented model is the yardstick.
    assert check["advertised_source"] == "published figure" and check["advertised_tflops"] == 12.7
    [raw] = attachments(result.reports, "ssh: GPU check")
    assert "nvidia-smi" in raw and "gpu_probe.py (sha256" in raw
    assert alive(real_looking, result.label) == []


def test_a_gpu_that_cannot_run_cuda_fails_the_real_mode_journey_and_leaves_nothing(tmp_path, real_looking):
    real_looking.admin.add_fault(kind="gpu_fault", condition="cuda_broken")
    result = run_behave(["features/instance.feature"], tmp_path / "reports", real_looking.url, "real-gpu-broken",
                        extra_env=real_env(real_looking, tmp_path))
    assert result.returncode != 0
    [journey] = result.metrics["journeys"]
    assert journey["error_message"].startswith("CUDA did not initialise: RuntimeError: CUDA unknown error")
    assert "Traceback" not in result.stdout + result.stderr
    assert alive(real_looking, result.label) == []
