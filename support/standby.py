"""The failover journey's operations: CPU standby, failure, failover, failback, and their times.

Times of the journey (all measured by the suite):

* ``failure``  — from the pause request until the GPU is seen stopped (that moment is "the failure");
* ``detect``   — failure → the association is seen in ``failover_active`` (the switch itself);
* ``standby_verify`` — re-hashing the data set and the model on the standby, over the SSH connection
  opened for the data set check before the failure (a new one if it did not survive the failover);
* ``failover`` — failure → the standby answers over SSH with the data set verified (``time_to_failover``);
* ``failback`` — failback request → a GPU answers SSH with the data set verified;
* ``recovery`` — failure → back on a GPU, verified: the total recovery time.

The standby's sync progress is the association's ``sync_count`` (``/instances/{id}/sync/status``
reports the backup service on the real server, not the standby), and its price comes from the
instance list (GET of one instance has no ``cpu_standby`` there).
"""

from __future__ import annotations

import time

import paramiko

from support import dataset, instances, models
from support.clock import Moment, Span
from support.journey import Journey, Machine, StandbyRun
from support.models import WORKSPACE
from support.resources import INSTANCE, STANDBY
from support.ssh import wait_for_ssh
from support.timings import Expected
from support.waits import NotYet, Polling, Watch, first_done, wait_for

#: While canaries are written, the sync count is looked at every this share of the sync interval.
CANARY_LOOKS = 0.025
STUB_MESSAGE = ("the real server's POST /instances/{{id}}/{route} is still a stub (it answers "
                "'initiated' and does nothing), so this journey cannot prove {what} there; "
                "run it against the sandbox or a server that implements the route")


def describe(assoc: dict | None) -> str:
    if assoc is None:
        return "no standby association (404)"
    return f"state={assoc.get('state')!r}, sync_count={assoc.get('sync_count')}"


def configure(journey: Journey, auto_failover: bool, auto_recovery: bool = False) -> dict:
    """Turn CPU standby on for the account; the previous settings come back at cleanup.

    The status ``config`` has no ``enabled`` field and ``configure`` defaults it to true, so the
    restore sends ``enabled`` explicitly, as the status's ``auto_standby_enabled`` had it.
    """
    if not journey.run.target.is_sandbox:
        # Every failover journey ends with a failback (and one asks for the failover): stubs on the real server,
        # so it cannot pass there. Said now, before the account's settings change and anything is rented.
        raise AssertionError(STUB_MESSAGE.format(route="failback", what="a failover and its failback"))
    client = journey.run.client
    status = client.standby_status()
    previous = {**(status.get("config") or {}), "enabled": bool(status.get("auto_standby_enabled"))}
    body = client.configure_standby({"enabled": True, "auto_failover": auto_failover,
                                     "auto_recovery": auto_recovery,
                                     "sync_interval": journey.run.config.standby_sync_interval,
                                     "gcp_machine_type": "e2-medium", "gcp_spot": False})
    journey.cleanup.defer("restore the account's standby settings", lambda: client.configure_standby(previous))
    journey.metrics.extra["standby_config"] = body.get("config")
    return body


def create_with_standby(journey: Journey) -> Machine:
    """Create the GPU instance with its CPU standby; both are tracked for cleanup before the request."""
    label = journey.resource_label()
    pending = journey.cleanup.expect(STANDBY, label, f"CPU standby labelled {label}", settle=0.0)
    machine = instances.create(journey, skip_standby=False)
    # Its GPU's delete (destroy_standby) takes it too: cleanup deletes the GPU first, then proves the standby gone.
    resource = journey.cleanup.identified(pending, machine.resource.id, f"CPU standby of instance {machine.id}")
    standby = StandbyRun(resource)
    journey.paired(standby)
    # Watched from now, while the GPU boots, rather than only once it runs.
    standby.watch = Watch.start("standby", lambda: association(journey), **_until_syncing(journey, machine))
    return machine


def syncing(assoc: dict | None) -> bool:
    """The pair is up and syncing (after the standby's creation, and again after a failback)."""
    return assoc is not None and assoc.get("state") == "syncing"


def association(journey: Journey) -> dict | None:
    return journey.run.client.find_association(journey.machine("it reads its standby").id)


def _until_syncing(journey: Journey, machine: Machine) -> dict:
    """How the standby is waited for until it syncs (in the background from the create, or in the step)."""
    run = journey.run
    return dict(until=syncing,
                fail_if=lambda a: f"standby in state {a['state']}" if a and a.get("state") == "error" else None,
                describe=describe, limit=run.timeouts.failover, clock=run.clock, polling=run.polling,
                since=machine.made, expected=journey.expected("standby_ready"))


def wait_syncing(journey: Journey) -> dict:
    """The standby exists and syncs; its machine starts being metered."""
    run = journey.run
    machine = journey.machine("its standby can sync")
    standby = journey.standby("it waits for the standby to sync")
    watch, standby.watch = standby.watch, None
    if watch is not None:
        # Its looks were planned while the GPU booted, sparse where history does not expect the standby:
        # the journey needs it now, so it is looked at now.
        watch.look_now()
        with run.progress.waiting("standby", run.timeouts.failover, machine.made.earliest, follow={"API": watch}):
            waited = watch.result()
    else:
        waited = wait_for("standby", lambda: association(journey), progress=run.progress,
                          **_until_syncing(journey, machine))
    journey.record("standby_ready", machine.made, waited.span)
    standby.association = waited.value
    journey.machine_started(standby.resource, {"gpu_name": "CPU standby", "dph_total": standby_price(journey)},
                            machine.made)
    return waited.value


def standby_price(journey: Journey) -> float:
    """The standby's price per hour, as the instance list tells it (GET of one instance does not)."""
    machine = journey.machine("its standby is priced")
    listed = [i for i in journey.run.client.list_instances() if str(i.get("id")) == machine.resource.id]
    cpu = (listed[0].get("cpu_standby") if listed else None) or {}
    assoc = journey.standby("it is priced").association.get("cpu_standby") or {}
    return float(cpu.get("dph_total") or assoc.get("dph_total") or 0.0)


def sync_count(journey: Journey) -> int:
    """Completed syncs of the GPU to its standby, as the association counts them."""
    assoc = association(journey)
    return int((assoc or {}).get("sync_count") or 0)


def connect_standby(journey: Journey, since: Moment, assoc: dict | None = None):
    """The SSH session to the standby where the association says it is; the one kept open is used again
    when it still goes there (a failover does not move the standby: its SSH answered all along)."""
    run = journey.run
    standby = journey.standby("it connects to it")
    assoc = assoc or association(journey) or standby.association
    cpu = assoc.get("cpu_standby") or {}
    address = (cpu.get("ip") or "127.0.0.1", int(cpu.get("ssh_port") or 22))
    if standby.session is not None and standby.session_address == address and standby.session.is_active():
        return standby.session
    standby.close_session()
    standby.session, _ = wait_for_ssh(*address, run.config.ssh_user, run.key, limit=run.timeouts.failover,
                                      clock=run.clock, polling=run.polling, since=since, phase="standby ssh",
                                      progress=run.progress)
    standby.session_address = address
    return standby.session


def write_data(journey: Journey, files: int, size_bytes: int) -> None:
    run = journey.run
    standby = journey.standby("it writes the data set")
    session = instances.session(journey, "it writes the data set")
    with journey.phase("write_dataset", detail=f"{files} × {size_bytes} B"):
        standby.written = dataset.write_dataset(session, files, size_bytes, run.clock.wall(run.timeouts.model_install))


def check_dataset_on_standby(journey: Journey) -> None:
    """The data set is on the standby, intact, once a sync has carried it there.

    The standby itself is watched, over the SSH connection kept for the look after the failover: a look
    there is not an API call, and the data set found intact by its hashes is the proof that a sync carried
    it, whichever sync that was (the one under way as the writes ended may already have). The real server
    does not say whether one was under way; the standby does. A cheap look (names and sizes) comes first;
    the files are hashed once they are all there. The sync count is not asked for meanwhile.
    """
    run = journey.run
    standby = journey.standby("it checks the data set there")
    # The session stays open for the look after the failover (closed then, or at cleanup). Where the standby
    # is, the association said when it began to sync (no failover since: it has not moved).
    session = connect_standby(journey, Moment.now(), standby.association)
    expected = _sizes_listing(standby.written)
    timeout = _ssh_wall(journey)

    def look() -> dict[str, str]:
        if {line for line in session.run(SIZES, timeout=timeout).stdout.splitlines() if line} != expected:
            raise NotYet("the data set is not on the standby yet")
        found = dataset.read_all(session, timeout)
        if not dataset.intact(standby.written, found):
            raise NotYet("the data set is on the standby, not intact yet")
        return found

    started = Moment.now()
    waited = wait_for("sync", look, until=lambda found: True, limit=_sync_limit(journey), clock=run.clock,
                      polling=Polling.every(run.polling.shortest), since=started,
                      expected=journey.expected("data set on standby"), progress=run.progress)
    journey.remember("data set on standby", waited.span)
    dataset.verify(standby.written, waited.value, "the standby")


#: Every data set file's name and size, one per line: what a sync must have carried to the standby.
SIZES = f"{WORKSPACE}; cd \"$WS\" && find dataset -type f -printf '%p %s\\n' 2>/dev/null"


def _sizes_listing(written: dataset.Written) -> set[str]:
    """The lines :data:`SIZES` prints once the whole data set is on a machine (canaries left out)."""
    return {f"{path} {written.sizes[path]}" for path in written.hashes if path.startswith("dataset/")}


def _sync_limit(journey: Journey) -> float:
    """How long a sync may take to carry the writes (real seconds): two sync intervals and one more for the
    copy, and a tenth of the failover limit for a slow server."""
    return 3 * sync_interval(journey) + journey.run.timeouts.failover / 10


def sync_interval(journey: Journey) -> float:
    """Seconds between two syncs, as the server said it configured them (its answer to the configure), else
    as the suite asked (DUMONT_STANDBY_SYNC_INTERVAL): a server may keep another interval than the one asked."""
    told = (journey.metrics.extra.get("standby_config") or {}).get("sync_interval")
    try:
        return float(told) if told and float(told) > 0 else journey.run.config.standby_sync_interval
    except (TypeError, ValueError):
        return journey.run.config.standby_sync_interval


def write_canaries_then_fail(journey: Journey, after_sync: int = 1, size_bytes: int = 4096) -> None:
    """Write canaries until a sync has completed since the first one, and one more after it (surely
    after that sync's copy, so that the loss is never empty); then fail the GPU (pause) and wait until
    it is seen stopped.

    Canaries on both sides of a sync bracket the moment the standby's copy was taken (see
    :func:`support.dataset.measure_loss`); how many are written depends only on when the sync comes.
    If no sync comes within two intervals, the GPU fails anyway: the data loss then shows it.
    """
    run = journey.run
    standby = journey.standby("it writes canaries")
    session = instances.session(journey, "it writes canaries")
    first_count = sync_count(journey)
    interval = sync_interval(journey)
    limit = run.clock.wall(2 * interval)
    # Canaries are written back to back; the sync count is asked for only now and then (a canary is an SSH
    # command, a look at the count an API call): a few looks on the way to where earlier runs saw the next
    # sync complete, then every CANARY_LOOKS of the sync interval.
    look_every = max(run.polling.shortest, CANARY_LOOKS * interval)
    expected = journey.expected("canary sync")
    started = next_look = time.monotonic()
    index = 0
    while True:
        now = time.monotonic()
        if now >= next_look:
            if sync_count(journey) != first_count:
                journey.remember("canary sync", Span(now - started))
                break
            next_look = now + run.clock.wall(_next_canary_look(run.clock.real(now - started), look_every, expected))
        if now - started > limit:
            journey.metrics.extra["canary_note"] = (f"no sync completed in {limit:.1f} s of canary writes "
                                                    f"(sync_count stayed at {first_count})")
            break
        dataset.write_canary(session, standby.written, index, size_bytes, _ssh_wall(journey))
        index += 1
    for extra in range(after_sync):
        dataset.write_canary(session, standby.written, index + extra, size_bytes, _ssh_wall(journey))
    instances.request_pause(journey)
    standby.failure = instances.wait_stopped(journey, phase="failure").event


def _next_canary_look(waited: float, look_every: float, expected: Expected | None) -> float:
    """Real seconds until the next look at the sync count, ``waited`` real seconds into the canary writes."""
    if expected is None or waited >= expected.low:
        return look_every
    return max(look_every, min(Polling().approach * expected.low, expected.low - waited))


def request_failover(journey: Journey) -> None:
    """The scenario asks for failover explicitly (the route is a stub on the real server)."""
    if not journey.run.target.is_sandbox:
        raise AssertionError(STUB_MESSAGE.format(route="failover", what="an explicit failover"))
    journey.run.client.fail_over(journey.machine("it asks for a failover").id, "acceptance test")
    journey.standby("it asks for a failover").failover_requested = True


def wait_failover(journey: Journey) -> None:
    """Standby serving: association failover_active, then SSH with the model and data verified."""
    run = journey.run
    standby = journey.standby("it waits for the failover")
    since = standby.failure
    # A switch on request takes seconds, one the server decides on takes its health checks: two histories.
    history = "detect on request" if standby.failover_requested else "detect automatic"
    waited = wait_for("failover", lambda: association(journey),
                      until=lambda a: a is not None and a.get("state") == "failover_active",
                      describe=describe, limit=run.timeouts.failover, clock=run.clock, polling=run.polling,
                      since=since, expected=journey.expected(history), progress=run.progress)
    journey.record("detect", since, waited.span, history=history)
    model = journey.model("the standby's copy of it can be checked")
    with journey.phase("standby_verify"):
        try:
            # The model is read now too and checked by the next step: one command on the standby.
            found, standby.model_found = _read_standby(journey, since, waited.value, model.name)
        finally:
            standby.close_session()
        dataset.verify(standby.written, found, "the standby after failover")
    standby.data_found = found
    journey.record("failover", since, since.since_now())


def _read_standby(journey: Journey, since: Moment, assoc: dict, model: str) -> tuple[dict, dict]:
    """The data set's and the model's hashes on the standby, through the connection kept from before the
    failure, or a new one when that one did not survive it."""
    timeout = _ssh_wall(journey)
    try:
        return _data_and_model(connect_standby(journey, since, assoc), model, timeout)
    except (paramiko.SSHException, EOFError, OSError):
        journey.standby("it reads the standby").close_session()
        return _data_and_model(connect_standby(journey, since, assoc), model, timeout)


def _data_and_model(session, model: str, timeout: float) -> tuple[dict[str, str], dict[str, str]]:
    """The data set's hashes and the model's, as found on the machine behind ``session`` (one command)."""
    listings = f"{dataset.LISTING}; echo {models.HASHES_MARK}; {models.hash_listing_command(models.model_dir(model))}"
    data, _, model_files = session.run(listings, timeout=timeout).stdout.partition(models.HASHES_MARK)
    return models.parse_listing(data), models.parse_listing(model_files)


def check_model_on_standby(journey: Journey) -> None:
    model = journey.model("its copy on the standby can be checked")
    problems = models.compare(model.manifest, journey.standby("its model is checked").model_found)
    if problems:
        raise AssertionError(f"model {model.name} not intact on the standby: " + "; ".join(problems))


def report_data_loss(journey: Journey) -> dataset.DataLoss:
    standby = journey.standby("its data loss is measured")
    # The whole bracket of the failure, not its middle: the GPU stopped somewhere within it, and the window
    # must hold whichever moment that was (the middle missed the truth by up to half the last poll's span).
    loss = dataset.measure_loss(standby.written, standby.data_found, standby.failure)
    extra = journey.metrics.extra
    extra["rpo_bytes"] = loss.lost_bytes
    extra["rpo_seconds"] = None if loss.rpo_seconds is None else round(loss.rpo_seconds, 3)
    extra["rpo_seconds_range"] = loss.rounded_range(3)
    extra["rpo_lost_files"] = loss.lost_files
    return loss


def check_rpo_within(journey: Journey, seconds: float) -> None:
    loss = report_data_loss(journey)
    real = None if loss.rpo_seconds is None else journey.run.clock.real(loss.rpo_seconds)
    if real is not None and real > seconds:
        raise AssertionError(f"data loss window {real:.1f} s (real time) exceeds the acceptable "
                             f"{seconds:.0f} s; lost {loss.lost_bytes} bytes")


def fail_back(journey: Journey) -> None:
    """Ask for failback and wait for a GPU serving with the data set verified."""
    run = journey.run
    if not run.target.is_sandbox:
        raise AssertionError(STUB_MESSAGE.format(route="failback", what="failback"))
    machine = journey.machine("it fails back")
    standby = journey.standby("it fails back")
    sent = time.monotonic()
    run.client.fail_back(machine.id)
    start = Moment.during(sent, time.monotonic())
    machine.boot, machine.booted_by, machine.running = start, "failback", None
    if (machine.view or {}).get("actual_status") == "stopped":
        # A paused GPU is resumed by the failback (one that stopped for good is replaced): it bills the GPU's
        # price from some moment after the request on, even if an interrupt ends the wait below.
        journey.machine_expected(machine.resource, "running", start)
    # The GPU's SSH is watched while the pair syncs back, so that its answering is timed as it happens.
    instances.watch_ssh(journey, machine)
    waited = _until_synced_back(journey, machine, start)
    journey.remember("failback syncing", waited.span)
    new_id = waited.value.get("new_gpu_instance_id")
    if new_id and str(new_id) != machine.resource.id:
        machine.stop_watching_ssh()
        journey.machine_expected(machine.resource, None, start)     # replaced, not resumed
        machine = _adopt_new_gpu(journey, machine, new_id, start)
    else:
        # The paused GPU was resumed at some moment of the failback: it bills the GPU's price from then on
        # (support.costs), a moment known only to lie between the request and now.
        journey.machine_state(machine.resource, "running", Moment(start.earliest, time.monotonic()))
    machine.view = instances.look(run, machine) or machine.view
    instances.follow_ssh(journey, machine)
    instances.connect(journey)
    # Read once: verified here (the failback ends with the data set verified) and checked further by the next step.
    standby.back_found = dataset.read_all(machine.session, _ssh_wall(journey))
    dataset.verify(standby.written, standby.back_found, "the GPU after failback")
    journey.record("failback", start, start.since_now())
    journey.record("recovery", standby.failure, standby.failure.since_now())


def _until_synced_back(journey: Journey, machine: Machine, start: Moment):
    """Wait for the pair to sync again after a failback request.

    The GPU's SSH is watched (a look at it is not an API call): while it does not answer, the association
    is looked at only sparsely (a failback that made a new GPU, or one that failed, is still seen); once it
    answers, the GPU is back, and the association is looked at at once and then as often as any wait.
    """
    run = journey.run
    expected = journey.expected("failback syncing")
    with run.progress.waiting("failback", run.timeouts.failover, start.earliest):
        def look_and_show():
            assoc = association(journey)
            run.progress.seen((assoc.get("state") or "no state") if assoc else "no standby association", "API")
            return assoc

        pair = dict(until=syncing, describe=describe, limit=run.timeouts.failover, clock=run.clock, since=start,
                    expected=expected)
        if machine.ssh_watch is None:
            return wait_for("failback", look_and_show, polling=run.polling, **pair)
        sparse = Watch.start("failback", look_and_show, polling=_sparse(run), **pair)
        try:
            if first_done(sparse, machine.ssh_watch) is sparse:
                return sparse.result()
        finally:
            sparse.stop(wait=False)
        return wait_for("failback", look_and_show, polling=run.polling, **pair)


def _sparse(run) -> Polling:
    """While the GPU's SSH is expected to tell first, the API is looked at as seldom as while SSH is awaited
    after a boot (support.instances.EXIT_LOOKS): a failback that failed, or that made a new GPU (whose SSH
    the watch on the old one never sees), is still seen, that much later."""
    return Polling.every(instances.EXIT_LOOKS * run.timeouts.ssh)


def check_dataset_on_gpu(journey: Journey) -> None:
    """The GPU has the data set, and every canary the standby had at the failover (failback lost nothing)."""
    machine = journey.machine("its data set is checked")
    standby = journey.standby("the data set is checked")
    found = standby.back_found
    if found is None:
        found = dataset.read_all(instances.session(journey, "it checks the data set on the GPU"), _ssh_wall(journey))
    where = f"GPU instance {machine.id}"
    dataset.verify(standby.written, found, where)
    kept = {path: digest for path, digest in standby.data_found.items() if path.startswith("canary/")}
    problems = models.compare(kept, found)
    if problems:
        raise AssertionError(f"canary files the standby had are not on {where} after failback: " + "; ".join(problems))


def _adopt_new_gpu(journey: Journey, old: Machine, new_id, since: Moment) -> Machine:
    """Failback made a new GPU: track it for cleanup and metering like any created instance."""
    run = journey.run
    resource = journey.cleanup.adopt(INSTANCE, journey.resource_label(), new_id, f"failback instance {new_id}")
    view = run.client.find_instance(int(new_id)) or {"id": new_id}
    journey.machine_started(resource, {**old.offer, **view}, since)
    machine = Machine(resource, view, old.offer, made=since, boot=since, booted_by="failback")
    journey.using(machine)
    return machine


def check_recovery_reported(journey: Journey) -> None:
    needed = ("failure", "detect", "failover", "failback", "recovery")
    have = {p.name for p in journey.metrics.phases}
    missing = [n for n in needed if n not in have]
    if missing:
        raise AssertionError(f"recovery phases without a time: {', '.join(missing)}")
    journey.metrics.extra["recovery_seconds"] = journey.metrics.phase_seconds("recovery")[0]


def _ssh_wall(journey: Journey) -> float:
    return journey.run.clock.wall(journey.run.timeouts.ssh)
