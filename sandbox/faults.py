"""Fault registry: specs posted to /_sandbox/faults, matched against requests and lifecycle points.

A fault fires ``count`` times (default 1) or, with ``probability``, on each match with that
seeded probability (unlimited unless ``count`` is also given). offer_vanish, sync_stall and
sync_slow stay in force until cleared unless a count is given. Deterministic under --seed:
each fault draws from its own generator seeded by (seed, fault id).
"""
from __future__ import annotations

import fnmatch
import itertools
import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

KINDS = {
    "http_error", "rate_limit", "lost_response", "connection_drop", "sticky_delete", "never_running", "preempt",
    "ssh_refuse", "snapshot_fail", "sync_stall", "sync_slow", "offer_vanish", "provider_error", "unconfigured",
    "price_change",
}
KINDS.add("restore_nothing")   # a restore that restores nothing, answered success (restic failed)
KINDS.add("gpu_fault")         # the next N instances' stand-in GPU is broken (cloud/gpu_standin.py)
GPU_CONDITIONS = ("missing", "cuda_broken", "slow", "wrong_model", "mute")
GPU_TOOLS = ("nvidia-smi", "torch", "transformers")
PERSISTENT_KINDS = {"offer_vanish", "sync_stall", "sync_slow", "unconfigured", "price_change"}
REQUEST_KINDS = {"http_error", "rate_limit", "lost_response", "connection_drop", "provider_error"}
MATCH_KEYS = ("instance_id", "gpu_id", "offer_id")
PROVIDER_ERRORS = ("rate_limit", "timeout", "down", "server_error")
SETTINGS = ("server-provider-key", "provider-key", "restic", "gcp")
PROVIDER_API_PREFIX = "/_provider"


class FaultError(ValueError):
    pass


def canonical_path(path: str) -> str:
    """/api/x and /api/v1/x are the same route."""
    if path.startswith("/api/v1/") or path == "/api/v1":
        return path
    if path.startswith("/api/"):
        return "/api/v1/" + path[len("/api/"):]
    if path == "/api":
        return "/api/v1"
    return path


@dataclass(eq=False)   # a fault is itself: two with the same spec are still two
class Fault:
    """A posted fault. `spec` is kept as posted: GET /_sandbox/faults echoes it."""

    id: str
    kind: str
    spec: Dict[str, Any]
    method: Optional[str]                 # upper case; None = any method
    path: Optional[str]                   # canonical glob; None = any path
    probability: Optional[float]
    remaining: Optional[int]              # None = unlimited
    rng: random.Random
    fired: int = 0
    created_at: float = field(default_factory=time.time)

    @classmethod
    def from_spec(cls, fid: str, spec: Dict[str, Any], seed: Optional[int]) -> "Fault":
        kind = spec["kind"]
        probability = spec.get("probability")
        count = spec.get("count")
        if count is None:
            count = None if (probability is not None or kind in PERSISTENT_KINDS) else 1
        return cls(id=fid, kind=kind, spec=dict(spec), method=spec.get("method", "").upper() or None,
                   path=canonical_path(spec["path"]) if spec.get("path") else None, probability=probability,
                   remaining=count,
                   rng=random.Random(f"{seed}:fault:{fid}") if seed is not None else random.Random())

    @property
    def active(self) -> bool:
        return self.remaining is None or self.remaining > 0

    def matches(self, method: Optional[str], path: Optional[str], attrs: Dict[str, Any]) -> bool:
        if self.method and method and self.method != method.upper():
            return False
        if self.method and not method and self.kind in REQUEST_KINDS:
            return False
        if path is not None and path.startswith(PROVIDER_API_PREFIX) and not (
                self.path and self.path.startswith(PROVIDER_API_PREFIX)):
            return False   # the provider's own API is only hit by faults that name it
        if self.path:
            if path is None:
                return False
            if not fnmatch.fnmatchcase(canonical_path(path), self.path):
                return False
        for key in MATCH_KEYS:
            if key in self.spec and self.spec[key] is not None:
                if key not in attrs or attrs[key] is None or int(attrs[key]) != int(self.spec[key]):
                    return False
        return True

    def describe(self) -> Dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "spec": self.spec, "remaining": self.remaining,
                "fired": self.fired, "active": self.active, "created_at": self.created_at}


def validate(spec: Any) -> Dict[str, Any]:
    if not isinstance(spec, dict):
        raise FaultError("fault spec must be a JSON object")
    kind = spec.get("kind")
    if kind not in KINDS:
        raise FaultError(f"unknown fault kind {kind!r}; one of {', '.join(sorted(KINDS))}")
    if "count" in spec and spec["count"] is not None:
        if not isinstance(spec["count"], int) or isinstance(spec["count"], bool) or spec["count"] < 1:
            raise FaultError("count must be an integer >= 1")
    if spec.get("probability") is not None:
        p = spec["probability"]
        if not isinstance(p, (int, float)) or isinstance(p, bool) or not 0 <= p <= 1:
            raise FaultError("probability must be a number in [0, 1]")
    if spec.get("path") is not None and not str(spec["path"]).startswith("/"):
        raise FaultError("path must start with /")
    if kind == "http_error":
        st = spec.get("status", 500)
        if not isinstance(st, int) or not 400 <= st <= 599:
            raise FaultError("http_error needs a status between 400 and 599")
    if kind == "rate_limit" and spec.get("form", "500") not in ("500", "429", "429-retry-after"):
        raise FaultError("rate_limit form must be 500, 429 or 429-retry-after")
    if kind == "preempt" and not isinstance(spec.get("after", 0), (int, float)):
        raise FaultError("preempt 'after' must be nominal seconds")
    if kind == "ssh_refuse" and not isinstance(spec.get("seconds"), (int, float)):
        raise FaultError("ssh_refuse needs 'seconds' (nominal)")
    if kind == "offer_vanish" and not isinstance(spec.get("offer_id"), int):
        raise FaultError("offer_vanish needs an integer offer_id")
    if kind == "offer_vanish" and spec.get("reason", "gone") not in ("gone", "rented"):
        raise FaultError("offer_vanish reason must be gone or rented")
    if kind == "provider_error" and spec.get("error", "rate_limit") not in PROVIDER_ERRORS:
        raise FaultError(f"provider_error error must be one of {', '.join(PROVIDER_ERRORS)}")
    if kind == "unconfigured":
        if spec.get("setting") not in SETTINGS:
            raise FaultError(f"unconfigured needs a setting: one of {', '.join(SETTINGS)}")
        if spec.get("account") is not None and not isinstance(spec["account"], str):
            raise FaultError("account must be an email")
    if kind == "price_change":
        factor = spec.get("factor")
        if not isinstance(factor, (int, float)) or isinstance(factor, bool) or factor <= 0:
            raise FaultError("price_change needs a factor > 0")
        if spec.get("gpu_name") is not None and not isinstance(spec["gpu_name"], str):
            raise FaultError("gpu_name must be a string")
    if kind == "sync_slow" and not isinstance(spec.get("factor"), (int, float)):
        raise FaultError("sync_slow needs a numeric factor")
    if kind == "gpu_fault":
        if spec.get("condition") not in GPU_CONDITIONS:
            raise FaultError(f"gpu_fault needs a condition: one of {', '.join(GPU_CONDITIONS)}")
        what = spec.get("what", "torch")
        tools = [what] if isinstance(what, str) else what
        if not isinstance(tools, list) or not tools or not set(tools) <= set(GPU_TOOLS):
            raise FaultError(f"gpu_fault 'what' names what is missing, among {', '.join(GPU_TOOLS)}")
    for key in MATCH_KEYS:
        if spec.get(key) is not None and (not isinstance(spec[key], int) or isinstance(spec[key], bool)):
            raise FaultError(f"{key} must be an integer")
    return dict(spec)


class Faults:
    def __init__(self, seed: Optional[int] = None):
        self.seed = seed
        self._faults: List[Fault] = []
        self._ids = itertools.count(1)

    def add(self, spec: Dict[str, Any]) -> Fault:
        spec = validate(spec)
        fault = Fault.from_spec(f"f{next(self._ids)}", spec, self.seed)
        self._faults.append(fault)
        return fault

    def list(self) -> List[Dict[str, Any]]:
        return [f.describe() for f in self._faults]

    def clear(self) -> int:
        n = len(self._faults)
        self._faults.clear()
        return n

    def remove(self, fault: Fault) -> None:
        if fault in self._faults:
            self._faults.remove(fault)

    def take(self, kind: str, method: Optional[str] = None, path: Optional[str] = None,
             predicate: Optional[Callable[[Fault], bool]] = None, **attrs: Any) -> Optional[Fault]:
        """The first active fault of this kind that matches (and satisfies `predicate`) and
        fires; consumes one count."""
        for fault in self._faults:
            if fault.kind != kind or not fault.active:
                continue
            if not fault.matches(method, path, attrs):
                continue
            if predicate is not None and not predicate(fault):
                continue
            if fault.probability is not None and fault.rng.random() >= fault.probability:
                continue
            if fault.remaining is not None:
                fault.remaining -= 1
            fault.fired += 1
            return fault
        return None

    def active(self, kind: str, **attrs: Any) -> List[Fault]:
        """Active faults of this kind matching attrs, without consuming them."""
        return [f for f in self._faults if f.kind == kind and f.active and f.matches(None, None, attrs)]

    def hidden_offers(self) -> List[int]:
        return [int(f.spec["offer_id"]) for f in self._faults if f.kind == "offer_vanish" and f.active]

    def vanished(self, offer_id: int) -> Optional[Fault]:
        """The active offer_vanish fault that hides this offer, if any."""
        return next((f for f in self._faults if f.kind == "offer_vanish" and f.active
                     and int(f.spec["offer_id"]) == int(offer_id)), None)

    def unconfigured(self, setting: str, account: Optional[str] = None) -> Optional[Fault]:
        """The active unconfigured fault for this setting (and account), consumed once."""
        def concerns(fault: Fault) -> bool:
            want = fault.spec.get("account")
            return fault.spec.get("setting") == setting and (
                want is None or (account is not None and want.strip().lower() == account))

        return self.take("unconfigured", predicate=concerns)
