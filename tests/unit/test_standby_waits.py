"""The failover journey's waits use what the server and the machines tell (support/standby.py): the data set is
watched on the standby over SSH (free), the canary writes look at the sync count sparsely before where it is
expected to change, and a failback looks at the association once the GPU's SSH answers."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from support import dataset, standby
from support.clock import Moment
from support.journey import StandbyRun
from support.resources import Resource
from support.ssh import CommandResult
from support.timings import Expected, TimingHistory
from support.waits import NotYet, Polling, Watch
from tests.unit.fakes import journey_on

HASH = "a" * 64


def written(files: int = 3, size: int = 4096) -> dataset.Written:
    found = dataset.Written()
    found.add({f"dataset/part-{i}.bin": HASH for i in range(1, files + 1)}, size, Moment.now())
    return found


class Standby:
    """A standby reached over SSH whose data set arrives after ``arrives`` looks (a sync completes)."""

    def __init__(self, data: dataset.Written, arrives: int):
        self.data, self.arrives, self.looks, self.hashed = data, arrives, 0, 0

    def run(self, command, timeout):
        here = self.looks >= self.arrives
        if command == standby.SIZES:
            self.looks += 1
            lines = [f"{path} {self.data.sizes[path]}" for path in self.data.hashes] if here else []
            return CommandResult(command, 0, "".join(f"{line}\n" for line in lines), "", 0.001)
        self.hashed += 1
        listing = "".join(f"{digest}  {path}\n" for path, digest in self.data.hashes.items()) if here else ""
        return CommandResult(command, 0, listing, "", 0.001)

    def is_active(self):
        return True

    def close(self):
        pass


def paired(tmp_path, session):
    journey = journey_on(None, tmp_path)
    journey.run.config.standby_sync_interval = 30.0
    journey.run.polling = Polling()
    journey.run.history = TimingHistory(tmp_path / "h.jsonl", "sandbox", prior=None)

    def no_api(*args, **kwargs):
        raise AssertionError("the data set is watched on the standby: no API call")
    journey.run.client.find_association = no_api
    run = StandbyRun(Resource("standby", "7", "lbl"), association={"cpu_standby": {"ip": "h", "ssh_port": 22}})
    run.session, run.session_address = session, ("h", 22)
    journey.paired(run)
    return journey, run


def test_the_data_set_is_watched_on_the_standby_not_through_the_api(tmp_path):
    data = written()
    session = Standby(data, arrives=4)
    journey, run = paired(tmp_path, session)
    run.written = data
    standby.check_dataset_on_standby(journey)
    assert session.looks == 5 and session.hashed == 1           # hashed once, when every file was there
    assert [p.name for p in journey.metrics.phases] == []        # not a phase of the report: a wait only
    assert journey.expected("data set on standby") is not None   # remembered for the next run's looks


def test_a_data_set_that_never_arrives_fails_the_wait_saying_so(tmp_path):
    data = written()
    session = Standby(data, arrives=10**9)
    journey, run = paired(tmp_path, session)
    run.written = data
    journey.run.timeouts = SimpleNamespace(**{**vars(journey.run.timeouts), "failover": 1.0})
    journey.run.config.standby_sync_interval = 0.01
    with pytest.raises(Exception) as failed:
        standby.check_dataset_on_standby(journey)
    assert "not on the standby yet" in str(failed.value)


def test_the_canaries_look_at_the_sync_count_sparsely_before_it_is_expected():
    every = 0.75
    assert standby._next_canary_look(0.0, every, None) == every
    window = Expected(6.0, 7.0)
    assert standby._next_canary_look(0.0, every, window) == pytest.approx(3.0)     # halfway to where it changed
    assert standby._next_canary_look(5.5, every, window) == every                  # close to it: the usual looks
    assert standby._next_canary_look(6.5, every, window) == every


def test_the_sync_interval_is_the_one_the_server_answered(tmp_path):
    journey, _ = paired(tmp_path, Standby(written(), 0))
    assert standby.sync_interval(journey) == 30.0
    journey.metrics.extra["standby_config"] = {"sync_interval": 45}
    assert standby.sync_interval(journey) == 45.0


def test_a_failback_looks_at_the_association_once_the_gpus_ssh_answers(tmp_path):
    journey, _ = paired(tmp_path, Standby(written(), 0))
    looks = []

    def association(gpu_id):
        looks.append(time.monotonic())
        return {"state": "syncing" if len(looks) > 1 else "recovering"}
    journey.run.client.find_association = association
    machine = journey.machine("test")
    ready_at = time.monotonic() + 0.3

    def ssh():
        if time.monotonic() < ready_at:
            raise NotYet("connection refused")
        return "a session"
    machine.ssh_watch = Watch.start("ssh", ssh, until=lambda s: s is not None, limit=600, clock=journey.run.clock,
                                    polling=Polling(shortest=0.25, longest=1.0), since=machine.boot)
    start = Moment.now()
    waited = standby._until_synced_back(journey, machine, start)
    assert waited.value["state"] == "syncing"
    # one look as the wait began (sparse ones after it would come at 25 % of the time waited), and the next
    # as soon as SSH answered
    assert len(looks) == 2 and looks[1] >= ready_at
