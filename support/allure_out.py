"""What the suite attaches to Allure: phase timings, metrics, command output (redacted)."""

from __future__ import annotations

import json

import allure

from support.redact import redact


def attach_journey(journey, secrets: list[str]) -> None:
    """Attach the journey's phase timings (text and JSON) and its metrics to the current Allure test."""
    metrics = journey.metrics
    lines = [f"{p.name:<16} {p.seconds:>9.3f} s  {p.detail}".rstrip() for p in metrics.phases]
    allure.attach("\n".join(lines) or "no phases", name="phase timings",
                  attachment_type=allure.attachment_type.TEXT)
    allure.attach(json.dumps([p.__dict__ for p in metrics.phases], indent=2), name="phase timings (json)",
                  attachment_type=allure.attachment_type.JSON)
    allure.attach(redact(json.dumps(metrics.to_dict(), indent=2, ensure_ascii=False), secrets),
                  name="journey metrics", attachment_type=allure.attachment_type.JSON)


def attach_command(name: str, output: str, secrets: list[str]) -> None:
    allure.attach(redact(output, secrets), name=name, attachment_type=allure.attachment_type.TEXT)


def write_run_files(run, summary: dict) -> None:
    """Run-level files in the results directory (environment, categories, executor).

    allure-behave cannot attach in before_all/after_all, so these are files
    written next to the results, again on every run.
    """
