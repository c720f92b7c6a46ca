"""Snapshots of an instance's workspace: taken synchronously, tagged with the run's label, cleaned up."""

from __future__ import annotations

from support import instances, models
from support.client import STALL_AFTER_SECONDS
from support.clock import Moment, Span
from support.errors import ApiError, ConnectionProblem
from support.journey import Journey, TakenSnapshot
from support.resources import SNAPSHOT, same_snapshot


def take(journey: Journey) -> TakenSnapshot:
    """Snapshot the current instance; the snapshot is tracked for deletion before the request leaves."""
    run = journey.run
    machine = journey.machine("it takes a snapshot")
    label = journey.resource_label()
    # The create is synchronous and may finish on the server after we stopped waiting for it. It is made on
    # the machine (over SSH, on the real server): once the machine is gone, no snapshot of it can start.
    pending = journey.cleanup.expect(SNAPSHOT, label, f"snapshot labelled {label}", settle=run.timeouts.snapshot,
                                     source=machine.resource)
    asked = Moment.now()
    try:
        # The server answers when the archive is done: the read timeout is the snapshot's time limit. The request
        # goes in a thread of its own, so that a Ctrl-C stops this step but not the request: cleanup, having
        # deleted the machine first, learns from its answer when the snapshot exists (and deletes it), instead
        # of watching the label for the snapshot's whole time limit.
        start = Moment.now()
        with run.progress.waiting("snapshot", run.timeouts.snapshot):
            stalled = server_stalled_before(journey, machine, start)
            answer = journey.cleanup.send(
                pending, lambda: run.client.create_snapshot(machine.id, tags=[run.config.run_label, label],
                                                            timeout=run.clock.wall(run.timeouts.snapshot)),
                made=lambda made: made["snapshot_id"])
            body = answer.result()
        journey.record("snapshot", start, start.since_now(), stalled=stalled)
    except ApiError as error:
        journey.cleanup.refused(pending)
        # In the server's words, and with the machine's own state (a preempted machine "is not running").
        raise instances.explain(journey, "snapshot", error, asked) from None
    size = body.get("total_bytes_processed") or body.get("data_added")
    snapshot_id = str(body["snapshot_id"])
    resource = journey.cleanup.identified(pending, snapshot_id, f"snapshot {snapshot_id[:8]}",
                                          bytes=body.get("data_added") or body.get("total_bytes_processed"))
    snapshot = TakenSnapshot(resource, size)
    journey.took(snapshot)
    journey.metrics.extra["snapshot_bytes"] = size
    journey.metrics.extra["snapshot_started_at"] = start.epoch
    return snapshot


def server_stalled_before(journey: Journey, machine, start: Moment) -> Span | None:
    """How much of the time since ``start`` the server answered nothing (/health included) before a
    synchronous call could start; None when it answered at once, or when that is not known.

    After a create the real server holds every request while it sets the machine up (until the machine
    answers SSH, then its tools: docs/dumont-api.md, "Past SSH"). A snapshot sent meanwhile waits behind
    that and its time would hide it: asking /health first, and only then sending the snapshot, tells the
    server's part from the snapshot's own. Asked only while such a stall can still be going on: no request
    sent since the machine was made has been answered yet.
    """
    run = journey.run
    if run.client.call_log.answered_since(machine.made.latest):
        return None
    sent = Moment.now()
    try:
        run.client.health()
    except (ApiError, ConnectionProblem):
        return None             # not known: the snapshot's own time then includes whatever it was
    ended = stall_ended(sent, Moment.now(), normal=run.clock.wall(STALL_AFTER_SECONDS))
    return start.until(ended) if ended else None


def stall_ended(sent: Moment, answered: Moment, normal: float) -> Moment | None:
    """When a stall that held a request ended, or None if the request was not held (answered in ``normal``).

    A held request is answered once the stall ends, as fast as an unstalled one: the end lies after the
    send and no more than ``normal`` before the answer. Its time from the send alone would leave out
    whatever passed between the phase's start and the send, and could fall short of the truth.
    """
    if answered.latest - sent.earliest <= normal:
        return None
    return Moment(max(sent.earliest, answered.latest - normal), answered.latest)


def find(journey: Journey, snapshot_id: str) -> dict | None:
    """The snapshot as listed (there is no GET by id), or None."""
    for snapshot in journey.run.client.list_snapshots():
        if same_snapshot(str(snapshot.get("id")), snapshot_id):
            return snapshot
    return None


def check_listed(journey: Journey) -> dict:
    taken = journey.snapshot("it can be found in the list")
    snapshot = find(journey, taken.id)
    if snapshot is None:
        raise AssertionError(f"snapshot {taken.id} is not in the snapshot list")
    if journey.run.config.run_label not in (snapshot.get("tags") or []):
        raise AssertionError(f"snapshot {taken.id} lacks the run's label tag (tags: {snapshot.get('tags')})")
    return snapshot


def restore_on_new_instance(journey: Journey) -> None:
    """Rent a new machine like the first, restore the snapshot onto it, and check the model.

    The ``restore`` phase (``time_to_restore``) runs from when the new machine
    was made (within its create request) until the model is verified on it.
    """
    run = journey.run
    taken = journey.snapshot("it restores one")
    machine = instances.create(journey)
    instances.wait_running(journey, phase="restore_running")
    instances.connect(journey)
    # The API is asked first whether the target runs: after a create the real server answers nothing for
    # minutes, and SSH may answer before it does. The restore is then timed from a server that answers,
    # not from the end of that stall.
    machine.view = instances.look(run, machine) or machine.view
    with journey.phase("restore_apply"), run.progress.waiting("restore", run.timeouts.restore):
        body = run.client.restore_snapshot(taken.id, machine.id, timeout=run.clock.wall(run.timeouts.restore))
    journey.metrics.extra["files_restored"] = body.get("files_restored")
    if body.get("errors"):
        raise AssertionError(f"restore of {taken.id} reported errors: {body['errors']}")
    try:
        models.verify(journey)
    except AssertionError as missing:
        # The real server answers success whatever restic did (docs/dumont-api.md, "Past SSH"): only the
        # data on the machine tells, and the report says what the server claimed beside what was found.
        raise AssertionError(f"the server answered the restore of {taken.id} with {claimed(body)}, "
                             f"but {missing}") from None
    journey.record("restore", machine.made, machine.made.since_now())


def claimed(body: dict) -> str:
    """What a restore's answer claimed, in a few words: ``success (files_restored 0)``."""
    outcome = "success" if body.get("success") else f"success={body.get('success')!r}"
    return f"{outcome} (files_restored {body.get('files_restored', '?')})"


def check_reported(journey: Journey) -> None:
    """Restore time, snapshot size and throughput are in the metrics."""
    metrics = journey.metrics
    size = metrics.extra.get("snapshot_bytes") or 0
    snapshot_seconds = metrics.time_to_snapshot
    if not (metrics.time_to_restore > 0 and size > 0 and snapshot_seconds > 0):
        raise AssertionError(f"missing restore metrics: restore {metrics.time_to_restore} s, "
                             f"snapshot {size} bytes in {snapshot_seconds} s")
    metrics.extra["snapshot_throughput_bytes_per_s"] = round(size / snapshot_seconds, 1)
