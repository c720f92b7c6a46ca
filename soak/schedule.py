"""A run's schedule: what the soak does to run ``k`` of seed ``S``, drawn from ``(S, k)`` alone.

The generator is ``random.Random(f"soak:{S}:{k}")``: run k draws the same schedule whether it runs
alone (``make soak SEED=S RUNS=1 START=k``) or among others, whatever came before it. Nothing here
reads a clock or the environment; the schedule is written to ``runs/<k>/schedule.json`` as drawn.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field, replace

from soak import catalogue

SIGNALS = ("SIGINT", "SIGTERM", "SIGKILL")

#: A budget every journey fits (the failover journey's worst case is about $0.66 in the sandbox).
ROOMY_BUDGET = 5.0
#: A budget below the worst case of every journey (the instance journey's is about $0.09): refused, exit 2.
TIGHT_BUDGET = 0.05

#: How likely a run is to get each thing (the rest of the draws are uniform).
P_FATAL = 0.5          # one fault that may make the journey impossible, besides the transient ones
P_INTERRUPT = 0.3
P_LOAD = 0.35
P_TIGHT_BUDGET = 0.08
P_PORTUGUESE = 0.25
P_AT_START = 0.25      # a fault armed before behave starts rather than at a moment of the journey
MAX_DELAY = 0.6        # wall seconds after the moment's event
#: The suite sends one resource's delete at most this many times before its step fails (support/cleanup.py,
#: ``Deleter.rounds``): faults that spoil that many deletes together may fail the journey, each harmless alone.
DELETE_ROUNDS = 3
_SPOILING = {"connection_drop", "http_error", "provider_error"}      # the delete is not carried out


@dataclass(frozen=True)
class Moment:
    """When to act: before behave starts (``start``), or ``delay`` wall seconds after the ``nth`` sandbox
    event named ``anchor`` on the run's machines."""

    anchor: str = "start"
    nth: int = 1
    delay: float = 0.0

    def words(self) -> str:
        if self.anchor == "start":
            return "at start"
        nth = f" #{self.nth}" if self.nth > 1 else ""
        return f"{self.delay:.2f} s after {self.anchor}{nth}"


@dataclass(frozen=True)
class Action:
    """A fault (POST /_sandbox/faults) or a settings change (PUT /_sandbox/settings) at a moment."""

    kind: str
    what: str
    moment: Moment
    may_fail: bool
    fault: dict | None = None
    settings: dict | None = None


@dataclass(frozen=True)
class Interrupt:
    signal: str
    moment: Moment


@dataclass(frozen=True)
class Schedule:
    seed: int
    run: int
    journey: str
    parts: tuple[str, ...]
    language: str
    features: tuple[str, ...]
    sandbox_seed: int
    budget: float
    load: int
    actions: tuple[Action, ...] = field(default_factory=tuple)
    interrupt: Interrupt | None = None

    @property
    def run_id(self) -> str:
        """The suite's run id: every resource of the run is labelled ``dumont-acc-<run id>-…``."""
        return f"soak{self.seed}-{self.run}"

    @property
    def refused_by_budget(self) -> bool:
        return self.budget < ROOMY_BUDGET

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Schedule":
        def moment(raw: dict) -> Moment:
            return Moment(**raw)

        actions = tuple(Action(**{**a, "moment": moment(a["moment"])}) for a in data.get("actions") or [])
        interrupt = data.get("interrupt")
        return cls(**{**data, "parts": tuple(data["parts"]), "features": tuple(data["features"]), "actions": actions,
                      "interrupt": Interrupt(interrupt["signal"], moment(interrupt["moment"])) if interrupt else None})

    def lines(self) -> list[str]:
        """The schedule in words, one line each."""
        out = [f"run {self.run} (seed {self.seed}): {self.journey} [{self.language}] behave {' '.join(self.features)}",
               f"  sandbox seed {self.sandbox_seed}, budget ${self.budget:g}, load {self.load} CPU burner(s)"]
        out += [f"  {a.moment.words()}: {a.what}{' (may fail the journey)' if a.may_fail else ''}"
                for a in self.actions]
        if self.interrupt:
            out.append(f"  {self.interrupt.moment.words()}: {self.interrupt.signal}")
        return out


def _moment(rng: random.Random, anchors: dict[str, int], at_start: bool) -> Moment:
    if at_start or rng.random() < P_AT_START:
        return Moment()
    return _during(rng, anchors)


def _during(rng: random.Random, anchors: dict[str, int]) -> Moment:
    """A moment of the journey itself (never before it starts: an interrupt there would hit nothing): one of
    the times the scenarios make one of their events (a second machine, the resume's SSH, a third sync ...)."""
    names = list(anchors)
    anchor = names[rng.randrange(len(names))]
    return Moment(anchor, rng.randint(1, anchors[anchor]), round(rng.uniform(0.0, MAX_DELAY), 3))


def _action(rng: random.Random, parts: tuple[str, ...], anchors: dict[str, int], fatal: bool) -> Action:
    kinds = catalogue.eligible(parts, fatal)
    kind = kinds[rng.randrange(len(kinds))]
    draft = (kind.fatal if fatal else kind.transient)(rng, parts)
    usable = anchors if kind.moments is None else {a: n for a, n in anchors.items() if a in kind.moments}
    return Action(kind.name, draft.what, _moment(rng, usable, draft.at_start or not usable), draft.may_fail,
                  fault=draft.fault, settings=draft.settings)


def spoiled_deletes(action: Action) -> int:
    """How many instance deletes this fault leaves undone (a sticky delete answers 200 and leaves it alive)."""
    fault = action.fault or {}
    count = int(fault.get("count") or 1)
    if fault.get("kind") == "sticky_delete":
        return count
    if fault.get("method") == "DELETE" and fault.get("kind") in _SPOILING:
        return count
    return 0


def _within_delete_rounds(actions: list[Action]) -> list[Action]:
    """Transient faults that together spoil as many deletes as the suite sends may fail the journey."""
    if sum(spoiled_deletes(a) for a in actions) < DELETE_ROUNDS:
        return actions
    return [replace(a, may_fail=True) if spoiled_deletes(a) else a for a in actions]


def draw(seed: int, run: int) -> Schedule:
    """Run ``run`` of ``seed``: every draw in a fixed order from a generator of these two numbers only."""
    rng = random.Random(f"soak:{seed}:{run}")
    journey = catalogue.JOURNEYS[rng.randrange(len(catalogue.JOURNEYS))]
    language = "pt" if rng.random() < P_PORTUGUESE else "en"
    features, parts = catalogue.features(journey, language, rng)
    anchors = catalogue.anchors(parts)
    actions = [_action(rng, parts, anchors, fatal=False) for _ in range(rng.randint(2, 4))]
    if rng.random() < P_FATAL:
        actions.append(_action(rng, parts, anchors, fatal=True))
    actions = _within_delete_rounds(actions)
    interrupt = None
    if rng.random() < P_INTERRUPT:
        signal = SIGNALS[rng.randrange(len(SIGNALS))]
        interrupt = Interrupt(signal, _during(rng, anchors))
    load = rng.randint(1, 2) if rng.random() < P_LOAD else 0
    budget = TIGHT_BUDGET if rng.random() < P_TIGHT_BUDGET else ROOMY_BUDGET
    return Schedule(seed, run, journey, parts, language, features, sandbox_seed=rng.randrange(1, 2**31),
                    budget=budget, load=load, actions=tuple(actions), interrupt=interrupt)
