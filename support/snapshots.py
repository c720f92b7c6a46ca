"""Snapshots of an instance's workspace: taken synchronously, tagged with the run's label, cleaned up."""

from __future__ import annotations

from support.journey import Journey


def take(journey: Journey) -> str:
    """Snapshot the current instance; the snapshot is tracked for deletion before this returns."""
    run = journey.run
    label = journey.resource_label()
    run.ledger.intent("snapshot", label, journey.metrics.test_name)
    tags = [run.config.run_label, label]
    # The server answers when the archive is done: the read timeout is the snapshot's time limit.
    with journey.phase("snapshot") as start:
        body = run.client.create_snapshot(journey.instance["id"], tags=tags, timeout=run.timeouts.snapshot)
    snapshot_id = body["snapshot_id"]
    run.ledger.created("snapshot", label, snapshot_id, journey.metrics.test_name,
                       bytes=body.get("data_added") or body.get("total_bytes_processed"))
    journey.cleanup.track("snapshot", label, snapshot_id,
                          delete=lambda: run.client.delete_snapshot(snapshot_id),
                          is_gone=lambda: find(journey, snapshot_id) is None,
                          description=f"snapshot {snapshot_id[:8]}")
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

