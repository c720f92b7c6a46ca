"""The fault matrix: each sandbox fault at the phase it hits, through a whole journey.

Each cell runs the instance journey against one sandbox with one fault set,
then checks through the sandbox's ground truth that nothing is left alive,
that the run reported what was billed, and that the outcome is the right
one: a transient fault is absorbed (the journey passes), a persistent one
fails with a message naming the phase. The matrix is printed at the end.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

import sandbox
from tests.behave_run import alive, assert_cost_within, run_behave

INSTANCES = "/api/v1/instances"


@dataclass
class Cell:
    phase: str
    fault: str
    faults: list[dict]
    passes: bool
    message: str = ""            # what the failure message must name
    env: dict = field(default_factory=dict)
    feature: str = "features/instance.feature"


CELLS = [
    Cell("create", "503 once", [{"kind": "http_error", "method": "POST", "path": INSTANCES, "status": 503}], True),
    Cell("create", "lost response", [{"kind": "lost_response", "method": "POST", "path": INSTANCES}], True),
    Cell("create", "503 always", [{"kind": "http_error", "method": "POST", "path": INSTANCES, "status": 503,
                                   "count": 50}], False, "phase 'create'"),
    Cell("any", "rate limit 500 storm", [{"kind": "rate_limit", "form": "500", "count": 8}], True),
    Cell("any", "rate limit 429 storm", [{"kind": "rate_limit", "form": "429", "count": 8}], True),
    Cell("any", "429 Retry-After", [{"kind": "rate_limit", "form": "429-retry-after", "count": 2}], True),
    Cell("running", "5xx on polls", [{"kind": "http_error", "method": "GET", "path": INSTANCES + "/*",
                                       "status": 502, "count": 4}], True),
    Cell("running", "never running", [{"kind": "never_running"}], False, "phase 'running'",
         {"DUMONT_TIMEOUT_RUNNING": "300"}),
    Cell("ssh", "refused 60 s", [{"kind": "ssh_refuse", "seconds": 60}], True),
    Cell("ssh", "refused for good", [{"kind": "ssh_refuse", "seconds": 100000}], False, "phase 'ssh'",
         {"DUMONT_TIMEOUT_SSH": "200"}),
    Cell("model", "preempted", [{"kind": "preempt", "after": 20}], False, "'exited'"),
    Cell("snapshot", "snapshot fails", [{"kind": "snapshot_fail"}], False, "Failed to create snapshot"),
    Cell("pause", "503 once", [{"kind": "http_error", "method": "POST", "path": INSTANCES + "/*/pause",
                                "status": 503}], True),
    Cell("delete", "sticky delete", [{"kind": "sticky_delete"}], True),
    Cell("sync", "stalled sync", [{"kind": "sync_stall"}], False, "phase 'sync'",
         feature="features/failover.feature:12"),
]


@pytest.fixture(scope="module")
def matrix_sandbox(tmp_path_factory):
    handle = sandbox.start(data_dir=tmp_path_factory.mktemp("matrix") / "sandbox", time_scale=60.0, seed=11)
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def table(request):
    rows = []
    yield rows
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    lines = ["", "fault matrix (instance journey)", f"{'phase':<10} {'fault':<22} {'expected':<9} result",
             "-" * 60] + [f"{r[0]:<10} {r[1]:<22} {r[2]:<9} {r[3]}" for r in rows]
    for line in lines:
        reporter.write_line(line) if reporter else print(line)


@pytest.mark.parametrize("cell", CELLS, ids=[f"{c.phase}-{c.fault}".replace(" ", "_") for c in CELLS])
def test_fault_cell(cell, matrix_sandbox, table, tmp_path):
    sb = matrix_sandbox
    sb.admin.clear_faults()
    for fault in cell.faults:
        sb.admin.add_fault(**fault)
    run_id = f"fm-{cell.phase}-{cell.fault}".replace(" ", "-").replace("'", "").lower()
    result = run_behave([cell.feature], tmp_path / "reports", sb.url, run_id, extra_env=cell.env)
    sb.admin.clear_faults()
    leaked = alive(sb, result.label)
    journey = result.metrics["journeys"][0]
    outcome = "leaked" if leaked else ("passed" if result.returncode == 0 else "failed-correctly")
    if outcome == "failed-correctly" and cell.message not in (journey["error_message"] or ""):
        outcome = f"failed-wrongly: {journey['error_message']}"
    table.append((cell.phase, cell.fault, "pass" if cell.passes else "fail", outcome))

    assert leaked == []
    if cell.passes:
        assert result.returncode == 0, journey["error_message"]
    else:
        assert result.returncode != 0 and journey["status"] == "failed"
        assert cell.message in journey["error_message"], journey["error_message"]
    ours = [r for r in sb.admin.resources(label_prefix=result.label) if r["kind"] == "instance"]
    if cell.passes and "instance" in cell.feature:
        assert len(ours) == 1, f"expected exactly one instance, the sandbox made {len(ours)}"
    billed = {str(r["id"]): r["cost"] for r in sb.admin.billing()["resources"]}
    reported = {m["id"]: m for m in result.metrics["machines"] if m["kind"] == "instance"}
    for resource in ours:
        assert_cost_within(reported[str(resource["id"])], billed[str(resource["id"])],
                           result.metrics["run"]["time_scale"])
