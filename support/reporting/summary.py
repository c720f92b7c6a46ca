"""The run summary (metrics.json): one function, :func:`summarize`, for every kind of run.

It reads plain data only: the journeys as metrics.json holds them (``JourneyMetrics.to_dict()``)
and :class:`RunFacts`, what is known about the run besides its journeys. A single behave process
gives it its own journeys and facts (:func:`summarize_run`); ``support.parallel`` gives it the
journeys of every worker or shard and the facts merged from their summaries
(:func:`summarize_merged`). Means, success rate, totals and machines are computed here and
nowhere else.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime

from support.metrics import BRIEF_FIELDS, iso
from support.reporting.names import display_names

#: Version of metrics.json's shape (schemas/metrics.schema.json, which says what changed); raise it
#: when the shape changes.
SCHEMA_VERSION = 2

#: The run-level means: metrics.json key -> the journey field it is the mean of.
MEANS = {"mean_time_to_running": "time_to_running", "mean_time_to_failover": "time_to_failover",
         "mean_time_to_restore": "time_to_restore"}
PHASE_OF_FIELD = {field_name: phase for phase, field_name in BRIEF_FIELDS.items()}
#: The reports show a time's uncertainty ("2.1 s ± 0.1 s") when it is more than this share of the time.
SHOWN_UNCERTAINTY = 0.01


def shows_uncertainty(seconds: float | None, uncertainty: float | None) -> bool:
    """Whether a time's uncertainty is worth showing beside it: more than 1 % of it."""
    return bool(seconds) and bool(uncertainty) and uncertainty > SHOWN_UNCERTAINTY * seconds


@dataclass(frozen=True)
class RunFacts:
    """What the summary says about the run besides its journeys (plain data; times in epoch seconds)."""

    id: str
    label: str
    target: str                  # "sandbox" or "real"
    url: str
    time_scale: float
    server_version: str | None
    started_at: float
    ended_at: float
    interrupted: str | None      # the signal that stopped the run, or None
    api: dict                    # CallLog.summary() and stalled_seconds, summed over processes
    config: dict                 # the configuration with secrets masked
    leaks: list[dict] = field(default_factory=list)
    leak_check_warnings: list[str] = field(default_factory=list)
    workers: int | None = None   # behave processes merged into this run (None: a single one)


def _mean(values: list[float]) -> float | None:
    values = [v for v in values if v]
    return sum(values) / len(values) if values else None


def field_uncertainty(journey: dict, field_name: str) -> float:
    """The uncertainty of a journey's brief field (time_to_running, ...): that of the phase that filled it,
    the first phase of its name with a time (support.metrics.JourneyMetrics.add_phase)."""
    phase_name = PHASE_OF_FIELD[field_name]
    value = journey[field_name]
    phase = next((p for p in journey["phases"] if p["name"] == phase_name and p["seconds"] == value), None)
    return float(phase.get("uncertainty_seconds") or 0.0) if phase else 0.0


def _mean_uncertainty(journeys: list[dict], field_name: str) -> float | None:
    """The half-width of the bracket the mean lies in: the mean of the journeys' half-widths (the same
    journeys as the mean: those with a time)."""
    timed = [j for j in journeys if j[field_name]]
    if not timed:
        return None
    return round(sum(field_uncertainty(j, field_name) for j in timed) / len(timed), 4)


def summarize(journeys: list[dict], facts: RunFacts) -> dict:
    """Everything the reports show, as plain data: this is metrics.json."""
    journeys = [dict(journey, display_name=name) for journey, name in zip(journeys, display_names(journeys),
                                                                          strict=True)]
    ran = [j for j in journeys if j["status"] != "skipped"]
    run = {
        "id": facts.id, "label": facts.label, "target": facts.target, "url": facts.url,
        "time_scale": facts.time_scale, "server_version": facts.server_version,
        "started_at": iso(facts.started_at), "ended_at": iso(facts.ended_at),
        "duration_seconds": round(facts.ended_at - facts.started_at, 3),
        "total_cost": round(sum(j["total_cost"] for j in journeys), 6),
        "interrupted": facts.interrupted,
        "success_rate": (sum(j["success"] for j in ran) / len(ran)) if ran else None,
    }
    if facts.workers is not None:
        run["workers"] = facts.workers
    return {
        "schema_version": SCHEMA_VERSION,
        "run": run,
        "metrics": {**{key: _mean([j[field_name] for j in journeys]) for key, field_name in MEANS.items()},
                    "uncertainty_seconds": {key: _mean_uncertainty(journeys, field_name)
                                            for key, field_name in MEANS.items()}},
        "journeys": journeys,
        "machines": [dict(machine, journey=j["test_name"]) for j in journeys for machine in j["machines"]],
        "leaks": list(facts.leaks),
        "leak_check_warnings": list(facts.leak_check_warnings),
        "api": dict(facts.api),
        "config": facts.config,
    }


# -- one behave process ------------------------------------------------------------------------------------


def run_journeys(run) -> list[dict]:
    """The journeys of a ``support.run.Run``, as metrics.json holds them."""
    return [journey.metrics.to_dict() for journey in run.journeys]


def run_facts(run, ended_at: float | None = None) -> RunFacts:
    """The facts of a ``support.run.Run`` (its leak check included) at ``ended_at`` (default: now)."""
    check = run.leak_check
    log = run.client.call_log
    return RunFacts(
        id=run.config.run_id, label=run.config.run_label, target=run.target.mode, url=run.target.url,
        time_scale=run.target.time_scale, server_version=run.target.version, started_at=run.started_at,
        ended_at=ended_at or time.time(), interrupted=run.guard.received,
        api={**log.summary(), "stalled_seconds": log.figures()["stalled_seconds"]},
        config=run.config.public_view(),
        leaks=check.to_dict()["leaks"] if check else [],
        leak_check_warnings=([f"could not list {what}: {why}" for what, why in check.unchecked.items()]
                             if check else ["the leak check did not run"]))


def summarize_run(run, ended_at: float | None = None) -> dict:
    """metrics.json of one behave process."""
    return summarize(run_journeys(run), run_facts(run, ended_at))


# -- a run merged from several processes (parallel workers, or shards from several machines) ----------------


def parse_iso(text: str) -> float:
    """Epoch seconds of an ISO time written by :func:`support.metrics.iso`."""
    return datetime.fromisoformat(text).timestamp()


def merged_facts(summaries: list[dict], started_at: float | None = None, ended_at: float | None = None) -> RunFacts:
    """The facts of one run made of several summaries (each a metrics.json): the run id without the
    worker suffix, the earliest start and latest end (unless given), API figures summed, every leak."""
    if not summaries:
        raise ValueError("no worker produced metrics")
    first = summaries[0]["run"]
    api_keys = list(dict.fromkeys(key for s in summaries for key in s["api"]))
    return RunFacts(
        id=first["id"].rsplit("-w", 1)[0], label=first["label"].rsplit("-w", 1)[0], target=first["target"],
        url=first["url"], time_scale=first["time_scale"], server_version=first["server_version"],
        started_at=started_at or min(parse_iso(s["run"]["started_at"]) for s in summaries),
        ended_at=ended_at or max(parse_iso(s["run"]["ended_at"]) for s in summaries),
        interrupted=next((s["run"]["interrupted"] for s in summaries if s["run"]["interrupted"]), None),
        api={key: _sum(s["api"].get(key, 0) for s in summaries) for key in api_keys},
        config=summaries[0]["config"],
        leaks=[leak for s in summaries for leak in s["leaks"]],
        leak_check_warnings=[w for s in summaries for w in s.get("leak_check_warnings", [])],
        workers=sum(s["run"].get("workers") or 1 for s in summaries))


def summarize_merged(summaries: list[dict], started_at: float | None = None, ended_at: float | None = None) -> dict:
    """metrics.json of a run made of several processes' metrics.json."""
    return summarize([j for s in summaries for j in s["journeys"]], merged_facts(summaries, started_at, ended_at))


def _sum(values) -> float:
    total = sum(values)
    return round(total, 3) if isinstance(total, float) else total
