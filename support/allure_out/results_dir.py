"""Files the suite writes straight into ``<reports>/allure-results``: the run-level files
(environment.xml, categories.json, executor.json), attachment files, and the charts as global
attachments. :mod:`support.allure_out.finish` decides when.

allure-behave cannot attach in before_all/after_all, so these are files written next to the
results, again on every run.
"""

from __future__ import annotations

import json
import os
import platform
import time
import uuid
from importlib import metadata
from pathlib import Path
from xml.sax.saxutils import escape

from support import charts
from support.allure_out.categories import CATEGORIES
from support.files import write_atomically

RESULTS = "allure-results"
REPORT_NAME = "Dumont Cloud acceptance"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _commit() -> str | None:
    head = Path(__file__).resolve().parents[2] / ".git" / "HEAD"
    try:
        ref = head.read_text().strip()
        if ref.startswith("ref: "):
            return (head.parent / ref[5:]).read_text().strip()[:12]
        return ref[:12]
    except OSError:
        return None


def environment_items(summary: dict) -> list[tuple[str, str]]:
    """What the Allure overview shows under Environment (texts may be Portuguese: environment.xml)."""
    run = summary["run"]
    config = summary.get("config") or {}
    gpus = sorted({m["gpu_name"] for m in summary.get("machines", []) if m.get("kind") == "instance"})
    if run["target"] == "sandbox":
        target = f"sandbox (time ×{run['time_scale']:g}; simulated costs)"
    else:
        target = "real Dumont Cloud"
    items = [
        ("Target", target),
        ("Mode", run["target"]),
        ("URL", run["url"]),
        ("Server version", str(run.get("server_version"))),
        ("GPU", ", ".join(gpus) or "none rented"),
        ("Allowed GPUs", ", ".join(config.get("allowed_gpus") or [])),
        ("Max price $/h", str(config.get("max_price"))),
        ("Budget $", str(config.get("budget_usd"))),
        ("Spending allowed", "yes" if config.get("allow_spend") else "no"),
        ("Run", f"{run['id']} (label {run['label']})"),
        ("Started", run["started_at"]),
        ("Report language", str(config.get("language"))),
        ("Python", platform.python_version()),
        ("behave", _version("behave")),
        ("allure-behave", _version("allure-behave")),
    ]
    if run.get("interrupted"):
        items.insert(0, ("Interrupted", str(run["interrupted"])))
    commit = _commit()
    if commit:
        items.append(("Suite commit", commit))
    return [(k, v) for k, v in items if v not in (None, "", "None")]


def environment_xml(items: list[tuple[str, str]]) -> str:
    """environment.xml: UTF-8 (environment.properties would mangle non-ASCII text)."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', "<environment>"]
    for key, value in items:
        lines.append(f"  <parameter><key>{escape(key)}</key><value>{escape(value)}</value></parameter>")
    lines.append("</environment>")
    return "\n".join(lines) + "\n"


def executor(summary: dict, environ=os.environ) -> dict:
    """executor.json: who ran this (GitHub Actions or a person), with a link to the CI run."""
    run = summary["run"]
    if environ.get("GITHUB_ACTIONS") == "true":
        server = environ.get("GITHUB_SERVER_URL", "https://github.com")
        repository = environ.get("GITHUB_REPOSITORY", "")
        run_url = f"{server}/{repository}/actions/runs/{environ.get('GITHUB_RUN_ID', '')}"
        return {"name": "GitHub Actions", "type": "github", "url": f"{server}/{repository}",
                "buildOrder": int(environ.get("GITHUB_RUN_NUMBER", "0") or 0),
                "buildName": f"{environ.get('GITHUB_WORKFLOW', 'acceptance')} #{environ.get('GITHUB_RUN_NUMBER', '')}"
                             f" ({run['target']})",
                "buildUrl": run_url, "reportName": REPORT_NAME, "reportUrl": run_url}
    return {"name": f"{platform.node() or 'local'}", "type": "local", "buildName": f"run {run['id']} ({run['target']})",
            "buildOrder": int(time.time()), "reportName": REPORT_NAME}


def write_categories(results: Path) -> None:
    write_atomically(results / "categories.json", json.dumps(CATEGORIES, indent=2, ensure_ascii=False))


def write_metadata(results: Path, summary: dict) -> None:
    """categories.json, environment.xml and executor.json, (re)written into the results directory."""
    results.mkdir(parents=True, exist_ok=True)
    write_categories(results)
    write_atomically(results / "environment.xml", environment_xml(environment_items(summary)))
    write_atomically(results / "executor.json", json.dumps(executor(summary), indent=2, ensure_ascii=False))
    stale = results / "environment.properties"
    if stale.exists():
        stale.unlink()


def write_attachment(results: Path, body: str, extension: str) -> str:
    """An attachment file in the results directory; its name (the ``source`` a result refers to)."""
    source = f"{uuid.uuid4()}-attachment.{extension}"
    write_atomically(results / source, body)
    return source


def attach_globals(results: Path, files: list[tuple[str, Path]]) -> None:
    """Run-level pictures as Allure global attachments (a ``*-globals.json``; Allure 3 shows them)."""
    attachments = []
    for name, path in files:
        source = write_attachment(results, path.read_text(encoding="utf-8"), "svg")
        attachments.append({"name": name, "source": source, "type": "image/svg+xml",
                            "timestamp": int(time.time() * 1000)})
    write_atomically(results / f"{uuid.uuid4()}-globals.json", json.dumps({"attachments": attachments, "errors": []}))


def attach_charts(reports: Path, summary: dict, language: str) -> None:
    """Save the run's charts under ``reports`` and attach them to Allure as global attachments."""
    paths = charts.write_charts(summary, reports, language)
    attach_globals(reports / RESULTS, [("timeline of the journeys (svg)", paths["timeline"]),
                                       ("cost per journey (svg)", paths["cost"])])
