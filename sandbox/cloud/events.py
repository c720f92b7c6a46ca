"""The ground truth: every state change the sandbox makes, with its time, kept in SQLite."""
from __future__ import annotations

from typing import Any, List, Optional

from ..clock import Clock
from .records import Event
from .store import Store


class EventLog:
    def __init__(self, store: Store, clock: Clock):
        self.store = store
        self.clock = clock

    def record(self, kind: str, rid: Any, event: str, frm: Optional[str] = None, to: Optional[str] = None,
               detail: Any = None, t: Optional[float] = None) -> None:
        """One event of resource `rid` of this kind; `t` defaults to now (wall epoch)."""
        self.store.add_event(Event(t=self.clock.now() if t is None else t, kind=kind, rid=rid, event=event,
                                   frm=frm, to=to, detail=detail))

    def list(self, rid: Any = None, kind: Optional[str] = None) -> List[Event]:
        return self.store.events(rid, kind)
