"""The quick checks say which journeys a server can run, before anything is rented, in the server's words."""

from __future__ import annotations

from support.readiness import Prerequisite, journeys
from support.report import TEXT, readiness_lines
from tests.behave_run import run_behave


def found(**missing) -> dict[str, Prerequisite]:
    names = ("server provider key", "account provider key", "snapshot repository", "failover routes")
    return {n: Prerequisite(n, n.replace(" ", "_") not in missing, missing.get(n.replace(" ", "_"), ""))
            for n in names}


def test_a_missing_prerequisite_stops_only_the_journeys_that_need_it():
    told = journeys(found(snapshot_repository="400: Restic repository not configured."), is_sandbox=False)
    assert not told["instance"]["ready"] and not told["snapshot"]["ready"] and told["failover"]["ready"]
    lines = readiness_lines(told, TEXT["en"])
    assert lines[0] == ("instance journey: cannot run here: no snapshot repository (restic) "
                        "(400: Restic repository not configured.)")
    assert lines[2].startswith("failover journey: can run here (not visible from here: GCP credentials")


def test_on_the_sandbox_nothing_is_said_to_be_unseen():
    lines = readiness_lines(journeys(found(), is_sandbox=True), TEXT["pt"])
    assert lines == ["jornada de instância: pode rodar aqui", "jornada de snapshot: pode rodar aqui",
                     "jornada de failover: pode rodar aqui"]


def test_the_quick_checks_tell_a_server_without_restic_cannot_run_the_instance_journey(
        tmp_path, real_with_provider_key):
    real_with_provider_key.admin.add_fault(kind="unconfigured", setting="restic")
    result = run_behave(["features/quick.feature"], tmp_path / "reports", real_with_provider_key.url, "readiness")
    assert result.returncode == 0, result.explain()           # told, not failed: the quick checks spend nothing
    [journey] = result.metrics["journeys"]
    told = journey["extra"]["readiness"]
    assert told["instance"]["missing"] == [{"name": "snapshot repository",
                                            "said": "400: Restic repository not configured. Please update settings."}]
    assert told["failover"]["missing"][0]["name"] == "failover routes"      # stubs on the real server
    assert ("↳ instance journey: cannot run here: no snapshot repository (restic) (400: Restic repository not "
            "configured. Please update settings.)") in result.stdout
    snapshot_listings = [r for r in real_with_provider_key.admin.requests_log() if r["path"] == "/api/v1/snapshots"]
    assert len(snapshot_listings) == 1                         # asked once, never retried
