"""A kind the server says it does not have is checked, not unknown (issue 18, item 11).

The real server answers every snapshot route with 400 "Restic repository not configured. Please update
settings." when it has no snapshot repository: it then holds no snapshot at all, so the sweep and the
leak check count snapshots as checked (none). Any other failure of the listing (5xx, no answer, another
4xx) still says nothing about what exists: the sweep and the leak check stay incomplete.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from support.backoff import BackoffPolicy
from support.clock import Clock
from support.errors import ApiError, ConnectionProblem
from support.leaks import check_leaks
from support.ledger import Ledger, maybe_alive, read_entries
from support.resources import (
    INSTANCE,
    NO_SNAPSHOT_REPOSITORY,
    SNAPSHOT,
    InstanceKind,
    SnapshotKind,
    StandbyKind,
    ids_labelled,
    kinds,
    no_snapshot_repository,
    take_inventory,
)
from support.sweep import Sweeper
from support.waits import Polling

from .fakes import reply

SNAPSHOTS = "/api/v1/snapshots"
RESTIC = "Restic repository not configured. Please update settings."
TARGET = "http://fake"
PREFIX = "dumont-acc"


def error(status: int, message: str) -> ApiError:
    return ApiError("GET", SNAPSHOTS, status, message)


@pytest.mark.parametrize("status, message", [
    (400, RESTIC),                                           # the real server's words
    (400, "restic repository not configured"),               # any case
    (400, "RESTIC REPOSITORY NOT CONFIGURED. PLEASE UPDATE SETTINGS."),
    (400, "Backup repository is not configured"),            # the settings page's name for it
])
def test_the_servers_no_repository_answer_means_no_snapshot_can_exist(status, message):
    assert no_snapshot_repository(error(status, message))
    assert SnapshotKind().none_can_exist(error(status, message)) == NO_SNAPSHOT_REPOSITORY


@pytest.mark.parametrize("failure", [
    error(503, RESTIC),                                      # the words, but a 5xx: not the server's settled answer
    error(500, "Internal server error"),
    error(503, "Vast.ai API unreachable: 429 Client Error: Too Many Requests"),
    error(404, "User not found"),                            # demo mode: says nothing about snapshots
    error(400, "Vast.ai API key not configured. Please update settings."),   # another missing setting
    error(400, "Instance 5 is not running"),
    error(400, "Restic repository unreachable"),
    ConnectionProblem("GET", SNAPSHOTS, "Read timed out"),
])
def test_any_other_failure_says_nothing_about_what_exists(failure):
    assert not no_snapshot_repository(failure)
    assert SnapshotKind().none_can_exist(failure) is None


def test_only_the_snapshot_kind_knows_that_answer():
    # The predicate sits next to the snapshot kind: instances and standbys never read it as "none".
    assert InstanceKind().none_can_exist(error(400, RESTIC)) is None
    assert StandbyKind().none_can_exist(error(400, RESTIC)) is None


def test_through_the_real_client_the_answer_is_a_complete_listing_asked_once(server, make_client):
    server.fault("GET", SNAPSHOTS, reply(400, {"error": RESTIC}))
    client = make_client()
    inventory = take_inventory(client, {INSTANCE: InstanceKind(), SNAPSHOT: SnapshotKind()})
    assert inventory.complete and inventory.unlisted == {}
    assert inventory.live[SNAPSHOT] == [] and inventory.absent == {SNAPSHOT: NO_SNAPSHOT_REPOSITORY}
    assert len(server.seen("GET", SNAPSHOTS)) == 1            # a settled answer: not retried


def test_through_the_real_client_a_5xx_listing_stays_unlisted(server, make_client):
    server.fault("GET", SNAPSHOTS, *[reply(503, {"error": "Service Unavailable"})] * 5)
    # No time to retry in: the 503 is what the listing ends with, as after a long outage.
    client = make_client(backoff=BackoffPolicy(deadline=0.0, min_deadline=0.0))
    inventory = take_inventory(client, {SNAPSHOT: SnapshotKind()})
    assert not inventory.complete and SNAPSHOT not in inventory.live and inventory.absent == {}
    assert "503" in inventory.unlisted[SNAPSHOT]


class Server:
    """Just the listing and deleting the sweep and the leak check do; snapshots answer ``snapshot_error``."""

    def __init__(self, instances, snapshot_error=None):
        self.instances = {str(i["id"]): i for i in instances}
        self.snapshot_error = snapshot_error
        self.deleted: list[int] = []

    def list_instances(self):
        return list(self.instances.values())

    def delete_instance(self, instance_id):
        self.deleted.append(instance_id)
        self.instances.pop(str(instance_id))

    def associations(self):
        return {}

    def list_snapshots(self):
        if self.snapshot_error is not None:
            raise self.snapshot_error
        return []

    def delete_snapshot(self, snapshot_id):
        raise AssertionError("nothing should delete a snapshot here")


def test_is_gone_and_the_label_lookup_know_no_snapshot_can_exist():
    kind = SnapshotKind()
    assert kind.is_gone(Server([], error(400, RESTIC)), "abc123")
    assert ids_labelled(kind, Server([], error(400, RESTIC)), f"{PREFIX}-r1-snap-1") == []
    with pytest.raises(ApiError):
        kind.is_gone(Server([], error(503, "Service Unavailable")), "abc123")
    with pytest.raises(ConnectionProblem):
        ids_labelled(kind, Server([], ConnectionProblem("GET", SNAPSHOTS, "timed out")), "x")


def sweep_with(tmp_path, snapshot_error):
    """A leftover instance (label prefix) and a snapshot intent in the ledger, on a server whose snapshot
    listing fails with ``snapshot_error``."""
    ledger = Ledger(tmp_path / "ledger.jsonl", "old-run", TARGET)
    ledger.intent(ledger.resource(SNAPSHOT, f"{PREFIX}-old-run-snap-1"))
    server = Server([{"id": 7, "label": f"{PREFIX}-old-run-inst-1"}, {"id": 8, "label": "someone-else"}],
                    snapshot_error)
    said: list[str] = []
    sweeper = Sweeper(server, Ledger(ledger.path, "sweep", TARGET), kinds(), clock=Clock(), polling=Polling(),
                      delete_limit=30, out=said.append)
    result = sweeper.sweep(maybe_alive(read_entries(ledger.path), TARGET), prefix=PREFIX)
    return result, server, said, ledger.path


def test_the_sweep_on_a_server_without_a_snapshot_repository_deletes_and_is_complete(tmp_path):
    result, server, said, path = sweep_with(tmp_path, error(400, RESTIC))
    assert result.problems == 0 and result.unlisted == {}
    assert server.deleted == [7] and "8" in server.instances
    assert f"{TARGET}: snapshots: none (the server has no snapshot repository configured)" in said
    assert not any("could not list" in line for line in said)
    # The snapshot the ledger still expected is closed: none can exist there.
    assert maybe_alive(read_entries(path), TARGET) == []
    closed = [e for e in read_entries(path) if e["kind"] == SNAPSHOT and e["event"] == "deleted"]
    assert [e["scenario"] for e in closed] == [f"sweep: {NO_SNAPSHOT_REPOSITORY}"]


@pytest.mark.parametrize("failure", [error(503, "Service Unavailable"), error(404, "User not found"),
                                     ConnectionProblem("GET", SNAPSHOTS, "Read timed out")])
def test_a_failing_snapshot_listing_still_fails_the_sweep_after_deleting_the_instances(tmp_path, failure):
    result, server, said, path = sweep_with(tmp_path, failure)
    assert result.problems == 1 and list(result.unlisted) == [SNAPSHOT]
    assert server.deleted == [7]                              # one blind kind does not stop the others
    assert any(line.startswith(f"{TARGET}: could not list snapshots, so they were not checked") for line in said)
    assert not any("none (" in line for line in said)
    # The snapshot intent stays in the ledger for a later sweep that can look.
    [left] = maybe_alive(read_entries(path), TARGET)
    assert left.resource.kind == SNAPSHOT


def leak_check_with(tmp_path, snapshot_error):
    """The end-of-run leak check of a run that asked for a snapshot, on a server whose listing fails so."""
    ledger = Ledger(tmp_path / "ledger.jsonl", "r1", TARGET)
    ledger.intent(ledger.resource(SNAPSHOT, f"{PREFIX}-r1-snap-1"))
    run = SimpleNamespace(config=SimpleNamespace(run_label=f"{PREFIX}-r1", run_id="r1", keep_snapshots=False),
                          ledger=ledger, kinds=kinds(), client=Server([], snapshot_error), journeys=[],
                          provider=None)
    return check_leaks(run)


def test_the_leak_check_counts_snapshots_as_checked_without_a_repository(tmp_path):
    check = leak_check_with(tmp_path, error(400, RESTIC))
    assert check.complete and check.problems() == [] and check.leaks == []
    assert check.absent == {SNAPSHOT: NO_SNAPSHOT_REPOSITORY}
    assert check.to_dict()["absent"] == {SNAPSHOT: NO_SNAPSHOT_REPOSITORY}


@pytest.mark.parametrize("failure", [error(503, "Service Unavailable"), error(400, "Something else went wrong"),
                                     ConnectionProblem("GET", SNAPSHOTS, "Read timed out")])
def test_a_failing_snapshot_listing_still_makes_the_leak_check_incomplete(tmp_path, failure):
    check = leak_check_with(tmp_path, failure)
    assert not check.complete and check.absent == {}
    assert check.problems() == [f"leak check incomplete: could not list snapshot ({failure})"]


def test_a_snapshot_known_by_the_creates_short_id_is_found_by_its_full_id():
    """The real server's create answers restic's 8-character id; its listing holds the full one."""
    from support.resources import SnapshotKind, same_snapshot

    full = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"
    assert same_snapshot(full, "a1b2c3d4") and same_snapshot("a1b2c3d4", full) and same_snapshot(full, full)
    assert not same_snapshot(full, "a1b2c3d5") and not same_snapshot(full, "a1b2")     # too short to tell

    class Listing:
        def list_snapshots(self):
            return [{"id": full, "tags": []}]

    assert SnapshotKind().is_gone(Listing(), "a1b2c3d4") is False
    assert SnapshotKind().is_gone(Listing(), "ffffffff") is True
