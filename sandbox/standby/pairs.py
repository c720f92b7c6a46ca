"""Live associations (pairs) and what every standby job does with one: find it by any GPU it
has paired with, save it, record its events, look up its two machines, run its tasks."""
from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Coroutine, Dict, List, Optional

from ..clock import Clock
from ..cloud.events import EventLog
from ..cloud.lifecycle import Lifecycle
from ..cloud.resource import Resource
from .records import Association
from .store import StandbyStore


@dataclass(eq=False)
class InFlightSync:
    """A sync under way: its copy of the GPU goes to `staging`, then into the standby."""

    seq: int
    started_at: float
    gpu_id: int
    staging: Path
    cancel: threading.Event = field(default_factory=threading.Event)
    stalled: bool = False
    copy: Optional[asyncio.Future] = None       # the copy running in a worker thread
    task: Optional[asyncio.Task] = None


class Pair:
    """A live association: its record, its tasks, the sync in flight and the failover or
    failback under way (at most one of those two)."""

    def __init__(self, record: Association):
        self.record = record
        self.tasks: Dict[str, asyncio.Task] = {}
        self.sync: Optional[InFlightSync] = None
        self.pending: Optional[str] = None          # "failover" | "failback" while one runs

    @property
    def id(self) -> int:
        return self.record.id

    @property
    def account(self) -> str:
        return self.record.account

    @property
    def state(self) -> str:
        return self.record.state


class Pairs:
    def __init__(self, *, store: StandbyStore, lifecycle: Lifecycle, events: EventLog, clock: Clock):
        self.store = store
        self.lifecycle = lifecycle
        self.events = events
        self.clock = clock
        self.by_standby: Dict[int, Pair] = {}
        self.by_gpu: Dict[int, Pair] = {}           # every GPU id a pair has paired with

    # -- registry ---------------------------------------------------------------------------
    def register(self, p: Pair) -> None:
        self.by_standby[p.id] = p
        for gid in p.record.gpu_ids:
            self.by_gpu[gid] = p

    def unregister(self, p: Pair) -> None:
        self.by_standby.pop(p.id, None)
        for gid, other in list(self.by_gpu.items()):
            if other is p:
                del self.by_gpu[gid]

    def add_gpu(self, p: Pair, gpu_id: int) -> None:
        """The pair now also answers to this GPU id (a failback's GPU)."""
        if gpu_id not in p.record.gpu_ids:
            p.record.gpu_ids.append(gpu_id)
        self.by_gpu[gpu_id] = p

    def find(self, account: str, gpu_id: int) -> Optional[Pair]:
        p = self.by_gpu.get(int(gpu_id))
        return p if p is not None and p.account == account else None

    def of_account(self, account: str) -> List[Pair]:
        return sorted((p for p in self.by_standby.values() if p.account == account), key=lambda p: p.record.gpu_id)

    def of_current_gpu(self, gpu_id: int) -> Optional[Pair]:
        """The pair that syncs from this GPU now (not one it was replaced in)."""
        p = self.by_gpu.get(gpu_id)
        return p if p is not None and p.record.current_gpu_id == gpu_id else None

    def all(self) -> List[Pair]:
        return list(self.by_standby.values())

    # -- the two machines -------------------------------------------------------------------
    def gpu(self, p: Pair) -> Optional[Resource]:
        return self.lifecycle.get(p.record.current_gpu_id)

    def standby(self, p: Pair) -> Optional[Resource]:
        return self.lifecycle.get(p.id, kind="standby")

    @staticmethod
    def fault_attrs(p: Pair) -> Dict[str, int]:
        """What sync faults match on: the GPU, by gpu_id or instance_id."""
        gid = p.record.current_gpu_id
        return {"gpu_id": gid, "instance_id": gid}

    # -- persistence and ground truth -------------------------------------------------------
    def save(self, p: Pair) -> None:
        self.store.save_assoc(p.record)

    def event(self, p: Pair, event: str, detail: Optional[Dict[str, Any]] = None, t: Optional[float] = None,
              frm: Optional[str] = None, to: Optional[str] = None) -> None:
        self.events.record("standby", p.id, event, frm, to,
                           {"gpu_instance_id": p.record.current_gpu_id, **(detail or {})}, t=t)

    # -- time and tasks ---------------------------------------------------------------------
    def now(self) -> float:
        return self.clock.now()

    def wall(self, nominal: float) -> float:
        return self.clock.wall(nominal)

    @staticmethod
    def task(p: Pair, name: str, coro: Coroutine) -> None:
        """Run coro as the pair's task `name`, cancelling the one it replaces."""
        old = p.tasks.get(name)
        if old is not None and old is not asyncio.current_task() and not old.done():
            old.cancel()
        p.tasks[name] = asyncio.get_running_loop().create_task(coro)

    @staticmethod
    def cancel_tasks(p: Pair, *names: str) -> None:
        """Cancel the named tasks (every task without names), except the calling one."""
        for name in names or list(p.tasks):
            task = p.tasks.pop(name, None)
            if task is not None and task is not asyncio.current_task():
                task.cancel()

    @staticmethod
    def background(fn: Callable[..., Any], *args: Any) -> None:
        """Run a blocking fn in a worker thread, not waiting for it (removing staging copies)."""
        asyncio.get_running_loop().run_in_executor(None, fn, *args)
