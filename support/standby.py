"""The failover journey's operations: CPU standby, failure, failover, failback, and their times.

Times of the journey (all measured by the suite):

* ``failure``  — from the pause request until the GPU is seen stopped (that moment is "the failure");
* ``detect``   — failure → the association is seen in ``failover_active`` (the switch itself);
* ``standby_verify`` — connecting to the standby and re-hashing the data set there;
* ``failover`` — failure → the standby answers SSH with the data set verified (``time_to_failover``);
* ``failback`` — failback request → a GPU answers SSH with the data set verified;
* ``recovery`` — failure → back on a GPU, verified: the total recovery time.
"""

from __future__ import annotations

import time

from support import dataset, instances, models
from support.backoff import ApiError
from support.journey import Journey, PhaseStart
from support.ssh import wait_for_ssh
from support.waits import wait_for

API = "/api/v1"
STUB_MESSAGE = ("the real server's POST /instances/{{id}}/{route} is still a stub (it answers "
                "'initiated' and does nothing), so this journey cannot prove {what} there; "
                "run it against the sandbox or a server that implements the route")


def association(journey: Journey, gpu_id=None) -> dict | None:
    gpu_id = gpu_id or journey.instance["id"]
    try:
        return journey.run.client.get(f"{API}/standby/associations/{gpu_id}")
    except ApiError as error:
        if error.status == 404:
            return None
        raise


def describe(assoc: dict | None) -> str:
    if assoc is None:
        return "no standby association (404)"
    return f"state={assoc.get('state')!r}, sync_count={assoc.get('sync_count')}"


def configure(journey: Journey, auto_failover: bool, auto_recovery: bool = False) -> dict:
    """Turn CPU standby on for the account; the previous settings come back at cleanup."""
    client = journey.run.client
    previous = client.get(f"{API}/standby/status").get("config") or {"enabled": False}
    body = client.post(f"{API}/standby/configure", idempotent=True,
                       json={"enabled": True, "auto_failover": auto_failover, "auto_recovery": auto_recovery,
                             "sync_interval": journey.run.config.standby_sync_interval,
                             "gcp_machine_type": "e2-medium", "gcp_spot": False})
    journey.cleanup.defer("restore the account's standby settings",
                          lambda: client.post(f"{API}/standby/configure", json=previous, idempotent=True))
    journey.metrics.extra["standby_config"] = body.get("config")
    return body


def create_with_standby(journey: Journey) -> dict:
    """Create the GPU instance with its CPU standby; both are tracked for cleanup."""
    run = journey.run
    standby_label = journey.resource_label()
    run.ledger.intent("standby", standby_label, journey.metrics.test_name)
    instance = instances.create(journey, skip_standby=False)
    gpu_id = instance["id"]
    run.ledger.created("standby", standby_label, gpu_id, journey.metrics.test_name)
    journey.cleanup.track("standby", standby_label, gpu_id,
                          delete=lambda: run.client.delete(f"{API}/standby/associations/{gpu_id}",
                                                           params={"keep_gpu": "true"}),
                          is_gone=lambda: association(journey, gpu_id) is None,
                          description=f"CPU standby of instance {gpu_id}")
    journey.standby_label = standby_label
    return instance


def wait_syncing(journey: Journey) -> dict:
    """The standby exists and syncs; its machine starts being metered."""
    run = journey.run
    waited = wait_for("standby", lambda: association(journey),
                      until=lambda a: a is not None and a.get("state") == "syncing",
                      fail_if=lambda a: f"standby in state {a['state']}" if a and a.get("state") == "error" else None,
                      describe=describe, timeout=run.timeouts.failover, polling=run.polling,
                      started_at=journey.created_start.mono)
    journey.record("standby_ready", journey.created_start, waited.seconds)
    assoc = waited.value
    journey.standby = assoc
    standby = assoc.get("cpu_standby") or {}
    price = (journey.instance.get("cpu_standby") or {}).get("dph_total") or standby.get("dph_total") or 0.0
    journey.machine_started({"id": journey.instance["id"], "gpu_name": "CPU standby", "dph_total": price},
                            "standby", journey.created_start.epoch)
    return assoc


def sync_count(journey: Journey) -> int:
    status = journey.run.client.get(f"{API}/instances/{journey.instance['id']}/sync/status")
    return int(status.get("sync_count") or 0)


def wait_for_sync_after_writes(journey: Journey) -> None:
    """Wait for a sync that *started* after the last write: two completions past the count seen then."""
    run = journey.run
    target = journey.sync_count_after_writes + 2
    limit = 3 * run.config.standby_sync_interval / run.time_scale + run.timeouts.failover / 10
    wait_for("sync", lambda: sync_count(journey), until=lambda n: n >= target, timeout=limit,
             polling=run.polling, describe=lambda n: f"sync_count={n}, waiting for {target}")


def connect_standby(journey: Journey, since: PhaseStart):
    assoc = association(journey) or journey.standby
    standby = assoc.get("cpu_standby") or {}
    run = journey.run
    session, _ = wait_for_ssh(standby.get("ip") or "127.0.0.1", int(standby.get("ssh_port") or 22),
                              run.config.ssh_user, run.key, timeout=run.timeouts.failover,
                              polling=run.polling, started_at=since.mono, phase="standby ssh")
    return session


def write_data(journey: Journey, files: int, size_bytes: int) -> None:
    run = journey.run
    with journey.phase("write_dataset", detail=f"{files} × {size_bytes} B"):
        journey.written = dataset.write_dataset(journey.session, files, size_bytes, run.timeouts.model_install)
    journey.sync_count_after_writes = sync_count(journey)


def check_dataset_on_standby(journey: Journey) -> None:
    wait_for_sync_after_writes(journey)
    session = connect_standby(journey, PhaseStart.now())
    try:
        dataset.verify(journey.written, dataset.read_all(session, journey.run.timeouts.ssh), "the standby")
    finally:
        session.close()


def write_canaries_then_fail(journey: Journey, after_sync: int = 3, size_bytes: int = 4096) -> None:
    """Write canaries until a sync has completed since the first one, and a few more after it;
    then fail the GPU (pause) and wait until it is seen stopped.

    Canaries on both sides of a sync bracket the moment the standby's copy was taken (see
    :func:`support.dataset.measure_loss`); how many are written depends only on when the sync comes.
    If no sync comes within two intervals, the GPU fails anyway: the data loss then shows it.
    """
    run = journey.run
    first_count = sync_count(journey)
    limit = 2 * run.config.standby_sync_interval / run.time_scale
    started = time.monotonic()
    index = 0
    while sync_count(journey) == first_count:
        if time.monotonic() - started > limit:
            journey.metrics.extra["canary_note"] = (f"no sync completed in {limit:.1f} s of canary writes "
                                                    f"(sync_count stayed at {first_count})")
            break
        dataset.write_canary(journey.session, journey.written, index, size_bytes, run.timeouts.ssh)
        index += 1
    for extra in range(after_sync):
        dataset.write_canary(journey.session, journey.written, index + extra, size_bytes, run.timeouts.ssh)
    instances.request_pause(journey)
    instances.wait_stopped(journey, phase="failure")
    seconds = journey.metrics.phase_seconds("failure")[-1]
    journey.failed_at = journey.pause_start.epoch + seconds
    journey.failure_start = PhaseStart(journey.pause_start.mono + seconds, journey.failed_at)


def request_failover(journey: Journey) -> None:
    """The scenario asks for failover explicitly (the route is a stub on the real server)."""
    if not journey.run.target.is_sandbox:
        raise AssertionError(STUB_MESSAGE.format(route="failover", what="an explicit failover"))
    journey.run.client.post(f"{API}/instances/{journey.instance['id']}/failover",
                            json={"reason": "acceptance test", "strategy": "cpu_standby"})


def wait_failover(journey: Journey) -> None:
    """Standby serving: association failover_active, then SSH with the model and data verified."""
    run = journey.run
    since = journey.failure_start
    waited = wait_for("failover", lambda: association(journey),
                      until=lambda a: a is not None and a.get("state") == "failover_active",
                      describe=describe, timeout=run.timeouts.failover, polling=run.polling, started_at=since.mono)
    journey.record("detect", since, waited.seconds)
    with journey.phase("standby_verify"):
        session = connect_standby(journey, since)
        try:
            found = dataset.read_all(session, run.timeouts.ssh)
            dataset.verify(journey.written, found, "the standby after failover")
            # Read now, checked by the next step: one short connection to the standby.
            journey.standby_model = models.read_hashes(session, journey.model_name, run.timeouts.ssh)
        finally:
            session.close()
    journey.standby_found = found
    journey.record("failover", since, time.monotonic() - since.mono)


def check_model_on_standby(journey: Journey) -> None:
    problems = models.compare(journey.model_manifest, journey.standby_model)
    if problems:
        raise AssertionError(f"model {journey.model_name} not intact on the standby: " + "; ".join(problems))


def report_data_loss(journey: Journey) -> dataset.DataLoss:
    loss = dataset.measure_loss(journey.written, journey.standby_found, journey.failed_at)
    extra = journey.metrics.extra
    extra["rpo_bytes"] = loss.lost_bytes
    extra["rpo_seconds"] = None if loss.rpo_seconds is None else round(loss.rpo_seconds, 3)
    extra["rpo_seconds_range"] = (None if loss.rpo_seconds is None
                                  else [round(loss.rpo_seconds_min, 3), round(loss.rpo_seconds_max, 3)])
    extra["rpo_lost_files"] = loss.lost_files
    return loss


def check_rpo_within(journey: Journey, seconds: float) -> None:
    loss = report_data_loss(journey)
    if loss.rpo_seconds is not None and loss.rpo_seconds * journey.run.time_scale > seconds:
        raise AssertionError(f"data loss window {loss.rpo_seconds * journey.run.time_scale:.1f} s "
                             f"(real time) exceeds the acceptable {seconds:.0f} s; lost {loss.lost_bytes} bytes")


def fail_back(journey: Journey) -> None:
    """Ask for failback and wait for a GPU serving with the data set verified."""
    run = journey.run
    if not run.target.is_sandbox:
        raise AssertionError(STUB_MESSAGE.format(route="failback", what="failback"))
    start = PhaseStart.now()
    journey.failback_start = start
    run.client.post(f"{API}/instances/{journey.instance['id']}/failback", json={})
    waited = wait_for("failback", lambda: association(journey),
                      until=lambda a: a is not None and a.get("state") == "syncing",
                      describe=describe, timeout=run.timeouts.failover, polling=run.polling, started_at=start.mono)
    assoc = waited.value
    new_id = assoc.get("new_gpu_instance_id")
    if new_id and str(new_id) != str(journey.instance["id"]):
        _adopt_new_gpu(journey, new_id, start)
    journey.instance = run.client.get_instance(journey.instance["id"])
    journey.boot_start = start
    instances.connect(journey)
    dataset.verify(journey.written, dataset.read_all(journey.session, run.timeouts.ssh), "the GPU after failback")
    journey.record("failback", start, time.monotonic() - start.mono)
    journey.record("recovery", journey.failure_start, time.monotonic() - journey.failure_start.mono)


def check_dataset_on_gpu(journey: Journey) -> None:
    found = dataset.read_all(journey.session, journey.run.timeouts.ssh)
    dataset.verify(journey.written, found, f"GPU instance {journey.instance['id']}")


def _adopt_new_gpu(journey: Journey, new_id, since: PhaseStart) -> None:
    """Failback made a new GPU: track it for cleanup and metering like any created instance."""
    run = journey.run
    label = journey.resource_label()
    run.ledger.created("instance", label, new_id, journey.metrics.test_name)
    instance = run.client.get_instance(new_id) or {"id": new_id}
    journey.cleanup.track("instance", label, new_id, *instances.delete_and_check(run.client, new_id),
                          description=f"failback instance {new_id}")
    journey.machine_started({**(journey.offer or {}), **instance}, "instance", since.epoch)
    journey.instance = instance


def check_recovery_reported(journey: Journey) -> None:
    needed = ("failure", "detect", "failover", "failback", "recovery")
    have = {p.name for p in journey.metrics.phases}
    missing = [n for n in needed if n not in have]
    if missing:
        raise AssertionError(f"recovery phases without a time: {', '.join(missing)}")
    journey.metrics.extra["recovery_seconds"] = journey.metrics.phase_seconds("recovery")[0]
