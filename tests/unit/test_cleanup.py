"""support.cleanup (with support.interrupts): reverse order, verified, idempotent, never cut short."""

from __future__ import annotations

import functools
import signal

import pytest

from support import cleanup as cleanup_module
from support import waits
from support.backoff import ApiError, ConnectionProblem
from support.cleanup import Cleanup, delete_and_verify
from support.interrupts import InterruptGuard
from support.ledger import Ledger, maybe_alive, read_entries
from support.waits import Polling

POLL = Polling(shortest=1.0, longest=1.0)


@pytest.fixture(autouse=True)
def fake_time(monkeypatch, clock):
    """Cleanup waits through support.waits.wait_for: run it on the fake clock, without sleeping."""
    monkeypatch.setattr(cleanup_module, "wait_for",
                        functools.partial(waits.wait_for, clock=clock, sleep=clock.sleep))
    return clock


class Resource:
    """A paid resource as the server sees it."""

    def __init__(self, name, log, *, ignore_deletes=0, broken=False, gone=False, kind="instance"):
        self.name, self.log, self.kind = name, log, kind
        self.alive = not gone
        self.ignore_deletes = ignore_deletes
        self.broken = broken
        self.deletes = 0

    def delete(self):
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
        return not self.alive


@pytest.fixture
def ledger(tmp_path):
    return Ledger(tmp_path / "ledger.jsonl", "run-1", "http://fake")


@pytest.fixture
def guard():
    messages = []
    guard = InterruptGuard(warn=messages.append)
    guard.messages = messages
    return guard


def make_cleanup(ledger, guard, keep=lambda item: False):
    return Cleanup(ledger, "scenario", guard, timeout=30, polling=POLL, keep=keep)


def track(cleanup, ledger, resource):
    ledger.created(resource.kind, f"lbl-{resource.name}", resource.name, "scenario")
    cleanup.track(resource.kind, f"lbl-{resource.name}", resource.name, resource.delete, resource.is_gone,
                  f"{resource.kind} {resource.name}")


def deleted_in_ledger(ledger):
    return [e["id"] for e in read_entries(ledger.path) if e["event"] == "deleted"]


def test_reverse_order(ledger, guard):
    log = []
    cleanup = make_cleanup(ledger, guard)
    resources = [Resource(n, log) for n in ("first", "second", "third")]
    for resource in resources:
        track(cleanup, ledger, resource)
    assert cleanup.pending == 3
    outcomes = cleanup.run()
    assert log == ["third", "second", "first"]
    assert [o.id for o in outcomes] == ["third", "second", "first"]
    assert all(o.deleted and o.error is None and isinstance(o.at, float) for o in outcomes)
    assert cleanup.pending == 0 and cleanup.failures() == []
    assert deleted_in_ledger(ledger) == ["third", "second", "first"]
    assert maybe_alive(read_entries(ledger.path)) == []


def test_one_failure_does_not_stop_the_others(ledger, guard):
    log = []
    cleanup = make_cleanup(ledger, guard)
    a, b, c = Resource("a", log), Resource("b", log, broken=True), Resource("c", log)
    for resource in (a, b, c):
        track(cleanup, ledger, resource)
    cleanup.run()
    assert a.is_gone() and c.is_gone() and not b.is_gone()
    assert b.deletes == 3                                  # resent, then given up
    failures = cleanup.failures()
    assert [f.id for f in failures] == ["b"]
    assert "still alive after 3 deletes" in failures[0].error
    assert "503: Provider unreachable" in failures[0].error
    assert deleted_in_ledger(ledger) == ["c", "a"]
    assert [e.id for e in maybe_alive(read_entries(ledger.path))] == ["b"]   # left for the sweep


def test_500_on_an_already_gone_resource_is_success(ledger, guard):
    log = []
    cleanup = make_cleanup(ledger, guard)
    track(cleanup, ledger, Resource("gone", log, gone=True))
    [outcome] = cleanup.run()
    assert outcome.deleted and outcome.error is None
    assert cleanup.failures() == []
    assert deleted_in_ledger(ledger) == ["gone"]


def test_sticky_delete_is_resent(ledger, guard, fake_time):
    log = []
    cleanup = make_cleanup(ledger, guard)
    sticky = Resource("sticky", log, ignore_deletes=1)
    track(cleanup, ledger, sticky)
    [outcome] = cleanup.run()
    assert outcome.deleted
    assert sticky.deletes == 2
    assert sum(fake_time.sleeps) == pytest.approx(10)     # waited one round (30 s / 3) before resending


def test_delete_and_verify_gives_up_with_the_last_error():
    never = Resource("never", [], ignore_deletes=99)
    with pytest.raises(AssertionError, match="instance never is still alive after 3 deletes"):
        delete_and_verify("instance", "never", never.delete, never.is_gone, timeout=3, polling=POLL)
    assert never.deletes == 3


def test_transient_errors_while_verifying(ledger, guard):
    log = []
    resource = Resource("flaky", log)
    answers = [ConnectionProblem("GET", "/api/v1/instances/flaky", "Connection reset")]

    def is_gone():
        if answers:
            raise answers.pop()
        return resource.is_gone()

    cleanup = make_cleanup(ledger, guard)
    cleanup.track("instance", "lbl", "flaky", resource.delete, is_gone)
    [outcome] = cleanup.run()
    assert outcome.deleted and resource.deletes == 1


def test_keep_leaves_snapshots_and_records_kept(ledger, guard):
    log = []
    cleanup = make_cleanup(ledger, guard, keep=lambda item: item.kind == "snapshot")
    instance = Resource("i1", log)
    snapshot = Resource("s1", log, kind="snapshot")
    track(cleanup, ledger, instance)
    track(cleanup, ledger, snapshot)
    outcomes = cleanup.run()
    assert log == ["i1"]
    assert snapshot.alive and snapshot.deletes == 0
    kept = [o for o in outcomes if o.kept]
    assert [(o.kind, o.id, o.deleted) for o in kept] == [("snapshot", "s1", False)]
    assert cleanup.failures() == []
    events = [(e["event"], e["id"]) for e in read_entries(ledger.path) if e["event"] in ("kept", "deleted")]
    assert events == [("kept", "s1"), ("deleted", "i1")]
    assert maybe_alive(read_entries(ledger.path)) == []


def test_forget_records_a_delete_done_by_a_step(ledger, guard):
    log = []
    cleanup = make_cleanup(ledger, guard)
    resource = Resource("i9", log)
    track(cleanup, ledger, resource)
    item = cleanup.forget("instance", "i9", deleted_at=123.0)
    assert item is not None and item.id == "i9"
    assert cleanup.forget("instance", "i9", deleted_at=124.0) is None
    outcomes = cleanup.run()
    assert log == []
    assert [(o.id, o.deleted, o.at) for o in outcomes] == [("i9", True, 123.0)]


def test_interrupt_during_cleanup_is_deferred_until_all_are_deleted(ledger, guard):
    log = []
    cleanup = make_cleanup(ledger, guard)
    a, b, c = Resource("a", log), Resource("b", log), Resource("c", log)

    def delete_b_and_get_interrupted():
        guard._on_signal(signal.SIGINT, None)          # Ctrl-C lands while deleting b
        return b.delete()

    for resource in (a, b, c):
        ledger.created("instance", f"lbl-{resource.name}", resource.name)
    cleanup.track("instance", "lbl-a", "a", a.delete, a.is_gone)
    cleanup.track("instance", "lbl-b", "b", delete_b_and_get_interrupted, b.is_gone)
    cleanup.track("instance", "lbl-c", "c", c.delete, c.is_gone)

    with pytest.raises(KeyboardInterrupt):
        cleanup.run()
    assert log == ["c", "b", "a"]
    assert a.is_gone() and b.is_gone() and c.is_gone()
    assert all(o.deleted for o in cleanup.outcomes) and len(cleanup.outcomes) == 3
    assert deleted_in_ledger(ledger) == ["c", "b", "a"]
    assert guard.received == "SIGINT" and guard.interrupted
    assert any("SIGINT" in m and "cleanup" in m for m in guard.messages)


def test_second_signal_during_cleanup_still_deferred(ledger, guard):
    log = []
    cleanup = make_cleanup(ledger, guard)
    a = Resource("a", log)

    def delete_under_fire():
        guard._on_signal(signal.SIGINT, None)
        guard._on_signal(signal.SIGTERM, None)
        return a.delete()

    cleanup.track("instance", "lbl-a", "a", delete_under_fire, a.is_gone)
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


def test_an_exception_escaping_one_delete_is_a_failure_not_an_abort(ledger, guard):
    log = []
    cleanup = make_cleanup(ledger, guard)
    a, c = Resource("a", log), Resource("c", log)

    def explode():
        raise RuntimeError("client bug")

    cleanup.track("instance", "lbl-a", "a", a.delete, a.is_gone)
    cleanup.track("instance", "lbl-b", "b", explode, lambda: False)
    cleanup.track("instance", "lbl-c", "c", c.delete, c.is_gone)
    cleanup.run()
    assert a.is_gone() and c.is_gone()
    assert [(f.id, f.error) for f in cleanup.failures()] == [("b", "client bug")]
