"""The soak's schedules: drawn from (seed, run) alone, replayable, and meaning something to their journey."""

from __future__ import annotations

import json

import pytest

from soak import catalogue, schedule
from soak.schedule import Schedule, draw


def test_same_seed_and_run_same_schedule():
    assert draw(7, 3) == draw(7, 3)
    assert draw(7, 3).to_dict() == draw(7, 3).to_dict()


def test_run_k_alone_is_run_k_among_n():
    """``make soak SEED=S RUNS=1 START=k`` draws exactly what run k drew in the full soak, in any order."""
    among = {k: draw(11, k) for k in range(1, 13)}
    alone = draw(11, 9)
    assert alone == among[9]
    assert [draw(11, k) for k in reversed(range(1, 13))][::-1] == [among[k] for k in range(1, 13)]


def test_runs_and_seeds_differ():
    drawn = {json.dumps(draw(seed, run).to_dict(), sort_keys=True) for seed in (1, 2) for run in range(1, 11)}
    assert len(drawn) == 20


def test_a_schedule_survives_its_json():
    for run in range(1, 30):
        plan = draw(5, run)
        assert Schedule.from_dict(json.loads(json.dumps(plan.to_dict()))) == plan


def test_the_run_id_names_seed_and_run():
    assert draw(7, 4).run_id == "soak7-4"


@pytest.mark.parametrize("seed", [1, 7, 2026])
def test_every_fault_fits_its_journey(seed):
    for run in range(1, 41):
        plan = draw(seed, run)
        assert plan.actions, "every run gets at least one fault"
        # one fatal fault at most; besides it, deletes spoiled together, and slower syncs, which may rightly fail
        # the failover journey (its data loss window past the promise), are drawn among the transient ones
        assert sum(a.may_fail and not schedule.spoiled_deletes(a) and a.kind != "sync_slow"
                   for a in plan.actions) <= 1
        for action in plan.actions:
            kind = next(k for k in catalogue.KINDS if k.name == action.kind)
            assert set(kind.journeys) & set(plan.parts), (action, plan.parts)
            assert (action.fault is None) != (action.settings is None)
            moment = action.moment
            if moment.anchor != "start":
                assert 1 <= moment.nth <= catalogue.anchors(plan.parts)[moment.anchor]
                assert 0 <= moment.delay <= schedule.MAX_DELAY
        if plan.interrupt:
            assert plan.interrupt.signal in schedule.SIGNALS
            assert plan.interrupt.moment.anchor != "start"
        for feature in plan.features:
            path = feature.split(":")[0]
            assert (catalogue.ROOT / path).is_file(), feature


def test_a_long_soak_covers_every_kind_and_signal():
    plans = [draw(3, run) for run in range(1, 201)]
    kinds = {a.kind for p in plans for a in p.actions}
    assert kinds == {k.name for k in catalogue.KINDS}
    assert {p.interrupt.signal for p in plans if p.interrupt} == set(schedule.SIGNALS)
    assert {p.journey for p in plans} == set(catalogue.JOURNEYS)
    assert any(p.load for p in plans) and any(p.refused_by_budget for p in plans)


def test_faults_that_spoil_every_delete_together_may_fail_the_journey():
    sticky = schedule.Action("sticky_delete", "sticky_delete ×2", schedule.Moment(), False,
                             fault={"kind": "sticky_delete", "count": 2})
    dropped = schedule.Action("connection_drop", "connection_drop on DELETE", schedule.Moment(), False,
                              fault={"kind": "connection_drop", "method": "DELETE", "path": catalogue.INSTANCE,
                                     "count": 1})
    read = schedule.Action("http_error", "http_error on GET", schedule.Moment(), False,
                           fault={"kind": "http_error", "method": "GET", "path": catalogue.INSTANCE, "count": 2})
    assert [a.may_fail for a in schedule._within_delete_rounds([sticky, read])] == [False, False]
    assert [a.may_fail for a in schedule._within_delete_rounds([sticky, dropped, read])] == [True, True, False]


def test_failover_scenarios_are_read_from_the_feature():
    lines = catalogue.scenario_lines(catalogue.FEATURES["failover"]["en"])
    assert len(lines) == 2
    text = (catalogue.ROOT / catalogue.FEATURES["failover"]["en"]).read_text().splitlines()
    assert all(text[n - 1].lstrip().startswith("Scenario") for n in lines)
