"""What one journey measured: the brief's TestMetrics, plus every phase and every machine."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone


def iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="milliseconds")


@dataclass
class Phase:
    name: str
    seconds: float
    started_at: float        # epoch seconds
    detail: str = ""
    #: Half the width of the interval the phase's true length lies in (its ends are known only
    #: to within the requests' round trips and the poll intervals; a stalled server widens it).
    uncertainty_seconds: float = 0.0
    #: How much of the phase the server was stalled (answering nothing) before the phase's own work could
    #: start, ± its own uncertainty; 0 when it was not, or was not asked (support.snapshots).
    server_stalled_seconds: float = 0.0
    server_stalled_uncertainty: float = 0.0


@dataclass
class MachineRecord:
    """One paid machine of the journey and what became of it."""

    id: str
    kind: str                # "instance" or "standby" (a standby carries its GPU's id)
    label: str
    gpu_name: str
    price_per_hour: float
    created_at: float
    deleted_at: float | None = None
    fate: str = "alive"      # alive / deleted / leaked / kept
    cost: float = 0.0
    #: How far the true bill may be from ``cost``: the price change at each moment billing changed
    #: (made, running, stopped, deleted) times how uncertain that moment is.
    cost_uncertainty: float = 0.0


def no_api_calls() -> dict:
    """A journey's API figures before it has any (``support.client.CallLog.figures`` gives the real ones)."""
    return {"calls": 0, "retries": 0, "rate_limited": 0, "backoff_seconds": 0.0, "stalled_seconds": 0.0}


# Phase names that fill the brief's named fields.
BRIEF_FIELDS = {
    "running": "time_to_running",
    "ssh": "time_to_ssh_ready",
    "model_install": "time_to_model_install",
    "snapshot": "time_to_snapshot",
    "failover": "time_to_failover",
    "restore": "time_to_restore",
}


@dataclass
class JourneyMetrics:
    """The brief's TestMetrics fields, then the rest of what the reports show."""

    test_name: str
    journey: str
    feature_file: str
    start_time: float = field(default_factory=time.time)
    end_time: float | None = None
    duration_seconds: float = 0.0
    instance_id: str | None = None
    gpu_name: str | None = None
    gpu_cost_per_hour: float = 0.0
    total_cost: float = 0.0
    success: bool = False
    status: str = "running"          # passed / failed / skipped / interrupted
    error_message: str | None = None
    time_to_running: float = 0.0
    time_to_ssh_ready: float = 0.0
    time_to_model_install: float = 0.0
    time_to_snapshot: float = 0.0
    time_to_failover: float = 0.0
    time_to_restore: float = 0.0
    phases: list[Phase] = field(default_factory=list)
    machines: list[MachineRecord] = field(default_factory=list)
    #: The API calls made while the journey was open: calls, retries, rate-limited answers, wall
    #: seconds waited in backoff and lost to stalls (see support.client.CallRecord.stalled_seconds).
    api: dict = field(default_factory=no_api_calls)
    extra: dict = field(default_factory=dict)

    def add_phase(self, name: str, seconds: float, started_at: float | None = None, detail: str = "",
                  uncertainty: float = 0.0, stalled: float = 0.0, stalled_uncertainty: float = 0.0) -> Phase:
        """Record a phase; the first time a brief phase is seen it also fills its named field."""
        phase = Phase(name, round(seconds, 4), started_at if started_at is not None else time.time() - seconds,
                      detail, round(uncertainty, 4), round(stalled, 4), round(stalled_uncertainty, 4))
        self.phases.append(phase)
        brief = BRIEF_FIELDS.get(name)
        if brief and not getattr(self, brief):
            setattr(self, brief, phase.seconds)
        return phase

    def phase_seconds(self, name: str) -> list[float]:
        return [p.seconds for p in self.phases if p.name == name]

    def finish(self, status: str, error: str | None = None) -> None:
        self.end_time = time.time()
        self.duration_seconds = round(self.end_time - self.start_time, 3)
        self.status = status
        self.success = status == "passed"
        self.error_message = error
        self.total_cost = round(sum(m.cost for m in self.machines), 6)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["start_time"] = iso(self.start_time)
        data["end_time"] = iso(self.end_time)
        for phase in data["phases"]:
            phase["started_at"] = iso(phase["started_at"])
        for machine in data["machines"]:
            machine["created_at"] = iso(machine["created_at"])
            machine["deleted_at"] = iso(machine["deleted_at"])
        return data
