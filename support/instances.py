"""Instance operations as the journeys use them: each one timed, metered and made cleanable."""

from __future__ import annotations

import time

from support.backoff import ApiError, ConnectionProblem
from support.cleanup import delete_and_verify
from support.config import normalize_gpu_name
from support.costs import SpendRefused, check_affordable, choose_cheapest, estimate_max_cost
from support.journey import Journey, PhaseStart
from support.ssh import wait_for_ssh
from support.waits import PhaseFailed, wait_for

#: ``actual_status`` values that will never become ``running`` on their own.
TERMINAL = {"exited", "offline"}


def describe(instance: dict | None) -> str:
    if instance is None:
        return "instance not found (404)"
    return f"actual_status={instance.get('actual_status')!r}, status={instance.get('status')!r}"


def delete_and_check(client, instance_id):
    """The two calls cleanup needs for one instance: delete it, and is it gone (GET → 404)?"""
    return (lambda: client.delete_instance(instance_id),
            lambda: client.get_instance(instance_id) is None)


def cheapest_offer(journey: Journey, gpu: str | None = None) -> dict:
    """The cheapest offer among the allowed GPUs (or for one of them) under the price cap."""
    run = journey.run
    gpus = run.config.allowed_gpus
    if gpu is not None:
        wanted = normalize_gpu_name(gpu)
        gpus = tuple(g for g in gpus if normalize_gpu_name(g) == wanted)
        if not gpus:
            raise SpendRefused(f"the scenario asks for {gpu!r}, which DUMONT_ALLOWED_GPUS "
                               f"({', '.join(run.config.allowed_gpus)}) does not allow")
    with journey.phase("offer_search"):
        offers = run.client.offers(max_price=run.config.max_price, num_gpus=1, limit=100)
    journey.offer = choose_cheapest(offers, gpus, run.config.max_price)
    return journey.offer


def check_balance_covers(journey: Journey, seconds: float) -> float:
    """Refuse before spending when the balance or the run's budget can't cover the worst case.

    ``seconds`` is the journey's longest possible billed time in real seconds.
    """
    run = journey.run
    price = float(journey.offer["dph_total"])
    estimate = estimate_max_cost(price, seconds)
    balance = float(run.client.balance().get("credit", 0.0))
    check_affordable(balance, estimate, run.config.budget_usd - run.spent(),
                     f"{journey.offer.get('gpu_name')} at ${price:.3f}/h for up to {seconds / 60:.0f} min")
    journey.metrics.extra["estimated_max_cost"] = round(estimate, 4)
    return estimate


def create(journey: Journey, offer: dict | None = None, skip_standby: bool = True) -> dict:
    """Create an instance from ``offer``; it is in the ledger and the cleanup stack before this returns."""
    run = journey.run
    offer = offer or journey.offer
    if offer is None:
        raise SpendRefused("no offer chosen: choose an offer before creating an instance")
    label = journey.resource_label()
    run.ledger.intent("instance", label, journey.metrics.test_name)
    pending = journey.cleanup.track_by_label(
        "instance", label, find=lambda: [i["id"] for i in run.client.find_instances_by_label(label)],
        delete_one=run.client.delete_instance, settle=run.timeouts.create,
        description=f"instance labelled {label}")
    start = PhaseStart.now()
    try:
        instance = run.client.create_instance(int(offer["id"]), label, ssh_key=run.key.public_line,
                                              disk_size=20, skip_standby=skip_standby)
    except ApiError as error:
        # A definite refusal (the client already reconciled ambiguous failures by label).
        journey.cleanup.refused(pending)
        raise PhaseFailed("create", str(error), time.monotonic() - start.mono) from None
    except ConnectionProblem as error:
        raise PhaseFailed("create", f"{error}; the instance, if made, will be found by its label "
                                    f"and deleted", time.monotonic() - start.mono) from None
    journey.record("create", start, time.monotonic() - start.mono)
    instance_id = instance["id"]
    run.ledger.created("instance", label, instance_id, journey.metrics.test_name,
                       gpu_name=instance.get("gpu_name"), dph_total=instance.get("dph_total"))
    delete_it, is_gone = delete_and_check(run.client, instance_id)
    pending.created(instance_id, delete=delete_it, is_gone=is_gone,
                    description=f"{instance.get('gpu_name')} instance {instance_id}")
    # The instance exists (and bills) from when the server took the request that made it:
    # the last one sent, if the first was refused or lost.
    sent_at = run.client.create_sent_at or start.epoch
    effective = (start.reached_server() if sent_at - start.epoch < 0.001
                 else PhaseStart(start.mono + (sent_at - start.epoch), sent_at))
    journey.machine_started({**offer, **instance}, "instance", effective.epoch)
    journey.instance = instance
    journey.created_start = journey.boot_start = effective
    return instance


def wait_running(journey: Journey, since: PhaseStart | None = None, phase: str = "running") -> dict:
    """Wait until ``actual_status`` is ``running``; fail fast on ``exited``/``offline``.

    ``phase`` is ``running`` after a create (limit DUMONT_TIMEOUT_RUNNING) or
    ``resume`` after a resume (limit DUMONT_TIMEOUT_RESUME).
    """
    run = journey.run
    instance_id = journey.instance["id"]
    since = since or journey.created_start
    limit = run.timeouts.resume if phase == "resume" else run.timeouts.running
    waited = wait_for(phase, lambda: run.client.get_instance(instance_id),
                      until=lambda i: i is not None and i.get("actual_status") == "running",
                      fail_if=_failure_reason, describe=describe, timeout=limit,
                      polling=run.polling, started_at=since.mono)
    journey.record(phase, since, waited.seconds)
    journey.machine_state(instance_id, "running", _epoch(waited.observed_at))
    journey.instance = waited.value
    return waited.value


def connect(journey: Journey) -> None:
    """Open SSH to the current instance as soon as it answers.

    Timed as the ``ssh`` phase from the create (or resume) request: "time to
    SSH ready" is how long a user waits from asking for a machine until a
    shell works.
    """
    run = journey.run
    _close_session(journey)
    instance = journey.instance
    host = instance.get("ssh_host") or instance.get("public_ipaddr")
    port = int(instance.get("ssh_port") or 22)
    since = journey.boot_start
    session, waited = wait_for_ssh(host, port, run.config.ssh_user, run.key, timeout=run.timeouts.ssh,
                                   polling=run.polling, started_at=since.mono,
                                   gone_for_good=lambda: _failure_reason(run.client.get_instance(instance["id"])))
    journey.record("ssh", since, waited.seconds)
    journey.session = session


def request_pause(journey: Journey) -> None:
    """Ask for a pause; the ``pause`` phase runs until the instance is seen ``stopped``."""
    _close_session(journey)
    sent = PhaseStart.now()
    journey.run.client.pause_instance(journey.instance["id"])
    journey.pause_start = sent.reached_server()


def wait_stopped(journey: Journey, phase: str = "pause") -> dict:
    """Wait for ``stopped`` (the real server's word for paused); from then on only disk is billed."""
    run = journey.run
    instance_id = journey.instance["id"]
    since = journey.pause_start
    waited = wait_for(phase, lambda: run.client.get_instance(instance_id),
                      until=lambda i: i is not None and i.get("actual_status") == "stopped",
                      fail_if=lambda i: "the instance disappeared (404) while pausing" if i is None else None,
                      describe=describe, timeout=run.timeouts.pause, polling=run.polling, started_at=since.mono)
    journey.record(phase, since, waited.seconds)
    journey.machine_state(instance_id, "stopped", _epoch(waited.observed_at))
    journey.instance = waited.value
    return waited.value


def request_resume(journey: Journey) -> None:
    """Ask a paused instance to run again; the ``resume`` phase runs until it is ``running``."""
    sent = PhaseStart.now()
    journey.run.client.resume_instance(journey.instance["id"])
    journey.resume_start = journey.boot_start = sent.reached_server()


def delete(journey: Journey) -> None:
    """Delete the current instance and confirm it is gone (GET → 404), resending if it lingers."""
    run = journey.run
    instance_id = journey.instance["id"]
    _close_session(journey)
    start = PhaseStart.now()
    with run.guard.protect():
        answered_at = delete_and_verify("instance", instance_id, *delete_and_check(run.client, instance_id),
                                        timeout=run.timeouts.delete, polling=run.polling)
        journey.record("delete", start, time.monotonic() - start.mono)
        journey.machine_gone(instance_id, answered_at)
        item = journey.cleanup.forget("instance", instance_id, answered_at)
        run.ledger.deleted("instance", item.label if item else journey.label, instance_id,
                           journey.metrics.test_name)


def explain(journey: Journey, phase: str, error: Exception, since: PhaseStart) -> PhaseFailed:
    """A failure inside a machine (SSH dropped, command failed) told with the instance's own state."""
    try:
        state = describe(journey.run.client.get_instance(journey.instance["id"]))
    except Exception as lookup:  # the explanation must not hide the failure
        state = f"state unknown ({type(lookup).__name__})"
    return PhaseFailed(phase, f"{error}; instance {journey.instance['id']}: {state}",
                       time.monotonic() - since.mono)


def check_gone(journey: Journey) -> None:
    instance_id = journey.instance["id"]
    found = journey.run.client.get_instance(instance_id)
    if found is not None:
        raise AssertionError(f"instance {instance_id} still exists: {describe(found)}")


def _close_session(journey: Journey) -> None:
    if journey.session is not None:
        journey.session.close()
        journey.session = None


def _failure_reason(instance: dict | None) -> str | None:
    if instance is None:
        return "the instance disappeared (404) while waiting"
    if instance.get("actual_status") in TERMINAL:
        return f"the instance stopped for good ({describe(instance)})"
    return None


def _epoch(monotonic_at: float) -> float:
    return time.time() - (time.monotonic() - monotonic_at)
