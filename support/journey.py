"""The state of one scenario: its label, metrics, cleanup stack, and what its steps made.

Kept on the context as ``context.journey`` for the length of a scenario.
What earlier steps made (the offer, the machine, the model, the snapshot,
the standby) lives in small typed records behind accessors that say, in
words, which step is missing when a scenario uses a step out of order.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass, field

from support.attachments import Attachment
from support.cleanup import Cleanup, Deleter
from support.clock import Moment, Span
from support.costs import Meter
from support.errors import MissingStep
from support.metrics import JourneyMetrics, MachineRecord
from support.resources import INSTANCE, SNAPSHOT, Resource
from support.spending import Plan

#: Journey names by feature tag, as the reports show them; an untagged scenario is named by itself.
JOURNEYS = {"instance": "Instance Lifecycle", "failover": "Failover CPU Standby",
            "snapshot": "Snapshot/Restore", "quick": "Quick checks"}


def slug(text: str, length: int = 16) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:length].strip("-") or "scenario"


def journey_name(scenario_name: str, tags) -> str:
    return next((JOURNEYS[t] for t in tags if t in JOURNEYS), scenario_name)


@dataclass
class Machine:
    """The instance the journey is using now."""

    resource: Resource
    view: dict                       # the server's latest answer about it
    offer: dict
    made: Moment                     # when the request that made it was carried out
    boot: Moment                     # the last create or resume: SSH readiness counts from here
    running: Moment | None = None    # when it was last seen reach "running"
    booted_by: str = "create"        # what the last boot was: create, resume or failback
    paused: Moment | None = None
    resumed: Moment | None = None
    session: object | None = None    # support.ssh.SshSession while connected
    ssh_watch: object | None = None  # support.waits.Watch on its SSH port since the last boot
    ssh_watched: tuple | None = None  # the (host, port) that watch looks at

    @property
    def ssh_address(self) -> tuple:
        """Where its SSH answers, as the server's latest answer says (it can move when it boots again)."""
        return (self.view.get("ssh_host") or self.view.get("public_ipaddr"), self.view.get("ssh_port"))

    @property
    def id(self) -> int:
        return int(self.resource.id)

    @property
    def gpu_name(self) -> str:
        return str(self.view.get("gpu_name") or self.offer.get("gpu_name") or "?")

    def close_session(self) -> None:
        self.stop_watching_ssh()
        if self.session is not None:
            self.session.close()
            self.session = None

    def stop_watching_ssh(self) -> None:
        """Stop the background watch on SSH (closing the session it may have opened but nobody took)."""
        watch, self.ssh_watch = self.ssh_watch, None
        if watch is not None:
            watch.stop()
            waited = watch.succeeded()
            if waited is not None and waited.value is not self.session:
                waited.value.close()


@dataclass
class InstalledModel:
    name: str
    manifest: dict[str, str]         # relative path -> sha256, as the install's manifest gives it
    found_at_install: dict[str, str] | None = None   # the files' hashes as the install left them, until checked


@dataclass
class TakenSnapshot:
    resource: Resource
    size_bytes: int | None

    @property
    def id(self) -> str:
        return self.resource.id


@dataclass
class StandbyRun:
    """The failover journey's CPU standby and what it learnt along the way."""

    resource: Resource               # kind "standby", id = the GPU instance's id
    association: dict = field(default_factory=dict)
    written: object | None = None    # support.dataset.Written: what the suite wrote on the GPU
    failure: Moment | None = None    # when the GPU was seen failed
    failover_requested: bool = False  # the scenario asked for the switch instead of waiting for the server's
    model_found: dict[str, str] = field(default_factory=dict)
    data_found: dict[str, str] = field(default_factory=dict)   # on the standby after the failover
    back_found: dict[str, str] | None = None   # on the GPU after the failback
    watch: object | None = None      # support.waits.Watch on the association until it syncs
    session: object | None = None    # support.ssh.SshSession to the standby, kept from the data set check
    session_address: tuple | None = None   # where that session goes (host, port)

    def close_session(self) -> None:
        if self.session is not None:
            self.session.close()
        self.session = self.session_address = None


class Journey:
    def __init__(self, run, scenario_name: str, feature_file: str, tags: list[str], plan: Plan | None = None):
        self.run = run
        self.plan = plan or Plan(())     # what its steps may rent and for how long: support.spending
        self.metrics = JourneyMetrics(test_name=scenario_name, journey=journey_name(scenario_name, tags),
                                      feature_file=feature_file)
        self.label = run.new_label(slug(scenario_name))
        self.cleanup = Cleanup(run.ledger, scenario_name, run.guard,
                               Deleter(run.client, run.clock, run.polling, run.timeouts.delete, run.kinds),
                               keep=lambda resource: resource.kind == SNAPSHOT and run.config.keep_snapshots)
        self.attachments: list[Attachment] = []
        self.published = 0              # how many of them the reporter has published
        self.meters: dict[tuple[str, str], Meter] = {}
        self._offer: dict | None = None
        self._machine: Machine | None = None
        self._model: InstalledModel | None = None
        self._snapshot: TakenSnapshot | None = None
        self._standby: StandbyRun | None = None
        self._resources = 0
        self._call_log = getattr(run.client, "call_log", None)     # None for a test's stand-in run
        self._first_call = self._call_log.position() if self._call_log is not None else 0
        run.journeys.append(self)

    def resource_label(self) -> str:
        """A label for one created resource: the journey's label and a counter."""
        self._resources += 1
        return f"{self.label}-r{self._resources}"

    # -- what earlier steps made ----------------------------------------------------------------

    def offer(self, needed_for: str) -> dict:
        return _needed(self._offer, f"no offer chosen yet: a scenario must choose one before {needed_for}")

    def machine(self, needed_for: str) -> Machine:
        return _needed(self._machine, f"no instance yet: a scenario must create one before {needed_for}")

    def model(self, needed_for: str) -> InstalledModel:
        return _needed(self._model, f"no model installed yet: a scenario must install one before {needed_for}")

    def snapshot(self, needed_for: str) -> TakenSnapshot:
        return _needed(self._snapshot, f"no snapshot yet: a scenario must take one before {needed_for}")

    def standby(self, needed_for: str) -> StandbyRun:
        return _needed(self._standby, "no CPU standby yet: a scenario must create an instance with a "
                                      f"standby before {needed_for}")

    def has_machine(self) -> bool:
        return self._machine is not None

    def chose(self, offer: dict) -> None:
        self._offer = offer

    def using(self, machine: Machine | None) -> None:
        if self._machine is not None and self._machine is not machine:
            self._machine.close_session()
        self._machine = machine

    def installed(self, model: InstalledModel) -> None:
        self._model = model

    def took(self, snapshot: TakenSnapshot) -> None:
        self._snapshot = snapshot

    def paired(self, standby: StandbyRun) -> None:
        self._standby = standby

    def finish(self, status: str, error: str | None = None) -> None:
        """The journey ended: its metrics get their status and the API figures of the calls made
        since it started (behave runs one scenario at a time, so those calls are all its own)."""
        if self._call_log is not None:
            self.metrics.api = self._call_log.figures(self._first_call, self._call_log.position())
        self.metrics.finish(status, error)

    # -- phases ------------------------------------------------------------------------------------

    @contextmanager
    def phase(self, name: str, detail: str = ""):
        """Time a block as a phase (exactly: both ends are here); a failing block records nothing."""
        start = Moment.now()
        yield start
        self.record(name, start, start.since_now(), detail)

    def record(self, name: str, start: Moment, span: Span, detail: str = "", history: str | None = None,
               stalled: Span | None = None) -> None:
        """Record a phase; ``history`` names it in the timing history when one name covers different
        things (SSH after a create or after a resume); ``stalled``, the part of it the server was stalled."""
        stalled = stalled or Span(0.0)
        self.metrics.add_phase(name, span.seconds, start.epoch, detail, span.uncertainty,
                               stalled.seconds, stalled.uncertainty)
        self.run.history.add(history or name, self.run.clock.real(span.seconds))

    def remember(self, name: str, span: Span) -> None:
        """Keep how long a wait took in the timing history only (it is not a phase of the report)."""
        self.run.history.add(name, self.run.clock.real(span.seconds))

    def expected(self, phase: str):
        """Where earlier runs saw this phase end (support.timings), to poll densely only there."""
        return self.run.history.expected(phase)

    def attach(self, name: str, body: str, mime: str = "text/plain") -> None:
        """Keep something for the report; the reporter publishes it with the step that recorded it."""
        self.attachments.append(Attachment(name, body, mime))

    def unpublished(self) -> list[Attachment]:
        """What was recorded since the reporter last asked, marked as published now."""
        fresh = self.attachments[self.published:]
        self.published = len(self.attachments)
        return fresh

    # -- machines and money ------------------------------------------------------------------------

    def machine_started(self, resource: Resource, view: dict, made: Moment) -> MachineRecord:
        """Start metering a machine (an instance, or a standby known by its GPU's id) from when it was made."""
        price = float(view.get("dph_total") or 0.0)
        storage = float(view.get("storage_dph") or 0.0)
        record = MachineRecord(id=resource.id, kind=resource.kind, label=resource.label,
                               gpu_name=str(view.get("gpu_name") or "CPU"), price_per_hour=price,
                               created_at=made.epoch)
        self.metrics.machines.append(record)
        self.meters[(resource.kind, resource.id)] = Meter(price, storage, self.run.clock, made)
        if self.metrics.instance_id is None and resource.kind == "instance":
            self.metrics.instance_id = record.id
            self.metrics.gpu_name = record.gpu_name
            self.metrics.gpu_cost_per_hour = price
        self._billing_changed()
        return record

    def machine_state(self, resource: Resource, state: str, at: Moment) -> None:
        meter = self.meters.get((resource.kind, resource.id))
        if meter is not None:
            meter.change(state, at)
            self._billing_changed()

    def machine_expected(self, resource: Resource, state: str | None, since: Moment) -> None:
        """A request sent at ``since`` will change what the machine bills (support.costs.Meter.expect)."""
        meter = self.meters.get((resource.kind, resource.id))
        if meter is not None:
            meter.expect(state, since)

    def machine_gone(self, resource: Resource, at: Moment, fate: str = "deleted") -> None:
        """Billing of the machine stopped at ``at`` (a leaked machine is billed until then at least)."""
        for record in self.metrics.machines:
            if (record.kind, record.id) == (resource.kind, resource.id) and record.fate == "alive":
                record.deleted_at = at.epoch if fate == "deleted" else None
                record.fate = fate
                self.meters[(record.kind, record.id)].stop(at)
                self._billing_changed()

    def _billing_changed(self) -> None:
        if self.run.spend_guard is not None:
            self.run.spend_guard.billing_changed()

    def spent(self) -> float:
        return sum(meter.cost() for meter in self.meters.values())

    def clean_up(self) -> list:
        """Delete what is still tracked, record each machine's fate, settle the costs."""
        if self._machine is not None:
            self._machine.close_session()
        if self._standby is not None:
            self._standby.close_session()
            if self._standby.watch is not None:
                self._standby.watch.stop()
        for outcome in self.cleanup.run():
            if outcome.resource is None or outcome.resource.id is None:
                continue      # a setting put back, or a label watched until nothing more could appear under it
            if outcome.by_label:
                self._found_by_label(outcome)
            if outcome.deleted:
                self.machine_gone(outcome.resource, outcome.at)
            elif outcome.failed:
                self.machine_gone(outcome.resource, outcome.at or Moment.now(), fate="leaked")
        self.settle_costs()
        return self.cleanup.failures()

    def _found_by_label(self, outcome) -> None:
        """An instance the cleanup found by label (its create never answered: an interrupt, a lost answer)
        billed too, at the chosen offer's price, from some moment between the request leaving and its
        delete (the cost's uncertainty says how wide)."""
        resource = outcome.resource
        if resource.kind == INSTANCE and (resource.kind, resource.id) not in self.meters:
            self.machine_started(resource, self._offer or {}, outcome.made)

    def settle_costs(self, now: float | None = None) -> None:
        for record in self.metrics.machines:
            meter = self.meters.get((record.kind, record.id))
            if meter is not None:
                record.cost = round(meter.cost(now), 6)
                record.cost_uncertainty = round(meter.uncertainty, 6)


def _needed(value, message: str):
    if value is None:
        raise MissingStep(message)
    return value
