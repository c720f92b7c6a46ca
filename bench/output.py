"""The bench's tables and target lines: medians over the repetitions of what bench/analysis.py computed."""

from __future__ import annotations

import math
from dataclasses import dataclass

from bench.analysis import JourneyResult, RunResult, median
from support.waits import Polling

#: A phase shorter than this (real seconds) is polled at the suite's floor the whole way: each of its ends
#: is known only to within half a poll interval, more than 2 % of the phase at any time scale.
POLLING = Polling()
RESOLVABLE = POLLING.shortest / POLLING.precision
#: The most API calls a first run (empty reports/: no timing history, only the checked-in prior) may make:
#: the instance and snapshot journeys' processes, each failover scenario on its own.
FIRST_RUN_CALLS = {"instance": 40, "snapshot": 30, "failover": 100}
FIRST_RUN_NOTE = "the per-scenario columns are each scenario's own calls, in the order they ran"


@dataclass(frozen=True)
class Target:
    name: str
    value: float | None
    limit: float
    shown: str          # the value as printed, with what it refers to
    wanted: str         # the target as printed

    @property
    def met(self) -> bool:
        return self.value is not None and not math.isnan(self.value) and self.value <= self.limit

    def line(self) -> str:
        return f"{self.name}: {self.shown} (target {self.wanted}) {'✅' if self.met else '❌'}"


def pct(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value * 100:.{digits}f} %"


def num(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def whole(value: float | None) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.0f}"


def render(rows: list[list[str]], markdown: bool) -> str:
    if markdown:
        lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows[1:]])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip() for r in rows)


class Summary:
    """Every run of the bench, grouped: each journey alone per repetition, and the runs together."""

    def __init__(self, runs: list[RunResult], names: list[str], host: dict):
        self.names = names
        self.host = host
        self.repetitions = sorted({r.repetition for r in runs})
        self.alone: dict[str, list[JourneyResult]] = {n: [] for n in names}
        self.alone_runs: dict[int, dict[str, RunResult]] = {rep: {} for rep in self.repetitions}
        self.together: dict[int, RunResult] = {}
        #: First runs (no local timing history, the checked-in prior only), per journey, in repetition order.
        self.first: dict[str, list[JourneyResult]] = {n: [] for n in names}
        for run in sorted(runs, key=lambda r: r.repetition):
            if run.first:
                if run.kind in self.first and run.kind in run.journeys:
                    self.first[run.kind].append(run.journeys[run.kind])
            elif run.kind == "together":
                self.together[run.repetition] = run
            elif run.kind in self.alone and run.kind in run.journeys:
                self.alone[run.kind].append(run.journeys[run.kind])
                self.alone_runs[run.repetition][run.kind] = run
        some = next((j for r in runs for j in r.journeys.values()), None)
        self.scale = some.split.scale if some else float(host.get("time_scale") or 0)
        self.seed = host.get("seed")

    @classmethod
    def of(cls, runs: list[RunResult], names: list[str], host: dict) -> "Summary":
        return cls(runs, names, host)

    # -- per journey, medians over the repetitions ----------------------------------------------------

    def slowest_ratio(self, rep: int) -> float | None:
        alone = self.alone_runs.get(rep) or {}
        together = self.together.get(rep)
        if together is None or len(alone) < len(self.names):
            return None
        return together.wall / max(r.wall for r in alone.values())

    def together_journey(self, name: str) -> list[JourneyResult]:
        return [run.journeys[name] for run in self.together.values() if name in run.journeys]

    def phase_errors(self) -> dict[str, list]:
        """Per phase label, per repetition, the worst occurrence (error, relative uncertainty, truth, in bracket)."""
        found: dict[str, list] = {}
        for name in self.names:
            for result in self.alone[name]:
                worst: dict[str, object] = {}
                for check in result.checks:
                    if check.label not in worst or check.error > worst[check.label].error:
                        worst[check.label] = check
                for label, check in worst.items():
                    found.setdefault(label, []).append(check)
        return found

    def limited_per_rep(self) -> list[int]:
        totals = []
        for rep in self.repetitions:
            runs = list((self.alone_runs.get(rep) or {}).values())
            if rep in self.together:
                runs.append(self.together[rep])
            totals.append(sum(r.limited for r in runs))
        return totals

    # -- the targets -----------------------------------------------------------------------------------

    def targets(self) -> list[Target]:
        def worst(values: dict[str, float | None]) -> tuple[str, float | None]:
            known = {k: v for k, v in values.items() if v is not None and not math.isnan(v)}
            if not known:
                return "", None
            key = max(known, key=known.get)
            return key, known[key]

        projected = {n: median(j.split.projected for j in self.alone[n]) for n in self.names}
        overhead = {n: median(j.split.overhead for j in self.alone[n]) for n in self.names}
        cost = {n: median(j.cost_ratio for j in self.alone[n]) for n in self.names}
        # A phase whose end the server hid behind its stall is no measure of the harness: it is shown, with
        # whether its bracket held the truth, but the target is over the phases a client could see end.
        # So is a phase too short for polite polling to time within 2 % (shown, with its bracket).
        errors = {label: median(c.error for c in checks) for label, checks in self.phase_errors().items()
                  if not any(c.hidden for c in checks) and self.resolvable(checks)}
        p_name, p_value = worst(projected)
        o_name, o_value = worst(overhead)
        c_name, c_value = worst(cost)
        e_name, e_value = worst(errors)
        calls = median(j.calls for j in self.together_journey("instance"))
        limited = median(self.limited_per_rep())
        together = median(self.slowest_ratio(rep) for rep in self.repetitions)
        return [*self.history_targets(p_value, p_name, o_value, o_name, e_value, e_name, c_value, c_name, calls,
                                      limited, together), *self.first_targets()]

    def history_targets(self, p_value, p_name, o_value, o_name, e_value, e_name, c_value, c_name, calls, limited,
                        together) -> list[Target]:
        return [
            Target("projected real-speed overhead", p_value, 0.01, f"{pct(p_value, 2)} [{p_name}]", "≤ 1 %"),
            Target(f"×{self.scale:g} overhead", o_value, 0.05, f"{pct(o_value)} [{o_name}]", "≤ 5 %"),
            Target(f"timing error (phase ends a client could see, phases ≥ {RESOLVABLE:g} s)", e_value, 0.02,
                   f"{pct(e_value)} [{e_name}]", "≤ 2 %"),
            Target("billed/minimal", c_value, 1.05, f"{num(c_value, 3)} [{c_name}]", "≤ 1.05"),
            Target("instance journey calls", calls, 80, f"{whole(calls)} [run together]", "≤ 80"),
            Target("rate limited", limited, 0, f"{whole(limited)} [every run of a repetition]", "0"),
            Target("together/slowest", together, 1.15, num(together, 2), "≤ 1.15"),
        ]

    def first_calls(self, name: str) -> tuple[float | None, list[float | None]]:
        """A journey's calls on its first runs: the median of its process's calls, and per scenario the median
        of that scenario's own calls (the failover journey's two scenarios share one process)."""
        runs = self.first.get(name) or []
        count = max((len(j.scenario_calls) for j in runs), default=0)
        per_scenario = [median(j.scenario_calls[i] for j in runs if len(j.scenario_calls) > i) for i in range(count)]
        return median(j.calls for j in runs), per_scenario

    def first_targets(self) -> list[Target]:
        """The calls of a first run (empty reports/, the checked-in prior only), per journey: the instance and
        snapshot journeys' processes, each failover scenario on its own. Only for journeys the bench ran first."""
        found = []
        for name in self.names:
            if not self.first.get(name):
                continue
            process, scenarios = self.first_calls(name)
            limit = FIRST_RUN_CALLS.get(name)
            if limit is None:
                continue
            if name == "failover":
                worst = max((v for v in scenarios if v is not None), default=None)
                shown = " / ".join(whole(v) for v in scenarios) or "n/a"
                found.append(Target("first-run calls, failover (each scenario)", worst, limit,
                                    f"{shown} [scenarios, in order]", f"≤ {limit}"))
            else:
                found.append(Target(f"first-run calls, {name}", process, limit, f"{whole(process)} [alone]",
                                    f"≤ {limit}"))
        return found

    @property
    def all_met(self) -> bool:
        return all(t.met for t in self.targets())

    # -- tables ----------------------------------------------------------------------------------------

    def alone_rows(self) -> list[list[str]]:
        s = f"×{self.scale:g}"
        rows = [["journey", "process s", "journey s", "irreducible nominal s", "detection latency nominal s",
                 "harness wall s", f"overhead {s}", "projected real speed", "API calls", "server requests",
                 "rate limited", "billed / minimal"]]
        for name in self.names:
            js = self.alone[name]
            walls = [runs[name].wall for runs in self.alone_runs.values() if name in runs]
            rows.append([name, num(median(walls), 2), num(median(j.split.wall for j in js), 2),
                         num(median(j.split.irreducible_nominal for j in js)),
                         num(median(j.split.latency_nominal for j in js)),
                         num(median(j.split.harness for j in js), 2),
                         pct(median(j.split.overhead for j in js)), pct(median(j.split.projected for j in js), 2),
                         whole(median(j.calls for j in js)), whole(median(j.requests for j in js)),
                         whole(median(j.limited for j in js)), num(median(j.cost_ratio for j in js), 3)])
        return rows

    def first_rows(self) -> list[list[str]]:
        """Each journey's calls on a first run (no local history: the prior only) beside those with history."""
        s = f"×{self.scale:g}"
        rows = [["journey", "first-run calls", "per scenario", "with history", "per scenario",
                 f"first-run overhead {s}", "first-run projected real speed", "first-run billed / minimal"]]
        for name in self.names:
            first = self.first.get(name) or []
            if not first:
                continue
            calls, scenarios = self.first_calls(name)
            alone = self.alone[name]
            count = max((len(j.scenario_calls) for j in alone), default=0)
            again = [median(j.scenario_calls[i] for j in alone if len(j.scenario_calls) > i) for i in range(count)]
            rows.append([name, whole(calls), " / ".join(whole(v) for v in scenarios),
                         whole(median(j.calls for j in alone)), " / ".join(whole(v) for v in again),
                         pct(median(j.split.overhead for j in first)), pct(median(j.split.projected for j in first), 2),
                         num(median(j.cost_ratio for j in first), 3)])
        return rows

    def together_rows(self) -> list[list[str]]:
        s = f"×{self.scale:g}"
        rows = [["journey", "journey s", "detection latency nominal s", "harness wall s", f"overhead {s}",
                 "projected real speed", "API calls", "server requests", "rate limited", "billed / minimal"]]
        for name in self.names:
            js = self.together_journey(name)
            rows.append([name, num(median(j.split.wall for j in js), 2),
                         num(median(j.split.latency_nominal for j in js)), num(median(j.split.harness for j in js), 2),
                         pct(median(j.split.overhead for j in js)), pct(median(j.split.projected for j in js), 2),
                         whole(median(j.calls for j in js)), whole(median(j.requests for j in js)),
                         whole(median(j.limited for j in js)), num(median(j.cost_ratio for j in js), 3)])
        return rows

    def floor(self, rep: int) -> float | None:
        """The parallel run's shortest possible wall time given its schedule: the @serial journeys run
        after the others, one at a time, so at best the slowest other journey plus each serial one."""
        alone = self.alone_runs.get(rep) or {}
        together = self.together.get(rep)
        if together is None or len(alone) < len(self.names):
            return None
        shared = [r.wall for n, r in alone.items() if n not in together.serial]
        return max(shared, default=0.0) + sum(r.wall for n, r in alone.items() if n in together.serial)

    def together_line(self) -> str:
        runs = list(self.together.values())
        if not runs:
            return "no run together"
        reps = list(self.together)
        slowest = median(max(r.wall for r in self.alone_runs[rep].values()) for rep in reps
                         if self.alone_runs.get(rep))
        serial = sorted({n for r in runs for n in r.serial})
        floor = median(self.floor(rep) for rep in reps)
        by_floor = median(self.together[rep].wall / f for rep in reps if (f := self.floor(rep)))
        return "\n".join([
            f"run together: {num(median(r.wall for r in runs), 2)} s wall; slowest journey alone {num(slowest, 2)} s; "
            f"together/slowest {num(median(self.slowest_ratio(rep) for rep in reps), 2)}",
            f"serial journeys (@serial: run after the others, one at a time): {', '.join(serial) or 'none'}; the "
            f"schedule's floor (slowest other journey alone + each serial one alone) {num(floor, 2)} s; "
            f"together/floor {num(by_floor, 2)}",
            f"requests no single journey can be given: {whole(median(r.shared for r in runs))} while several ran, "
            f"{whole(median(r.outside for r in runs))} outside every scenario (process start, leak check)"])

    def segment_rows(self) -> list[list[str]]:
        rows = [["journey", "interval", "count", "irreducible nominal s", "detection latency nominal s", "notes"]]
        for name in self.names:
            per_rep: dict[str, list[tuple[int, float, float]]] = {}
            notes: dict[str, set[str]] = {}
            for result in self.alone[name]:
                sums: dict[str, list[float]] = {}
                for seg in result.segments:
                    entry = sums.setdefault(seg.name, [0, 0.0, 0.0])
                    entry[0] += 1
                    entry[1] += seg.seconds * result.split.scale
                    entry[2] += seg.latency * result.split.scale
                    if seg.note:
                        notes.setdefault(seg.name, set()).add(seg.note)
                for key, (count, irreducible, latency) in sums.items():
                    per_rep.setdefault(key, []).append((count, irreducible, latency))
            for key, values in per_rep.items():
                rows.append([name, key, whole(median(v[0] for v in values)), num(median(v[1] for v in values)),
                             num(median(v[2] for v in values)), "; ".join(sorted(notes.get(key, ())))])
        return rows

    def resolvable(self, checks) -> bool:
        """Long enough for polls every ``precision`` of the time waited to time it within 2 %."""
        return median(c.truth * self.scale for c in checks) >= RESOLVABLE

    def phase_rows(self) -> list[list[str]]:
        rows = [["phase", "truth nominal s", "timing error", "uncertainty / truth", "truth inside the bracket",
                 "end hidden by a server stall", f"under {RESOLVABLE:g} s (polled at the floor)"]]
        errors = self.phase_errors()
        for label, checks in sorted(errors.items(), key=lambda kv: -(median(c.error for c in kv[1]) or 0)):
            rows.append([label, num(median(c.truth * self.scale for c in checks)), pct(median(c.error for c in checks)),
                         pct(median(c.relative_uncertainty for c in checks)),
                         f"{sum(c.in_bracket for c in checks)}/{len(checks)}",
                         f"{sum(c.hidden for c in checks)}/{len(checks)}",
                         "" if self.resolvable(checks) else "yes"])
        return rows

    def repetition_rows(self) -> list[list[str]]:
        """Per repetition: the phase history each run could use, and the API calls it made."""
        rows = [["repetition", *[f"history {n}" for n in self.names], "history together",
                 *[f"calls {n}" for n in self.names], *[f"calls {n} together" for n in self.names],
                 "rate limited", "together / slowest"]]
        for rep, limited in zip(self.repetitions, self.limited_per_rep(), strict=True):
            alone = self.alone_runs.get(rep) or {}
            together = self.together.get(rep)

            def calls(run, name):
                result = run.journeys.get(name) if run else None
                return whole(result.calls) if result and result.calls is not None else "-"

            rows.append([str(rep), *[str(alone[n].history) if n in alone else "-" for n in self.names],
                         str(together.history) if together else "-",
                         *[calls(alone.get(n), n) for n in self.names], *[calls(together, n) for n in self.names],
                         str(limited), num(self.slowest_ratio(rep), 2)])
        return rows

    def header(self) -> str:
        host = self.host
        load = host.get("load_before"), host.get("load_after")
        loads = " / ".join("n/a" if v is None else f"{v[0]:.2f}" for v in load)
        return (f"time scale ×{self.scale:g}, seed {self.seed}, {len(self.repetitions)} repetition(s), medians; "
                f"machine: {host.get('cores', '?')} cores, load average (1 min) before / after {loads}, "
                f"Python {host.get('python', '?')}, {host.get('system', '?')}; bench took {host.get('seconds', '?')} s")

    def sections(self, markdown: bool) -> list[str]:
        note = ("per repetition: the phase history lines each run could use (the journeys alone share "
                "reports/bench/phase-history.jsonl; a parallel run's workers each keep their own folder, wiped "
                "when the run starts), and the API calls each journey made:")
        first = self.first_rows()
        firsts = ([f"first runs (each journey alone, reports/ empty: no timing history, the checked-in prior "
                   f"only; {FIRST_RUN_NOTE}):", render(first, markdown)] if len(first) > 1 else [])
        return [self.header(),
                "each journey alone:", render(self.alone_rows(), markdown), *firsts,
                "all together (support.parallel):", render(self.together_rows(), markdown), self.together_line(),
                "where the time goes (alone, summed per interval, per journey):", render(self.segment_rows(), markdown),
                "phase timing against the ground truth (alone; worst occurrence of each phase in a run):",
                render(self.phase_rows(), markdown), self.floor_line(),
                note, render(self.repetition_rows(), markdown)]

    def floor_line(self) -> str:
        return (f"The timing-error target is over the phases a client could see end and that last at least "
                f"{RESOLVABLE:g} s (real): the suite polls no faster than every {POLLING.shortest:g} s (the "
                f"provider limits each endpoint to a minimum interval), so each end of a shorter phase is known "
                f"to within half a poll, which can add up to more than {POLLING.precision * 100:g} % of it at any "
                f"time scale; those are shown above with their brackets.")

    def text(self) -> str:
        return "\n\n".join(self.sections(markdown=False)) + "\n\n" + "\n".join(t.line() for t in self.targets())

    def markdown(self) -> str:
        targets = [["target", "median", "wanted", "met"]] + [[t.name, t.shown, t.wanted, "✅" if t.met else "❌"]
                                                               for t in self.targets()]
        return "\n\n".join(self.sections(markdown=True) + [render(targets, True)])
