"""Carrying out a schedule against a live sandbox, each action at its moment.

A moment is a sandbox event of the run's machines (the sandbox is the run's own, so every machine in
it is the run's) plus a delay: the injector reads the events on each :meth:`Injector.tick` and does
what has come due: it posts a fault, changes a setting, or sends the signal to behave. What it did,
and when (epoch seconds, the sandbox's clock), is kept in :attr:`Injector.done`; what never came due
before behave ended is reported as not reached, and counts as nothing.
"""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass

from soak.schedule import Action, Interrupt, Moment

#: Anchors that are events of the GPU instance itself (a standby has its own ``created``, ``ssh_ready`` ...).
_INSTANCE_ANCHORS = {"created", "running", "ssh_ready", "pause_requested", "resume_requested", "delete_requested"}


def occurrences(events: list[dict], anchor: str) -> list[float]:
    """When each event of this anchor happened, in order (epoch seconds)."""
    times = []
    for e in events:
        if anchor in _INSTANCE_ANCHORS and e.get("kind") != "instance":
            continue
        name = "status" if anchor == "running" else anchor
        if e.get("event") == name and (anchor != "running" or e.get("to") == "running"):
            times.append(float(e["t"]))
    return sorted(times)


def due_at(moment: Moment, events: list[dict]) -> float | None:
    """When a moment comes (epoch seconds), or None while its event has not happened."""
    seen = occurrences(events, moment.anchor)
    return seen[moment.nth - 1] + moment.delay if len(seen) >= moment.nth else None


@dataclass
class Done:
    """One action carried out: what, when, and the sandbox's answer (a fault id, or why it refused)."""

    kind: str
    what: str
    at: float
    result: str
    applied: bool

    def to_dict(self) -> dict:
        return {"kind": self.kind, "what": self.what, "at": self.at, "result": self.result, "applied": self.applied}


class Injector:
    def __init__(self, admin, actions: tuple[Action, ...], interrupt: Interrupt | None):
        self.admin = admin
        self.pending: list[Action | Interrupt] = list(actions) + ([interrupt] if interrupt else [])
        self.done: list[Done] = []
        self.proc = None

    def arm(self) -> None:
        """Before behave starts: every action whose moment is the start."""
        for item in [p for p in self.pending if p.moment.anchor == "start"]:
            self.pending.remove(item)
            self._act(item)

    def watch(self, proc) -> None:
        self.proc = proc

    def tick(self) -> None:
        """Carry out whatever has come due since the last tick (one read of the events)."""
        if not self.pending:
            return
        try:
            events = self.admin.events()
        except Exception:            # the sandbox is busy or gone: the next tick tries again
            return
        now = time.time()
        for item in list(self.pending):
            at = due_at(item.moment, events)
            if at is not None and now >= at:
                self.pending.remove(item)
                self._act(item)

    def _act(self, item: Action | Interrupt) -> None:
        if isinstance(item, Interrupt):
            self.done.append(self._signal(item.signal))
            return
        try:
            if item.fault is not None:
                result, applied = f"fault {self.admin.add_fault(**item.fault)}", True
            else:
                self.admin.settings(**item.settings)
                result, applied = "settings changed", True
        except Exception as error:   # e.g. a setting this sandbox does not know: it did nothing
            result, applied = f"refused by the sandbox: {str(error)[:200]}", False
        self.done.append(Done(item.kind, item.what, time.time(), result, applied))

    def _signal(self, name: str) -> Done:
        if self.proc is None or self.proc.poll() is not None:
            return Done("interrupt", name, time.time(), "behave had already ended", False)
        self.proc.send_signal(getattr(signal, name))
        return Done("interrupt", name, time.time(), "sent", True)

    def not_reached(self) -> list[str]:
        return [f"{getattr(p, 'what', None) or p.signal} ({p.moment.words()})" for p in self.pending]

    @property
    def interrupted(self) -> str | None:
        """The signal delivered to behave, if any."""
        return next((d.what for d in self.done if d.kind == "interrupt" and d.applied), None)
