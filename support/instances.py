"""Instance operations as the journeys use them: each one timed, metered and made cleanable."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from support.client import Created
from support.clock import Moment
from support.config import normalize_gpu_name
from support.costs import HoldEstimate, OfferNeeds, choose_offer
from support.errors import ApiError, ConnectionProblem, PhaseFailed, PhaseTimeout, SpendRefused
from support.journey import Journey, Machine
from support.resources import INSTANCE
from support.ssh import ssh_probe, wait_for_ssh
from support.waits import Polling, Waited, Watch, first_done, wait_for

#: ``actual_status`` values that will never become ``running`` on their own.
TERMINAL = {"exited", "offline"}
#: SSH is looked at this share of the API's poll interval apart (past the shortest interval).
SSH_LOOKS = 0.25
#: While SSH is awaited, the API is asked whether the machine is gone every this share of the SSH limit
#: (30 s real of the default 300: a machine that dies is still told long before the limit).
EXIT_LOOKS = 0.1
#: The disk (GB) every journey's create asks for: the offer search asks for at least as much.
DISK_GB = 20
#: States the provider bills at the storage price, not the machine's.
BILLED_AS_STORAGE = {"stopped", "exited", "offline"}


def describe(instance: dict | None) -> str:
    if instance is None:
        return "instance gone (GET 404 and absent from the list)"
    return f"actual_status={instance.get('actual_status')!r}, status={instance.get('status')!r}"


def look(run, machine: Machine) -> dict | None:
    """The instance as the server shows it now; None only when it is proven gone.

    GET answers 404 for any provider error on the real server, so a 404 is
    checked against the list: listed means alive (its entry is the view); a
    list that answered without it means gone; a list that fails raises, and a
    wait then counts it as "not yet".
    """
    view = run.client.find_instance(machine.id)
    if view is not None:
        return view
    listed = [i for i in run.client.list_instances() if str(i.get("id")) == machine.resource.id]
    return listed[0] if listed else None


def offer_needs(config, gpus: tuple[str, ...]) -> OfferNeeds:
    """What the journey needs of its machine: the GPUs allowed, the disk its create asks for, the price cap,
    and the opt-in floors (each zero unless set: support.costs.OfferNeeds says why each exists)."""
    return OfferNeeds(gpus=gpus, disk_gb=DISK_GB, max_price=config.max_price,
                      min_inet_down=config.offer_min_inet_down, min_reliability=config.offer_min_reliability)


def cheapest_offer(journey: Journey, gpu: str | None = None) -> dict:
    """The offer to rent among the allowed GPUs (or one of them): the cheapest per hour of those meeting the
    journey's needs, or with DUMONT_OFFER_CHOICE=journey_cost the least expected cost of the whole journey.
    Why it was chosen, and the runner-up, go to metrics.json (``extra.offer_choice``) and the report."""
    run = journey.run
    gpus = run.config.allowed_gpus
    if gpu is not None:
        wanted = normalize_gpu_name(gpu)
        gpus = tuple(g for g in gpus if normalize_gpu_name(g) == wanted)
        if not gpus:
            raise SpendRefused(f"the scenario asks for {gpu!r}, which DUMONT_ALLOWED_GPUS "
                               f"({', '.join(run.config.allowed_gpus)}) does not allow")
    needs = offer_needs(run.config, gpus)
    query = needs.query()
    with journey.phase("offer_search"):
        offers = run.client.offers(**query)
    choice = choose_offer(offers, needs, by=run.config.offer_choice, hold=hold_estimate(run, journey_kind(journey)),
                          limit=query["limit"])
    journey.metrics.extra["offer_choice"] = choice.to_dict()
    journey.chose(choice.offer)
    return choice.offer


def journey_kind(journey: Journey) -> str:
    """The journey's kind for what is learnt across runs (the feature file's name: instance, snapshot, failover)."""
    return Path(journey.metrics.feature_file or "journey").stem


def hold_estimate(run, kind: str) -> HoldEstimate | None:
    """How long a journey of this kind held its GPU in earlier runs (support.timings), split into what does not
    depend on the machine and the megabits it downloaded; None before any such run (nor a prior)."""
    seconds = run.history.typical(f"hold {kind}")
    if seconds is None:
        return None
    return HoldEstimate(seconds, run.history.typical(f"download megabits {kind}") or 0.0,
                        run.history.source(f"hold {kind}") or "history")


def remember_hold(journey: Journey, machine: Machine, deleted: Moment) -> None:
    """Keep how long the journey held this machine (for DUMONT_OFFER_CHOICE=journey_cost): the time its model
    download took is kept apart, as megabits at the offer's bandwidth, since another host downloads faster or
    slower."""
    run = journey.run
    held = run.clock.real(max(0.0, deleted.epoch - machine.made.epoch))
    download = sum(run.clock.real(p.seconds) for p in journey.metrics.phases if p.name == "model_install")
    down = float((machine.offer or {}).get("inet_down") or 0.0)
    kind = journey_kind(journey)
    run.history.add(f"hold {kind}", max(0.0, held - download) if down > 0 else held)
    if down > 0 and download > 0:
        run.history.add(f"download megabits {kind}", download * down)


def create(journey: Journey, offer: dict | None = None, skip_standby: bool = True) -> Machine:
    """Create an instance from ``offer``; it is in the ledger and the cleanup stack before the request leaves."""
    run = journey.run
    offer = offer or journey.offer("it creates an instance")
    label = journey.resource_label()
    pending = journey.cleanup.expect(INSTANCE, label, f"instance labelled {label}", settle=run.timeouts.create)
    start = Moment.now()
    try:
        created: Created = run.client.create_instance(int(offer["id"]), label, ssh_key=run.key.public_line,
                                                      disk_size=DISK_GB, skip_standby=skip_standby)
    except SpendRefused:
        journey.cleanup.refused(pending)          # refused before the request left: nothing will appear
        raise
    except ApiError as error:
        # A definite refusal (the client already reconciled ambiguous failures by label).
        journey.cleanup.refused(pending)
        raise PhaseFailed("create", str(error), run.clock.real(time.monotonic() - start.earliest)) from None
    except ConnectionProblem as error:
        raise PhaseFailed("create", f"{error}; the instance, if made, will be found by its label and deleted",
                          run.clock.real(time.monotonic() - start.earliest)) from None
    journey.record("create", start, start.since_now())
    view = created.instance
    resource = journey.cleanup.identified(pending, view["id"], f"{view.get('gpu_name')} instance {view['id']}",
                                          at=created.made.epoch, gpu_name=view.get("gpu_name"),
                                          dph_total=view.get("dph_total"))
    # The instance bills from when the server took the request that made it.
    journey.machine_started(resource, {**offer, **view}, created.made)
    machine = Machine(resource, view, offer, made=created.made, boot=created.made)
    journey.using(machine)
    watch_ssh(journey, machine)
    return machine


def watch_ssh(journey: Journey, machine: Machine) -> None:
    """Watch the machine's SSH port in the background from its boot on, when the server said where it is.

    SSH does not go through the API: while the server stalls after a create (it answers nothing for
    minutes), the moment SSH starts answering is still seen; and while the boot is waited for through the
    API, SSH readiness is timed at the same time instead of only after.
    """
    run = journey.run
    machine.stop_watching_ssh()
    host, port = machine.ssh_address
    if not host or not port:
        return
    machine.ssh_watched = (host, port)
    probe = ssh_probe(host, int(port), run.config.ssh_user, run.key, clock=run.clock, polling=run.polling)
    # No sparse looks from history here, and finer ones: a look at SSH is a connection attempt to the
    # machine, not an API call, and boot times vary more than the history's window (an early boot would
    # get a wide bracket).
    machine.ssh_watch = Watch.start("ssh", probe, until=lambda session: session is not None,
                                    limit=run.timeouts.ssh + _boot_limit(run, machine), clock=run.clock,
                                    polling=run.polling.finer(SSH_LOOKS), since=machine.boot)


def follow_ssh(journey: Journey, machine: Machine) -> None:
    """Watch SSH where the server now says it is: a machine that boots again can come back on another port."""
    watch, (host, port) = machine.ssh_watch, machine.ssh_address
    if watch is not None and watch.succeeded() is None and host and port and machine.ssh_watched != (host, port):
        watch_ssh(journey, machine)


def _boot_limit(run, machine: Machine) -> float:
    return run.timeouts.resume if machine.booted_by == "resume" else run.timeouts.running


def wait_running(journey: Journey, phase: str = "running") -> dict:
    """Wait until the machine runs; fail fast on ``exited``/``offline`` or a proven loss.

    Running is what the API says (``actual_status`` ``running``) or what the machine shows (its SSH
    answers: a machine whose SSH answers runs), whichever is seen first. The real server answers no
    API call for minutes after a create while the machine may be up already: the SSH watch lets the
    journey go on instead of waiting out the stall.

    ``phase`` is ``running`` after a create (limit DUMONT_TIMEOUT_RUNNING) or
    ``resume`` after a resume (limit DUMONT_TIMEOUT_RESUME), timed from that request.
    """
    run = journey.run
    machine = journey.machine("it can wait for it to run")
    limit = run.timeouts.resume if phase == "resume" else run.timeouts.running
    abandoned = threading.Event()

    def gone_for_good(view: dict | None) -> str | None:
        if abandoned.is_set():          # SSH answered first: what a late API answer says is not wanted
            return None
        noticed(journey, machine, view)
        return _failure_reason(view)

    api = dict(until=lambda i: i is not None and i.get("actual_status") == "running", fail_if=gone_for_good,
               describe=describe, limit=limit, clock=run.clock, polling=run.polling, since=machine.boot,
               expected=expected(journey, phase, machine))
    try:
        if machine.ssh_watch is None:
            waited = wait_for(phase, lambda: look(run, machine), progress=run.progress, **api)
            event, view = waited.event, waited.value
        else:
            event, view = _running_seen_by_api_or_ssh(run, machine, phase, api, abandoned)
    except BaseException:
        machine.stop_watching_ssh()
        raise
    record_boot_phase(journey, phase, machine, machine.boot, machine.boot.until(event))
    journey.machine_state(machine.resource, "running", event)
    machine.view = view or machine.view
    machine.running = event
    follow_ssh(journey, machine)
    return machine.view


def _running_seen_by_api_or_ssh(run, machine: Machine, phase: str, api_args: dict,
                                abandoned: threading.Event) -> tuple[Moment, dict | None]:
    """The API's wait and the SSH watch side by side; the moment the machine was first seen running, and
    the API's view of it (None when SSH answered first)."""
    def look_and_show():
        view = look(run, machine)
        if not abandoned.is_set():
            run.progress.seen((view.get("actual_status") or "no status") if view else "instance gone", "API")
        return view

    ssh = machine.ssh_watch
    with run.progress.waiting(phase, api_args["limit"], machine.boot.earliest, follow={"SSH": ssh}):
        run.progress.seen("no API answer yet", "API")
        api = Watch.start(phase, look_and_show, **api_args)
        first = first_done(api, ssh)
        ssh_seen = ssh.succeeded() if first is ssh else None
        if ssh_seen is None:         # the API answered, or the SSH watch gave up: the API decides
            try:
                waited = api.result()
            except BaseException:
                api.stop(wait=False)
                raise
            return _no_later_than_ssh(machine, waited.event), waited.value
    abandoned.set()
    api.stop(wait=False)            # its request may be held by the server's stall: it ends on its own
    answered = ssh_seen.event.latest
    not_yet = api.last_no_sent if api.last_no_sent is not None else machine.boot.earliest
    return Moment(min(max(not_yet, machine.boot.earliest), answered), answered), None


def _no_later_than_ssh(machine: Machine, running: Moment) -> Moment:
    """A machine whose SSH answered was running by then: SSH seen earlier than the API's "running" (the
    API can stall for minutes after a create) narrows when it began to run."""
    ssh = machine.ssh_watch.succeeded() if machine.ssh_watch is not None else None
    if ssh is None or ssh.event.latest >= running.latest:
        return running
    return Moment(min(running.earliest, ssh.event.latest), ssh.event.latest)


def connect(journey: Journey) -> None:
    """Open SSH to the current instance as soon as it answers.

    Timed as the ``ssh`` phase from the create (or resume) request: "time to
    SSH ready" is how long a user waits from asking for a machine until a
    shell works.
    """
    run = journey.run
    machine = journey.machine("it connects over SSH")
    watch, machine.ssh_watch = machine.ssh_watch, None
    machine.close_session()
    if watch is not None:
        # DUMONT_TIMEOUT_SSH counts from when the machine was seen running (the watch began at its boot).
        began = machine.running.latest if machine.running is not None else machine.boot.earliest
        with run.progress.waiting("ssh", run.timeouts.ssh, began, follow={"SSH": watch}):
            waited = _ssh_unless_gone(journey, machine, watch, began)
        journey.record("ssh", machine.boot, waited.span, history=ssh_history(machine))
        machine.session = waited.value
        return
    host, port = machine.ssh_address
    port = int(port or 22)
    # SSH cannot answer before the machine runs: when that was seen bounds the ssh phase from below.
    running = machine.running.earliest if machine.running and machine.running.earliest >= machine.boot.earliest \
        else None
    session, waited = wait_for_ssh(host, port, run.config.ssh_user, run.key, limit=run.timeouts.ssh,
                                   clock=run.clock, polling=run.polling, since=machine.boot, not_before=running,
                                   progress=run.progress,
                                   gone_for_good=lambda: _failure_reason(look(run, machine)))
    journey.record("ssh", machine.boot, waited.span, history=ssh_history(machine))
    machine.session = session


def _ssh_unless_gone(journey: Journey, machine: Machine, watch: Watch, began: float) -> Waited:
    """The SSH watch's session; meanwhile the API is looked at now and then (a look at the API is a call:
    a few in the whole limit), so that a machine that exits or vanishes fails the wait long before it.

    Not before one such interval has passed: SSH mostly answers by then, and a look sent while the server
    stalls after a create is held there with every retry of it, all answered at once when it ends.
    """
    run = journey.run
    look_every = EXIT_LOOKS * run.timeouts.ssh
    waited = watch.result(until=time.monotonic() + run.clock.wall(look_every))
    if waited is not None:
        return waited

    def look_and_notice():
        view = look(run, machine)
        noticed(journey, machine, view)
        return view

    gone = Watch.start("ssh", look_and_notice, until=lambda view: _failure_reason(view) is not None,
                       limit=run.timeouts.ssh, clock=run.clock, polling=Polling.every(look_every),
                       since=Moment(began, began))
    try:
        first_done(watch, gone)
    finally:
        gone.stop(wait=False)
    if watch.done():
        return watch.result()
    watch.stop()
    try:
        view = gone.result().value          # a permanent API error is raised as it is
    except PhaseTimeout:
        raise PhaseTimeout("ssh", run.timeouts.ssh, "connection refused",
                           run.clock.real(time.monotonic() - began), run.clock.scale) from None
    raise PhaseFailed("ssh", _failure_reason(view), run.clock.real(time.monotonic() - machine.boot.earliest))


def history_names(journey: Journey, phase: str, machine: Machine) -> tuple[str, ...]:
    """The names a machine's boot, pause or resume is kept under in the timing history, the most telling
    first: on this GPU model in this kind of journey, on this GPU model, and the phase alone. Hosts of one
    model boot alike and those of another differ, and one journey's machines are not another's (the
    failover journey rents two in a row): one window for all would be wide, and a wide window is looked at
    coarsely or costs many calls."""
    gpu = machine.gpu_name
    if not gpu or gpu == "?":
        return (phase,)
    return f"{phase} on {gpu}, {journey_kind(journey)}", f"{phase} on {gpu}", phase


def expected(journey: Journey, phase: str, machine: Machine):
    """Where earlier runs saw this phase end, by the most telling of :func:`history_names` that has been seen."""
    for name in history_names(journey, phase, machine):
        found = journey.expected(name)
        if found is not None:
            return found
    return None


def record_boot_phase(journey: Journey, phase: str, machine: Machine, start: Moment, span) -> None:
    """Record the phase, and keep its time under each of its history names but the bare phase (which no run
    records any more: it serves only histories and priors from before)."""
    names = history_names(journey, phase, machine)
    journey.record(phase, start, span, history=names[0])
    for name in names[1:-1]:
        journey.remember(name, span)


def ssh_history(machine: Machine) -> str:
    """SSH after a create and SSH after a resume are timed alike but take very different times."""
    return "ssh" if machine.booted_by == "create" else f"ssh after {machine.booted_by}"


def session(journey: Journey, needed_for: str):
    """The SSH session of the current instance, or a clear word about the missing step."""
    machine = journey.machine(needed_for)
    if machine.session is None:
        raise PhaseFailed(needed_for, f"not connected to instance {machine.id}: a scenario must connect "
                                      f"over SSH first", 0.0)
    return machine.session


def request_pause(journey: Journey) -> None:
    """Ask for a pause; the ``pause`` phase runs until the instance is seen ``stopped``."""
    machine = journey.machine("it pauses it")
    machine.close_session()
    sent = time.monotonic()
    journey.run.client.pause_instance(machine.id)
    machine.paused = Moment.during(sent, time.monotonic())
    journey.machine_expected(machine.resource, "stopped", machine.paused)


def wait_stopped(journey: Journey, phase: str = "pause") -> Waited:
    """Wait for ``stopped`` (the real server's word for paused); from then on only disk is billed.

    The answer says when the instance was seen stopped (the failover journey's moment of failure)."""
    run = journey.run
    machine = journey.machine("it waits for it to stop")
    if machine.paused is None:
        raise PhaseFailed(phase, "the instance was never asked to pause", 0.0)
    waited = wait_for(phase, lambda: look(run, machine),
                      until=lambda i: i is not None and i.get("actual_status") == "stopped",
                      fail_if=lambda i: "the instance is gone (GET 404 and absent from the list) while pausing"
                      if i is None else None,
                      describe=describe, limit=run.timeouts.pause, clock=run.clock, polling=run.polling,
                      since=machine.paused, expected=expected(journey, phase, machine), progress=run.progress)
    record_boot_phase(journey, phase, machine, machine.paused, waited.span)
    journey.machine_state(machine.resource, "stopped", waited.event)
    machine.view = waited.value
    return waited


def request_resume(journey: Journey) -> None:
    """Ask a paused instance to run again; the ``resume`` phase runs until it is ``running``."""
    machine = journey.machine("it resumes it")
    sent = time.monotonic()
    journey.run.client.resume_instance(machine.id)
    machine.resumed = machine.boot = Moment.during(sent, time.monotonic())
    machine.booted_by = "resume"
    # It loads from the request on, and loading bills the GPU's price (support.costs).
    journey.machine_state(machine.resource, "running", machine.resumed)
    watch_ssh(journey, machine)


def delete(journey: Journey) -> None:
    """Delete the current instance and prove it gone, resending if it lingers."""
    run = journey.run
    machine = journey.machine("it deletes it")
    machine.close_session()
    with journey.phase("delete"), run.guard.protect():
        carried_out = journey.cleanup.deleter.delete(machine.resource)
        journey.machine_gone(machine.resource, carried_out)
        journey.cleanup.forget(machine.resource, carried_out)
    remember_hold(journey, machine, carried_out)


def noticed(journey: Journey, machine: Machine, view: dict | None) -> None:
    """A state seen outside a wait that changes what the machine is billed (e.g. preempted: ``exited``).

    When it happened is known only to lie after the machine was last seen running and before now: the
    cost's uncertainty says so.
    """
    if view is None or view.get("actual_status") not in BILLED_AS_STORAGE:
        return
    last_running = (machine.running or machine.made).latest
    journey.machine_state(machine.resource, "stopped", Moment(last_running, max(last_running, time.monotonic())))


def explain(journey: Journey, phase: str, error: Exception, since: Moment) -> PhaseFailed:
    """A failure inside a machine (SSH dropped, command failed) told with the instance's own state."""
    machine = journey.machine("it explains a failure")
    try:
        view = look(journey.run, machine)
        noticed(journey, machine, view)
        state = describe(view)
    except Exception as lookup:  # the explanation must not hide the failure
        state = f"state unknown ({type(lookup).__name__})"
    return PhaseFailed(phase, f"{error}; instance {machine.id}: {state}",
                       journey.run.clock.real(time.monotonic() - since.earliest))


def check_gone(journey: Journey) -> None:
    run = journey.run
    machine = journey.machine("it checks the instance is gone")
    if not run.kinds[INSTANCE].is_gone(run.client, machine.resource.id):
        raise AssertionError(f"instance {machine.id} still exists: {describe(look(run, machine))}")


def _failure_reason(instance: dict | None) -> str | None:
    if instance is None:
        return "the instance is gone (GET 404 and absent from the list) while waiting"
    if instance.get("actual_status") in TERMINAL:
        return f"the instance stopped for good ({describe(instance)})"
    return None
