"""The end of a run in the results directory: of one behave process (:func:`write_run_files`), or
of a run merged from parallel workers or shards (:func:`finish_merged_run`). Neither ever raises:
the final report is printed after them and a report problem must not hide it.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from support.allure_out.completion import complete_results
from support.allure_out.results_dir import RESULTS, attach_charts, write_metadata
from support.reporting.junit import mark_interrupted_in_junit, merge_junit


def run_steps(steps, warning: str) -> None:
    """Run each (what, callable); a failure is one warning line on stderr, never an exception."""
    for what, step in steps:
        try:
            step()
        except Exception as error:  # a report problem must not hide the final report
            print(f"warning: {warning} {what}: {error}", file=sys.stderr, flush=True)


def write_run_files(run, summary: dict) -> None:
    """The end of one behave run: the run-level files, the charts (saved under the reports directory
    and attached as global attachments), and the completion of results the journeys could not finish."""
    reports = Path(run.config.reports_dir)
    results = reports / RESULTS
    run_steps([("run files", lambda: write_metadata(results, summary)),
               ("journey results", lambda: complete_results(results, run, run.secrets())),
               ("charts", lambda: attach_charts(reports, summary, run.config.language))],
              "could not write the Allure")


def finish_merged_run(reports: Path, summary: dict, language: str, workers: Path) -> None:
    """After ``support.parallel`` merged its workers' results into ``<reports>/allure-results``: the
    run-level files and charts of the whole run instead of each worker's, and one JUnit directory
    (one file per feature, without the scenarios a worker did not run).

    Each worker already labelled and completed its own results (attachments have unique names, so
    they survive the copy).
    """
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

    def junit_step():
        target = reports / "junit"
        shutil.rmtree(target, ignore_errors=True)
        merge_junit(sorted(p for p in workers.iterdir() if (p / "junit").is_dir()), target)
        mark_interrupted_in_junit(target, summary)

    run_steps([("earlier results", drop_earlier_runs), ("worker globals", drop_worker_globals),
               ("run files", lambda: write_metadata(results, summary)),
               ("charts", lambda: attach_charts(reports, summary, language)), ("JUnit files", junit_step)],
              "could not write the merged")
