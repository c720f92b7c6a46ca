"""What the suite gives Allure: labels, phase timings, metrics, pictures, command output (redacted),
and the run-level files of the results directory (environment, categories, executor).

Two routes, because allure-behave cannot attach in ``before_all``/``after_all``
(allure-python #764) and a Ctrl-C can skip ``after_scenario``:

* while a scenario is open, :func:`attach_journey` attaches through
  allure-behave's runtime API (``allure.attach``, ``allure.dynamic``);
* at the end of the run, :func:`write_run_files` writes files straight into
  ``<reports>/allure-results``: the run-level files, the charts as global
  attachments, and whatever a journey cut short never attached (an
  interrupted scenario is also marked as such, so it is not a silent "skipped").

``python -m support.allure_out prepare`` (run by ``make report`` before
``allure generate``) writes the run-level files again from metrics.json.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import sys
import time
import uuid
from importlib import metadata
from pathlib import Path
from xml.sax.saxutils import escape

import allure
import allure_commons
from allure_commons.model2 import Label

from support import charts
from support.redact import redact

RESULTS = "allure-results"
REPORT = "allure-report"
REPORT_NAME = "Dumont Cloud acceptance"
#: Files next to history.jsonl: the run last added to the history, and options allurerc.mjs reads.
HISTORY_LAST_RUN = "history.last-run"
GENERATE_OPTIONS = "allure-generate.json"

#: Allure categories (Allure 2's categories.json format; allurerc.mjs hands the same rules to Allure 3).
#: Messages are those our code raises: support/interrupts.py, support/costs.py SpendRefused,
#: support/backoff.py ApiError, support/waits.py PhaseTimeout/PhaseFailed, support/ssh.py.
#: Allure 3 puts a result in the first category that matches, so the order matters.
CATEGORIES = [
    {"name": "Interrupted",
     "description": "Ctrl-C or SIGTERM stopped the journey; what it created was cleaned up.",
     "matchedStatuses": ["broken", "failed", "skipped", "unknown"],
     "messageRegex": r"[\s\S]*(Interrupted by|KeyboardInterrupt|SIGINT|SIGTERM)[\s\S]*"},
    {"name": "Budget refused",
     "description": "A spending guard refused to rent: balance, DUMONT_BUDGET_USD, price cap, "
                    "allowed GPUs or DUMONT_ALLOW_SPEND.",
     "matchedStatuses": ["failed", "broken", "skipped"],
     "messageRegex": r"[\s\S]*(exceeds the budget|is below the estimated maximum cost|no offer for the allowed "
                     r"GPUs|above the price cap|DUMONT_ALLOW_SPEND|SpendRefused)[\s\S]*"},
    {"name": "Rate limited",
     "description": "The API kept answering 429 (or the real server's 500 \"Limite de requisições excedido\") "
                    "past the backoff deadline.",
     "matchedStatuses": ["failed", "broken"],
     "messageRegex": r"[\s\S]*(Limite de requisi[cç][oõ]es excedido|→ 429|Too Many Requests|"
                     r"[Rr]ate limit)[\s\S]*"},
    {"name": "Infrastructure timeout",
     "description": "A phase did not finish in its time limit, a machine reached a state it cannot come back "
                    "from, SSH or the API did not answer, or the scenario ran past its maximum time.",
     "matchedStatuses": ["failed", "broken"],
     "messageRegex": r"[\s\S]*(did not finish within|scenario exceeded its maximum time|no answer \(|"
                     r"timed out|TimeoutError|stopped for good|actual_status='(exited|offline)'|"
                     r"host is offline)[\s\S]*"},
    {"name": "Product defect",
     "description": "The product did not keep a promise: a check failed or the API answered an error.",
     "matchedStatuses": ["failed", "broken"]},
]

ATTACHMENT_TYPES = {"text/plain": allure.attachment_type.TEXT, "application/json": allure.attachment_type.JSON,
                    "image/svg+xml": allure.attachment_type.SVG}

#: Labels that hold one value: a new value replaces the old one.
SINGLE_VALUED = {"epic", "feature", "severity", "story", "gpu"}
SEVERITIES = ("blocker", "critical", "normal", "minor", "trivial")
#: Longest command output kept in an attachment (the end is kept: that is where errors are).
OUTPUT_LIMIT = 64_000
#: Secret-shaped assignments in command lines and output (``HF_TOKEN=...``, ``--password x``).
SECRET_ASSIGNMENT = re.compile(r"(?i)\b([A-Z0-9_]*(?:TOKEN|PASSWORD|SECRET|API_KEY|APIKEY)[A-Z0-9_]*"
                               r"(?:=|:\s*|\s+))(?!\*\*\*)(\"[^\"]*\"|'[^']*'|\S+)")


# -- labels: allure.dynamic, made to work under allure-behave ---------------------------------------


class RuntimeLabels:
    """allure-behave 2.16 implements no ``add_label`` hook, so ``allure.dynamic.epic()`` and friends do
    nothing there (allure-python #776). This plugin implements it on the scenario that is open."""

    @allure_commons.hookimpl
    def add_label(self, label_type, labels):
        test = current_test()
        if test is None:
            return
        name = getattr(label_type, "value", label_type)
        for value in labels:
            if name in SINGLE_VALUED:
                test.labels = [label for label in test.labels if label.name != name]
            if not any(label.name == name and label.value == str(value) for label in test.labels):
                test.labels.append(Label(name=name, value=str(value)))


_RUNTIME_LABELS = RuntimeLabels()


def enable_runtime_labels() -> None:
    """Register :class:`RuntimeLabels` once, unless something else already implements the hook."""
    manager = allure_commons.plugin_manager
    if manager.is_registered(_RUNTIME_LABELS):
        return
    if manager.hook.add_label.get_hookimpls():
        return          # a newer allure-behave does it itself
    manager.register(_RUNTIME_LABELS, name="dumont-runtime-labels")


def current_test():
    """The Allure test result of the scenario that is open now, or None."""
    from allure_behave.listener import AllureListener

    for plugin in allure_commons.plugin_manager.get_plugins():
        if isinstance(plugin, AllureListener) and plugin.current_scenario_uuid is not None:
            return plugin.logger.get_test(plugin.current_scenario_uuid)
    return None


def severity_for(tags: list[str]) -> str:
    """A severity tag wins; otherwise journeys that rent machines are critical, free checks normal."""
    for tag in tags:
        if tag in SEVERITIES:
            return tag
    return "critical" if "paid" in tags else "normal"


def journey_labels(metrics, tags: list[str]) -> list[tuple[str, str]]:
    """(name, value) labels for a journey: epic = journey, severity, GPU (as a tag and a label)."""
    labels = [("epic", metrics.journey), ("severity", severity_for(tags))]
    if metrics.gpu_name:
        labels += [("tag", f"GPU: {metrics.gpu_name}"), ("gpu", metrics.gpu_name)]
    return labels


# -- attachments while the scenario is open ------------------------------------------------------------


def phase_lines(metrics) -> str:
    lines = [f"{p.name:<16} {p.seconds:>9.3f} s  {p.detail}".rstrip() for p in metrics.phases]
    return "\n".join(lines) or "no phases"


def journey_attachments(journey, secrets: list[str], language: str) -> list[tuple[str, str, str, str]]:
    """(name, body, mime type, extension) of everything attached to a journey's Allure result:
    its phase timings (text and JSON), metrics and timeline, then what its steps recorded, redacted."""
    metrics = journey.metrics
    data = metrics.to_dict()
    extensions = {"text/plain": "txt", "application/json": "json", "image/svg+xml": "svg"}
    return [
        ("phase timings", phase_lines(metrics), "text/plain", "txt"),
        ("phase timings (json)", json.dumps(data["phases"], indent=2, ensure_ascii=False), "application/json",
         "json"),
        ("journey metrics", redact(json.dumps(data, indent=2, ensure_ascii=False), secrets), "application/json",
         "json"),
        ("timeline (svg)", charts.timeline_svg([data], language, title=f"{metrics.journey}: {metrics.test_name}"),
         "image/svg+xml", "svg"),
    ] + [(a.name, clean_output(a.body, secrets), a.mime, extensions.get(a.mime, "txt"))
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


# -- run-level files in the results directory ----------------------------------------------------------


def _atomic_write(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _commit() -> str | None:
    head = Path(__file__).resolve().parents[1] / ".git" / "HEAD"
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


def write_metadata(results: Path, summary: dict) -> None:
    """categories.json, environment.xml and executor.json, (re)written into the results directory."""
    results.mkdir(parents=True, exist_ok=True)
    _atomic_write(results / "categories.json", json.dumps(CATEGORIES, indent=2, ensure_ascii=False))
    _atomic_write(results / "environment.xml", environment_xml(environment_items(summary)))
    _atomic_write(results / "executor.json", json.dumps(executor(summary), indent=2, ensure_ascii=False))
    stale = results / "environment.properties"
    if stale.exists():
        stale.unlink()


def _write_attachment(results: Path, body: str, mime: str, extension: str) -> str:
    source = f"{uuid.uuid4()}-attachment.{extension}"
    (results / source).write_text(body, encoding="utf-8")
    return source


def attach_globals(results: Path, files: list[tuple[str, Path]]) -> None:
    """Run-level pictures as Allure global attachments (a ``*-globals.json``; Allure 3 shows them)."""
    attachments = []
    for name, path in files:
        source = _write_attachment(results, path.read_text(encoding="utf-8"), "image/svg+xml", "svg")
        attachments.append({"name": name, "source": source, "type": "image/svg+xml",
                            "timestamp": int(time.time() * 1000)})
    _atomic_write(results / f"{uuid.uuid4()}-globals.json", json.dumps({"attachments": attachments, "errors": []}))


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
    changed = False
    tags = [label["value"] for label in data.get("labels", []) if label.get("name") == "tag"]
    labels = data.setdefault("labels", [])
    for name, value in journey_labels(metrics, tags):
        if not any(label.get("name") == name and label.get("value") == value for label in labels):
            if name in SINGLE_VALUED:
                labels[:] = [label for label in labels if label.get("name") != name]
            labels.append({"name": name, "value": value})
            changed = True
    attached = {a.get("name") for a in data.get("attachments", [])}
    if "phase timings" not in attached:
        for name, body, mime, extension in journey_attachments(journey, secrets, language):
            source = _write_attachment(results, body, mime, extension)
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
        _atomic_write(path, json.dumps(data, ensure_ascii=False))
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


def write_run_files(run, summary: dict) -> None:
    """Run-level files in the results directory (environment, categories, executor), the charts
    (saved under the reports directory and attached to Allure as global attachments), and the
    completion of results the journeys could not finish themselves.

    allure-behave cannot attach in before_all/after_all, so these are files
    written next to the results, again on every run. Never raises: the final
    report is printed after this.
    """
    reports = Path(run.config.reports_dir)
    results = reports / RESULTS
    language = run.config.language
    secrets = run.secrets()

    def charts_step():
        paths = charts.write_charts(summary, reports, language)
        attach_globals(results, [("timeline of the journeys (svg)", paths["timeline"]),
                                 ("cost per journey (svg)", paths["cost"])])

    for what, step in (("run files", lambda: write_metadata(results, summary)),
                       ("journey results", lambda: complete_results(results, run, secrets)),
                       ("charts", charts_step)):
        try:
            step()
        except Exception as error:  # a report problem must not hide the final report
            print(f"warning: could not write the Allure {what}: {error}", file=sys.stderr, flush=True)


def finish_merged_run(reports: Path, summary: dict, language: str, workers: Path) -> None:
    """After ``support.parallel`` merged its workers' results into ``<reports>/allure-results``: the
    run-level files and charts of the whole run instead of each worker's, and one JUnit directory.

    Each worker already labelled and completed its own results (attachments have unique names, so
    they survive the copy). Never raises.
    """
    from support.report import mark_interrupted_in_junit

    results = reports / RESULTS

    def drop_earlier_runs():
        """The merge copies into a results directory that may still hold an earlier run's files."""
        ours = {p.name for p in workers.glob(f"*/{RESULTS}/*")}
        for path in results.iterdir():
            if path.name not in ours:
                shutil.rmtree(path) if path.is_dir() else path.unlink()

    def drop_worker_globals():
        for path in results.glob("*-globals.json"):
            for attachment in json.loads(path.read_text(encoding="utf-8")).get("attachments", []):
                (results / attachment["source"]).unlink(missing_ok=True)
            path.unlink()

    def charts_step():
        paths = charts.write_charts(summary, reports, language)
        attach_globals(results, [("timeline of the journeys (svg)", paths["timeline"]),
                                 ("cost per journey (svg)", paths["cost"])])

    def junit_step():
        target = reports / "junit"
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        for worker in sorted(p for p in workers.iterdir() if (p / "junit").is_dir()):
            for path in sorted((worker / "junit").glob("TESTS-*.xml")):
                name = path.name if not (target / path.name).exists() else f"{path.stem}-w{worker.name}.xml"
                shutil.copy2(path, target / name)
        mark_interrupted_in_junit(target, summary)

    for what, step in (("earlier results", drop_earlier_runs), ("worker globals", drop_worker_globals),
                       ("run files", lambda: write_metadata(results, summary)),
                       ("charts", charts_step), ("JUnit files", junit_step)):
        try:
            step()
        except Exception as error:  # a report problem must not hide the final report
            print(f"warning: could not write the merged {what}: {error}", file=sys.stderr, flush=True)


# -- before `allure generate` ------------------------------------------------------------------------------


def keep_history(reports: Path) -> list[Path]:
    """Copy the previous report's ``history/`` (Allure 2 and classic reports) into the results.

    Allure 3 keeps its own history in ``<reports>/history.jsonl`` (allurerc.mjs
    ``historyPath``); both survive as long as the reports directory is kept.
    """
    previous = reports / REPORT / "history"
    copied = []
    if previous.is_dir():
        target = reports / RESULTS / "history"
        target.mkdir(parents=True, exist_ok=True)
        for item in previous.glob("*.json"):
            shutil.copy2(item, target / item.name)
            copied.append(target / item.name)
    return copied


def prepare(reports: Path) -> str:
    """Everything `allure generate` needs in the results directory; a line saying what was done."""
    results = reports / RESULTS
    if not results.is_dir() or not any(results.glob("*-result.json")):
        raise SystemExit(f"no Allure results in {results}: run `make acceptance` first")
    done = []
    metrics = reports / "metrics.json"
    run_key = None
    if metrics.is_file():
        summary = json.loads(metrics.read_text(encoding="utf-8"))
        write_metadata(results, summary)
        done.append("environment.xml, categories.json, executor.json")
        run_key = f"{summary['run']['id']} {summary['run']['started_at']}"
    else:
        _atomic_write(results / "categories.json", json.dumps(CATEGORIES, indent=2, ensure_ascii=False))
        done.append("categories.json (no metrics.json for the environment)")
    # One history point per run: building the report of the same run again must not add another.
    last = reports / HISTORY_LAST_RUN
    append = run_key is None or not last.is_file() or last.read_text(encoding="utf-8").strip() != run_key
    _atomic_write(reports / GENERATE_OPTIONS, json.dumps({"appendHistory": append}))
    if run_key is not None:
        _atomic_write(last, run_key + "\n")
    if not append:
        done.append("history already has this run")
    copied = keep_history(reports)
    if copied:
        done.append(f"{len(copied)} history file(s)")
    return f"{results}: " + "; ".join(done)


def main(argv: list[str]) -> int:
    from support.config import reports_dir

    if not argv or argv[0] != "prepare":
        print("usage: python -m support.allure_out prepare", file=sys.stderr)
        return 2
    print(prepare(reports_dir()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
