"""Reading the standby after the failover, through the SSH connection kept from before it."""
from __future__ import annotations

from support import models, standby
from support.clock import Moment
from support.journey import StandbyRun
from support.resources import Resource
from support.ssh import CommandResult
from tests.unit.fakes import journey_on
from tests.unit.test_models import A, B


class Session:
    def __init__(self, lost=False):
        self.lost, self.commands, self.closed = lost, [], False

    def run(self, command, timeout):
        self.commands.append(command)
        if self.lost:
            raise EOFError("the connection was closed")
        return CommandResult(command, 0, f"{A}  dataset/part-1.bin\n{models.HASHES_MARK}\n{B}  config.json\n", "", 0.01)

    def is_active(self):
        return not self.closed

    def close(self):
        self.closed = True


def test_a_kept_connection_that_did_not_survive_the_failover_is_replaced(tmp_path, monkeypatch):
    journey = journey_on(None, tmp_path)
    journey.paired(StandbyRun(Resource("standby", "7", "lbl")))
    kept, fresh = Session(lost=True), Session()
    opened = iter([kept, fresh])

    def connect(journey, since, assoc=None):
        run = journey.standby("x")
        run.session = run.session or next(opened)
        return run.session

    monkeypatch.setattr(standby, "connect_standby", connect)
    data, model = standby._read_standby(journey, Moment.now(), {}, "qwen3-0.6b")
    assert data == {"dataset/part-1.bin": A} and model == {"config.json": B}
    assert kept.closed and len(kept.commands) == 1 and len(fresh.commands) == 1
