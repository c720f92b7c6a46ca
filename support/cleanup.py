"""Deleting what a scenario created: in reverse order, verified, idempotent, loud on failure."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from support.backoff import ApiError, ConnectionProblem
from support.waits import PhaseFailed, PhaseTimeout, Polling, wait_for


@dataclass
class Tracked:
    kind: str
    label: str
    id: str
    delete: Callable[[], object]
    is_gone: Callable[[], bool]
    description: str
    timeout: float | None = None      # overrides the cleanup's delete timeout
    find: Callable[[], list] | None = None   # ids under this label, while the id is unknown

    def created(self, resource_id, delete: Callable[[], object], is_gone: Callable[[], bool],
                description: str) -> None:
        """The create answered: from now on the resource is known by its id."""
        self.id = str(resource_id)
        self.delete, self.is_gone, self.description = delete, is_gone, description
        self.timeout = None


@dataclass
class Outcome:
    kind: str
    id: str
    label: str
    description: str
    deleted: bool
    kept: bool = False
    error: str | None = None
    at: float | None = None          # when the effective delete was answered


def delete_and_verify(kind: str, resource_id, delete: Callable[[], object], is_gone: Callable[[], bool], *,
                      timeout: float, polling: Polling, rounds: int = 3) -> float:
    """Delete until the resource is confirmed gone.

    "Already gone" is success, whatever the delete answered (the real server
    answers 500 to a delete of a missing instance). A delete that answered
    200 but left the resource alive is sent again, up to ``rounds`` times.
    Returns the epoch at which the effective delete was answered (billing
    stops there); raises with the last error when the resource is still there.
    """
    per_round = timeout / rounds
    last_error = "still present after delete"
    for _ in range(rounds):
        try:
            delete()
        except (ApiError, ConnectionProblem) as error:
            last_error = str(error)
        answered_at = time.time()
        try:
            wait_for(f"delete {kind} {resource_id}", is_gone, until=bool, timeout=per_round,
                     polling=polling, describe=lambda gone: "still present")
            return answered_at
        except (PhaseTimeout, PhaseFailed):
            continue
    raise AssertionError(f"{kind} {resource_id} is still alive after {rounds} deletes: {last_error}")


class Cleanup:
    """The resources of one scenario, deleted last-created first."""

    def __init__(self, ledger, scenario: str, guard, timeout: float, polling: Polling,
                 keep: Callable[[Tracked], bool] = lambda item: False):
        self.ledger = ledger
        self.scenario = scenario
        self.guard = guard
        self.timeout = timeout
        self.polling = polling
        self.keep = keep
        self._items: list[Tracked] = []
        self.outcomes: list[Outcome] = []

    def track(self, kind: str, label: str, resource_id, delete, is_gone, description: str = "") -> Tracked:
        item = Tracked(kind, label, str(resource_id), delete, is_gone, description or kind)
        self._items.append(item)
        return item

    def track_by_label(self, kind: str, label: str, find: Callable[[], list], delete_one: Callable[[object], object],
                       settle: float, description: str) -> Tracked:
        """Track a resource *before* the request that creates it.

        If that request is cut short (interrupt, lost answer), the server may
        still create the resource, even some time later: until it is
        :meth:`Tracked.created`, cleanup looks it up by ``label`` and keeps
        looking for ``settle`` seconds after the request was sent.
        """
        sent = time.monotonic()

        def delete():
            for resource_id in find():
                delete_one(resource_id)

        def is_gone():
            return not find() and time.monotonic() > sent + settle

        item = self.track(kind, label, "", delete, is_gone, description)
        item.timeout = settle + self.timeout
        item.find = find
        return item

    def refused(self, item: Tracked) -> None:
        """The create request answered with an error: nothing will appear later."""
        item.is_gone = lambda: not item.find()
        item.timeout = None

    def forget(self, kind: str, resource_id, deleted_at: float) -> Tracked | None:
        """A step deleted and verified this resource itself: record it as deleted."""
        for item in self._items:
            if item.kind == kind and item.id == str(resource_id):
                self._items.remove(item)
                self.outcomes.append(Outcome(item.kind, item.id, item.label, item.description, True,
                                             at=deleted_at))
                return item
        return None

    def defer(self, description: str, action) -> None:
        """Undo a setting at cleanup time, in reverse order with the deletes (no ledger entry)."""
        self._items.append(Tracked("setting", "", "", action, lambda: True, description))

    @property
    def pending(self) -> int:
        return len(self._items)

    def run(self) -> list[Outcome]:
        """Delete everything still tracked; never stops at the first failure or an interrupt."""
        with self.guard.protect():
            while self._items:
                item = self._items.pop()
                self.outcomes.append(self._settle(item))
        if any(o.error and o.error.startswith("interrupted") for o in self.outcomes):
            raise KeyboardInterrupt("interrupted during cleanup")
        return self.outcomes

    def _settle(self, item: Tracked) -> Outcome:
        if item.kind == "setting":
            try:
                item.delete()
            except BaseException as error:  # noqa: B902 - report, go on with the deletes
                return Outcome(item.kind, "", "", item.description, False, error=str(error))
            return Outcome(item.kind, "", "", item.description, True)
        if self.keep(item):
            self.ledger.kept(item.kind, item.label, item.id, self.scenario)
            return Outcome(item.kind, item.id, item.label, item.description, False, kept=True)
        try:
            answered_at = delete_and_verify(item.kind, item.id or item.label, item.delete, item.is_gone,
                                            timeout=item.timeout or self.timeout, polling=self.polling)
        except KeyboardInterrupt:
            # Only possible without an installed guard; finish the others, then re-raise (see run).
            return Outcome(item.kind, item.id, item.label, item.description, False, error="interrupted")
        except BaseException as error:  # noqa: B902 - one failure must not stop the others
            return Outcome(item.kind, item.id, item.label, item.description, False, error=str(error))
        self.ledger.deleted(item.kind, item.label, item.id, self.scenario)
        return Outcome(item.kind, item.id, item.label, item.description, True, at=answered_at)

    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.deleted and not o.kept]

