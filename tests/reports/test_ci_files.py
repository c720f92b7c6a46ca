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


def dry_run_test(tmp_path, *, installed: bool, path: str | None = None) -> subprocess.CompletedProcess:
    """`make -n test` in a fresh clone's Makefile and lock files: .venv installed, node_modules
    (``installed``) up to date or absent; ``path`` as PATH (the one that finds npm, or one that does not).

    make -n still runs the recipe lines that call make, so it says what `make test` would do there.
    """
    clone = tmp_path / "clone"
    clone.mkdir()
    for name in ("Makefile", "package.json", "package-lock.json", "pyproject.toml", "constraints.txt"):
        shutil.copy2(ROOT / name, clone / name)
    stamps = [clone / ".venv" / ".installed"] + ([clone / "node_modules" / ".package-lock.json"] if installed else [])
    for stamp in stamps:
        stamp.parent.mkdir()
        stamp.touch()                   # newer than the copies: up to date
    env = dict(os.environ, PATH=path if path is not None else os.environ["PATH"])
    make = shutil.which("make")
    done = subprocess.run([make, "-n", "--no-print-directory", "test"], cwd=clone, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def commands(done: subprocess.CompletedProcess) -> list[str]:
    return [line.strip() for line in done.stdout.splitlines()]


def test_make_test_installs_the_npm_packages_before_the_tests(tmp_path):
    """A fresh clone: `make test` runs npm ci before pytest, so no test skips for want of node_modules."""
    if shutil.which("npm") is None:
        pytest.skip("npm not found: `make test` then runs the tests without installing the npm packages")
    lines = commands(dry_run_test(tmp_path, installed=False))
    npm = [i for i, line in enumerate(lines) if line.startswith("npm ci")]
    pytest_line = [i for i, line in enumerate(lines) if "-m pytest" in line]
    assert len(npm) == 1 and len(pytest_line) == 1 and npm[0] < pytest_line[0], lines


def test_make_test_is_quick_when_the_npm_packages_are_installed(tmp_path):
    lines = commands(dry_run_test(tmp_path, installed=True))
    assert not any(line.startswith("npm ") for line in lines), lines
    assert any("-m pytest" in line for line in lines), lines


def test_make_test_runs_the_tests_without_npm(tmp_path):
    """No npm at all: a warning, and the tests still run (those that need Node.js skip saying why)."""
    done = dry_run_test(tmp_path, installed=False, path=str(tmp_path / "no-tools-here"))
    assert "npm not found" in done.stderr, done.stderr
    lines = commands(done)
    assert not any(line.startswith("npm ") for line in lines), lines
    assert any("-m pytest" in line for line in lines), lines


@pytest.fixture(scope="module")
def workflow() -> dict:
    parser = ROOT / "node_modules" / "yaml"
    if shutil.which("node") is None:
        pytest.skip("node not found: it parses the workflow (install Node.js 20; .ci/run does it in CI)")
    if not parser.is_dir():
        pytest.skip(f"{parser} not found: `make test` installs the npm packages (npm ci) before the tests, "
                    f"unless npm is missing or npm ci failed")
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
