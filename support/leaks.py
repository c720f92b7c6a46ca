"""The independent leak check at the end of every run.

Whatever each scenario's cleanup believes, the run asks the API (and, with
VAST_API_KEY, the provider) for anything still carrying this run's label.
Anything found is a leak: reported, marked LEAKED, and the run fails. Each
kind is listed on its own: a kind (or the provider) that could not be listed
is named, and the run fails as "leak check incomplete" — it never says
"clean" about what it could not see. A kind the server says it does not have
at all (no snapshot repository, so no snapshots) was seen: none of it can leak.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from support.errors import ApiError, ConnectionProblem
from support.ledger import read_entries
from support.resources import INSTANCE, SNAPSHOT, STANDBY, take_inventory

INCOMPLETE = "leak check incomplete"


@dataclass(frozen=True)
class Leak:
    kind: str
    id: str
    label: str
    where: str           # "dumont" or "provider"


@dataclass
class LeakCheck:
    leaks: list[Leak] = field(default_factory=list)
    #: What could not be listed (a kind, or "provider"), and the error that said so.
    unchecked: dict[str, str] = field(default_factory=dict)
    #: Kinds the server said it does not have at all (checked: none can exist), and why.
    absent: dict[str, str] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return not self.unchecked

    def problems(self) -> list[str]:
        """One line per reason the run must fail: leaks first, then what could not be checked."""
        lines = [f"{leak.kind} {leak.id} ({leak.label}) is still alive at {leak.where}" for leak in self.leaks]
        lines += [f"{INCOMPLETE}: could not list {what} ({why})" for what, why in self.unchecked.items()]
        return lines

    def to_dict(self) -> dict:
        return {"leaks": [asdict(leak) for leak in self.leaks], "unchecked": dict(self.unchecked),
                "absent": dict(self.absent), "complete": self.complete}


def kinds_to_check(run) -> list[str]:
    """Instances always; the other kinds when this run asked for one (the ledger says so before any create)."""
    asked = {entry["kind"] for entry in read_entries(run.ledger.path) if entry.get("run_id") == run.config.run_id}
    return [INSTANCE] + [kind for kind in (STANDBY, SNAPSHOT) if kind in asked]


def check_leaks(run) -> LeakCheck:
    label = run.config.run_label
    inventory = take_inventory(run.client, {name: run.kinds[name] for name in kinds_to_check(run)})
    check = LeakCheck(unchecked=dict(inventory.unlisted), absent=dict(inventory.absent))
    ours = [live for live in inventory.live.get(INSTANCE, []) if live.labelled(label)]
    check.leaks += [Leak(INSTANCE, live.id, live.labelled(label), "dumont") for live in ours]
    if not run.config.keep_snapshots:
        check.leaks += [Leak(SNAPSHOT, live.id, live.labelled(label), "dumont")
                        for live in inventory.live.get(SNAPSHOT, []) if live.labelled(label)]
    # A standby carries no label: it is ours when its GPU was ours.
    gpu_ids = {live.id for live in ours} | {m.id for j in run.journeys for m in j.metrics.machines}
    check.leaks += [Leak(STANDBY, live.id, label, "dumont")
                    for live in inventory.live.get(STANDBY, []) if live.id in gpu_ids]
    if run.provider is not None:
        try:
            check.leaks += [Leak(INSTANCE, live.id, live.labelled(label), "provider")
                            for live in run.provider.live() if live.labelled(label)]
        except (ApiError, ConnectionProblem) as error:
            check.unchecked["provider"] = str(error)
    return check
