"""Snapshots of an instance's workspace: taken synchronously, tagged with the run's label, cleaned up."""

from __future__ import annotations

import time

from support import instances, models
from support.backoff import ApiError
from support.journey import Journey, PhaseStart


def take(journey: Journey) -> str:
    """Snapshot the current instance; the snapshot is tracked for deletion before this returns."""
    run = journey.run
    label = journey.resource_label()
    run.ledger.intent("snapshot", label, journey.metrics.test_name)
    tags = [run.config.run_label, label]
    # The create is synchronous and may finish on the server after we stopped waiting for it.
    pending = journey.cleanup.track_by_label(
        "snapshot", label, find=lambda: [s["id"] for s in run.client.list_snapshots() if label in (s.get("tags") or [])],
        delete_one=run.client.delete_snapshot, settle=run.timeouts.snapshot, description=f"snapshot labelled {label}")
    try:
        # The server answers when the archive is done: the read timeout is the snapshot's time limit.
        with journey.phase("snapshot") as start:
            body = run.client.create_snapshot(journey.instance["id"], tags=tags, timeout=run.timeouts.snapshot)
    except ApiError:
        journey.cleanup.refused(pending)
        raise
    snapshot_id = body["snapshot_id"]
    run.ledger.created("snapshot", label, snapshot_id, journey.metrics.test_name,
                       bytes=body.get("data_added") or body.get("total_bytes_processed"))
    pending.created(snapshot_id, delete=lambda: run.client.delete_snapshot(snapshot_id),
                    is_gone=lambda: find(journey, snapshot_id) is None, description=f"snapshot {snapshot_id[:8]}")
    journey.snapshot_id = snapshot_id
    journey.metrics.extra["snapshot_bytes"] = body.get("total_bytes_processed") or body.get("data_added")
    journey.metrics.extra["snapshot_started_at"] = start.epoch
    return snapshot_id


def find(journey: Journey, snapshot_id: str) -> dict | None:
    """The snapshot as listed (there is no GET by id), or None."""
    for snapshot in journey.run.client.list_snapshots():
        if snapshot.get("id") == snapshot_id or snapshot.get("short_id") == snapshot_id[:8]:
            return snapshot
    return None


def check_listed(journey: Journey) -> dict:
    snapshot = find(journey, journey.snapshot_id)
    if snapshot is None:
        raise AssertionError(f"snapshot {journey.snapshot_id} is not in the snapshot list")
    if journey.run.config.run_label not in (snapshot.get("tags") or []):
        raise AssertionError(f"snapshot {journey.snapshot_id} lacks the run's label tag "
                             f"(tags: {snapshot.get('tags')})")
    return snapshot



def restore_on_new_instance(journey: Journey) -> None:
    """Rent a new machine like the first, restore the snapshot onto it, and check the model.

    The ``restore`` phase (``time_to_restore``) runs from the new machine's
    create request until the model is verified on it.
    """
    run = journey.run
    start = PhaseStart.now()
    instances.create(journey)
    instances.wait_running(journey, phase="restore_running")
    instances.connect(journey)
    with journey.phase("restore_apply"):
        body = run.client.restore_snapshot(journey.snapshot_id, journey.instance["id"],
                                           timeout=run.timeouts.restore)
    if body.get("errors"):
        raise AssertionError(f"restore of {journey.snapshot_id} reported errors: {body['errors']}")
    models.verify(journey)
    journey.record("restore", start, time.monotonic() - start.mono)
    journey.metrics.extra["files_restored"] = body.get("files_restored")


def check_reported(journey: Journey) -> None:
    """Restore time, snapshot size and throughput are in the metrics."""
    metrics = journey.metrics
    size = metrics.extra.get("snapshot_bytes") or 0
    snapshot_seconds = metrics.time_to_snapshot
    if not (metrics.time_to_restore > 0 and size > 0 and snapshot_seconds > 0):
        raise AssertionError(f"missing restore metrics: restore {metrics.time_to_restore} s, "
                             f"snapshot {size} bytes in {snapshot_seconds} s")
    metrics.extra["snapshot_throughput_bytes_per_s"] = round(size / snapshot_seconds, 1)
