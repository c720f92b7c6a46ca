"""Completing, at the end of the run, the Allure results of journeys an interrupt cut short.

A Ctrl-C can skip ``after_scenario``: the journey's result then lacks its labels and attachments,
and allure-behave writes it as "skipped". This finds the result file, gives it what
:mod:`support.allure_out.publish` would have attached, and marks it as interrupted.
"""

from __future__ import annotations

import json
from pathlib import Path

from support.allure_out.labels import journey_labels, merge_labels
from support.allure_out.publish import journey_attachments
from support.allure_out.results_dir import write_attachment
from support.files import write_atomically


def _results(results: Path):
    for path in results.glob("*-result.json"):
        try:
            yield path, json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue


def find_result(results: Path, metrics, not_before_ms: float) -> tuple[Path, dict] | tuple[None, None]:
    """The Allure result of a journey: same scenario name, written during this run (the latest one)."""
    found = [(data.get("start", 0), path, data) for path, data in _results(results)
             if data.get("name") == metrics.test_name and data.get("start", 0) >= not_before_ms]
    if not found:
        return None, None
    _, path, data = max(found, key=lambda item: item[0])
    return path, data


def interruption_message(metrics, steps: list[dict], signal: str | None) -> str:
    signal = signal or "an interrupt"
    running = next((s["name"] for s in steps if s.get("status") not in ("passed",)), None)
    fates = ", ".join(f"{m.id} {m.fate}" for m in metrics.machines) or "none"
    where = f" during step '{running}'" if running else ""
    return (f"Interrupted by {signal}{where}; the journey stopped there and its cleanup ran "
            f"(machines: {fates}).")


def complete_result(results: Path, path: Path, data: dict, journey, secrets: list[str], language: str) -> bool:
    """Give a journey's result what its after_scenario could not: labels, attachments, the interrupt.

    Returns True when the file was changed.
    """
    metrics = journey.metrics
    tags = [label["value"] for label in data.get("labels", []) if label.get("name") == "tag"]
    changed = merge_labels(data.setdefault("labels", []), journey_labels(metrics, tags))
    attached = {a.get("name") for a in data.get("attachments", [])}
    if "phase timings" not in attached:
        for name, body, mime, extension in journey_attachments(journey, secrets, language):
            source = write_attachment(results, body, extension)
            data.setdefault("attachments", []).append({"name": name, "source": source, "type": mime})
        changed = True
    steps = data.get("steps", [])
    if metrics.status == "interrupted" and not (data.get("statusDetails") or {}).get("message", "").startswith(
            "Interrupted by"):
        message = interruption_message(metrics, steps, getattr(journey.run.guard, "received", None))
        before = data.get("statusDetails") or {}
        trace = "\n".join(part for part in (before.get("message"), before.get("trace")) if part)
        data["status"] = "broken"
        data["statusDetails"] = {"message": message, "trace": trace}
        step = next((s for s in steps if s.get("status") != "passed"), None)
        if step is not None:
            step["status"] = "broken"
            step["statusDetails"] = {"message": message}
        changed = True
    elif metrics.status == "skipped" and metrics.error_message and not (data.get("statusDetails") or {}).get("message"):
        data["statusDetails"] = {"message": metrics.error_message}
        changed = True
    if changed:
        write_atomically(path, json.dumps(data, ensure_ascii=False))
    return changed


def complete_results(results: Path, run, secrets: list[str]) -> int:
    """Complete the result of every journey of the run; the number of results changed."""
    language = run.config.language
    not_before = (run.started_at - 5) * 1000
    changed = 0
    for journey in run.journeys:
        path, data = find_result(results, journey.metrics, not_before)
        if path is not None:
            changed += complete_result(results, path, data, journey, secrets, language)
    return changed
