"""The suite's real-mode code, run in `make test`: against a sandbox in its "real" profile the suite cannot
tell it from the real service (no sandbox extension on /health, no model mirror, the create's ssh_key
ignored), so everything it does only against the real service runs here: the spend opt-in and budget,
the registered SSH key, the model install with the current Hugging Face CLI, the provider's own listing
in the leak check, permanent errors reported at once, and the stubbed failover routes failing clearly.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
import requests

from tests.behave_run import ROOT, alive, behave_env, run_behave
from tests.safety.conftest import PROVIDER_KEY
from tests.scenarios import real_ssh_key


@pytest.fixture
def real_looking(real_with_provider_key):
    return real_with_provider_key


def real_env(sb, tmp_path) -> dict:
    """What an SRE sets to run against the real service: the opt-in, the registered key, the provider key."""
    return {"DUMONT_ALLOW_SPEND": "1", "DUMONT_SSH_KEY": str(real_ssh_key(sb, tmp_path)),
            "VAST_API_KEY": PROVIDER_KEY, "VAST_API_URL": f"{sb.url}/_provider/api/v0"}


def attachments(reports, name_start: str) -> list[str]:
    results = reports / "allure-results"
    found = []
    for path in results.glob("*-result.json"):
        result = json.loads(path.read_text(encoding="utf-8"))
        for step in result.get("steps", []):
            for attachment in step.get("attachments", []):
                if attachment["name"].startswith(name_start):
                    found.append((results / attachment["source"]).read_text(encoding="utf-8"))
    return found


def test_the_instance_journey_passes_on_its_real_mode_code(tmp_path, real_looking):
    result = run_behave(["features/instance.feature"], tmp_path / "reports", real_looking.url, "real-instance",
                        extra_env=real_env(real_looking, tmp_path))
    assert result.returncode == 0, result.explain()
    assert result.metrics["run"]["target"] == "real"
    # The model came through `hf download` at the pinned range, not through a sandbox mirror.
    [install] = attachments(result.reports, "ssh: installing model")
    assert "hf download Qwen/Qwen3-0.6B --local-dir" in install and "huggingface_hub>=1.0,<2" in install
    assert "curl" not in install.split("\n")[0]
    # The leak check asked the provider's own listing too, and was complete.
    provider_calls = [r for r in real_looking.admin.requests_log() if r["path"].startswith("/_provider/")]
    assert provider_calls and result.metrics["leak_check_warnings"] == []
    assert alive(real_looking, result.label) == []


def test_an_unreachable_provider_listing_makes_the_leak_check_incomplete(tmp_path, real_looking):
    real_looking.admin.add_fault(kind="connection_drop", path="/_provider/*", count=100)
    result = run_behave(["features/quick.feature"], tmp_path / "reports", real_looking.url, "real-blind",
                        extra_env=real_env(real_looking, tmp_path))
    assert result.returncode != 0
    assert "leak check incomplete: could not list provider" in result.stdout + result.stderr
    assert any("could not list provider" in w for w in result.metrics["leak_check_warnings"])
    # behave's green tally ("1 feature passed") comes before the verdict, never after it.
    verdict = result.stdout.strip().splitlines()[-1]
    assert verdict.startswith("❌ FAILED: the leak check could not complete (could not list provider"), verdict
    assert verdict.endswith("(exit 1)")


def test_a_permanent_error_is_reported_at_once_in_the_servers_words(tmp_path, real_looking):
    real_looking.admin.add_fault(kind="unconfigured", setting="server-provider-key")
    started = time.monotonic()
    result = run_behave(["features/quick.feature"], tmp_path / "reports", real_looking.url, "real-permanent",
                        extra_env=real_env(real_looking, tmp_path))
    took = time.monotonic() - started
    assert result.returncode != 0
    [journey] = result.metrics["journeys"]
    assert "503: Vast.ai API key not configured on server." in journey["error_message"]
    # One line, once, in the server's words: no traceback unless DUMONT_DEBUG asks for one.
    assert "Traceback" not in result.stdout + result.stderr
    [said] = [line.strip() for line in result.stdout.splitlines() if "ASSERT FAILED" in line]
    assert said == ("ASSERT FAILED: the server answered GET /api/v1/instances/offers with 503: "
                    "Vast.ai API key not configured on server."), said
    offer_calls = [r for r in real_looking.admin.requests_log() if r["path"].endswith("/instances/offers")]
    assert len(offer_calls) == 2            # once by the readiness step, once by the offers step: never retried
    assert took < 60, f"the whole run took {took:.0f} s"           # not the 5-minute retry deadline


def test_the_debug_switch_shows_the_traceback_of_a_refusal(tmp_path, real_looking):
    real_looking.admin.add_fault(kind="unconfigured", setting="server-provider-key")
    result = run_behave(["features/quick.feature"], tmp_path / "reports", real_looking.url, "real-debug",
                        extra_env={**real_env(real_looking, tmp_path), "DUMONT_DEBUG": "1"})
    assert result.returncode != 0
    assert "Traceback (most recent call last)" in result.stdout
    assert "ApiError: GET /api/v1/instances/offers → 503: Vast.ai API key not configured on server." in result.stdout


def test_the_stubbed_failover_route_fails_saying_so_and_leaves_nothing(tmp_path, real_looking):
    result = run_behave(["features/failover.feature:35"], tmp_path / "reports", real_looking.url, "real-stub",
                        extra_env=real_env(real_looking, tmp_path))
    assert result.returncode != 0
    [journey] = result.metrics["journeys"]
    assert "POST /instances/{id}/failback is still a stub" in journey["error_message"], journey["error_message"]
    assert alive(real_looking, result.label) == []
    # Said before renting: nothing was ever created, and the standby settings were never touched.
    assert real_looking.admin.resources(kind="instance") == []
    assert not [r for r in real_looking.admin.requests_log() if r["path"] == "/api/v1/standby/configure"]
    # And they are still off.
    token = requests.post(f"{real_looking.url}/api/v1/auth/login", timeout=10,
                          json={"email": "test@test.com", "password": "test123"}).json()["token"]
    status = requests.get(f"{real_looking.url}/api/v1/standby/status", timeout=10,
                          headers={"Authorization": f"Bearer {token}"}).json()
    assert status["auto_standby_enabled"] is False


def test_a_sweep_of_an_unreachable_server_says_so_and_fails(tmp_path):
    env = behave_env(tmp_path / "reports", "http://127.0.0.1:9", "sweep-unreachable")
    done = subprocess.run([sys.executable, "-m", "support.sweep"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode != 0
    assert "cannot reach http://127.0.0.1:9" in done.stdout and "nothing left alive" not in done.stdout
