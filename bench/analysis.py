"""The bench's arithmetic: from one run's reports and the sandbox's ground truth to its figures.

Pure functions over JSON as the suite writes it (``metrics.json``) and as the sandbox's admin API
answers it (events, request log, billing, resources, models); nothing here starts a process or
reads a clock, so ``tests/unit/test_bench.py`` checks it on made-up runs.

A journey's wall time W is split in three (see :class:`Split`):

* **irreducible** I — the server-side waits on its critical path, from the ground truth
  (:func:`segments`): the union of the intervals the journey cannot do without;
* **detection latency** D — for each of those intervals, from the moment it ended on the server to
  the moment the suite asked and saw it (the first poll sent after the event); it scales with the
  time scale, so it is reported in nominal seconds;
* **harness** H = W − I − D — everything else: HTTP round trips, SSH handshakes, hashing, Python.
  Wall seconds; it does not scale.

At the sandbox's scale s the overhead is (D + H) / W. At real speed the same journey would take
I·s + D·s + H, so the projected overhead is (D·s + H) / (I·s + D·s + H).
"""

from __future__ import annotations

import math
import re
import statistics
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath

#: Feature file stem → journey name, in the order the bench runs them.
JOURNEYS = {"instance": "features/instance.feature", "snapshot": "features/snapshot.feature",
            "failover": "features/failover.feature"}


# -- small helpers ---------------------------------------------------------------------------------


def median(values) -> float | None:
    """The median of the values that are not None (None when there are none)."""
    present = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return statistics.median(present) if present else None


def epoch(value) -> float:
    """An ISO time from metrics.json (or an epoch float) as epoch seconds."""
    if isinstance(value, (int, float)):
        return float(value)
    return datetime.fromisoformat(value).timestamp()


def union_length(intervals) -> float:
    """Total length covered by ``(start, end)`` intervals, overlaps counted once."""
    total, reach = 0.0, -math.inf
    for start, end in sorted((a, b) for a, b in intervals if b > a):
        if end <= reach:
            continue
        total += end - max(start, reach)
        reach = end
    return total


def overlap_length(start: float, end: float, intervals) -> float:
    """How much of ``[start, end]`` the (possibly overlapping) intervals cover."""
    return union_length((max(start, a), min(end, b)) for a, b in intervals)


def journey_of(feature_file: str) -> str:
    return PurePosixPath(feature_file).stem


# -- the overhead split ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    """One irreducible server-side interval on a journey's critical path (epoch seconds), and how
    long after its end the suite asked and saw it (``latency``, wall seconds)."""

    name: str
    start: float
    end: float
    latency: float = 0.0
    note: str = ""

    @property
    def seconds(self) -> float:
        return max(0.0, self.end - self.start)


@dataclass(frozen=True)
class Split:
    """A journey's wall time as irreducible + detection latency + harness (all three in wall seconds)."""

    wall: float
    irreducible: float
    latency: float
    scale: float

    @classmethod
    def of(cls, wall: float, segments: list[Segment], scale: float) -> "Split":
        irreducible = union_length((s.start, s.end) for s in segments)
        return cls(wall, irreducible, sum(s.latency for s in segments), scale)

    @property
    def harness(self) -> float:
        """Wall seconds of the harness's own work (never below zero)."""
        return max(0.0, self.wall - self.irreducible - self.latency)

    @property
    def irreducible_nominal(self) -> float:
        return self.irreducible * self.scale

    @property
    def latency_nominal(self) -> float:
        return self.latency * self.scale

    @property
    def overhead(self) -> float:
        """(W − I) / W at the sandbox's time scale."""
        return (self.wall - self.irreducible) / self.wall if self.wall > 0 else math.nan

    @property
    def projected(self) -> float:
        """(D·s + H) / (I·s + D·s + H): the same journey at real speed."""
        scaled = self.latency_nominal + self.harness
        total = self.irreducible_nominal + scaled
        return scaled / total if total > 0 else math.nan

    def __add__(self, other: "Split") -> "Split":
        return Split(self.wall + other.wall, self.irreducible + other.irreducible,
                     self.latency + other.latency, self.scale)


# -- the ground truth ------------------------------------------------------------------------------


class Truth:
    """What the sandbox recorded: events, requests, billing, resources, models, info."""

    def __init__(self, data: dict):
        self.info = data.get("info") or {}
        self.scale = float(self.info.get("time_scale") or 1.0)
        self.events = sorted(data.get("events") or [], key=lambda e: e["t"])
        self.requests = sorted(data.get("requests") or [], key=lambda r: r["t"])
        self.resources = data.get("resources") or []
        self.billing = (data.get("billing") or {}).get("resources") or []
        self.model_bytes = {m["name"]: m["nominal_bytes"] for m in data.get("models") or []}
        self.download_rate = float((self.info.get("timings") or {}).get("model_mb_per_s") or 0) * 1e6

    def named(self, name: str, ids, after: float = -math.inf, before: float = math.inf, **match) -> list[dict]:
        wanted = {str(i) for i in ids}
        return [e for e in self.events
                if e["event"] == name and str(e["id"]) in wanted and after <= e["t"] <= before
                and all(e.get(k) == v for k, v in match.items())]

    def first(self, name: str, ids, after: float = -math.inf, **match) -> dict | None:
        found = self.named(name, ids, after, **match)
        return found[0] if found else None

    def request_after(self, t: float, method: str, path: str) -> dict | None:
        """The first request to ``path`` (its end, whatever the API prefix) received at or after ``t``."""
        for r in self.requests:
            if r["t"] >= t and r["method"] == method and r["path"].endswith(path):
                return r
        return None

    def request_during(self, t: float) -> dict | None:
        """The request the server was handling at ``t`` (the one that made an event), if any."""
        best = None
        for r in self.requests:
            if r["t"] > t:
                break
            if r["t"] + (r.get("duration_s") or 0) >= t:
                best = r
        return best


@dataclass
class Phase:
    name: str
    start: float          # epoch: where the suite puts the phase's beginning (the middle of its bracket)
    seconds: float
    uncertainty: float
    detail: str = ""

    @classmethod
    def of(cls, raw: dict) -> "Phase":
        return cls(raw["name"], epoch(raw["started_at"]), float(raw["seconds"]),
                   float(raw.get("uncertainty_seconds") or 0.0), raw.get("detail") or "")

    @property
    def end(self) -> float:
        return self.start + self.seconds


@dataclass
class Scenario:
    """One scenario of a journey as metrics.json tells it, with the resources it owned in the sandbox."""

    journey: str
    test_name: str
    start: float
    end: float
    phases: list[Phase]
    instances: list[str]                 # GPU instance ids, as strings
    standbys: dict[str, str]             # GPU id → standby resource id
    snapshots: list[str]

    @classmethod
    def of(cls, raw: dict, truth: Truth) -> "Scenario":
        instances = [str(m["id"]) for m in raw.get("machines") or [] if m.get("kind") == "instance"]
        instances = list(dict.fromkeys(instances))
        standbys = {str(r["gpu_instance_id"]): str(r["id"]) for r in truth.resources
                    if r.get("kind") == "standby" and str(r.get("gpu_instance_id")) in instances}
        snapshots = [str(r["id"]) for r in truth.resources
                     if r.get("kind") == "snapshot" and str(r.get("instance_id")) in instances]
        return cls(journey_of(raw.get("feature_file") or ""), raw.get("test_name") or "",
                   epoch(raw["start_time"]), epoch(raw["end_time"]), [Phase.of(p) for p in raw.get("phases") or []],
                   instances, standbys, snapshots)

    @property
    def wall(self) -> float:
        return self.end - self.start

    @property
    def ids(self) -> set[str]:
        return set(self.instances) | set(self.standbys.values()) | set(self.snapshots)

    def phases_named(self, name: str) -> list[Phase]:
        return [p for p in self.phases if p.name == name]

    def nearest_phase(self, name: str, t: float, within: float = 1.0) -> Phase | None:
        found = [p for p in self.phases_named(name) if abs(p.start - t) <= within]
        return min(found, key=lambda p: abs(p.start - t)) if found else None


def nearest(events: list[dict], t: float) -> dict | None:
    return min(events, key=lambda e: abs(e["t"] - t)) if events else None


# -- detection latency -------------------------------------------------------------------------------


def http_latency(truth: Truth, event_t: float, path: str, before: float = math.inf) -> tuple[float, str]:
    """From an event to the first poll of ``path`` the server received after it (wall seconds).

    When no poll came after the event and before the suite's next move (``before``: it had seen the
    event by then), the poll that saw it was in flight at the event (its handler waited for the
    change, e.g. on a lock): no latency.
    """
    poll = truth.request_after(event_t, "GET", path)
    if poll is not None and poll["t"] < before:
        return poll["t"] - event_t, ""
    in_flight = any(r["method"] == "GET" and r["path"].endswith(path) and r["t"] < event_t
                    <= r["t"] + (r.get("duration_s") or 0) for r in truth.requests)
    return 0.0, "" if in_flight else f"no GET {path} saw it"


def ssh_latency(scenario: Scenario, truth: Truth, since_t: float, ready_t: float,
                machine: str | None = None) -> tuple[float, str]:
    """From SSH accepting to the suite's first connection reaching the machine.

    The sandbox says when it accepted the first connection since SSH came up (``ssh_first_connection``):
    the wait until then scales with time; the handshake after it is the harness's own work. Without
    that event, from the suite's ``ssh`` phase bracket:

    The phase runs from the middle of the request that started it (create, resume, failback) to the
    middle of the bracket [last refused attempt sent, first connection established]; its uncertainty is
    the sum of both half-widths. The request's half-width is taken from the server's log, so what is
    left is the upper end: when the suite had its shell. That includes the one successful handshake
    (a few ms), a slight overstatement of the latency.
    """
    first = truth.first("ssh_first_connection", [machine], ready_t) if machine is not None else None
    if first is not None:
        return max(0.0, first["t"] - ready_t), ""
    phase = scenario.nearest_phase("ssh", since_t)
    if phase is None:
        return 0.0, "no ssh phase near the request"
    request = truth.request_during(since_t)
    since_half = (request.get("duration_s") or 0.0) / 2 if request else 0.0
    seen = phase.end + max(0.0, phase.uncertainty - since_half)
    return max(0.0, seen - ready_t), ""


# -- the critical path -----------------------------------------------------------------------------


def _boot(scenario: Scenario, truth: Truth, created: dict) -> Segment | None:
    """Create → SSH answering (and the standby syncing, when the journey waits for both)."""
    ssh = truth.first("ssh_ready", [created["id"]], created["t"])
    if ssh is None:
        return None
    end = ssh["t"]
    latency, note = ssh_latency(scenario, truth, created["t"], end, ssh["id"])
    standby = scenario.standbys.get(str(created["id"]))
    ready = truth.first("standby_ready", [standby], created["t"]) if standby else None
    if ready is not None and ready["t"] > end:
        end = ready["t"]
        latency, note = http_latency(truth, end, f"/standby/associations/{created['id']}")
    return Segment("boot", created["t"], end, latency, note)


def _failover(scenario: Scenario, truth: Truth, gpu: str, standby: str) -> list[Segment]:
    """The failover journey's waits after the data set is written (see the README's benchmark section).

    * ``sync``: from the end of the data set's writes to the second sync completion after them:
      the first sync that *started* after the writes carries the data set to the standby; the next one
      completes while canary files are being written (it dates the copy the RPO is measured against).
      When the suite went on before that second completion, the sync under way when the writes ended
      had carried the data set (the suite checks it on the standby by its hashes): the sync after it
      is then the one needed.
      Its latency runs to the poll that saw the last sync completed before the failure, so every sync
      interval waited past the second one counts as time-scaled overhead.
    * ``failure+detect`` (automatic failover): pause request → the standby's switch completed
      (the pause, then the health checks that notice it, then the switch);
      ``failure`` and ``detect`` (on request): pause request → GPU stopped, and the failover request →
      switch completed.
    * ``failback``: failback request → the GPU back, syncing, and answering SSH (whichever is later).
    """
    found: list[Segment] = []
    assoc = f"/standby/associations/{gpu}"
    writes = scenario.phases_named("write_dataset")
    pause = truth.first("pause_requested", [gpu], writes[0].end if writes else -math.inf)
    if writes and pause is not None:
        written = writes[0].end
        syncs = sorted((float((e.get("detail") or {}).get("started_at") or e["t"]), e["t"])
                       for e in truth.named("sync_completed", [standby]))
        first = next((done for started, done in syncs if started >= written), None)
        second = next((done for _, done in syncs if first is not None and done > first), None)
        last = max((done for _, done in syncs if done < pause["t"]), default=None)
        # The suite went on before the second: the sync under way when the writes ended had carried the data
        # set (the suite found it intact on the standby, by its hashes), so the one after it was enough.
        needed = second if second is not None and second <= pause["t"] else first
        if needed is not None and last is not None and needed <= pause["t"]:
            poll, note = http_latency(truth, last, assoc, before=pause["t"])
            missed = sum(1 for _, done in syncs if needed < done <= last)
            if missed:
                note = f"{missed} sync(s) waited past the one needed"
            found.append(Segment("sync", written, needed, poll + (last - needed), note))
    switch = truth.first("failover", [standby], pause["t"] if pause else -math.inf)
    back = truth.first("failback_started", [standby], switch["t"] if switch else -math.inf)
    moved = back["t"] if back else math.inf            # the suite had seen the switch by its failback request
    if pause is not None and switch is not None:
        explicit = bool((switch.get("detail") or {}).get("explicit"))
        if explicit:
            stopped = truth.first("status", [gpu], pause["t"], to="stopped")
            asked = truth.request_after(stopped["t"] if stopped else pause["t"], "POST", f"/instances/{gpu}/failover")
            if stopped is not None:
                found.append(Segment("failure", pause["t"], stopped["t"], *http_latency(
                    truth, stopped["t"], f"/instances/{gpu}", before=asked["t"] if asked else math.inf)))
            if asked is not None:
                found.append(Segment("detect", min(asked["t"], switch["t"]), switch["t"],
                                     *http_latency(truth, switch["t"], assoc, before=moved)))
        else:
            found.append(Segment("failure+detect", pause["t"], switch["t"],
                                 *http_latency(truth, switch["t"], assoc, before=moved)))
    done = truth.first("failback_completed", [standby], back["t"]) if back else None
    if back is not None and done is not None:
        ssh = next((e for e in truth.events if e["event"] == "ssh_ready" and e["t"] >= back["t"]
                    and e["kind"] == "instance" and str(e["id"]) in scenario.instances), None)
        if ssh is not None and ssh["t"] >= done["t"]:
            found.append(Segment("failback", back["t"], ssh["t"],
                                 *ssh_latency(scenario, truth, back["t"], ssh["t"], ssh["id"])))
        else:
            found.append(Segment("failback", back["t"], done["t"], *http_latency(truth, done["t"], assoc)))
    return found


def _held(scenario: Scenario, truth: Truth) -> list[Segment]:
    """The scenario's requests that a server stall held (the real server answers nothing for minutes after
    a create, on any route): while one was held the journey was waiting on a server that would not answer.
    Its work meanwhile (SSH, a model install) is hidden under that wait, at real speed as here."""
    return [Segment("server stall", r["t"], r["t"] + float(r.get("duration_s") or 0.0))
            for r in truth.requests
            if (r.get("stalled_s") or 0) > 0 and scenario.start <= r["t"] <= scenario.end
            and any(i in scenario.ids for i in _ID.findall(r.get("path") or ""))]


def segments(scenario: Scenario, truth: Truth) -> list[Segment]:
    """The irreducible server-side intervals on a scenario's critical path, from the ground truth.

    * ``boot``: create request carried out → SSH answering (each machine the suite creates);
    * ``model download``: the model's nominal size at the mirror's nominal bandwidth (the rest of the
      install step — SSH, writing, hashing — is the harness's);
    * ``snapshot``, ``restore``: the server's own intervals (both calls are synchronous: no latency);
    * ``pause``: pause request → stopped; ``resume``: resume request → SSH answering again;
    * ``server stall``: a request of the scenario held by a server stall (:func:`_held`);
    * ``gpu check``: a command that used the machine's GPU (the GPU check's probe), from its start to its end
      on the machine: the machine's own work (on a real one its Python, torch and CUDA starting, the timed
      work, the model's load and answer); the SSH round trip around it is the harness's;
    * failover journey: see :func:`_failover`.
    Deletes are instantaneous on the server: the wait for "gone" is the harness's.
    """
    found: list[Segment] = []
    failbacks = [(e["t"], d["t"]) for e in truth.named("failback_started", scenario.standbys.values())
                 if (d := truth.first("failback_completed", [e["id"]], e["t"])) is not None]

    def in_failback(t: float) -> bool:
        return any(a <= t <= b for a, b in failbacks)

    for created in truth.named("created", scenario.instances):
        if not in_failback(created["t"]) and (boot := _boot(scenario, truth, created)) is not None:
            found.append(boot)
    for phase in scenario.phases_named("model_install"):
        nominal = truth.model_bytes.get(phase.detail, 0)
        if nominal and truth.download_rate:
            found.append(Segment("model download", phase.start,
                                 phase.start + nominal / truth.download_rate / truth.scale))
    for started in truth.named("snapshot_started", scenario.snapshots):
        if (done := truth.first("snapshot_completed", [started["id"]], started["t"])) is not None:
            found.append(Segment("snapshot", started["t"], done["t"]))
    for started in truth.named("restore_started", scenario.snapshots):
        if (done := truth.first("restore_completed", [started["id"]], started["t"])) is not None:
            found.append(Segment("restore", started["t"], done["t"]))
    for ran in truth.named("gpu_command", scenario.instances):
        detail = ran.get("detail") or {}
        found.append(Segment("gpu check", float(detail["start"]), float(detail["end"])))
    found += _held(scenario, truth)
    if scenario.standbys:
        for gpu, standby in scenario.standbys.items():
            found += _failover(scenario, truth, gpu, standby)
    else:
        for asked in truth.named("pause_requested", scenario.instances):
            stopped = truth.first("status", [asked["id"]], asked["t"], to="stopped")
            resumed = truth.first("resume_requested", [asked["id"]], asked["t"])
            if stopped is not None:
                found.append(Segment("pause", asked["t"], stopped["t"], *http_latency(
                    truth, stopped["t"], f"/instances/{asked['id']}", before=resumed["t"] if resumed else math.inf)))
        for asked in truth.named("resume_requested", scenario.instances):
            ssh = truth.first("ssh_ready", [asked["id"]], asked["t"])
            if ssh is not None:
                found.append(Segment("resume", asked["t"], ssh["t"],
                                     *ssh_latency(scenario, truth, asked["t"], ssh["t"], ssh["id"])))
    return sorted(found, key=lambda s: s.start)


# -- phase timing against the truth ----------------------------------------------------------------


@dataclass(frozen=True)
class PhaseCheck:
    """A phase the suite reported, beside the same interval in the ground truth (wall seconds)."""

    label: str
    reported: float
    uncertainty: float
    truth: float
    #: The event that ends the phase happened while the server answered nothing (its stall after a
    #: create): no client could see it then, so its bracket is as wide as the stall, whatever the harness.
    hidden: bool = False

    @property
    def error(self) -> float:
        return abs(self.reported - self.truth) / self.truth if self.truth > 0 else math.nan

    @property
    def relative_uncertainty(self) -> float:
        return self.uncertainty / self.truth if self.truth > 0 else math.nan

    @property
    def in_bracket(self) -> bool:
        return abs(self.reported - self.truth) <= self.uncertainty + 1e-3   # metrics.json keeps ms


def phase_checks(scenario: Scenario, truth: Truth) -> list[PhaseCheck]:
    """Each phase whose meaning is a server-side interval, against that interval.

    running / restore_running: create → running; ssh: create (resume, failback) request → SSH ready;
    resume: resume request → running; pause / failure: pause request → stopped; snapshot and
    restore_apply: the server's own start → end; standby_ready: create → the standby syncing;
    detect: the GPU stopped → the standby's switch completed.
    """
    ids = scenario.instances
    standbys = scenario.standbys
    failbacks = truth.named("failback_started", standbys.values())
    within_failback = [(f["t"], d["t"]) for f in failbacks
                       if (d := truth.first("failback_completed", [f["id"]], f["t"])) is not None]
    checks = []

    stalls = [((e.get("detail") or {}).get("start"), (e.get("detail") or {}).get("end"))
              for e in truth.events if e["event"] == "server_stall"]

    def hidden(t: float, label: str) -> bool:
        # SSH is watched on the machine itself, not through the API: a stall hides nothing from it.
        return not label.startswith("ssh") and any(a is not None and b is not None and a <= t <= b
                                                   for a, b in stalls)

    def add(label: str, phase: Phase, start: dict | None, end: dict | None) -> None:
        if start is not None and end is not None and end["t"] > start["t"]:
            checks.append(PhaseCheck(f"{scenario.journey}: {label}", phase.seconds, phase.uncertainty,
                                     end["t"] - start["t"], hidden(end["t"], label)))

    for phase in scenario.phases:
        name, at = phase.name, phase.start
        if name in ("running", "restore_running"):
            created = nearest(truth.named("created", ids), at)
            add(name, phase, created, created and truth.first("status", [created["id"]], created["t"], to="running"))
        elif name == "ssh":
            starts = [(e, "ssh") for e in truth.named("created", ids)]
            starts += [(e, "ssh after resume") for e in truth.named("resume_requested", ids)
                       if not any(a <= e["t"] <= b for a, b in within_failback)]
            starts += [(e, "ssh after failback") for e in failbacks]
            if not starts:
                continue
            start, label = min(starts, key=lambda s: abs(s[0]["t"] - at))
            ready = next((e for e in truth.events if e["event"] == "ssh_ready" and e["t"] >= start["t"]
                          and str(e["id"]) in ids), None)
            add(label, phase, start, ready)
        elif name == "resume":
            asked = nearest(truth.named("resume_requested", ids), at)
            add(name, phase, asked, asked and truth.first("status", [asked["id"]], asked["t"], to="running"))
        elif name in ("pause", "failure"):
            asked = nearest(truth.named("pause_requested", ids), at)
            add(name, phase, asked, asked and truth.first("status", [asked["id"]], asked["t"], to="stopped"))
        elif name in ("snapshot", "restore_apply"):
            event = "snapshot" if name == "snapshot" else "restore"
            started = nearest(truth.named(f"{event}_started", scenario.snapshots), at)
            add(name, phase, started, started and truth.first(f"{event}_completed", [started["id"]], started["t"]))
        elif name == "standby_ready":
            created = nearest([e for e in truth.named("created", ids) if str(e["id"]) in standbys], at)
            ready = created and truth.first("standby_ready", [standbys[str(created["id"])]], created["t"])
            add(name, phase, created, ready)
        elif name == "detect":
            stopped = nearest(truth.named("status", ids, to="stopped"), at)
            gpu = stopped and str(stopped["id"])
            switch = stopped and gpu in standbys and truth.first("failover", [standbys[gpu]], stopped["t"])
            if switch:
                how = "on request" if (switch.get("detail") or {}).get("explicit") else "automatic"
                add(f"detect ({how})", phase, stopped, switch)
    return checks


# -- money -----------------------------------------------------------------------------------------


def billed_and_minimal(rows: list[dict], found: list[Segment]) -> tuple[float, float]:
    """What the sandbox billed for these resources, and what they would have cost had they lived only
    through the irreducible intervals, each at the price of the state it was in (running, loading,
    or stopped at the storage price)."""
    spans = [(s.start, s.end) for s in found]
    billed = minimal = 0.0
    for row in rows:
        billed += float(row.get("cost") or 0.0)
        for interval in row.get("intervals") or []:
            end = interval.get("end_t")
            if end is None:
                continue
            covered = overlap_length(interval["start_t"], end, spans)
            minimal += float(interval["dph"]) * float(interval.get("scale") or 1.0) * covered / 3600
    return billed, minimal


# -- requests --------------------------------------------------------------------------------------


def rate_limited(request: dict) -> bool:
    """A request the server answered with a rate limit (its limiter or a rate-limit fault)."""
    return request.get("status") == 429 or str(request.get("fault") or "").startswith("rate_limit")


_ID = re.compile(r"/([0-9]+|[0-9a-f]{16,})(?=/|$)")


@dataclass
class Attribution:
    """Requests of one run per journey: by the resource ids in their paths, else by the one journey
    whose scenarios were running when they came; ``shared`` when several were, ``outside`` when none."""

    requests: dict[str, int] = field(default_factory=dict)
    limited: dict[str, int] = field(default_factory=dict)
    shared: int = 0
    shared_limited: int = 0
    outside: int = 0
    outside_limited: int = 0


def attribute(requests: list[dict], owners: dict[str, str],
              windows: dict[str, list[tuple[float, float]]]) -> Attribution:
    found = Attribution()
    for request in requests:
        owner = next((owners[i] for i in _ID.findall(request.get("path") or "") if i in owners), None)
        if owner is None:
            running = {j for j, spans in windows.items() if any(a <= request["t"] <= b for a, b in spans)}
            if len(running) == 1:
                owner = running.pop()
            elif running:
                found.shared += 1
                found.shared_limited += rate_limited(request)
                continue
            else:
                found.outside += 1
                found.outside_limited += rate_limited(request)
                continue
        found.requests[owner] = found.requests.get(owner, 0) + 1
        found.limited[owner] = found.limited.get(owner, 0) + rate_limited(request)
    return found


# -- one run ---------------------------------------------------------------------------------------


@dataclass
class JourneyResult:
    name: str
    split: Split
    segments: list[Segment]
    checks: list[PhaseCheck]
    billed: float
    minimal: float
    calls: int | None            # the suite's own count (metrics.json api.calls of its process)
    requests: int | None         # the requests the server received for it (attributed)
    limited: int                 # rate-limited answers the server gave it
    scenarios: int
    #: Each scenario's own calls (metrics.json journeys[].api.calls: from its before_scenario to the end of its
    #: cleanup), in the order they ran: the failover journey's two scenarios share one process.
    scenario_calls: list[int] = field(default_factory=list)

    @property
    def cost_ratio(self) -> float:
        return self.billed / self.minimal if self.minimal > 0 else math.nan


@dataclass
class RunResult:
    kind: str                              # "instance", "snapshot", "failover" (alone) or "together"
    wall: float                            # the process, wall seconds
    journeys: dict[str, JourneyResult]
    history: int | None                    # lines of phase history the run could use
    limited: int                           # every rate-limited answer of the run
    shared: int = 0                        # requests no single journey could be given
    outside: int = 0                       # requests outside every scenario (process start and end)
    server_requests: int = 0
    repetition: int = 0
    serial: list[str] = field(default_factory=list)    # journeys the parallel runner runs last, one at a time
    first: bool = False                    # a first run: no local timing history (the checked-in prior only)


def analyze(kind: str, wall: float, metrics: dict, truth_data: dict, workers: list[dict] | None = None,
            history: int | None = None) -> RunResult:
    """One run: its metrics.json (merged for a parallel run), the workers' own metrics.json (each worker
    is one scenario, so its ``api.calls`` is that scenario's), and the sandbox's ground truth."""
    truth = Truth(truth_data)
    scenarios = [Scenario.of(raw, truth) for raw in metrics.get("journeys") or [] if raw.get("status") != "skipped"]
    names = list(dict.fromkeys(s.journey for s in scenarios))
    owners = {i: s.journey for s in scenarios for i in s.ids}
    windows: dict[str, list[tuple[float, float]]] = {}
    for s in scenarios:
        windows.setdefault(s.journey, []).append((s.start, s.end))
    attribution = attribute(truth.requests, owners, windows)
    if workers is None:                                   # alone: the process is the journey
        calls = {names[0]: int((metrics.get("api") or {}).get("calls", 0))} if len(names) == 1 else {}
    else:
        calls = {}
        for worker in workers:
            for name in {journey_of(j.get("feature_file") or "") for j in worker.get("journeys") or []}:
                calls[name] = calls.get(name, 0) + int((worker.get("api") or {}).get("calls", 0))
    billing = {str(row["id"]): row for row in truth.billing}
    journeys = {}
    for name in names:
        mine = [s for s in scenarios if s.journey == name]
        per_scenario = [segments(s, truth) for s in mine]
        found = [seg for segs in per_scenario for seg in segs]
        splits = [Split.of(s.wall, segs, truth.scale) for s, segs in zip(mine, per_scenario, strict=True)]
        split = sum(splits[1:], splits[0])
        rows = [billing[i] for s in mine for i in sorted(set(s.instances) | set(s.standbys.values())) if i in billing]
        billed, minimal = billed_and_minimal(rows, found)
        requests = attribution.requests.get(name, 0)
        limited = attribution.limited.get(name, 0)
        if workers is None:                               # alone: before and after its scenarios too
            requests += attribution.outside + attribution.shared
            limited += attribution.outside_limited + attribution.shared_limited
        own = [int(((raw.get("api") or {}).get("calls")) or 0) for raw in metrics.get("journeys") or []
               if raw.get("status") != "skipped" and journey_of(raw.get("feature_file") or "") == name]
        journeys[name] = JourneyResult(name, split, found, [c for s in mine for c in phase_checks(s, truth)],
                                       billed, minimal, calls.get(name), requests, limited, len(mine), own)
    alone = workers is None
    return RunResult(kind, wall, journeys, history, sum(rate_limited(r) for r in truth.requests),
                     shared=0 if alone else attribution.shared, outside=0 if alone else attribution.outside,
                     server_requests=len(truth.requests))
