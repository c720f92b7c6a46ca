"""The state of one scenario: its label, metrics, machines, meters and cleanup stack.

Kept on the context as ``context.journey`` for the length of a scenario.
"""

from __future__ import annotations

import re
import time
from contextlib import contextmanager
from dataclasses import dataclass

from support.cleanup import Cleanup
from support.costs import Meter
from support.metrics import JourneyMetrics, MachineRecord

#: Journey names by feature tag, as the reports show them.
JOURNEYS = {"instance": "Instance Lifecycle", "failover": "Failover CPU Standby",
            "snapshot": "Snapshot/Restore", "quick": "Quick checks"}


def slug(text: str, length: int = 16) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:length].strip("-") or "scenario"


@dataclass
class PhaseStart:
    """When a phase began, on both clocks: monotonic for durations, epoch for reports."""

    mono: float
    epoch: float

    @classmethod
    def now(cls) -> "PhaseStart":
        return cls(time.monotonic(), time.time())

    def reached_server(self) -> "PhaseStart":
        """Call when the request that starts a phase has answered: the server acted about
        half-way through the round trip, so the phase starts there (as the server's own clock has it)."""
        half = (time.monotonic() - self.mono) / 2
        return PhaseStart(self.mono + half, self.epoch + half)


class Journey:
    def __init__(self, run, scenario_name: str, feature_file: str, tags: list[str]):
        self.run = run
        kind = next((t for t in tags if t in JOURNEYS), "quick")
        self.metrics = JourneyMetrics(test_name=scenario_name, journey=JOURNEYS[kind],
                                      feature_file=feature_file)
        self.label = run.new_label(slug(scenario_name))
        self.cleanup = Cleanup(run.ledger, scenario_name, run.guard, timeout=run.timeouts.delete,
                               polling=run.polling,
                               keep=lambda item: item.kind == "snapshot" and run.config.keep_snapshots)
        run.journeys.append(self)
        self.offer: dict | None = None
        self.instance: dict | None = None
        self.session = None
        self.model_manifest: dict[str, str] | None = None
        self.model_name: str | None = None
        self.snapshot_id: str | None = None
        self.meters: dict[tuple[str, str], Meter] = {}
        self.created_start: PhaseStart | None = None
        self.pause_start: PhaseStart | None = None
        self.resume_start: PhaseStart | None = None
        self.boot_start: PhaseStart | None = None     # the last create or resume request
        # The failover journey's state (support/standby.py).
        self.standby: dict | None = None
        self.standby_model: dict[str, str] = {}
        self.standby_found: dict[str, str] = {}
        self.written = None
        self.sync_count_after_writes = 0
        self.failure_start: PhaseStart | None = None
        self.failed_at: float | None = None
        self._resources = 0

    def resource_label(self) -> str:
        """A label for one created resource: the journey's label and a counter."""
        self._resources += 1
        return f"{self.label}-r{self._resources}"

    # -- phases ----------------------------------------------------------------

    @contextmanager
    def phase(self, name: str, detail: str = ""):
        """Time a block as a phase; a failing block records nothing."""
        start = PhaseStart.now()
        yield start
        self.metrics.add_phase(name, time.monotonic() - start.mono, start.epoch, detail)

    def record(self, name: str, start: PhaseStart, seconds: float, detail: str = "") -> None:
        self.metrics.add_phase(name, seconds, start.epoch, detail)

    # -- machines and money ------------------------------------------------------

    def machine_started(self, instance: dict, kind: str, at: float) -> MachineRecord:
        """Start metering a machine (``kind`` "instance" or "standby"; a standby has its GPU's id)."""
        price = float(instance.get("dph_total") or 0.0)
        storage = float(instance.get("storage_dph") or 0.0)
        record = MachineRecord(id=str(instance["id"]), kind=kind, gpu_name=str(instance.get("gpu_name") or "CPU"),
                               price_per_hour=price, created_at=at)
        self.metrics.machines.append(record)
        self.meters[(kind, record.id)] = Meter(price, storage, self.run.time_scale, started_at=at)
        if kind == "instance" and self.metrics.instance_id is None:
            self.metrics.instance_id = record.id
            self.metrics.gpu_name = record.gpu_name
            self.metrics.gpu_cost_per_hour = price
        return record

    def machine_state(self, machine_id, state: str, at: float, kind: str = "instance") -> None:
        meter = self.meters.get((kind, str(machine_id)))
        if meter is not None:
            meter.change(state, at)

    def machine_gone(self, machine_id, at: float, fate: str = "deleted", kind: str = "instance") -> None:
        """Billing of the machine stopped at ``at`` (a leaked machine is billed until then at least)."""
        for record in self.metrics.machines:
            if record.kind == kind and record.id == str(machine_id) and record.fate == "alive":
                record.deleted_at = at if fate == "deleted" else None
                record.fate = fate
                self.meters[(kind, record.id)].stop(at)

    def clean_up(self) -> list:
        """Delete what is still tracked, record each machine's fate, settle the costs."""
        for outcome in self.cleanup.run():
            if outcome.deleted:
                self.machine_gone(outcome.id, outcome.at or time.time(), kind=outcome.kind)
            elif not outcome.kept:
                self.machine_gone(outcome.id, time.time(), fate="leaked", kind=outcome.kind)
        self.settle_costs()
        return self.cleanup.failures()

    def settle_costs(self, now: float | None = None) -> None:
        for record in self.metrics.machines:
            meter = self.meters.get((record.kind, record.id))
            if meter is not None:
                record.cost = round(meter.cost(now), 6)
