"""The run's verdict: one line, the last thing a run prints, agreeing with its exit code.

behave prints its own tally ("1 feature passed …") after the hooks, so a run whose leak check failed
used to end on a green line. The verdict is read from the run's summary (metrics.json) and from what
the runner itself knows went wrong (a hook that failed, an undefined step), and printed after
everything else: at interpreter exit for a behave process, at the end of ``support.parallel``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from support.reporting.names import shown_names

WORDS = {
    "en": {
        "passed": "PASSED", "failed": "FAILED", "interrupted": "INTERRUPTED",
        "journeys_passed": "{n} journey(s) passed", "journeys_failed": "{n} of {total} journey(s) failed: {names}",
        "skipped": "{n} skipped ({why})", "nothing_ran": "no journey ran",
        "leaked": "{what} may still be billing: run `make sweep`",
        "unchecked": "the leak check could not complete ({why})",
        "clean": "nothing left billing", "runner": "{why}",
        "exit": "exit {code}",
    },
    "pt": {
        "passed": "APROVADO", "failed": "REPROVADO", "interrupted": "INTERROMPIDO",
        "journeys_passed": "{n} jornada(s) aprovada(s)",
        "journeys_failed": "{n} de {total} jornada(s) reprovada(s): {names}",
        "skipped": "{n} pulada(s) ({why})", "nothing_ran": "nenhuma jornada rodou",
        "leaked": "{what} pode ainda estar cobrando: rode `make sweep`",
        "unchecked": "a verificação de vazamentos não terminou ({why})",
        "clean": "nada ficou cobrando", "runner": "{why}",
        "exit": "saída {code}",
    },
}

FAILED_STATUSES = ("failed", "interrupted")


@dataclass
class Verdict:
    ok: bool
    interrupted: str | None = None
    reasons: list[str] = field(default_factory=list)      # why it failed, most serious first
    notes: list[str] = field(default_factory=list)        # what passed, what was skipped and why

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def line(self, language: str = "en") -> str:
        words = WORDS.get(language, WORDS["en"])
        head = words["interrupted"] + f" ({self.interrupted})" if self.interrupted else \
            words["passed" if self.ok else "failed"]
        body = "; ".join(self.reasons + self.notes)
        icon = "✅" if self.ok else "❌"
        return f"{icon} {head}: {body} ({words['exit'].format(code=self.exit_code)})"


def judge(summary: dict | None, language: str = "en", runner_problems: list[str] = (),
          interrupted: str | None = None) -> Verdict:
    """The verdict of a run from its summary (None: the run wrote none), what its runner saw go wrong, and the
    signal that interrupted it (``interrupted``: one that came after the summary was made still counts)."""
    words = WORDS.get(language, WORDS["en"])
    if summary is None:
        return Verdict(False, interrupted=interrupted, reasons=list(runner_problems) or [words["nothing_ran"]])
    journeys = summary.get("journeys", [])
    run = summary.get("run", {})
    reasons, notes = [], []
    left = [m for m in summary.get("machines", []) if m.get("fate") in ("leaked", "alive")]
    named = {(m.get("kind"), str(m.get("id"))) for m in left}
    left_names = [f"{m.get('gpu_name') or m.get('kind')} {m.get('id')}" for m in left]
    left_names += [f"{leak.get('kind')} {leak.get('id')}" for leak in summary.get("leaks", [])
                   if (leak.get("kind"), str(leak.get("id"))) not in named]
    if left_names:
        reasons.append(words["leaked"].format(what=", ".join(left_names)))
    warnings = summary.get("leak_check_warnings", [])
    if warnings:
        reasons.append(words["unchecked"].format(why="; ".join(warnings)))
    failed = [name for j, name in zip(journeys, shown_names(journeys, language), strict=True)
              if j.get("status") in FAILED_STATUSES]
    ran = [j for j in journeys if j.get("status") != "skipped"]
    if failed:
        names = ", ".join(failed)
        reasons.append(words["journeys_failed"].format(n=len(failed), total=len(ran), names=names))
    if not reasons:     # behave saw a failure the journeys do not show: never a green verdict then
        reasons += [words["runner"].format(why=problem) for problem in runner_problems]
    passed = [j for j in journeys if j.get("status") == "passed"]
    if passed:
        notes.append(words["journeys_passed"].format(n=len(passed)))
    for why, count in _skips(journeys).items():
        notes.append(words["skipped"].format(n=count, why=why))
    if not ran and not reasons:
        notes.insert(0, words["nothing_ran"])
    if not reasons and not left_names:
        notes.append(words["clean"])
    interrupted = run.get("interrupted") or interrupted
    return Verdict(not reasons and not interrupted, interrupted=interrupted, reasons=reasons, notes=notes)


def _skips(journeys: list[dict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for journey in journeys:
        if journey.get("status") == "skipped":
            why = journey.get("error_message") or "skipped"
            counts[why] = counts.get(why, 0) + 1
    return counts


def behave_problems(runner) -> list[str]:
    """What behave itself counts as failure that the journeys' summary may not show: a failed hook
    (the leak check raises in after_all), an undefined step, a feature that failed outside a journey."""
    problems = []
    if getattr(runner, "hook_failures", 0):
        problems.append(f"{runner.hook_failures} hook(s) failed (see above)")
    undefined = getattr(runner, "undefined_steps", [])
    if undefined:
        problems.append(f"{len(undefined)} step(s) undefined: {undefined[0].keyword} {undefined[0].name}")
    return problems
