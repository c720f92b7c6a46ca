"""The CI entry point and workflow say what the README promises."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from tests.reports.conftest import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "acceptance.yml"
CI_RUN = ROOT / ".ci" / "run"


def test_ci_run_ends_with_the_readme_test_command():
    lines = [line.strip() for line in CI_RUN.read_text().splitlines() if line.strip() and not line.startswith("#")]
    assert lines[-1] == "make test"
    assert os.access(CI_RUN, os.X_OK)
    assert "make test" in (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def workflow() -> dict:
    parser = ROOT / "node_modules" / "yaml"
    if shutil.which("node") is None or not parser.is_dir():
        pytest.skip("node and the npm packages (yaml comes with allure) are needed to parse the workflow")
    script = (f"const YAML = require({json.dumps(str(parser))});"
              f"process.stdout.write(JSON.stringify(YAML.parse(require('fs').readFileSync({json.dumps(str(WORKFLOW))},"
              f" 'utf8'))))")
    done = subprocess.run(["node", "-e", script], capture_output=True, text=True, timeout=30, check=True)
    return json.loads(done.stdout)


def runs(job: dict) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def uploads(job: dict) -> str:
    return "\n".join(step["with"]["path"] for step in job["steps"] if "upload-artifact" in step.get("uses", ""))


def test_push_runs_the_tests_and_the_sandbox_journeys_and_uploads_reports(workflow):
    assert {"push", "workflow_dispatch"} <= set(workflow["on"])
    job = workflow["jobs"]["sandbox"]
    assert ".ci/run" in runs(job) and "make acceptance" in runs(job) and "make report" in runs(job)
    for path in ("reports/allure-results", "reports/allure-report", "reports/metrics.json", "reports/report-*.txt"):
        assert path in uploads(job), path
    assert all(step.get("if") == "always()" for step in job["steps"] if "upload-artifact" in step.get("uses", ""))


def test_manual_real_run_reads_secrets_and_spends_only_when_asked(workflow):
    inputs = workflow["on"]["workflow_dispatch"]["inputs"]
    assert inputs["allow_spend"]["type"] == "boolean" and inputs["allow_spend"]["default"] is False
    job = workflow["jobs"]["real"]
    assert job["if"] == "github.event_name == 'workflow_dispatch'"
    for name in ("DUMONT_API_URL", "TEST_USER", "TEST_PASSWORD", "VAST_API_KEY"):
        assert job["env"][name] == f"${{{{ secrets.{name} }}}}"
    assert job["env"]["DUMONT_ALLOW_SPEND"] == "${{ inputs.allow_spend && '1' || '0' }}"
    assert "missing repository secrets" in runs(job) and "make acceptance" in runs(job)
    assert "reports/metrics.json" in uploads(job)
