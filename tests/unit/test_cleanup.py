"""support.cleanup (with support.interrupts): costliest first, proven, idempotent, never cut short."""

from __future__ import annotations

import functools
import signal
import threading
import time

import pytest

from support import cleanup as cleanup_module
from support import waits
from support.cleanup import Cleanup, Deleter, InFlight, Outcome
from support.clock import Clock, Moment, epoch_of
from support.errors import ApiError, CleanupFailed, ConnectionProblem
from support.interrupts import InterruptGuard
from support.ledger import Ledger, maybe_alive, read_entries
from support.resources import Live, Resource
from support.waits import Polling
from tests.unit.fakes import journey_on

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


#: The real kinds' order (support.resources): GPU instances bill most, then standbys, then snapshots.
SWEEP_ORDER = {"instance": 0, "standby": 1, "snapshot": 2}


class FakeKind:
    """One kind of resource whose live ones are :class:`Machine` objects, by id."""

    def __init__(self, name):
        self.name = name
        self.sweep_order = SWEEP_ORDER[name]
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


def test_last_created_first_within_a_kind(ledger, guard, make_cleanup, track, kinds):
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
    assert b.deletes == 4                                  # resent until the time limit, then given up
    failures = cleanup.failures()
    assert [f.resource.id for f in failures] == ["b"]
    assert "still alive after 4 deletes" in failures[0].error
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
    assert sum(fake_time.sleeps) == pytest.approx(2)      # waited the first, shortest round (30 s / 15)


def test_deleter_resends_until_its_time_limit_then_gives_up_with_the_last_error(ledger, guard, make_cleanup,
                                                                               track, kinds, fake_time):
    never = Machine("never", [], ignore_deletes=99)
    kinds["instance"].machines["never"] = never
    deleter = Deleter(None, Clock(), POLL, 30, kinds)
    start = fake_time()
    with pytest.raises(CleanupFailed, match="instance never is still alive after 4 deletes: delete accepted; "
                                            "then still present"):
        deleter.delete(ledger.resource("instance", "lbl", "never"))
    # proof waits of 2, 4, 8 and 16 s: the limit used whole, the deletes sooner first and then less often
    assert never.deletes == 4 and fake_time() - start == pytest.approx(30, abs=1)


def test_a_provider_that_ignores_more_deletes_than_the_minimum_is_outlasted(ledger, guard, kinds, fake_time):
    stubborn = Machine("stubborn", [], ignore_deletes=3)      # three deletes accepted and ignored: the fourth works
    kinds["instance"].machines["stubborn"] = stubborn
    Deleter(None, Clock(), POLL, 30, kinds).delete(ledger.resource("instance", "lbl", "stubborn"))
    assert stubborn.deletes == 4 and stubborn.is_gone()


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
    assert events == [("deleted", "i1"), ("kept", "s1")]          # the machine first, whatever was made last
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
    found, settled = cleanup.run()
    assert (found.resource.id, found.fate, found.by_label) == ("7", "deleted", True) and not machine.alive
    assert found.made.earliest <= expected_at and found.made.latest == found.at.latest
    assert (settled.resource.id, settled.fate) == (None, "settled")
    entries = [(e["event"], e["id"]) for e in read_entries(ledger.path)]
    assert entries == [("intent", None), ("deleted", "7"), ("settled", None)]
    assert maybe_alive(read_entries(ledger.path)) == []


def test_an_instance_found_by_label_at_cleanup_is_in_the_report_as_deleted(tmp_path):
    journey = journey_on(None, tmp_path)
    journey.using(None)
    journey.chose({"dph_total": 0.36, "gpu_name": "RTX 3060"})
    made, deleted = Moment(time.monotonic() - 2.0, time.monotonic() - 1.0), Moment.now()
    found = Outcome("instance 42 (found by its label lbl)", Resource("instance", "42", "lbl"), "deleted",
                    at=deleted, made=made, by_label=True)
    settled = Outcome("instance labelled lbl", Resource("instance", None, "lbl"), "settled", at=deleted)
    journey.cleanup.run = lambda: [found, settled]
    journey.clean_up()
    [record] = journey.metrics.machines
    assert (record.id, record.fate, record.gpu_name) == ("42", "deleted", "RTX 3060")
    assert record.cost > 0 and record.cost_uncertainty > 0      # billed from some moment in [sent, deleted]


# -- what bills most goes first, and nothing waits on one resource while another bills ---------------------


def test_costliest_first_instances_then_standbys_then_the_settings_then_snapshots(make_cleanup, track, kinds):
    log = []
    cleanup = make_cleanup()
    track(cleanup, Machine("snap-1", log, kind="snapshot"))
    cleanup.defer("restore the account's standby settings", lambda: log.append("settings"))
    track(cleanup, Machine("gpu-1", log))
    track(cleanup, Machine("standby-9", log, kind="standby"))
    track(cleanup, Machine("gpu-2", log))
    track(cleanup, Machine("snap-2", log, kind="snapshot"))
    outcomes = cleanup.run()
    assert log == ["gpu-2", "gpu-1", "standby-9", "settings", "snap-2", "snap-1"]
    assert [o.fate for o in outcomes] == ["deleted", "deleted", "deleted", "undone", "deleted", "deleted"]


def test_a_standby_deleted_with_its_gpu_is_not_deleted_again_and_went_when_the_gpu_did(make_cleanup, track, kinds,
                                                                                        fake_time):
    log = []
    cleanup = make_cleanup()
    gpu, standby = Machine("5", log), Machine("5", log, kind="standby")   # a standby is known by its GPU's id

    def gpu_delete_takes_its_standby():
        gpu.delete_hook = None
        standby.alive = False                     # DELETE /instances/5?destroy_standby=true
        return gpu.delete()

    gpu.delete_hook = gpu_delete_takes_its_standby
    track(cleanup, gpu)
    track(cleanup, standby)
    gpu_out, standby_out = cleanup.run()
    assert standby.deletes == 0 and log == ["5"]
    assert standby_out.deleted and standby_out.resource.kind == "standby"
    assert standby_out.at.earliest == gpu_out.at.earliest       # it went with the GPU's delete, or after


def test_a_standby_left_alive_by_its_gpus_delete_is_deleted(make_cleanup, track, kinds):
    log = []
    cleanup = make_cleanup()
    track(cleanup, Machine("5", log))
    standby = Machine("5", log, kind="standby")
    track(cleanup, standby)
    cleanup.run()
    assert standby.deletes == 1 and not standby.alive and cleanup.failures() == []


class Answer:
    """A create's answer as cleanup sees it (support.cleanup.InFlight), arriving at ``at`` on the fake clock."""

    def __init__(self, clock, at, made=None, error=None):
        self.clock, self.at, self.made, self.error = clock, at, made, error

    def done(self):
        return self.clock() >= self.at

    @property
    def finished_at(self):
        return self.at if self.done() else None

    @property
    def answered(self):
        return self.done() and (self.error is None or isinstance(self.error, ApiError))

    @property
    def made_id(self):
        return self.made if self.done() and self.error is None else None


@pytest.fixture
def snapshots_appear(kinds, fake_time):
    """``appear(name, at)``: a snapshot labelled lbl-s that the server lists from ``at`` (fake monotonic) on;
    the listings of snapshots are counted in ``kinds["snapshot"].listings``."""
    kind = kinds["snapshot"]
    kind.listings = 0
    shown = {}

    def list_live(client):
        kind.listings += 1
        return [Live("snapshot", name, ("acc-run", "lbl-s")) for name, at in shown.items()
                if fake_time() >= at and kind.machines[name].alive]

    kind.list_live = list_live

    def appear(name, at):
        kind.machines[name] = Machine(name, [], kind="snapshot")
        shown[name] = at
        return kind.machines[name]

    return appear


def test_a_snapshot_whose_create_has_not_answered_does_not_hold_the_gpu(ledger, make_cleanup, track, kinds, fake_time,
                                                                        snapshots_appear):
    """The issue: Ctrl-C during the snapshot kept the GPU billing for the snapshot's whole time limit."""
    log = []
    cleanup = make_cleanup()
    gpu = track(cleanup, Machine("g1", log))
    start = fake_time()
    item = cleanup.expect("snapshot", "lbl-s", "snapshot labelled lbl-s", settle=600, source=gpu)
    # The step was interrupted; the request goes on and the server answers 40 s later, having made it.
    answered_at = start + 40
    item.answer = Answer(fake_time, answered_at, made="abcdef12")
    snapshot = snapshots_appear("abcdef1234567890", answered_at)
    outcomes = cleanup.run()
    gpu_out = outcomes[0]
    assert gpu_out.resource.id == "g1" and gpu_out.at.latest == start      # first, before any wait
    [found] = [o for o in outcomes if o.by_label]
    assert found.deleted and found.resource.id == "abcdef1234567890" and not snapshot.alive
    # Watched until the answer came, not for its time limit: found at the first look after the answer.
    assert answered_at <= found.at.earliest <= answered_at + POLL.longest
    assert fake_time() - start <= 40 + 2 * POLL.longest
    assert kinds["snapshot"].listings == 3        # once at its turn, none while the request was in flight, two after
    assert outcomes[-1].fate == "settled" and cleanup.failures() == []
    deleted = {e["id"]: e for e in read_entries(ledger.path) if e["event"] == "deleted"}
    assert deleted["abcdef1234567890"]["t"] == round(found.at.epoch, 3)     # stamped when it was deleted, with its id
    assert deleted["g1"]["t"] == round(gpu_out.at.epoch, 3)
    assert maybe_alive(read_entries(ledger.path)) == []


def test_without_an_answer_the_label_settles_once_its_source_is_proven_gone(make_cleanup, track, kinds, fake_time,
                                                                            snapshots_appear):
    cleanup = make_cleanup()
    gpu = track(cleanup, Machine("g1", []))
    start = fake_time()
    item = cleanup.expect("snapshot", "lbl-s", "snapshot labelled lbl-s", settle=600, source=gpu)
    # The connection dropped: no answer will say whether it was made.
    item.answer = Answer(fake_time, start, error=ConnectionProblem("POST", "/api/v1/snapshots", "Connection reset"))
    made_before = snapshots_appear("s-made", start)
    outcomes = cleanup.run()
    assert not made_before.alive and [o.resource.id for o in outcomes if o.by_label] == ["s-made"]
    # Its instance was proven gone before the label was looked up: no snapshot of it can start any more, so
    # one listing that finds nothing after that is the end of it, with no wait for the 600 s.
    assert fake_time.sleeps == [] and kinds["snapshot"].listings == 2
    assert outcomes[-1].fate == "settled"


def test_a_source_a_step_deleted_bounds_the_label_too(make_cleanup, track, kinds, fake_time, snapshots_appear):
    cleanup = make_cleanup()
    gpu = track(cleanup, Machine("g1", []))
    cleanup.expect("snapshot", "lbl-s", "snapshot labelled lbl-s", settle=600, source=gpu)
    cleanup.forget(gpu, Moment.now())                   # the journey's own delete step proved it gone
    outcomes = cleanup.run()
    assert fake_time.sleeps == [] and kinds["snapshot"].listings == 1
    assert [o.fate for o in outcomes] == ["deleted", "settled"]


def test_with_nothing_to_bound_it_a_label_is_watched_for_its_whole_time_limit(make_cleanup, track, kinds, fake_time,
                                                                              snapshots_appear):
    log = []
    cleanup = make_cleanup()
    track(cleanup, Machine("g1", log))                  # not what the snapshot is made from
    start = fake_time()
    cleanup.expect("snapshot", "lbl-s", "snapshot labelled lbl-s", settle=60)
    late = snapshots_appear("s-late", start + 50)
    outcomes = cleanup.run()
    assert log == ["g1"] and outcomes[0].at.latest == start     # the GPU did not wait for the label
    assert not late.alive and fake_time() >= start + 60
    [found] = [o for o in outcomes if o.by_label]
    assert start + 50 <= found.at.earliest <= start + 50 + POLL.longest
    assert outcomes[-1].fate == "settled"


def test_a_refused_create_is_looked_up_once(make_cleanup, kinds, fake_time, snapshots_appear):
    cleanup = make_cleanup()
    item = cleanup.expect("snapshot", "lbl-s", "snapshot labelled lbl-s", settle=600)
    item.answer = Answer(fake_time, fake_time(), error=ApiError("POST", "/api/v1/snapshots", 500, "Failed"))
    outcomes = cleanup.run()
    assert fake_time.sleeps == [] and kinds["snapshot"].listings == 1
    assert [o.fate for o in outcomes] == ["settled"]


def test_what_the_answer_says_it_made_is_waited_for_until_it_is_listed(make_cleanup, kinds, fake_time,
                                                                        snapshots_appear):
    cleanup = make_cleanup()
    start = fake_time()
    item = cleanup.expect("snapshot", "lbl-s", "snapshot labelled lbl-s", settle=600)
    item.answer = Answer(fake_time, start, made="abcdef12")
    slow = snapshots_appear("abcdef1234567890", start + 5)       # listed a little after the answer
    outcomes = cleanup.run()
    assert not slow.alive and fake_time() >= start + 5
    assert [o.fate for o in outcomes] == ["deleted", "settled"]


def test_a_label_whose_listing_keeps_failing_is_a_failure_and_stays_open_in_the_ledger(ledger, make_cleanup, kinds,
                                                                                      fake_time):
    def unreachable(client):
        raise ConnectionProblem("GET", "/api/v1/snapshots", "Connection refused")

    kinds["snapshot"].list_live = unreachable
    cleanup = make_cleanup()
    cleanup.expect("snapshot", "lbl-s", "snapshot labelled lbl-s", settle=60)
    [outcome] = cleanup.run()
    assert outcome.failed and "Connection refused" in outcome.error
    assert [e.resource.label for e in maybe_alive(read_entries(ledger.path))] == ["lbl-s"]    # left for the sweep


def test_every_deletion_is_stamped_when_it_was_carried_out_not_when_proven(ledger, make_cleanup, track, kinds,
                                                                           fake_time):
    cleanup = make_cleanup()
    slow = Machine("slow", [])
    looks = []

    def gone_after_some_looks():
        looks.append(fake_time())
        return not slow.alive and len(looks) > 2

    slow.gone_hook = gone_after_some_looks
    start = fake_time()
    track(cleanup, slow)
    [outcome] = cleanup.run()
    assert outcome.at.latest == start and fake_time() == start + 2      # proven looks later, before any resend
    [entry] = [e for e in read_entries(ledger.path) if e["event"] == "deleted"]
    assert entry["t"] == round(epoch_of(start), 3) and entry["id"] == "slow"


# -- a create carried on in the background --------------------------------------------------------------


def test_in_flight_hands_over_its_answer():
    gate = threading.Event()
    flight = InFlight.start(lambda: gate.wait(30) and {"snapshot_id": "abcdef12"}, made=lambda a: a["snapshot_id"])
    assert not flight.answered and flight.made_id is None
    gate.set()
    assert flight.result() == {"snapshot_id": "abcdef12"}
    assert flight.done() and flight.answered and flight.made_id == "abcdef12" and flight.finished_at is not None


@pytest.mark.parametrize("error,answered", [
    (ApiError("POST", "/api/v1/snapshots", 400, "Instance 7 is not running"), True),
    (ConnectionProblem("POST", "/api/v1/snapshots", "Read timed out"), False),
])
def test_in_flight_says_whether_the_server_answered(error, answered):
    def fail():
        raise error

    flight = InFlight.start(fail, made=lambda a: a["snapshot_id"])
    with pytest.raises(type(error)):
        flight.result()
    assert flight.answered is answered and flight.made_id is None


def test_an_interrupt_stops_the_wait_for_the_answer_not_the_request():
    gate = threading.Event()
    flight = InFlight.start(lambda: gate.wait(30) and "made")

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        with pytest.raises(KeyboardInterrupt):
            signal.setitimer(signal.ITIMER_REAL, 0.01)      # the Ctrl-C lands while the step waits
            flight.result()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert not flight.done()                              # the request goes on
    gate.set()
    assert flight.result() == "made"
