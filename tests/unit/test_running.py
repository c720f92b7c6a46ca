"""Running is seen through the API or through the machine's SSH, whichever answers first."""

from __future__ import annotations

import threading
import time

import pytest

from support import instances
from support.clock import Clock
from support.errors import PhaseFailed
from support.waits import NotYet, Polling, Watch
from tests.unit.fakes import journey_on

FAST = Polling(shortest=0.25, longest=1.0, fraction=0.02)


class StallingServer:
    """GET instance answers "loading" until ``stall`` is set, then holds every answer until it is released."""

    def __init__(self):
        self.stall = threading.Event()
        self.release = threading.Event()
        self.status = "loading"
        self.answered_after_release = 0

    def find_instance(self, instance_id):
        if self.stall.is_set():
            self.release.wait(30)
            self.answered_after_release += 1
        return {"id": instance_id, "actual_status": self.status, "status": "running"}


def a_journey(tmp_path, server):
    journey = journey_on(None, tmp_path)
    journey.run.client.find_instance = server.find_instance
    journey.run.polling = FAST
    return journey


def ssh_answering_after(seconds: float):
    ready_at = time.monotonic() + seconds

    def probe():
        if time.monotonic() < ready_at:
            raise NotYet("connection refused")
        return "a session"
    return probe


def watch_ssh(journey, probe):
    machine = journey.machine("test")
    machine.ssh_watch = Watch.start("ssh", probe, until=lambda s: s is not None, limit=600,
                                    clock=journey.run.clock, polling=FAST, since=machine.boot)
    return machine


def test_ssh_answering_during_a_stall_ends_the_wait_with_an_honest_bracket(tmp_path):
    server = StallingServer()
    journey = a_journey(tmp_path, server)
    machine = watch_ssh(journey, ssh_answering_after(0.3))
    stalled_at = []

    def stall():
        stalled_at.append(time.monotonic())
        server.stall.set()
    threading.Timer(0.1, stall).start()                      # the server stops answering (after a create)
    try:
        instances.wait_running(journey)
        ssh = machine.ssh_watch.succeeded()
        assert ssh is not None and server.answered_after_release == 0   # went on while the API was stalled
        assert machine.running.latest == ssh.event.latest             # running by the time SSH answered ...
        assert machine.boot.earliest <= machine.running.earliest < ssh.event.latest   # ... not known when before
        assert machine.running.earliest <= stalled_at[0]        # the last "loading" was sent before the stall
        [phase] = [p for p in journey.metrics.phases if p.name == "running"]
        assert phase.uncertainty_seconds > 0
    finally:
        server.release.set()


@pytest.fixture
def slow_ssh_machine(tmp_path):
    """A journey whose server answers at once and whose machine's SSH will not answer for a long time."""
    server = StallingServer()
    journey = a_journey(tmp_path, server)
    machine = watch_ssh(journey, ssh_answering_after(30))
    yield server, journey, machine
    machine.stop_watching_ssh()


def test_the_api_saying_running_first_is_used_as_before(slow_ssh_machine):
    server, journey, machine = slow_ssh_machine
    server.status = "running"
    view = instances.wait_running(journey)
    assert view["actual_status"] == "running" and machine.ssh_watch.succeeded() is None


def test_a_machine_that_exits_fails_the_wait_though_ssh_is_still_watched(slow_ssh_machine):
    server, journey, _ = slow_ssh_machine
    server.status = "exited"
    with pytest.raises(PhaseFailed, match="exited"):
        instances.wait_running(journey)


def test_a_machine_that_exits_while_its_ssh_is_awaited_fails_the_wait_at_once_and_is_billed_as_such(
        slow_ssh_machine):
    server, journey, machine = slow_ssh_machine
    server.status = "running"
    instances.wait_running(journey)                 # the API says it runs; SSH has not answered yet
    journey.machine_started(machine.resource, {"dph_total": 0.5, "storage_dph": 0.01}, machine.made)
    server.status = "exited"                        # preempted before SSH ever answered
    # Failed, not timed out (a PhaseTimeout would have waited out the SSH limit):
    with pytest.raises(PhaseFailed, match="phase 'ssh'.*exited"):
        instances.connect(journey)
    meter = journey.meters[("instance", "7")]
    assert meter.rate() == pytest.approx(meter._dollars(0.01, 1.0))   # billed at the storage price from then


def test_ssh_is_watched_where_the_server_now_says_it_is(tmp_path, monkeypatch):
    journey = a_journey(tmp_path, StallingServer())
    machine = watch_ssh(journey, ssh_answering_after(30))
    restarted = []
    monkeypatch.setattr(instances, "watch_ssh", lambda journey, machine: restarted.append(machine.ssh_address))
    try:
        machine.view, machine.ssh_watched = {"ssh_host": "10.0.0.5", "ssh_port": 40022}, ("10.0.0.5", 40022)
        instances.follow_ssh(journey, machine)
        assert restarted == []                                   # same place: the watch goes on
        machine.view = {"ssh_host": "10.0.0.5", "ssh_port": 41022}   # booted again on another port
        instances.follow_ssh(journey, machine)
        assert restarted == [("10.0.0.5", 41022)]
    finally:
        machine.stop_watching_ssh()


def test_a_watch_told_to_look_now_does_not_wait_for_its_next_planned_look():
    looks = [threading.Event(), threading.Event()]

    def probe():
        next(look for look in looks + [threading.Event()] if not look.is_set()).set()
        raise NotYet("not yet")

    # One look, then a planned pause of a whole (real) hour before the next.
    watch = Watch.start("x", probe, until=lambda v: True, limit=7200.0, clock=Clock(1.0),
                        polling=Polling(shortest=3600.0, longest=3600.0))
    try:
        assert looks[0].wait(30.0)
        watch.look_now()
        assert looks[1].wait(30.0), "the nudged watch did not look again"
    finally:
        watch.stop()
    assert watch.done()
