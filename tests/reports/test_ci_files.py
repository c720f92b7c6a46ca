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


def test_push_runs_the_tests_then_sharded_journeys_merged_into_one_report(workflow):
    assert {"push", "workflow_dispatch"} <= set(workflow["on"])
    jobs = workflow["jobs"]
    assert ".ci/run" in runs(jobs["sandbox"])
    shards = jobs["journeys"]
    assert shards["strategy"]["matrix"]["shard"] == [1, 2, 3]
    assert "make acceptance SHARD=${{ matrix.shard }}/3" in runs(shards)
    assert "reports/metrics.json" in uploads(shards) and "reports/allure-results" in uploads(shards)
    merged = jobs["report"]
    assert merged["needs"] == "journeys" and merged["if"].startswith("always()")
    assert "support.parallel --merge shards" in runs(merged) and "make report" in runs(merged)
    for path in ("reports/allure-results", "reports/allure-report", "reports/metrics.json", "reports/report-*.txt"):
        assert path in uploads(merged), path
    for job in jobs.values():
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


def test_ci_installs_python_packages_only_through_the_makefile_from_the_lock(workflow):
    """One way in: the Makefile's venv (pip install -c constraints.txt -e ".[sandbox,dev]")."""
    scripts = {name: runs(job) for name, job in workflow["jobs"].items()}
    scripts[".ci/run"] = "\n".join(line for line in CI_RUN.read_text().splitlines()
                                   if not line.lstrip().startswith("#"))
    for name, script in scripts.items():
        assert "pip install" not in script and "requirements" not in script, name
    makefile = (ROOT / "Makefile").read_text()
    assert '$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[sandbox,dev]"' in makefile
