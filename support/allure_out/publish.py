"""Publishing a journey in Allure while its scenario is open: labels, phase timings, metrics,
its timeline, and whatever its steps recorded (command output), redacted.

The domain records (``Journey.attach``); this module publishes: :func:`attach_recorded` after each
step (the step is still open, so the attachment lands on it), :func:`attach_journey` after the
scenario. :func:`journey_attachments` is the one list of what a journey's result carries, also
used to complete the result of a journey an interrupt cut short (:mod:`support.allure_out.completion`).
"""

from __future__ import annotations

import json
import re

import allure

from support import charts
from support.allure_out.labels import current_test, enable_runtime_labels, journey_labels
from support.redact import redact
from support.reporting.names import full_name

ATTACHMENT_TYPES = {"text/plain": allure.attachment_type.TEXT, "application/json": allure.attachment_type.JSON,
                    "image/svg+xml": allure.attachment_type.SVG}
EXTENSIONS = {"text/plain": "txt", "application/json": "json", "image/svg+xml": "svg"}
#: Longest command output kept in an attachment (the end is kept: that is where errors are).
OUTPUT_LIMIT = 64_000
#: Secret-shaped assignments in command lines and output (``HF_TOKEN=...``, ``--password x``).
SECRET_ASSIGNMENT = re.compile(r"(?i)\b([A-Z0-9_]*(?:TOKEN|PASSWORD|SECRET|API_KEY|APIKEY)[A-Z0-9_]*"
                               r"(?:=|:\s*|\s+))(?!\*\*\*)(\"[^\"]*\"|'[^']*'|\S+)")


def phase_lines(metrics) -> str:
    """One line per phase: its name, its time and the half-width of the bracket its true time lies in."""
    lines = [f"{p.name:<16} {p.seconds:>9.3f} s ± {p.uncertainty_seconds:.3f} s  {p.detail}{stalled_words(p)}"
             .rstrip() for p in metrics.phases]
    return "\n".join(lines) or "no phases"


def stalled_words(phase) -> str:
    """The part of a phase the server was stalled, with the half-width of its bracket."""
    if not phase.server_stalled_seconds:
        return ""
    return (f" (of which {phase.server_stalled_seconds:.3f} s ± {phase.server_stalled_uncertainty:.3f} s"
            " the server was stalled)")


def journey_attachments(journey, secrets: list[str], language: str) -> list[tuple[str, str, str, str]]:
    """(name, body, mime type, extension) of everything attached to a journey's Allure result:
    its phase timings (text and JSON), metrics and timeline, then what its steps recorded, redacted."""
    metrics = journey.metrics
    data = metrics.to_dict()
    # Alone in its chart, a journey is named by its kind and its scenario (support.reporting.names).
    name = full_name(metrics.journey, metrics.test_name)
    return [
        ("phase timings", phase_lines(metrics), "text/plain", "txt"),
        ("phase timings (json)", json.dumps(data["phases"], indent=2, ensure_ascii=False), "application/json",
         "json"),
        ("journey metrics", redact(json.dumps(data, indent=2, ensure_ascii=False), secrets), "application/json",
         "json"),
        ("timeline (svg)", charts.timeline_svg([dict(data, display_name=name)], language, title=name),
         "image/svg+xml", "svg"),
    ] + [(a.name, clean_output(a.body, secrets), a.mime, EXTENSIONS.get(a.mime, "txt"))
         for a in journey.unpublished()]


def attach_recorded(journey, secrets: list[str]) -> None:
    """Publish, redacted, what the journey's last step recorded (called while that step is open)."""
    for attachment in journey.unpublished():
        allure.attach(clean_output(attachment.body, secrets), name=attachment.name,
                      attachment_type=ATTACHMENT_TYPES.get(attachment.mime, allure.attachment_type.TEXT))


def attach_journey(journey, secrets: list[str]) -> None:
    """Label the current Allure test and attach everything :func:`journey_attachments` lists."""
    metrics = journey.metrics
    language = getattr(getattr(journey.run, "config", None), "language", "en")
    enable_runtime_labels()
    test = current_test()
    tags = [label.value for label in test.labels if label.name == "tag"] if test is not None else []
    for name, value in journey_labels(metrics, tags):
        allure.dynamic.label(name, value)
    for name, body, mime, _ in journey_attachments(journey, secrets, language):
        allure.attach(body, name=name, attachment_type=ATTACHMENT_TYPES.get(mime, allure.attachment_type.TEXT))


def clean_output(text: str, secrets: list[str]) -> str:
    """Command text with secrets masked, and at most :data:`OUTPUT_LIMIT` characters (its end)."""
    text = SECRET_ASSIGNMENT.sub(lambda m: m.group(1) + "***", redact(text, secrets))
    if len(text) > OUTPUT_LIMIT:
        text = f"[… {len(text) - OUTPUT_LIMIT} characters cut …]\n" + text[-OUTPUT_LIMIT:]
    return text
