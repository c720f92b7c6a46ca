"""What the soak can do to a journey: the journeys, the moments of each, and every fault kind.

Every draw takes a ``random.Random`` and calls it in a fixed order, so a schedule depends on the
seed alone. Each fault kind can be drawn as a *transient* fault (the suite promises to get through
it: retries, reconciliation, waiting) or, where it can be one, a *fatal* fault (it may make the
journey impossible; the journey may then fail, with a clear reason, and leave nothing alive). The
specs are those of docs/sandbox-interface.md, "Fault specs".
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent

# -- journeys ----------------------------------------------------------------------------------------

#: Feature file of each journey, per language of the scenarios (the Portuguese twins run the same steps).
FEATURES = {
    "instance": {"en": "features/instance.feature", "pt": "features/pt/instancia.feature"},
    "snapshot": {"en": "features/snapshot.feature", "pt": "features/pt/snapshot.feature"},
    "failover": {"en": "features/failover.feature", "pt": "features/pt/failover.feature"},
}
JOURNEYS = ("instance", "failover", "snapshot", "mixed")

#: Moments a fault or an interrupt can be tied to: sandbox events (docs/sandbox-interface.md, "Admin
#: routes") of the journey's own machines, each with how many times one scenario of the journey makes it
#: (a moment is "the nth such event"). ``start`` is before behave starts.
ANCHORS = {
    "instance": {"created": 1, "running": 2, "ssh_ready": 2, "snapshot_started": 1, "snapshot_completed": 1,
                 "pause_requested": 1, "resume_requested": 1, "delete_requested": 1},
    "snapshot": {"created": 2, "running": 2, "ssh_ready": 2, "snapshot_started": 1, "snapshot_completed": 1,
                 "delete_requested": 2, "restore_started": 1},
    "failover": {"created": 1, "running": 2, "ssh_ready": 2, "standby_ready": 1, "sync_completed": 3,
                 "pause_requested": 1, "failover": 1, "failback_started": 1},
}

_SCENARIO = re.compile(r"^\s*(Scenario Outline|Scenario|Esquema do Cenário|Cenário)\s*:")


def scenario_lines(feature: str) -> list[int]:
    """The line of each scenario (or outline) of a feature file, as ``behave file:line`` takes it."""
    text = (ROOT / feature).read_text(encoding="utf-8").splitlines()
    return [number for number, line in enumerate(text, 1) if _SCENARIO.match(line)]


def one_journey(journey: str, language: str, rng: random.Random) -> tuple[str, tuple[str, ...]]:
    """A feature (or one scenario of it, ``file:line``) of a single journey, and its scenarios' journeys."""
    feature = FEATURES[journey][language]
    if journey == "failover":                 # two scenarios: one of them, or both one after the other
        lines = scenario_lines(feature)
        pick = rng.randrange(len(lines) + 1)
        if pick == len(lines):
            return feature, (journey,) * len(lines)
        return f"{feature}:{lines[pick]}", (journey,)
    return feature, (journey,)


def features(journey: str, language: str, rng: random.Random) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """What behave runs for a journey, and the journey of each scenario in it (``mixed``: two journeys)."""
    names = rng.sample(sorted(FEATURES), 2) if journey == "mixed" else [journey]
    picked = [one_journey(name, language, rng) for name in names]
    return tuple(f for f, _ in picked), tuple(p for _, scenarios in picked for p in scenarios)


def anchors(parts: tuple[str, ...]) -> dict[str, int]:
    """Each moment of these scenarios and how many times they make it, in a fixed order."""
    counts: dict[str, int] = {}
    for part in parts:
        for anchor, times in ANCHORS[part].items():
            counts[anchor] = counts.get(anchor, 0) + times
    return counts


# -- fault kinds -------------------------------------------------------------------------------------

INSTANCE = "/api/v1/instances/*"           # any route under one instance (fnmatch's * crosses "/")
INSTANCES = "/api/v1/instances"
GET, POST, DELETE = "GET", "POST", "DELETE"

ALL = ("instance", "snapshot", "failover")

#: The requests a request-level fault may hit: (method, path, may a fault there make the journey fail?,
#: the journeys that send it). Reads and deletes are retried and proven by the suite; a create is
#: reconciled by label; a pause or a snapshot that failed may not be sent again (the server may have
#: acted on it).
ROUTES = (
    (GET, INSTANCE, False, ALL),
    (GET, INSTANCES, False, ALL),
    (POST, INSTANCES, False, ALL),
    (DELETE, INSTANCE, False, ALL),
    (POST, "/api/v1/instances/*/pause", True, ("instance", "failover")),
    (POST, "/api/v1/instances/*/resume", True, ("instance",)),
    (POST, "/api/v1/snapshots", True, ("instance", "snapshot")),
    (GET, "/api/v1/standby/associations/*", False, ("failover",)),
)

#: The sandbox's built-in offers of the allowed GPUs (sandbox/cloud/offers.py), cheapest first per GPU:
#: an offer to make vanish. An id the sandbox does not have only makes a fault that never fires.
OFFERS = (101001, 101002, 101017, 101005, 101006, 101018)

PROVIDER_ERRORS = ("rate_limit", "timeout", "down", "server_error")
SETTINGS = ("server-provider-key", "provider-key", "restic", "gcp")


@dataclass(frozen=True)
class Draft:
    """One drawn fault: a fault spec or a settings change, what it is in words, and whether it may fail
    the journey. ``at_start`` forces the moment to before behave starts."""

    what: str
    may_fail: bool
    fault: dict | None = None
    settings: dict | None = None
    at_start: bool = False


#: A draw: the generator and the journeys of the run's scenarios → one fault.
Drawing = Callable[[random.Random, tuple[str, ...]], Draft]


@dataclass(frozen=True)
class Kind:
    name: str
    journeys: tuple[str, ...]                       # the single journeys it means something to
    transient: Drawing | None
    fatal: Drawing | None
    #: The moments it can still hit something at (None: any): a fault of the next snapshot armed after
    #: the journey's only snapshot would never fire.
    moments: tuple[str, ...] | None = None


def _route(rng: random.Random, fatal: bool, parts: tuple[str, ...]) -> tuple[str, str]:
    wanted = [(m, p) for m, p, may, used in ROUTES if may == fatal and set(used) & set(parts)]
    return wanted[rng.randrange(len(wanted))]


def _request_fault(kind: str, fatal: bool, **extra) -> Drawing:
    def draw(rng: random.Random, parts: tuple[str, ...]) -> Draft:
        method, path = _route(rng, fatal, parts)
        count = rng.randint(1, 2)
        spec = {"kind": kind, "method": method, "path": path, "count": count}
        words = ""
        for key, choices in extra.items():
            spec[key] = choices[rng.randrange(len(choices))]
            words += f" {spec[key]}"
        return Draft(f"{kind}{words} on {method} {path} ×{count}", fatal, fault=spec)
    return draw


def _ssh_refuse(seconds: tuple[float, ...], fatal: bool) -> Drawing:
    def draw(rng: random.Random, parts: tuple[str, ...]) -> Draft:
        s = seconds[rng.randrange(len(seconds))]
        return Draft(f"ssh_refuse {s:g} s", fatal, fault={"kind": "ssh_refuse", "seconds": s})
    return draw


def _rate_limit_storm(rng: random.Random, parts: tuple[str, ...]) -> Draft:
    form = ("500", "429", "429-retry-after")[rng.randrange(3)]
    count = rng.randint(3, 8)
    return Draft(f"rate_limit storm {form} ×{count}", False, fault={"kind": "rate_limit", "form": form, "count": count})


def _create_stall(lengths: tuple, fatal: bool) -> Drawing:
    def draw(rng: random.Random, parts: tuple[str, ...]) -> Draft:
        length = lengths[rng.randrange(len(lengths))]
        return Draft(f"create_stall {length} nominal s", fatal, settings={"create_stall": length})
    return draw


def _offer_vanish(at_start: bool) -> Drawing:
    # From the start, the offer is gone from searches (the suite rents another); later, it may be the
    # one the journey already chose, and its next create from it fails.
    def draw(rng: random.Random, parts: tuple[str, ...]) -> Draft:
        offer = OFFERS[rng.randrange(len(OFFERS))]
        reason = ("gone", "rented")[rng.randrange(2)]
        return Draft(f"offer_vanish {offer} ({reason})", not at_start,
                     fault={"kind": "offer_vanish", "offer_id": offer, "reason": reason}, at_start=at_start)
    return draw


def _unconfigured(rng: random.Random, parts: tuple[str, ...]) -> Draft:
    # From the start only: a setting missing from the start is how a server lacks it; taken away mid-run
    # (the account's provider key, the server's) it would make deletes impossible for anyone.
    setting = SETTINGS[rng.randrange(len(SETTINGS))]
    spec = {"kind": "unconfigured", "setting": setting}
    if setting == "provider-key":
        spec["account"] = "test@test.com"
    return Draft(f"unconfigured {setting}", True, fault=spec, at_start=True)


def _price_change(rng: random.Random, parts: tuple[str, ...]) -> Draft:
    factor = (0.5, 1.5, 3.0)[rng.randrange(3)]
    return Draft(f"price_change ×{factor:g}", False, fault={"kind": "price_change", "factor": factor})


def _preempt(rng: random.Random, parts: tuple[str, ...]) -> Draft:
    after = (5, 20, 60, 200)[rng.randrange(4)]
    return Draft(f"preempt after {after} nominal s", True, fault={"kind": "preempt", "after": after})


def _sync_slow(factors: tuple[float, ...], fatal: bool) -> Drawing:
    def draw(rng: random.Random, parts: tuple[str, ...]) -> Draft:
        factor = factors[rng.randrange(len(factors))]
        return Draft(f"sync_slow ×{factor:g}", fatal, fault={"kind": "sync_slow", "factor": factor})
    return draw


def _simple(kind: str, fatal: bool, **spec) -> Drawing:
    def draw(rng: random.Random, parts: tuple[str, ...]) -> Draft:
        count = rng.randint(1, 2)
        return Draft(f"{kind} ×{count}", fatal, fault={"kind": kind, "count": count, **spec})
    return draw


GPU_CONDITIONS = ("missing", "cuda_broken", "slow", "wrong_model", "mute")
GPU_TOOLS = ("nvidia-smi", "torch", "transformers")


def _gpu_fault(rng: random.Random, parts: tuple[str, ...]) -> Draft:
    # The GPU of the next machine made is broken: from the start (the journey's first GPU) or, armed
    # after a create, the next one (the snapshot journey's restore).
    condition = GPU_CONDITIONS[rng.randrange(len(GPU_CONDITIONS))]
    spec = {"kind": "gpu_fault", "condition": condition, "count": 1}
    if condition == "missing":
        spec["what"] = GPU_TOOLS[rng.randrange(len(GPU_TOOLS))]
    words = f"gpu_fault {condition}" + (f" ({spec['what']})" if "what" in spec else "")
    return Draft(words, True, fault=spec, at_start=rng.random() < 0.6)


def _restore_nothing(rng: random.Random, parts: tuple[str, ...]) -> Draft:
    return Draft("restore_nothing", True, fault={"kind": "restore_nothing", "count": 1})


def _sync_stall(rng: random.Random, parts: tuple[str, ...]) -> Draft:
    return Draft("sync_stall", True, fault={"kind": "sync_stall"})


KINDS = (
    Kind("provider_error", ALL, _request_fault("provider_error", False, error=PROVIDER_ERRORS),
         _request_fault("provider_error", True, error=PROVIDER_ERRORS)),
    Kind("http_error", ALL, _request_fault("http_error", False, status=(500, 502, 503, 504)),
         _request_fault("http_error", True, status=(500, 503))),
    Kind("lost_response", ALL, _request_fault("lost_response", False), _request_fault("lost_response", True)),
    Kind("connection_drop", ALL, _request_fault("connection_drop", False), _request_fault("connection_drop", True)),
    Kind("rate_limit", ALL, _rate_limit_storm, None),
    Kind("sticky_delete", ALL, _simple("sticky_delete", False), None),
    Kind("never_running", ALL, None, _simple("never_running", True), moments=("created", "ssh_ready")),
    Kind("preempt", ALL, None, _preempt, moments=("created", "running", "ssh_ready")),
    Kind("ssh_refuse", ALL, _ssh_refuse((20, 45, 90), False), _ssh_refuse((100000,), True)),
    Kind("snapshot_fail", ("instance", "snapshot"), None, _simple("snapshot_fail", True),
         moments=("created", "running", "ssh_ready")),
    Kind("restore_nothing", ("snapshot",), None, _restore_nothing,
         moments=("created", "running", "ssh_ready", "snapshot_started", "snapshot_completed", "delete_requested")),
    Kind("gpu_fault", ALL, None, _gpu_fault, moments=("created",)),
    Kind("sync_stall", ("failover",), None, _sync_stall, moments=("created", "running", "ssh_ready", "standby_ready")),
    # A slower sync widens the data loss window: past the RPO the journey promises, it fails, rightly (seed
    # 2026, run 57: ×4 and ×2 → 64 s of 60). Either factor may do it, so neither is promised to pass.
    Kind("sync_slow", ("failover",), _sync_slow((2, 4), True), _sync_slow((40,), True),
         moments=("created", "running", "ssh_ready", "standby_ready", "sync_completed")),
    Kind("offer_vanish", ALL, _offer_vanish(True), _offer_vanish(False)),
    Kind("price_change", ALL, _price_change, None),
    Kind("create_stall", ALL, _create_stall((0, 30, 110, 240), False), _create_stall((600,), True)),
    Kind("unconfigured", ALL, None, _unconfigured),
)


def eligible(parts: tuple[str, ...], fatal: bool) -> list[Kind]:
    """The kinds that mean something to one of these journeys and can be drawn as asked."""
    return [k for k in KINDS if (k.fatal if fatal else k.transient) is not None and set(k.journeys) & set(parts)]
