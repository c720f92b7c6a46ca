"""``python -m support.sweep``: delete whatever this suite may have left alive.

Two sources, so that neither a lost create answer nor a lost ledger hides a
machine: the ledger (``reports/ledger.jsonl``: created or intended, never
confirmed deleted) and the API's own listing of everything labelled with the
suite's label prefix. Resources of a run that is still going on (its process
is alive on this host) are left alone. Most expensive first (instances, then
standbys, then snapshots); one failure does not stop the rest; ``--dry-run``
only lists. Each kind is listed on its own: a kind that could not be listed
is named and the sweep exits non-zero; "nothing left alive" is said only when
every kind was checked. A kind the server says it does not have at all (no
snapshot repository: no snapshots) is checked, and said so in one line.

A create whose run died while it was on its way (an intent with no answer) may
still make something: a snapshot the server was archiving, an instance behind
the server's stall. Its label is watched, and whatever appears deleted, until
that create's own time limit has passed since it was sent; only then is the
intent closed.

Every run also sweeps, at its start, the leftovers of earlier runs on the same
target whose process is gone (e.g. ``kill -9``).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field

from support import config as configuration
from support.backoff import BackoffPolicy
from support.cleanup import Deleter
from support.client import DumontClient
from support.clock import Clock
from support.errors import ApiError, ConnectionProblem, LoginFailed, PhaseFailed, PhaseTimeout
from support.ledger import Entry, Ledger, maybe_alive, read_entries
from support.provider import ProviderListing
from support.resources import INSTANCE, SNAPSHOT, STANDBY, Inventory, Resource, kinds, take_inventory
from support.target import read_health, target_key, url_of
from support.waits import Polling, wait_for


@dataclass(frozen=True)
class Found:
    resource: Resource
    why: str


@dataclass
class SweepResult:
    found: list[Found] = field(default_factory=list)
    failed: list[Found] = field(default_factory=list)
    unlisted: dict[str, str] = field(default_factory=dict)

    @property
    def problems(self) -> int:
        return len(self.failed) + len(self.unlisted)


def clock_time(epoch: float) -> str:
    """An epoch as the local time of day a person reads on their own clock."""
    return time.strftime("%H:%M:%S", time.localtime(epoch))


class Sweeper:
    """Finds and deletes leftovers on one target."""

    def __init__(self, client, ledger: Ledger, resource_kinds, *, clock: Clock, polling: Polling,
                 delete_limit: float, out=print, create_limits: dict[str, float] | None = None):
        self.client = client
        self.ledger = ledger
        self.kinds = resource_kinds
        self.deleter = Deleter(client, clock, polling, delete_limit, resource_kinds)
        #: Real seconds, per kind, that a create may still make something after it was sent.
        self.create_limits = dict(create_limits or {})
        self.out = out

    def may_still_appear_until(self, entry: Entry) -> float | None:
        """For an intent with no answer: until when (epoch) its create may still make something, if later
        than now."""
        if entry.resource.id is not None or not entry.at:
            return None
        until = entry.at + self.deleter.clock.wall(self.create_limits.get(entry.resource.kind, 0.0))
        return until if until > time.time() else None

    def watch(self, entry: Entry, until: float, result: "SweepResult") -> None:
        """Delete whatever appears under an intent's label until ``until`` (epoch); then close the intent."""
        resource = entry.resource
        target = self.ledger.target
        self.out(f"{target}: a {resource.kind} labelled {resource.label} was being made when its run ended: "
                 f"watching its label until {clock_time(until)} "
                 f"(its create's time limit)")
        deleted: list[str] = []
        failed: list[str] = []

        def look() -> bool:
            over = time.time() >= until           # a listing sent after the limit that finds nothing ends it
            for each, outcome in self.deleter.delete_labelled(resource, skip=deleted + failed):
                if isinstance(outcome, BaseException):
                    failed.append(each.id)
                    self.out(f"{target}: FAILED to delete {each}: {outcome}")
                    result.failed.append(Found(each, "appeared under a watched label"))
                else:
                    deleted.append(each.id)
                    self.ledger.deleted(each, "sweep", at=outcome.epoch, by_label=True)
                    self.out(f"{target}: deleted {each} ({resource.label}, appeared after its run ended)")
                    over = False
            return over

        try:
            wait_for(f"{resource.kind} labelled {resource.label}", look, until=bool,
                     limit=self.deleter.clock.real(max(0.0, until - time.time())) + self.deleter.limit,
                     clock=self.deleter.clock, polling=self.deleter.polling,
                     describe=lambda over: "it may still appear")
        except (PhaseTimeout, PhaseFailed, ApiError, ConnectionProblem) as error:
            self.out(f"{target}: could not prove nothing more carries {resource.label}: {error}")
            result.failed.append(Found(resource, "its label could not be watched to its end"))
            return
        if not failed:
            self.ledger.settled(resource, "sweep", found=deleted)

    def find(self, entries: list[Entry], prefix: str | None, protected_runs=()) -> tuple[list[Found], Inventory]:
        """Everything alive that ``entries`` or the label ``prefix`` point at, and what could not be listed.

        Labels containing a run id from ``protected_runs`` (runs still going on) are skipped.
        """
        inventory = take_inventory(self.client, self.kinds)
        target = self.ledger.target
        found: dict[tuple, Found] = {}

        def add(kind: str, resource_id: str, label: str, why: str) -> None:
            found.setdefault((kind, resource_id), Found(Resource(kind, resource_id, label, target), why))

        for entry in entries:
            wanted = entry.resource
            for live in inventory.live.get(wanted.kind, []):
                if live.id == wanted.id or (wanted.id is None and wanted.label in live.labels):
                    add(wanted.kind, live.id, wanted.label, "in the ledger")
        if prefix:
            def unprotected(label: str) -> bool:
                return not any(run_id and run_id in label for run_id in protected_runs)

            for live in inventory.all_live():
                label = live.labelled(prefix)
                if label and unprotected(label):
                    add(live.kind, live.id, label, "label prefix")
            # A standby carries no label: it is ours when its GPU is.
            ours = {resource_id: f.resource.label for (kind, resource_id), f in found.items() if kind == INSTANCE}
            for live in inventory.live.get(STANDBY, []):
                if live.id in ours:
                    add(STANDBY, live.id, ours[live.id], "paired with a labelled instance")
        order = sorted(found.values(), key=lambda f: self.kinds[f.resource.kind].sweep_order)
        return order, inventory

    def sweep(self, entries: list[Entry], *, prefix: str | None, protected_runs=(),
              dry_run: bool = False) -> SweepResult:
        target = self.ledger.target
        leftovers, inventory = self.find(entries, prefix, protected_runs)
        result = SweepResult(found=leftovers, unlisted=dict(inventory.unlisted))
        for kind, why in inventory.unlisted.items():
            self.out(f"{target}: could not list {kind}s, so they were not checked: {why}")
        for kind, why in inventory.absent.items():
            self.out(f"{target}: {kind}s: none ({why})")
        for item in leftovers:
            resource = item.resource
            if dry_run:
                self.out(f"{target}: would delete {resource} ({resource.label}, {item.why})")
                continue
            try:
                self.deleter.delete(resource)
            except Exception as error:  # report every failure, go on with the rest
                self.out(f"{target}: FAILED to delete {resource}: {error}")
                result.failed.append(item)
                continue
            self.ledger.deleted(resource, "sweep")
            self.out(f"{target}: deleted {resource} ({resource.label}, {item.why})")
        if not dry_run:
            # What the ledger still lists but the server does not have (intents that never became a
            # resource, resources already gone) is closed, for the kinds that could be listed.
            failed = {f.resource.label for f in result.failed}
            seen = {f.resource.label for f in leftovers}
            on_their_way = []
            for entry in entries:
                resource = entry.resource
                if resource.kind in inventory.live and resource.label not in failed | seen:
                    until = None if resource.kind in inventory.absent else self.may_still_appear_until(entry)
                    if until is not None:
                        on_their_way.append((entry, until))
                        continue
                    why = inventory.absent.get(resource.kind, "not found on the server")
                    self.ledger.deleted(resource, f"sweep: {why}")
            for entry, until in on_their_way:
                self.watch(entry, until, result)
        else:
            for entry in entries:
                until = self.may_still_appear_until(entry)
                if until is not None:
                    self.out(f"{target}: a {entry.resource.kind} labelled {entry.resource.label} may still appear "
                             f"until {clock_time(until)} (its create was on its way "
                             f"when its run ended)")
        return result


def sweep(config, dry_run: bool, out=print) -> int:
    """Sweep every target the ledger names (and the configured one); 0 only when nothing is left alive."""
    entries = read_entries(config.ledger_path)
    pending = {target: maybe_alive(entries, target) for target in {e.get("target") for e in entries} if target}
    targets = {target for target, alive in pending.items() if alive}
    problems = 0
    if config.api_url:
        try:
            targets.add(target_key(config.api_url, read_health(config.api_url, config.request_timeout)))
        except configuration.ConfigError as error:
            out(f"{config.api_url}: {error}; nothing there could be checked")
            problems += 1
    for target in sorted(targets):
        problems += sweep_one(config, target, pending.get(target, []), dry_run, out)
    if not problems:
        out("dry run: nothing deleted; every kind was checked" if dry_run else "nothing left alive")
    return 1 if problems else 0


def create_limits(config) -> dict[str, float]:
    """How long after it was sent a create of each kind may still make something (real seconds): the same
    limits the journeys wait for them (a standby is made by its GPU's create: nothing of its own)."""
    return {INSTANCE: config.timeouts.create, SNAPSHOT: config.timeouts.snapshot}


def sweep_one(config, target: str, pending: list[Entry], dry_run: bool, out) -> int:
    running = {e.run_id for e in pending if not e.owner_gone() and e.pid}
    mine = [e for e in pending if e.run_id not in running]
    for run_id in sorted(running):
        out(f"{target}: run {run_id} is still going on; its resources are left to it")
    url = url_of(target)
    try:
        health = read_health(url, config.request_timeout)
    except configuration.ConfigError:
        health = None
    if health is None or target_key(url, health) != target:
        if "#sandbox-" in target:
            # That sandbox is gone (stopped, or another one answers at its address): its machines
            # ended with it.
            if mine:
                gone = Ledger(config.ledger_path, "sweep", target)
                for entry in mine:
                    gone.deleted(entry.resource, "sweep: its sandbox is gone")
                out(f"{target}: that sandbox is gone; {len(mine)} ledger entries closed")
            return 0
        out(f"{target}: unreachable; {len(mine)} resource(s) in the ledger may still be alive there")
        return max(1, len(mine))
    clock = Clock(float((health.get("sandbox") or {}).get("time_scale", 1.0)))
    client = DumontClient(url, config.user, config.password, timeout=config.request_timeout,
                          backoff=BackoffPolicy(clock=clock))
    provider = (ProviderListing(config.vast_api_key, config.vast_api_url, config.request_timeout)
                if config.vast_api_key else None)
    sweeper = Sweeper(client, Ledger(config.ledger_path, "sweep", target), kinds(provider), clock=clock,
                      polling=Polling(), delete_limit=config.timeouts.delete, out=out,
                      create_limits=create_limits(config))
    try:
        return sweeper.sweep(mine, prefix=config.label_prefix, protected_runs=running, dry_run=dry_run).problems
    except (LoginFailed, ApiError, ConnectionProblem) as error:
        out(f"{target}: cannot sweep ({error})")
        return 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m support.sweep", description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="list what would be deleted, delete nothing")
    args = parser.parse_args(argv)
    try:
        config = configuration.load()
    except configuration.ConfigError as error:
        for problem in error.problems:
            print(f"configuration error: {problem}", file=sys.stderr)
        return configuration.EXIT_BAD_CONFIG
    return sweep(config, args.dry_run)


if __name__ == "__main__":
    sys.exit(main())
