"""A create whose run died while it was on its way may still make something: the sweep watches its label until
that create's own time limit has passed since it was sent (found by the soak: seed 2026, run 104, a SIGKILL as
the snapshot was being made; the sweep closed the intent at once and the snapshot appeared after it)."""

from __future__ import annotations

import functools

import pytest

from support import cleanup as cleanup_module
from support import sweep as sweep_module
from support import waits
from support.clock import Clock
from support.ledger import Ledger, maybe_alive, read_entries
from support.resources import SNAPSHOT, kinds
from support.sweep import Sweeper
from support.waits import Polling

TARGET = "http://fake"
LABEL = "dumont-acc-dead-run-snap-1"
EPOCH = 1_800_000_000.0


class Server:
    """Snapshots only; one appears under the label at ``appears_at`` (seconds after the intent)."""

    def __init__(self, clock, appears_at):
        self.clock, self.appears_at, self.t0 = clock, appears_at, clock()
        self.snapshots: dict[str, dict] = {}
        self.deleted: list[str] = []
        self.listings = 0

    def list_snapshots(self):
        self.listings += 1
        if self.appears_at is not None and self.clock() - self.t0 >= self.appears_at and not self.deleted:
            self.snapshots.setdefault("ab" * 32, {"id": "ab" * 32, "tags": [LABEL]})
        return list(self.snapshots.values())

    def delete_snapshot(self, snapshot_id):
        self.deleted.append(snapshot_id)
        self.snapshots.pop(snapshot_id, None)

    def list_instances(self):
        return []

    def associations(self):
        return {}


@pytest.fixture
def sweep_at(tmp_path, monkeypatch, clock):
    """A sweep of a dead run's snapshot intent sent at the fake clock's 0, on the fake clock, never sleeping."""
    for module in (sweep_module, cleanup_module):
        monkeypatch.setattr(module, "wait_for", functools.partial(waits.wait_for, now=clock, sleep=clock.sleep))
        monkeypatch.setattr(module.time, "monotonic", clock)
    monkeypatch.setattr(sweep_module.time, "time", lambda: EPOCH + clock())
    def run(appears_at, limit=600.0, dry_run=False, sent_ago=0.0):
        sent = clock() - sent_ago
        ledger = Ledger(tmp_path / "ledger.jsonl", "dead-run", TARGET)
        ledger.intent(ledger.resource(SNAPSHOT, LABEL))
        entries = [e for e in maybe_alive(read_entries(ledger.path), TARGET)]
        entries = [type(e)(e.resource, e.run_id, e.scenario, e.host, e.pid, EPOCH + sent) for e in entries]
        server = Server(clock, appears_at)
        said: list[str] = []
        sweeper = Sweeper(server, Ledger(ledger.path, "sweep", TARGET), kinds(), clock=Clock(),
                          polling=Polling(shortest=1.0, longest=1.0), delete_limit=30, out=said.append,
                          create_limits={SNAPSHOT: limit})
        result = sweeper.sweep(entries, prefix=None, dry_run=dry_run)
        return result, server, said, maybe_alive(read_entries(ledger.path), TARGET), clock() - server.t0

    return run


def test_a_snapshot_that_appears_after_the_sweep_began_is_deleted_and_the_intent_closed(sweep_at):
    result, server, said, left, took = sweep_at(appears_at=40.0)
    assert server.deleted == ["ab" * 32] and result.problems == 0
    assert left == []
    assert any("was being made when its run ended: watching its label until" in line for line in said)
    assert took >= 600.0                 # watched to the create's time limit, not only until the first find


def test_nothing_appears_the_intent_is_closed_after_its_create_time_limit_only(sweep_at):
    result, server, said, left, took = sweep_at(appears_at=None, limit=120.0)
    assert server.deleted == [] and result.problems == 0 and left == []
    assert 120.0 <= took <= 125.0 and server.listings > 2


def test_an_intent_older_than_its_create_time_limit_is_closed_at_once(sweep_at):
    result, server, said, left, took = sweep_at(appears_at=None, limit=600.0, sent_ago=700.0)
    assert left == [] and server.listings == 1 and not any("watching" in line for line in said)


def test_a_dry_run_says_what_may_still_appear_and_waits_for_nothing(sweep_at):
    result, server, said, left, took = sweep_at(appears_at=40.0, dry_run=True)
    assert server.deleted == [] and took < 1.0
    assert any("may still appear until" in line for line in said)
    assert [e.resource.label for e in left] == [LABEL]
