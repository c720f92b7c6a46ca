"""How long phases took in earlier runs, so that polls are dense only where the event is likely.

One JSON line per timed phase, appended (one ``O_APPEND`` write) to
``<reports>/phase-history.jsonl`` and kept across runs like the ledger. Times
are real-world seconds (the clock turns the sandbox's wall seconds into
them), keyed by the kind of target (the sandbox, or one real server) so that
one never steers the other.

A first run is not blind: a small prior, checked in (``support/prior/phase-prior.json``, made from bench
runs by ``make prior``: bench/prior.py), says where each phase's events fell on each kind of target. The
local history refines it: a phase with fewer than :data:`TRUSTED` local times is expected where the prior
and those times together put it; from then on the local times alone decide. ``DUMONT_PHASE_PRIOR`` names
another prior file, or ``none`` for none (a first run then polls everywhere, with more calls).
"""

from __future__ import annotations

import json
import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

#: How many of the latest times of a phase shape its window, and how far past them it reaches.
RECENT = 8
MARGIN = 0.05
#: Local times of a phase from which the prior is set aside (the local history alone then decides).
TRUSTED = 3
#: The checked-in prior (DUMONT_PHASE_PRIOR names another file, or "none").
PRIOR_PATH = Path(__file__).resolve().parent / "prior" / "phase-prior.json"
#: The kinds of target a prior knows: the sandbox the suite starts (or any sandbox), and a real server.
SANDBOX, SERVER = "sandbox", "server"


@dataclass(frozen=True)
class Expected:
    """Where an event is likely: between ``low`` and ``high`` real seconds after its phase began.

    ``spans`` says more where the times seen fall apart (a boot of 100 s on one machine and of 160 s on
    the next): the stretches around them, in order, not overlapping; between them nothing was seen, and a
    wait looks there as it looks on the way to ``low``. Empty: the whole of ``low``..``high``.
    """

    low: float
    high: float
    #: Where the window came from: "history", "prior", or "prior+history".
    source: str = "history"
    spans: tuple[tuple[float, float], ...] = ()

    @classmethod
    def around(cls, times, source: str = "history") -> "Expected | None":
        """The stretches within MARGIN of each of ``times`` (joined where they overlap); None without times."""
        return cls.of([(t * (1 - MARGIN), t * (1 + MARGIN)) for t in times if t > 0], source)

    @classmethod
    def of(cls, stretches, source: str) -> "Expected | None":
        merged: list[list[float]] = []
        for low, high in sorted((a, b) for a, b in stretches if 0 < a <= b):
            if merged and low <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], high)
            else:
                merged.append([low, high])
        if not merged:
            return None
        return cls(merged[0][0], merged[-1][1], source, tuple((a, b) for a, b in merged))

    def stretches(self) -> tuple[tuple[float, float], ...]:
        return self.spans or ((self.low, self.high),)

    def joined(self, other: "Expected", source: str) -> "Expected":
        return Expected.of([*self.stretches(), *other.stretches()], source)


def target_kind(target: str) -> str:
    """The kind of target a history key names: the sandbox, or a real server (keyed by its URL)."""
    return SANDBOX if target == SANDBOX else SERVER


@dataclass(frozen=True)
class Prior:
    """Where each phase's events fell on each kind of target, before any local run: per kind, per phase,
    the window (real seconds) and the typical time."""

    kinds: dict
    source: str = ""

    @classmethod
    def load(cls, path: Path | None) -> "Prior | None":
        """The prior at ``path``; None when there is none, or it cannot be read (a first run is then blind,
        as it was before there was a prior: it still passes, with more calls)."""
        if path is None:
            return None
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        kinds = data.get("kinds") if isinstance(data, dict) else None
        if not isinstance(kinds, dict):
            return None
        return cls(kinds, str(data.get("source") or ""))

    def _entry(self, kind: str, phase: str) -> dict | None:
        entry = (self.kinds.get(kind) or {}).get(phase)
        if not isinstance(entry, dict):
            return None
        try:
            low, high = float(entry["low"]), float(entry["high"])
        except (KeyError, TypeError, ValueError):
            return None
        return entry if 0 < low <= high else None

    def expected(self, kind: str, phase: str) -> Expected | None:
        entry = self._entry(kind, phase)
        if entry is None:
            return None
        spans = entry.get("spans")
        if isinstance(spans, list):
            try:
                found = Expected.of([(float(a), float(b)) for a, b in spans], "prior")
            except (TypeError, ValueError):
                found = None
            if found is not None:
                return found
        return Expected(float(entry["low"]), float(entry["high"]), "prior")

    def typical(self, kind: str, phase: str) -> float | None:
        entry = self._entry(kind, phase)
        if entry is None:
            return None
        value = entry.get("typical")
        return float(value) if isinstance(value, (int, float)) else (float(entry["low"]) + float(entry["high"])) / 2


def prior_path(setting: str | None = None) -> Path | None:
    """Where the prior is: ``setting`` (DUMONT_PHASE_PRIOR; a path, or "none"/"" for none), else the
    checked-in one."""
    if setting is None:
        return PRIOR_PATH
    if setting.strip().lower() in ("", "none", "off", "0"):
        return None
    return Path(setting)


class TimingHistory:
    def __init__(self, path: Path, target: str, prior: Prior | None | str = "default"):
        self.path = Path(path)
        self.target = target
        self.kind = target_kind(target)
        self.prior = Prior.load(prior_path()) if prior == "default" else prior

    def add(self, phase: str, seconds: float) -> None:
        line = json.dumps({"t": round(time.time(), 3), "target": self.target, "phase": phase,
                           "seconds": round(seconds, 4)}) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)

    def expected(self, phase: str) -> Expected | None:
        """Where the latest times of ``phase`` on this kind of target fell, each widened a little; where there
        are fewer than :data:`TRUSTED` of them, the prior's stretches joined with theirs; None with neither."""
        times = self._recent(phase)
        local = Expected.around(times)
        prior = self.prior.expected(self.kind, phase) if self.prior is not None else None
        if prior is None or len(times) >= TRUSTED:
            return local
        if local is None:
            return prior
        return prior.joined(local, "prior+history")

    def typical(self, name: str) -> float | None:
        """The median of the latest values recorded under ``name`` (with fewer than :data:`TRUSTED`, the
        prior's typical value counts as one of them); None with neither."""
        values = self._recent(name)
        if len(values) < TRUSTED and self.prior is not None:
            prior = self.prior.typical(self.kind, name)
            if prior is not None:
                values = [*values, prior]
        return statistics.median(values) if values else None

    def source(self, name: str) -> str | None:
        """Where :meth:`expected` and :meth:`typical` take ``name`` from: "history", "prior", "prior+history",
        or None (neither knows it)."""
        local = len(self._recent(name))
        known = self.prior is not None and self.prior.expected(self.kind, name) is not None
        if local >= TRUSTED or (local and not known):
            return "history"
        if known:
            return "prior+history" if local else "prior"
        return None

    def _recent(self, phase: str) -> list[float]:
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except OSError:
            return []
        times = []
        for line in reversed(lines):
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("target") == self.target and record.get("phase") == phase and record.get("seconds", 0) > 0:
                times.append(float(record["seconds"]))
                if len(times) == RECENT:
                    break
        return times
