"""support.cleanup (with support.interrupts): reverse order, proven, idempotent, never cut short."""

from __future__ import annotations

import functools
import signal
import time

import pytest

from support import cleanup as cleanup_module
from support import waits
from support.cleanup import Cleanup, Deleter, Outcome
from support.clock import Clock, Moment
from support.errors import ApiError, CleanupFailed, ConnectionProblem
from support.interrupts import InterruptGuard
from support.ledger import Ledger, maybe_alive, read_entries
from support.resources import Live, Resource
from support.waits import Polling
from tests.unit.test_models import journey_with

POLL = Polling(shortest=1.0, longest=1.0)


@pytest.fixture(autouse=True)
def fake_time(monkeypatch, clock):
    """Cleanup waits through support.waits.wait_for: run it on the fake clock, without sleeping."""
    monkeypatch.setattr(cleanup_module, "wait_for",
                        functools.partial(waits.wait_for, now=clock, sleep=clock.sleep))
    monkeypatch.setattr(cleanup_module.time, "monotonic", clock)
    return clock


class Machine:
    """A paid resource as the server sees it."""

    def __init__(self, name, log, *, ignore_deletes=0, broken=False, gone=False, kind="instance"):
        self.name, self.log, self.kind = name, log, kind
        self.alive = not gone
        self.ignore_deletes = ignore_deletes
        self.broken = broken
        self.deletes = 0
        self.delete_hook = None
        self.gone_hook = None

    def delete(self):
        if self.delete_hook is not None:
            return self.delete_hook()
        self.log.append(self.name)
        self.deletes += 1
        if not self.alive:
            raise ApiError("DELETE", f"/api/v1/instances/{self.name}", 500,
                           f"Failed to destroy instance {self.name}")
        if self.broken:
            raise ApiError("DELETE", f"/api/v1/instances/{self.name}", 503, "Provider unreachable")
        if self.deletes <= self.ignore_deletes:
            return {"success": True}                      # answered 200, but nothing happened
        self.alive = False
        return {"success": True}

    def is_gone(self):
        if self.gone_hook is not None:
            return self.gone_hook()
        return not self.alive


class FakeKind:
    """One kind of resource whose live ones are :class:`Machine` objects, by id."""

    def __init__(self, name):
        self.name = name
        self.sweep_order = 0
        self.machines = {}

    def delete(self, client, resource_id):
        self.machines[resource_id].delete()

    def is_gone(self, client, resource_id):
        return self.machines[resource_id].is_gone()

    def list_live(self, client):
        return []


@pytest.fixture
def kinds():
    return {name: FakeKind(name) for name in ("instance", "snapshot", "standby")}


@pytest.fixture
def ledger(tmp_path):
    return Ledger(tmp_path / "ledger.jsonl", "run-1", "http://fake")


@pytest.fixture
def guard():
    messages = []
    guard = InterruptGuard(warn=messages.append)
    guard.messages = messages
    return guard


@pytest.fixture
def make_cleanup(ledger, guard, kinds):
    def make(keep=lambda resource: False):
        return Cleanup(ledger, "scenario", guard, Deleter(None, Clock(), POLL, 30, kinds), keep=keep)
    return make


@pytest.fixture
def track(ledger, kinds):
    def add(cleanup, machine):
        kinds[machine.kind].machines[machine.name] = machine
        item = cleanup.expect(machine.kind, f"lbl-{machine.name}", f"{machine.kind} {machine.name}", settle=0)
        return cleanup.identified(item, machine.name, f"{machine.kind} {machine.name}")
    return add


def deleted_in_ledger(ledger):
    return [e["id"] for e in read_entries(ledger.path) if e["event"] == "deleted"]


def test_reverse_order(ledger, guard, make_cleanup, track, kinds):
    log = []
    cleanup = make_cleanup()
    resources = [Machine(n, log) for n in ("first", "second", "third")]
    for resource in resources:
        track(cleanup, resource)
    assert cleanup.pending == 3
    outcomes = cleanup.run()
    assert log == ["third", "second", "first"]
    assert [o.resource.id for o in outcomes] == ["third", "second", "first"]
    assert all(o.deleted and o.error is None and isinstance(o.at, Moment) for o in outcomes)
    assert cleanup.pending == 0 and cleanup.failures() == []
    assert deleted_in_ledger(ledger) == ["third", "second", "first"]
    assert maybe_alive(read_entries(ledger.path)) == []


def test_one_failure_does_not_stop_the_others(ledger, guard, make_cleanup, track, kinds):
    log = []
    cleanup = make_cleanup()
    a, b, c = Machine("a", log), Machine("b", log, broken=True), Machine("c", log)
    for resource in (a, b, c):
        track(cleanup, resource)
    cleanup.run()
    assert a.is_gone() and c.is_gone() and not b.is_gone()
    assert b.deletes == 3                                  # resent, then given up
    failures = cleanup.failures()
    assert [f.resource.id for f in failures] == ["b"]
    assert "still alive after 3 deletes" in failures[0].error
    assert "503: Provider unreachable" in failures[0].error
    assert deleted_in_ledger(ledger) == ["c", "a"]
    assert [e.resource.id for e in maybe_alive(read_entries(ledger.path))] == ["b"]   # left for the sweep


def test_500_on_an_already_gone_resource_is_success(ledger, guard, make_cleanup, track, kinds):
    log = []
    cleanup = make_cleanup()
    track(cleanup, Machine("gone", log, gone=True))
    [outcome] = cleanup.run()
    assert outcome.deleted and outcome.error is None
    assert cleanup.failures() == []
    assert deleted_in_ledger(ledger) == ["gone"]


def test_sticky_delete_is_resent(ledger, guard, make_cleanup, track, kinds, fake_time):
    log = []
    cleanup = make_cleanup()
    sticky = Machine("sticky", log, ignore_deletes=1)
    track(cleanup, sticky)
    [outcome] = cleanup.run()
    assert outcome.deleted
    assert sticky.deletes == 2
    assert sum(fake_time.sleeps) == pytest.approx(10)     # waited one round (30 s / 3) before resending


def test_deleter_gives_up_with_the_last_error(ledger, guard, make_cleanup, track, kinds):
    never = Machine("never", [], ignore_deletes=99)
    kinds["instance"].machines["never"] = never
    deleter = Deleter(None, Clock(), POLL, 3, kinds)
    with pytest.raises(CleanupFailed, match="instance never is still alive after 3 deletes"):
        deleter.delete(ledger.resource("instance", "lbl", "never"))
    assert never.deletes == 3


def test_transient_errors_while_verifying(ledger, guard, make_cleanup, track, kinds):
    log = []
    machine = Machine("flaky", log)
    answers = [ConnectionProblem("GET", "/api/v1/instances/flaky", "Connection reset")]

    def is_gone():
        if answers:
            raise answers.pop()
        return not machine.alive

    machine.gone_hook = is_gone
    cleanup = make_cleanup()
    track(cleanup, machine)
    [outcome] = cleanup.run()
    assert outcome.deleted and machine.deletes == 1


def test_keep_leaves_snapshots_and_records_kept(ledger, guard, make_cleanup, track, kinds):
    log = []
    cleanup = make_cleanup(keep=lambda resource: resource.kind == "snapshot")
    instance = Machine("i1", log)
    snapshot = Machine("s1", log, kind="snapshot")
    track(cleanup, instance)
    track(cleanup, snapshot)
    outcomes = cleanup.run()
    assert log == ["i1"]
    assert snapshot.alive and snapshot.deletes == 0
    kept = [o for o in outcomes if o.kept]
    assert [(o.resource.kind, o.resource.id, o.deleted) for o in kept] == [("snapshot", "s1", False)]
    assert cleanup.failures() == []
    events = [(e["event"], e["id"]) for e in read_entries(ledger.path) if e["event"] in ("kept", "deleted")]
    assert events == [("kept", "s1"), ("deleted", "i1")]
    assert maybe_alive(read_entries(ledger.path)) == []


def test_forget_records_a_delete_done_by_a_step(ledger, guard, make_cleanup, track, kinds):
    log = []
    cleanup = make_cleanup()
    resource = track(cleanup, Machine("i9", log))
    cleanup.forget(resource, deleted_at=Moment.of_epoch(123.0))
    assert cleanup.pending == 0
    cleanup.forget(resource, deleted_at=Moment.of_epoch(124.0))                # twice is harmless
    outcomes = cleanup.run()
    assert log == []
    assert [(o.resource.id, o.deleted, round(o.at.epoch, 3)) for o in outcomes] == [("i9", True, 123.0)]
    assert deleted_in_ledger(ledger) == ["i9"]


def test_interrupt_during_cleanup_is_deferred_until_all_are_deleted(ledger, guard, make_cleanup, track, kinds):
    log = []
    cleanup = make_cleanup()
    a, b, c = Machine("a", log), Machine("b", log), Machine("c", log)

    def delete_b_and_get_interrupted():
        b.delete_hook = None
        guard._on_signal(signal.SIGINT, None)          # Ctrl-C lands while deleting b
        return b.delete()

    b.delete_hook = delete_b_and_get_interrupted
    for machine in (a, b, c):
        track(cleanup, machine)

    with pytest.raises(KeyboardInterrupt):
        cleanup.run()
    assert log == ["c", "b", "a"]
    assert a.is_gone() and b.is_gone() and c.is_gone()
    assert all(o.deleted for o in cleanup.outcomes) and len(cleanup.outcomes) == 3
    assert deleted_in_ledger(ledger) == ["c", "b", "a"]
    assert guard.received == "SIGINT" and guard.interrupted
    assert any("SIGINT" in m and "cleanup" in m for m in guard.messages)


def test_second_signal_during_cleanup_still_deferred(ledger, guard, make_cleanup, track, kinds):
    log = []
    cleanup = make_cleanup()
    a = Machine("a", log)

    def delete_under_fire():
        a.delete_hook = None
        guard._on_signal(signal.SIGINT, None)
        guard._on_signal(signal.SIGTERM, None)
        return a.delete()

    a.delete_hook = delete_under_fire
    track(cleanup, a)
    with pytest.raises(KeyboardInterrupt):
        cleanup.run()
    assert a.is_gone() and cleanup.failures() == []
    assert guard.received == "SIGINT"                    # the first signal is the one reported


def test_signal_outside_protect_interrupts_at_once(guard):
    with pytest.raises(KeyboardInterrupt):
        guard._on_signal(signal.SIGTERM, None)
    assert guard.received == "SIGTERM"


def test_nested_protect_raises_only_at_the_outermost(guard):
    with pytest.raises(KeyboardInterrupt):
        with guard.protect():
            with guard.protect():
                guard._on_signal(signal.SIGINT, None)
            reached_after_inner = True
    assert reached_after_inner


def test_alarm_inside_protect_is_ignored(guard):
    with guard.protect():
        guard._on_alarm(signal.SIGALRM, None)


def test_an_exception_escaping_one_delete_is_a_failure_not_an_abort(ledger, guard, make_cleanup, track, kinds):
    log = []
    cleanup = make_cleanup()
    a, c = Machine("a", log), Machine("c", log)

    def explode():
        raise RuntimeError("client bug")

    b = Machine("b", log)
    b.delete_hook = explode
    for machine in (a, b, c):
        track(cleanup, machine)
    cleanup.run()
    assert a.is_gone() and c.is_gone()
    assert [(f.resource.id, f.error) for f in cleanup.failures()] == [("b", "client bug")]


def test_a_resource_known_by_label_only_is_deleted_and_reported_with_its_id(ledger, guard, make_cleanup, kinds):
    machine = Machine("7", [])
    kinds["instance"].machines["7"] = machine
    kinds["instance"].list_live = lambda client: [Live("instance", "7", ("lbl-7",))] if machine.alive else []
    cleanup = make_cleanup()
    cleanup.expect("instance", "lbl-7", "instance labelled lbl-7", settle=0)    # its create never answered
    expected_at = time.monotonic()
    [outcome] = cleanup.run()
    assert outcome.deleted and outcome.found == ("7",) and not machine.alive
    assert outcome.made.earliest <= expected_at and outcome.made.latest == outcome.at.latest


def test_an_instance_found_by_label_at_cleanup_is_in_the_report_as_deleted(tmp_path):
    journey = journey_with(None, tmp_path)
    journey.using(None)
    journey.chose({"dph_total": 0.36, "gpu_name": "RTX 3060"})
    made, deleted = Moment(time.monotonic() - 2.0, time.monotonic() - 1.0), Moment.now()
    outcome = Outcome("instance labelled lbl", Resource("instance", None, "lbl"), "deleted", at=deleted,
                      found=("42",), made=made)
    journey.cleanup.run = lambda: [outcome]
    journey.clean_up()
    [record] = journey.metrics.machines
    assert (record.id, record.fate, record.gpu_name) == ("42", "deleted", "RTX 3060")
    assert record.cost > 0 and record.cost_uncertainty > 0      # billed from some moment in [sent, deleted]
