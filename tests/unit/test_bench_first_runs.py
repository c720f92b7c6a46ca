"""The bench's first runs (each journey alone with an empty reports/: the checked-in prior only): their calls
are targets beside the runs with history (bench/output.py)."""

from __future__ import annotations

from bench import analysis
from bench.analysis import RunResult, Split
from bench.output import FIRST_RUN_CALLS, Summary


def journey(name, calls, scenario_calls=()):
    return analysis.JourneyResult(name, Split(4.0, 3.9, 0.01, 60.0), [], [], 1.0, 1.0, calls, calls, 0,
                                  len(scenario_calls) or 1, list(scenario_calls))


def runs(first_instance=(30, 33, 45), first_failover=((60, 40), (70, 45), (120, 50))):
    found = []
    for rep in (1, 2, 3):
        found.append(RunResult("instance", 5.0, {"instance": journey("instance", first_instance[rep - 1])}, 0, 0,
                               repetition=rep, first=True))
        found.append(RunResult("failover", 9.0, {"failover": journey("failover", sum(first_failover[rep - 1]),
                                                                     first_failover[rep - 1])}, 0, 0,
                               repetition=rep, first=True))
        found.append(RunResult("instance", 5.0, {"instance": journey("instance", 28)}, 0, 0, repetition=rep))
        found.append(RunResult("failover", 9.0, {"failover": journey("failover", 80, (45, 35))}, 0, 0,
                               repetition=rep))
    return found


def test_first_run_calls_are_targets_medians_of_the_repetitions():
    summary = Summary.of(runs(), ["instance", "failover"], {"seed": 1})
    targets = {t.name: t for t in summary.targets()}
    assert targets["first-run calls, instance"].value == 33 and targets["first-run calls, instance"].met
    # each failover scenario: the median of its own calls (70 and 45), the worst of them held against 100
    failover = targets["first-run calls, failover (each scenario)"]
    assert failover.value == 70 and failover.met and failover.shown.startswith("70 / 45")
    assert FIRST_RUN_CALLS == {"instance": 40, "snapshot": 30, "failover": 100}
    # the first runs are not the runs with history: the alone table's calls are those of the others
    assert summary.alone_rows()[1][8] == "28"


def test_a_first_run_over_its_target_is_missed():
    summary = Summary.of(runs(first_instance=(41, 50, 39)), ["instance", "failover"], {"seed": 1})
    target = {t.name: t for t in summary.targets()}["first-run calls, instance"]
    assert target.value == 41 and not target.met


def test_the_first_run_table_shows_both_with_and_without_history():
    summary = Summary.of(runs(), ["instance", "failover"], {"seed": 1})
    rows = {row[0]: row for row in summary.first_rows()}
    assert rows["instance"][1:4] == ["33", "", "28"]
    assert rows["failover"][2] == "70 / 45" and rows["failover"][4] == "45 / 35"
    assert "first runs" in summary.text()


def test_no_first_runs_no_first_run_targets():
    plain = [r for r in runs() if not r.first]
    summary = Summary.of(plain, ["instance", "failover"], {"seed": 1})
    assert not [t for t in summary.targets() if t.name.startswith("first-run")]
    assert "first runs" not in summary.text()
