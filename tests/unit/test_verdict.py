"""The verdict: the last line of every run, and never green when the run failed."""

from __future__ import annotations

from support.verdict import judge


def journey(name: str, status: str, error: str | None = None) -> dict:
    return {"test_name": name, "display_name": name, "status": status, "error_message": error}


def summary(journeys, machines=(), leaks=(), warnings=(), interrupted=None) -> dict:
    return {"run": {"interrupted": interrupted}, "journeys": list(journeys), "machines": list(machines),
            "leaks": list(leaks), "leak_check_warnings": list(warnings)}


def test_a_clean_run_passes_and_says_nothing_is_left_billing():
    verdict = judge(summary([journey("Instance Lifecycle", "passed"), journey("Quick checks", "passed")]))
    assert verdict.ok and verdict.exit_code == 0
    assert verdict.line() == "✅ PASSED: 2 journey(s) passed; nothing left billing (exit 0)"


def test_an_incomplete_leak_check_fails_a_run_whose_journeys_all_passed():
    verdict = judge(summary([journey("Quick checks", "passed")],
                            warnings=["could not list provider (GET /instances → 503)"]))
    assert not verdict.ok and verdict.exit_code == 1
    assert verdict.line().startswith("❌ FAILED: the leak check could not complete (could not list provider")
    assert "nothing left billing" not in verdict.line()


def test_a_machine_left_alive_is_named_first_with_what_to_do():
    machines = [{"id": "31000002", "kind": "instance", "gpu_name": "RTX 3060", "fate": "leaked"}]
    verdict = judge(summary([journey("Instance Lifecycle", "failed", "boom")], machines=machines,
                            leaks=[{"kind": "instance", "id": "31000002"}, {"kind": "snapshot", "id": "ab12cd34"}]))
    assert verdict.reasons[0] == "RTX 3060 31000002, snapshot ab12cd34 may still be billing: run `make sweep`"
    assert "1 of 1 journey(s) failed: Instance Lifecycle" in verdict.line()


def test_skips_are_counted_with_their_reason():
    why = "skipped on purpose: it rents paid machines and DUMONT_ALLOW_SPEND=0"
    verdict = judge(summary([journey("Quick checks", "passed"), journey("A", "skipped", why),
                             journey("B", "skipped", why)]))
    assert verdict.ok
    assert f"2 skipped ({why})" in verdict.line()


def test_a_run_where_nothing_ran_says_so():
    verdict = judge(summary([journey("A", "skipped", "why")]))
    assert "no journey ran" in verdict.line()


def test_a_failure_behave_saw_outside_the_journeys_is_never_green():
    verdict = judge(summary([journey("Quick checks", "passed")]), runner_problems=["1 hook(s) failed (see above)"])
    assert not verdict.ok and "1 hook(s) failed" in verdict.line()


def test_an_interrupted_run_says_by_what():
    verdict = judge(summary([journey("Instance Lifecycle", "interrupted", "SIGINT")], interrupted="SIGINT"))
    assert verdict.line().startswith("❌ INTERRUPTED (SIGINT): 1 of 1 journey(s) failed")


def test_no_summary_is_a_failure():
    assert not judge(None).ok


def test_the_portuguese_verdict():
    verdict = judge(summary([journey("Checagens rápidas", "passed")]), language="pt")
    assert verdict.line("pt") == "✅ APROVADO: 1 jornada(s) aprovada(s); nada ficou cobrando (saída 0)"


def test_the_portuguese_verdict_names_failed_journeys_in_portuguese():
    failed = {"test_name": "Instance Lifecycle", "journey": "Instance Lifecycle", "status": "failed",
              "error_message": "boom"}
    line = judge(summary([failed]), language="pt").line("pt")
    assert "Ciclo de vida da instância" in line and "Instance Lifecycle" not in line, line


def test_a_signal_after_the_summary_was_made_still_makes_the_verdict_red():
    """Ctrl-C while the report is written: behave exits 1, so the verdict must not say PASSED (found by the soak)."""
    verdict = judge(summary([journey("Instance Lifecycle", "passed")]), interrupted="SIGINT")
    assert not verdict.ok and verdict.exit_code == 1
    assert verdict.line().startswith("❌ INTERRUPTED (SIGINT): 1 journey(s) passed")
