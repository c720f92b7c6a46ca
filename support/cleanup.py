"""Deleting what a scenario created: in reverse order, proven, idempotent, loud on failure.

Every paid resource enters the scenario's :class:`Cleanup` *before* the
request that creates it (and the ledger with it), so that an interrupted or
lost create is still found by its label and deleted. Deletion is proven the
way its kind says (:mod:`support.resources`), never by the delete's answer.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from support.clock import Moment
from support.errors import ApiError, CleanupFailed, ConnectionProblem, PhaseFailed, PhaseTimeout
from support.resources import KINDS, Resource, ids_labelled
from support.waits import wait_for


@dataclass
class Tracked:
    """A resource the scenario owns; until its create answered, known by label only."""

    resource: Resource
    description: str
    #: While the id is unknown: look the label up until then (monotonic), as a lost create
    #: may still make the resource some time after it was sent.
    settle_until: float | None = None
    #: When the request that makes it was about to leave (monotonic): it cannot exist before.
    expected_at: float = field(default_factory=lambda: time.monotonic())


@dataclass
class Undo:
    """A setting to put back at cleanup time, in order with the deletes."""

    description: str
    action: Callable[[], object]


@dataclass
class Outcome:
    description: str
    resource: Resource | None         # None for an undone setting
    fate: str                         # deleted / kept / failed / undone
    error: str | None = None
    at: Moment | None = None          # when the effective delete was carried out (within its request)
    #: Known by label only: the ids found by it and deleted, and when they were made (between the create
    #: request leaving and their delete).
    found: tuple[str, ...] = ()
    made: Moment | None = None

    @property
    def deleted(self) -> bool:
        return self.fate == "deleted"

    @property
    def kept(self) -> bool:
        return self.fate == "kept"

    @property
    def failed(self) -> bool:
        return self.fate == "failed"


class Deleter:
    """Deletes one resource until its kind proves it gone, within a time limit (real seconds)."""

    def __init__(self, client, clock, polling, limit: float, resource_kinds=KINDS, rounds: int = 3):
        self.client = client
        self.clock = clock
        self.polling = polling
        self.limit = limit
        self.kinds = resource_kinds
        self.rounds = rounds

    def delete(self, resource: Resource, limit: float | None = None) -> Moment:
        """Delete until proven gone; when the effective delete was carried out (within its request).

        "Already gone" is success, whatever the delete answered (the real server answers 500 to a
        delete of something gone). A delete that answered 200 but left the resource alive is sent
        again, up to ``rounds`` times. Raises :class:`CleanupFailed` with the last error.
        """
        kind = self.kinds[resource.kind]
        per_round = (limit or self.limit) / self.rounds
        last_error = "still present after delete"
        for _ in range(self.rounds):
            answer = "delete accepted"
            sent = time.monotonic()
            try:
                kind.delete(self.client, resource.id)
            except (ApiError, ConnectionProblem) as error:
                answer = str(error)
            carried_out = Moment.during(sent, time.monotonic())
            try:
                wait_for(f"delete {resource}", lambda: kind.is_gone(self.client, resource.id), until=bool,
                         limit=per_round, clock=self.clock, polling=self.polling,
                         describe=lambda gone: "still present")
                return carried_out
            except (PhaseTimeout, PhaseFailed) as error:
                seen = error.last_state if isinstance(error, PhaseTimeout) else error.reason
                last_error = f"{answer}; then {seen}"
        raise CleanupFailed(f"{resource} is still alive after {self.rounds} deletes: {last_error}")

    def delete_labelled(self, resource: Resource, settle_until: float) -> tuple[Moment, list[str]]:
        """Delete whatever carries ``resource.label`` until none is left and the settle time is over;
        when the last delete was carried out, and the ids deleted."""
        kind = self.kinds[resource.kind]
        carried_out = Moment.now()
        deleted: list[str] = []

        def none_left() -> bool:
            nonlocal carried_out
            found = ids_labelled(kind, self.client, resource.label)
            for resource_id in found:
                carried_out = self.delete(resource.identified(resource_id))
                deleted.append(str(resource_id))
            return not found and time.monotonic() >= settle_until

        remaining = self.clock.real(max(0.0, settle_until - time.monotonic()))
        try:
            wait_for(f"delete {resource}", none_left, until=bool, limit=remaining + self.limit,
                     clock=self.clock, polling=self.polling, describe=lambda done: "may still appear")
        except (PhaseTimeout, PhaseFailed) as error:
            raise CleanupFailed(f"{resource}: could not prove nothing carries its label ({error})") from None
        return carried_out, deleted


class Cleanup:
    """The resources of one scenario, deleted last-created first."""

    def __init__(self, ledger, scenario: str, guard, deleter: Deleter,
                 keep: Callable[[Resource], bool] = lambda resource: False):
        self.ledger = ledger
        self.scenario = scenario
        self.guard = guard
        self.deleter = deleter
        self.keep = keep
        self._items: list[Tracked | Undo] = []
        self.outcomes: list[Outcome] = []

    # -- what the scenario creates --------------------------------------------------------------

    def expect(self, kind: str, label: str, description: str, settle: float) -> Tracked:
        """About to send the request that creates a ``kind`` labelled ``label``.

        Written to the ledger and tracked before the request leaves. If the request is cut short
        (interrupt, lost answer) the server may still make the resource, even some time later:
        until :meth:`identified`, cleanup looks the label up for ``settle`` real seconds.
        """
        resource = self.ledger.resource(kind, label)
        self.ledger.intent(resource, self.scenario)
        item = Tracked(resource, description, time.monotonic() + self.deleter.clock.wall(settle))
        self._items.append(item)
        return item

    def identified(self, item: Tracked, resource_id, description: str, **ledger_extra) -> Resource:
        """The create answered: from now on the resource is known by its id."""
        item.resource = item.resource.identified(resource_id)
        item.description = description
        item.settle_until = None
        self.ledger.created(item.resource, self.scenario, **ledger_extra)
        return item.resource

    def refused(self, item: Tracked) -> None:
        """The create answered with an error: nothing will appear later, but look once more."""
        item.settle_until = time.monotonic()

    def adopt(self, kind: str, label: str, resource_id, description: str, **ledger_extra) -> Resource:
        """A resource the server made on its own for this scenario (e.g. failback's new GPU)."""
        item = self.expect(kind, label, description, settle=0.0)
        return self.identified(item, resource_id, description, **ledger_extra)

    def defer(self, description: str, action: Callable[[], object]) -> None:
        """Undo a setting at cleanup time, in reverse order with the deletes (no ledger entry)."""
        self._items.append(Undo(description, action))

    def forget(self, resource: Resource, deleted_at: Moment) -> None:
        """A step deleted and proved this resource gone itself: record it as deleted."""
        for item in self._items:
            if isinstance(item, Tracked) and item.resource == resource:
                self._items.remove(item)
                self.ledger.deleted(resource, self.scenario)
                self.outcomes.append(Outcome(item.description, resource, "deleted", at=deleted_at))
                return

    @property
    def pending(self) -> int:
        return sum(isinstance(item, Tracked) for item in self._items)

    # -- at the end -----------------------------------------------------------------------------

    def run(self) -> list[Outcome]:
        """Delete everything still tracked; never stops at the first failure or an interrupt."""
        with self.guard.protect():
            while self._items:
                self.outcomes.append(self._settle(self._items.pop()))
        if any(o.error == "interrupted" for o in self.outcomes):
            raise KeyboardInterrupt("interrupted during cleanup")
        return self.outcomes

    def _settle(self, item: Tracked | Undo) -> Outcome:
        if isinstance(item, Undo):
            try:
                item.action()
            except BaseException as error:  # noqa: B902 - report, go on with the deletes
                return Outcome(item.description, None, "failed", error=str(error))
            return Outcome(item.description, None, "undone")
        resource = item.resource
        if self.keep(resource):
            self.ledger.kept(resource, self.scenario)
            return Outcome(item.description, resource, "kept")
        found: list[str] = []
        try:
            if resource.id is None:
                carried_out, found = self.deleter.delete_labelled(resource, item.settle_until or time.monotonic())
            else:
                carried_out = self.deleter.delete(resource)
        except KeyboardInterrupt:
            # Only possible without an installed guard; finish the others, then re-raise (see run).
            return Outcome(item.description, resource, "failed", error="interrupted")
        except BaseException as error:  # noqa: B902 - one failure must not stop the others
            return Outcome(item.description, resource, "failed", error=str(error))
        self.ledger.deleted(resource, self.scenario)
        made = Moment(item.expected_at, carried_out.latest) if found else None
        return Outcome(item.description, resource, "deleted", at=carried_out, found=tuple(found), made=made)

    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.failed]
