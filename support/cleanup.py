"""Deleting what a scenario created: costliest first, proven, idempotent, loud on failure.

Every paid resource enters the scenario's :class:`Cleanup` *before* the
request that creates it (and the ledger with it), so that an interrupted or
lost create is still found by its label and deleted. Deletion is proven the
way its kind says (:mod:`support.resources`), never by the delete's answer.

**Order.** What bills most goes first, and nothing waits on one resource while another bills: GPU
instances, then CPU standbys, then snapshots (each kind's ``sweep_order``; within a kind, the last
created first). A setting to put back (the account's standby settings) goes after the machines it
governs and before the snapshots, so that their wait (below) does not keep the account changed.

**Known by label only.** A resource whose create never answered (an interrupt, a lost answer) is
looked up by its label where its kind's turn comes and whatever carries the label is deleted at once.
Something may still appear under that label later (the server may still be making it), so the label
is watched until nothing more can appear; those waits run after every other deletion, side by side,
each bounded by what can still appear: the create's time limit; sooner, the create's own answer when
the request was kept going in the background (:class:`InFlight`: once the server answered, whatever it
made is listed); or, for a request that got no answer, the proven deletion of the resource it was
being made from (a snapshot is made by the server over SSH on its instance: once that instance is
gone, no snapshot of it can appear). One more listing after that moment, finding nothing, ends it.

Every ledger entry is stamped with the moment its event happened (a deletion: within its delete
request), and a resource found by its label is recorded deleted under its own id.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from support.clock import Moment
from support.errors import ApiError, CleanupFailed, ConnectionProblem, PhaseFailed, PhaseTimeout
from support.resources import INSTANCE, KINDS, STANDBY, Resource, ids_labelled
from support.waits import wait_for

#: Where a setting to put back goes among the kinds' ``sweep_order`` (instances 0, standbys 1, snapshots 2):
#: after the machines it governs, before the snapshots.
UNDO_ORDER = 1.5


class InFlight:
    """A create request carried on in a thread of its own, so that an interrupt stops the step, not the request.

    A synchronous create (a snapshot: the server answers when the archive is done) that a Ctrl-C
    abandoned leaves cleanup guessing whether and when something will appear under its label. Kept
    going, its answer settles it: what the server made is listed by the time it answered, and an error
    answer means nothing was made.
    """

    def __init__(self, call: Callable[[], Any], made: Callable[[Any], Any] = lambda answer: None):
        self._call = call
        self._made = made
        self._done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None
        self.finished_at: float | None = None      # monotonic: when the answer (or the failure to get one) came
        self._thread = threading.Thread(target=self._run, name="create in flight", daemon=True)

    @classmethod
    def start(cls, call: Callable[[], Any], made: Callable[[Any], Any] = lambda answer: None) -> "InFlight":
        flight = cls(call, made)
        flight._thread.start()
        return flight

    def _run(self) -> None:
        try:
            self.value = self._call()
        except BaseException as error:  # noqa: B902 - handed to whoever asks for the result
            self.error = error
        finally:
            self.finished_at = time.monotonic()
            self._done.set()

    def done(self) -> bool:
        return self._done.is_set()

    def result(self) -> Any:
        """The answer, waiting as long as it takes; raises what the request raised."""
        while not self._done.wait(0.05):      # short waits: a signal in the main thread is handled promptly
            pass
        if self.error is not None:
            raise self.error
        return self.value

    @property
    def answered(self) -> bool:
        """The server answered, with what it made or with a refusal (not a lost connection or a timeout)."""
        return self.done() and (self.error is None or isinstance(self.error, ApiError))

    @property
    def made_id(self) -> str | None:
        """The id the answer gave, if it made something."""
        if not self.done() or self.error is not None:
            return None
        try:
            made = self._made(self.value)
        except (KeyError, TypeError, ValueError):
            return None
        return None if made is None else str(made)


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
    #: What it is made from (a snapshot's instance): once that is proven gone, nothing more of it can start.
    source: Resource | None = None
    #: Its create request, kept going in the background (see :class:`InFlight`).
    answer: InFlight | None = None


@dataclass
class Undo:
    """A setting to put back at cleanup time, in order with the deletes."""

    description: str
    action: Callable[[], object]


@dataclass
class Outcome:
    description: str
    resource: Resource | None         # None for an undone setting; without an id for a label's settling
    fate: str                         # deleted / kept / failed / undone / settled
    error: str | None = None
    at: Moment | None = None          # when the effective delete was carried out (within its request)
    #: Found by its label (its create never answered): when it was made, between the create request
    #: leaving and its delete.
    made: Moment | None = None
    by_label: bool = False

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

    def delete(self, resource: Resource, limit: float | None = None, gone_since: Moment | None = None) -> Moment:
        """Delete until proven gone; when the effective delete was carried out (within its request).

        "Already gone" is success, whatever the delete answered (the real server answers 500 to a
        delete of something gone). A delete that answered 200 but left the resource alive is sent
        again, sooner first and then less often, until the time limit (and at least ``rounds`` times):
        a machine that is still there is billing, so the suite does not stop at a count. Raises
        :class:`CleanupFailed` with the last error.

        ``gone_since``: another delete, carried out then, may have taken this one with it (a GPU's delete
        takes its standby): if it is already gone, it went between then and now, and no delete is sent.
        """
        kind = self.kinds[resource.kind]
        if gone_since is not None:
            try:
                if kind.is_gone(self.client, resource.id):
                    return Moment(gone_since.earliest, time.monotonic())
            except (ApiError, ConnectionProblem):
                pass                          # cannot tell yet: delete it as if it were there
        total = limit or self.limit
        began = time.monotonic()
        # A delete the server carried out shows at its next look (docs/dumont-api.md): the first proof wait is
        # short; each one after is twice the last, so a slow provider is not flooded with deletes.
        first = total / (2 ** (self.rounds + 1) - 1)
        wait, sent = first, 0
        last_error = "still present after delete"
        while True:
            answer = "delete accepted"
            asked = time.monotonic()
            try:
                kind.delete(self.client, resource.id)
            except (ApiError, ConnectionProblem) as error:
                answer = str(error)
            carried_out = Moment.during(asked, time.monotonic())
            sent += 1
            try:
                wait_for(f"delete {resource}", lambda: kind.is_gone(self.client, resource.id), until=bool,
                         limit=wait, clock=self.clock, polling=self.polling,
                         describe=lambda gone: "still present")
                return carried_out
            except (PhaseTimeout, PhaseFailed) as error:
                seen = error.last_state if isinstance(error, PhaseTimeout) else error.reason
                last_error = f"{answer}; then {seen}"
            left = total - self.clock.real(time.monotonic() - began)
            if left <= 0 and sent >= self.rounds:
                break
            wait = min(wait * 2, left) if left > first else first
        raise CleanupFailed(f"{resource} is still alive after {sent} deletes: {last_error}")

    def delete_labelled(self, resource: Resource, skip=()) -> list[tuple[Resource, Moment | BaseException]]:
        """Delete whatever carries ``resource.label`` now (but the ids in ``skip``): one listing, which raises
        when the server cannot say. Each one found, with when its delete was carried out or why it failed."""
        found = [rid for rid in ids_labelled(self.kinds[resource.kind], self.client, resource.label) if rid not in skip]
        done: list[tuple[Resource, Moment | BaseException]] = []
        for resource_id in found:
            each = resource.identified(resource_id)
            try:
                done.append((each, self.delete(each)))
            except BaseException as error:  # noqa: B902 - one failure must not stop the others
                done.append((each, error))
        return done


@dataclass
class _Gone:
    """A resource this cleanup (or a step) deleted: when the delete was carried out, and when it was proven."""

    carried_out: Moment
    proven_at: float


@dataclass
class _Label:
    """A label being watched until nothing more can appear under it."""

    item: Tracked
    deleted: list[str] = field(default_factory=list)
    failed: set[str] = field(default_factory=set)
    state: str = "nothing listed yet"
    looks: int = 0
    over: bool = False
    error: str | None = None          # set when watching it failed for good


class Cleanup:
    """The resources of one scenario, deleted costliest first (last created first within a kind)."""

    def __init__(self, ledger, scenario: str, guard, deleter: Deleter,
                 keep: Callable[[Resource], bool] = lambda resource: False):
        self.ledger = ledger
        self.scenario = scenario
        self.guard = guard
        self.deleter = deleter
        self.keep = keep
        self._items: list[Tracked | Undo] = []
        self._watched: list[_Label] = []
        self._gone: dict[tuple[str, str], _Gone] = {}
        self.outcomes: list[Outcome] = []

    # -- what the scenario creates --------------------------------------------------------------

    def expect(self, kind: str, label: str, description: str, settle: float,
               source: Resource | None = None) -> Tracked:
        """About to send the request that creates a ``kind`` labelled ``label``.

        Written to the ledger and tracked before the request leaves. If the request is cut short
        (interrupt, lost answer) the server may still make the resource, even some time later:
        until :meth:`identified`, cleanup looks the label up for ``settle`` real seconds at most
        (less once the request's answer came, or once ``source``, what it is made from, is gone).
        """
        resource = self.ledger.resource(kind, label)
        self.ledger.intent(resource, self.scenario)
        item = Tracked(resource, description, time.monotonic() + self.deleter.clock.wall(settle), source=source)
        self._items.append(item)
        return item

    def send(self, item: Tracked, call: Callable[[], Any],
             made: Callable[[Any], Any] = lambda answer: None) -> InFlight:
        """Send ``item``'s create in the background (see :class:`InFlight`); ``made(answer)`` is the id it gives.

        The step waits for it with :meth:`InFlight.result`; if the step is cut short, cleanup still
        gets the answer.
        """
        item.answer = InFlight.start(call, made)
        return item.answer

    def identified(self, item: Tracked, resource_id, description: str, at: float | None = None,
                   **ledger_extra) -> Resource:
        """The create answered: from now on the resource is known by its id (``at``: when it was made, epoch)."""
        item.resource = item.resource.identified(resource_id)
        item.description = description
        item.settle_until = None
        self.ledger.created(item.resource, self.scenario, at=at, **ledger_extra)
        return item.resource

    def refused(self, item: Tracked) -> None:
        """The create answered with an error: nothing will appear later, but look once more."""
        item.settle_until = time.monotonic()

    def adopt(self, kind: str, label: str, resource_id, description: str, **ledger_extra) -> Resource:
        """A resource the server made on its own for this scenario (e.g. failback's new GPU)."""
        item = self.expect(kind, label, description, settle=0.0)
        return self.identified(item, resource_id, description, **ledger_extra)

    def defer(self, description: str, action: Callable[[], object]) -> None:
        """Undo a setting at cleanup time, after the machines' deletes (no ledger entry)."""
        self._items.append(Undo(description, action))

    def forget(self, resource: Resource, deleted_at: Moment) -> None:
        """A step deleted and proved this resource gone itself: record it as deleted."""
        for item in self._items:
            if isinstance(item, Tracked) and item.resource == resource:
                self._items.remove(item)
                self._gone[(resource.kind, str(resource.id))] = _Gone(deleted_at, time.monotonic())
                self.ledger.deleted(resource, self.scenario, at=deleted_at.epoch)
                self.outcomes.append(Outcome(item.description, resource, "deleted", at=deleted_at))
                return

    @property
    def pending(self) -> int:
        return sum(isinstance(item, Tracked) for item in self._items) + sum(not w.over for w in self._watched)

    # -- at the end -----------------------------------------------------------------------------

    def run(self) -> list[Outcome]:
        """Delete everything still tracked, costliest first, then watch the labels that may still bring
        something; never stops at the first failure or an interrupt."""
        with self.guard.protect():
            for item in self._costliest_first():
                self._items.remove(item)
                self._settle(item)
            self._watch_labels()
        if any(o.error == "interrupted" for o in self.outcomes):
            raise KeyboardInterrupt("interrupted during cleanup")
        return self.outcomes

    def _order(self, item: Tracked | Undo) -> float:
        if isinstance(item, Undo):
            return UNDO_ORDER
        return self.deleter.kinds[item.resource.kind].sweep_order

    def _costliest_first(self) -> list[Tracked | Undo]:
        latest_first = list(reversed(self._items))
        return sorted(latest_first, key=self._order)            # stable: last created first within a kind

    def _settle(self, item: Tracked | Undo) -> None:
        if isinstance(item, Undo):
            try:
                item.action()
            except BaseException as error:  # noqa: B902 - report, go on with the deletes
                self.outcomes.append(Outcome(item.description, None, "failed", error=str(error)))
                return
            self.outcomes.append(Outcome(item.description, None, "undone"))
            return
        resource = item.resource
        if self.keep(resource):
            self.ledger.kept(resource, self.scenario)
            self.outcomes.append(Outcome(item.description, resource, "kept"))
            return
        if resource.id is None:
            # Delete what carries the label now; watching for more comes after every other deletion.
            watched = _Label(item)
            self._watched.append(watched)
            self._look_safely(watched)
            return
        try:
            carried_out = self.deleter.delete(resource, gone_since=self._taken_with(resource))
        except KeyboardInterrupt:
            # Only possible without an installed guard; finish the others, then re-raise (see run).
            self.outcomes.append(Outcome(item.description, resource, "failed", error="interrupted"))
            return
        except BaseException as error:  # noqa: B902 - one failure must not stop the others
            self.outcomes.append(Outcome(item.description, resource, "failed", error=str(error)))
            return
        self._gone[(resource.kind, str(resource.id))] = _Gone(carried_out, time.monotonic())
        self.ledger.deleted(resource, self.scenario, at=carried_out.epoch)
        self.outcomes.append(Outcome(item.description, resource, "deleted", at=carried_out))

    def _taken_with(self, resource: Resource) -> Moment | None:
        """A standby is known by its GPU's id and a GPU's delete destroys its standby: if the GPU was deleted
        here, the standby may have gone with it then."""
        if resource.kind != STANDBY:
            return None
        gpu = self._gone.get((INSTANCE, str(resource.id)))
        return gpu.carried_out if gpu is not None else None

    # -- labels that may still bring something ------------------------------------------------------

    @staticmethod
    def _time_limit(item: Tracked) -> float:
        """Until when (monotonic) its create may still make something, whatever else is known."""
        return item.settle_until if item.settle_until is not None else item.expected_at

    def _settles_at(self, item: Tracked) -> float:
        """From when (monotonic) one listing that finds nothing under the label proves nothing more will come."""
        limit = self._time_limit(item)
        answer = item.answer
        if answer is not None and not answer.done():
            return limit                      # still being made: its answer will say when it is over
        if answer is not None and answer.answered:
            return min(limit, answer.finished_at)
        gone = self._gone.get((item.source.kind, str(item.source.id))) if item.source is not None else None
        if gone is not None:
            return min(limit, gone.proven_at)
        return limit

    def _look(self, watched: _Label) -> None:
        """List the label once: delete what carries it; over when a listing sent after the label settles
        found nothing (and what the create's answer said it made was seen and deleted)."""
        item = watched.item
        answer = item.answer
        if watched.looks and answer is not None and not answer.done():
            return                            # looked once already: what it makes is there when the server answers
        watched.looks += 1
        sent = time.monotonic()
        try:
            found = self.deleter.delete_labelled(item.resource, skip=watched.failed)
        except ApiError as error:
            if error.permanent:
                watched.over, watched.error = True, f"could not list what carries its label: {error}"
            watched.state = str(error)
            return
        except ConnectionProblem as error:
            watched.state = str(error)
            return
        for resource, deleted in found:
            self._found(watched, resource, deleted)
        made = answer.made_id if answer is not None else None
        seen_made = made is None or any(rid.startswith(made) or made.startswith(rid)
                                        for rid in [*watched.deleted, *watched.failed])
        if not seen_made and sent >= self._time_limit(item):
            seen_made = True                  # its time limit is over: what never showed up cannot be waited for
        if not found and seen_made and sent >= self._settles_at(item):
            watched.over = True
        watched.state = f"found {', '.join(r.id for r, _ in found)}" if found else "nothing carries it yet"

    def _look_safely(self, watched: _Label) -> None:
        try:
            self._look(watched)
        except KeyboardInterrupt:
            # Only possible without an installed guard; finish the others, then re-raise (see run).
            watched.over, watched.error = True, "interrupted"
        except BaseException as error:  # noqa: B902 - one failure must not stop the others
            watched.over, watched.error = True, str(error)

    def _found(self, watched: _Label, resource: Resource, deleted: Moment | BaseException) -> None:
        """Record one resource found under a watched label: deleted then, under its own id, or failed."""
        item = watched.item
        description = f"{resource} (found by its label {item.resource.label})"
        if isinstance(deleted, BaseException):
            watched.failed.add(resource.id)
            error = "interrupted" if isinstance(deleted, KeyboardInterrupt) else str(deleted)
            self.outcomes.append(Outcome(description, resource, "failed", error=error, by_label=True,
                                         made=Moment(item.expected_at, time.monotonic())))
            return
        watched.deleted.append(resource.id)
        self._gone[(resource.kind, resource.id)] = _Gone(deleted, time.monotonic())
        self.ledger.deleted(resource, self.scenario, at=deleted.epoch, by_label=True)
        self.outcomes.append(Outcome(description, resource, "deleted", at=deleted, by_label=True,
                                     made=Moment(item.expected_at, deleted.latest)))

    def _watch_labels(self) -> None:
        """Watch every label that may still bring something, side by side, until each is over."""
        watching = [w for w in self._watched if not w.over]
        if watching:
            latest = max(self._time_limit(w.item) for w in watching)
            limit = self.deleter.clock.real(max(0.0, latest - time.monotonic())) + self.deleter.limit

            def look_at_each() -> bool:
                for watched in watching:
                    if not watched.over:
                        self._look_safely(watched)
                return all(watched.over for watched in watching)

            try:
                wait_for("labels settle", look_at_each, until=bool, limit=limit, clock=self.deleter.clock,
                         polling=self.deleter.polling, describe=lambda over: "something may still appear")
            except (PhaseTimeout, PhaseFailed):
                pass                          # what is not over is reported below
        for watched in self._watched:
            self._close(watched)
        self._watched = []

    def _close(self, watched: _Label) -> None:
        item = watched.item
        if watched.over and watched.error is None:
            now = Moment.now()
            self.ledger.settled(item.resource, self.scenario, at=now.epoch, found=list(watched.deleted))
            self.outcomes.append(Outcome(item.description, item.resource, "settled", at=now))
            return
        why = watched.error or f"could not prove nothing more carries its label ({watched.state})"
        if why == "interrupted":
            self.outcomes.append(Outcome(item.description, item.resource, "failed", error=why))
        else:
            self.outcomes.append(Outcome(item.description, item.resource, "failed", error=f"{item.resource}: {why}"))

    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.failed]
