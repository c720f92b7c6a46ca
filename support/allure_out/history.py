"""Before ``allure generate`` (``make report``): the run-level files again, and the history.

``python -m support.allure_out prepare`` writes environment.xml, categories.json and executor.json
from metrics.json, tells allurerc.mjs whether this run is new to the history (one history point
per run, however often its report is built), and copies an older report's ``history/``.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from support.allure_out.results_dir import RESULTS, write_categories, write_metadata
from support.files import write_atomically

REPORT = "allure-report"
#: Files next to history.jsonl: the run last added to the history, and options allurerc.mjs reads.
HISTORY_LAST_RUN = "history.last-run"
GENERATE_OPTIONS = "allure-generate.json"


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
        write_categories(results)
        done.append("categories.json (no metrics.json for the environment)")
    # One history point per run: building the report of the same run again must not add another.
    last = reports / HISTORY_LAST_RUN
    append = run_key is None or not last.is_file() or last.read_text(encoding="utf-8").strip() != run_key
    write_atomically(reports / GENERATE_OPTIONS, json.dumps({"appendHistory": append}))
    if run_key is not None:
        write_atomically(last, run_key + "\n")
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
